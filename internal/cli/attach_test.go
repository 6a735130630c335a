package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oci-attest/oci-attest/internal/attach"
	"github.com/oci-attest/oci-attest/internal/registry"
	"github.com/oci-attest/oci-attest/internal/sign"
	"github.com/oci-attest/oci-attest/internal/testenv"
)

// attestedBundle attests archive to image (pushing it) with the key and
// returns the bundle file.
func attestedBundle(t *testing.T, archive, image, key string) string {
	t.Helper()
	b := filepath.Join(t.TempDir(), "b.sigstore.json")
	if _, stderr, err := runCLI(t, env{}, "--subject-path", archive, "--subject-name", image, "--push-image",
		"--signing-key", key, "--bundle-path", b); err != nil {
		t.Fatalf("attest %s: %v\n%s", image, err, stderr)
	}
	return b
}

// registryState is what a repository holds for one subject: its tags and
// the referrers listed for the subject (referrers API or fallback tag).
func registryState(t *testing.T, host, repo, subject string) string {
	t.Helper()
	tags := tool(t, testenv.Tool(t, "crane"), "ls", "--insecure", host+"/"+repo)
	c, err := registry.New(registry.Options{DockerConfig: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	_, desc, err := c.FetchManifest(context.Background(), testenv.Ref(t, host+"/"+repo), subject)
	if err != nil {
		t.Fatal(err)
	}
	refs, _, err := c.Referrers(context.Background(), testenv.Ref(t, host+"/"+repo), desc, "")
	if err != nil {
		t.Fatal(err)
	}
	var ds []string
	for _, r := range refs {
		ds = append(ds, r.Digest.String())
	}
	return "tags: " + strings.Join(strings.Fields(tags), ",") + " referrers: " + strings.Join(ds, ",")
}

// attachReport parses attach --output json.
func attachReport(t *testing.T, stdout string) attach.Report {
	t.Helper()
	var rep attach.Report
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("attach --output json: %v\n%s", err, stdout)
	}
	return rep
}

// tamperedBundle is the bundle raw with one character of its signature
// changed: the same length, and no longer verifying.
func tamperedBundle(t *testing.T, raw []byte) []byte {
	t.Helper()
	var bun map[string]any
	if err := json.Unmarshal(raw, &bun); err != nil {
		t.Fatal(err)
	}
	sig := bun["dsseEnvelope"].(map[string]any)["signatures"].([]any)[0].(map[string]any)
	s := sig["sig"].(string)
	sig["sig"] = s[:10] + map[bool]string{true: "B", false: "A"}[s[10] == 'A'] + s[11:]
	b, err := json.Marshal(bun)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestAttachCommand (issue 26 item 3): a bundle attested to one repository
// is attached to a digest-preserving copy of the image (crane cp) in
// another, on a registry with the referrers API (olareg) and one without
// (ggcr's: the fallback tag): verify then succeeds, oras discover lists the
// referrer, attaching it again adds nothing; a directory attaches each
// bundle in it; an archive carrying the referrer (oras cp -r) attaches it
// to its subject under a bare repository.
func TestAttachCommand(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("runs crane and oras")
	}
	archive := filepath.Join(testdataDir, "archives", "docker25.tar")
	priv, pub := verifyKeyPair(t)
	for _, reg := range testenv.InProcessRegistries(t) {
		t.Run(reg.Name, func(t *testing.T) {
			t.Parallel()
			h := reg.Host
			b1 := attestedBundle(t, archive, h+"/build/app:v1", priv)
			b2 := attestedBundle(t, archive, h+"/build/app:v1", priv)
			tool(t, testenv.Tool(t, "crane"), "cp", "--insecure", h+"/build/app:v1", h+"/prod/app:v1")
			prod := h + "/prod/app:v1"
			if _, _, err := runCLI(t, env{}, "verify", prod, "--key", pub); ExitCode(err) != exitVerifyNoneFound {
				t.Fatalf("verify of the copy before attach = %v, want none found (crane cp leaves referrers)", err)
			}
			stdout, stderr, err := runCLI(t, env{}, "attach", "--bundle", b1, prod, "--key", pub, "--output", "json")
			if err != nil {
				t.Fatalf("attach = %v\n%s", err, stderr)
			}
			rep := attachReport(t, stdout)
			wantVia := map[string]string{"olareg": "api", "ggcr": "tag:sha256-" + strings.TrimPrefix(rep.Digest, "sha256:")}[reg.Name]
			if len(rep.Attached) != 1 || rep.Attached[0].Subject != rep.Digest || rep.Attached[0].Via != wantVia || rep.Attached[0].Already {
				t.Fatalf("attach report %+v, want one referrer of %s via %s", rep, rep.Digest, wantVia)
			}
			referrer := rep.Attached[0].Referrer
			if out, _, err := runCLI(t, env{}, "verify", prod, "--key", pub, "--subject-path", archive); err != nil {
				t.Errorf("verify after attach = %v\n%s", err, out)
			}
			found := tool(t, testenv.Tool(t, "oras"), "discover", "--plain-http", "--format", "json", "--artifact-type", registry.BundleMediaType, prod)
			if !strings.Contains(found, referrer) {
				t.Errorf("oras discover lacks %s:\n%s", referrer, found)
			}
			before := registryState(t, h, "prod/app", "v1")
			stdout, _, err = runCLI(t, env{}, "attach", "--bundle", b1, prod, "--key", pub)
			t.Logf("attach again:\n%s", stdout)
			if err != nil || !strings.Contains(stdout, "already attached") || !strings.Contains(stdout, referrer) {
				t.Errorf("attach again = %v, want already attached %s:\n%s", err, referrer, stdout)
			}
			if after := registryState(t, h, "prod/app", "v1"); after != before {
				t.Errorf("attaching again changed the registry: %s, was %s", after, before)
			}

			// A directory: both bundles, the first already there.
			dir := t.TempDir()
			for i, b := range []string{b1, b2} {
				if err := os.WriteFile(filepath.Join(dir, []string{"a.sigstore.json", "b.json"}[i]), mustRead(t, b), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			stdout, stderr, err = runCLI(t, env{}, "attach", "--bundle", dir, prod, "--key", pub, "--output", "json")
			if rep := attachReport(t, stdout); err != nil || len(rep.Attached) != 2 || rep.Attached[0].Already == rep.Attached[1].Already {
				t.Errorf("attach DIR = %v, report %+v, want two, one already attached\n%s", err, rep, stderr)
			}

			// An archive carrying the referrers: oras cp -r into a layout, tarred.
			layout := filepath.Join(t.TempDir(), "layout")
			tool(t, testenv.Tool(t, "oras"), "cp", "-r", "--from-plain-http", "--to-oci-layout", h+"/build/app:v1", layout+":v1")
			carried := filepath.Join(t.TempDir(), "carried.tar")
			tool(t, testenv.RequireBin(t, "tar"), "-cf", carried, "-C", layout, ".")
			// Before the image is copied, its subject is not in the repository.
			_, stderr, err = runCLI(t, env{}, "attach", "--bundle", carried, h+"/far/app", "--key", pub)
			if ExitCode(err) != exitAttachRefused || !strings.Contains(stderr, "copy the image into IMAGE's repository") {
				t.Errorf("attach ARCHIVE before the copy = %v, want exit 4 saying to copy the image first\n%s", err, stderr)
			}
			tool(t, testenv.Tool(t, "crane"), "cp", "--insecure", h+"/build/app:v1", h+"/far/app:v1")
			stdout, stderr, err = runCLI(t, env{}, "attach", "--bundle", carried, h+"/far/app", "--key", pub, "--output", "json")
			if rep := attachReport(t, stdout); err != nil || len(rep.Attached) != 2 {
				t.Errorf("attach ARCHIVE = %v, report %+v, want the two bundles the build repository holds\n%s", err, rep, stderr)
			}
			if out, _, err := runCLI(t, env{}, "verify", h+"/far/app:v1", "--key", pub); err != nil {
				t.Errorf("verify after attach ARCHIVE = %v\n%s", err, out)
			}
		})
	}
}

// TestAttachIndex (issue 26 item 3): the bundles of a two-platform index
// (each statement names the index and its platform manifest) attached to
// a digest-preserving copy go to the index and to their platform manifest,
// as the action attaches them, and verify checks every platform.
func TestAttachIndex(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("runs crane")
	}
	archive := filepath.Join(testdataDir, "archives", "oci-multiplatform.tar")
	priv, pub := verifyKeyPair(t)
	h := testenv.StartOlareg(t).Host
	dir := t.TempDir()
	if _, stderr, err := runCLI(t, env{}, "--subject-path", archive, "--subject-name", h+"/build/multi:v1", "--push-image",
		"--signing-key", priv, "--bundle-path", filepath.Join(dir, "b.json")); err != nil {
		t.Fatalf("attest: %v\n%s", err, stderr)
	}
	tool(t, testenv.Tool(t, "crane"), "cp", "--insecure", h+"/build/multi:v1", h+"/prod/multi:v1")
	stdout, stderr, err := runCLI(t, env{}, "attach", "--bundle", dir, h+"/prod/multi:v1", "--key", pub, "--output", "json")
	if err != nil {
		t.Fatalf("attach = %v\n%s", err, stderr)
	}
	rep := attachReport(t, stdout)
	subjects := map[string]int{}
	for _, a := range rep.Attached {
		subjects[a.Subject]++
	}
	if len(rep.Attached) != 4 || subjects[rep.Digest] != 2 || len(subjects) != 3 {
		t.Errorf("attached %+v, want each of the two bundles on the index %s and on its platform manifest", rep.Attached, rep.Digest)
	}
	out, _, err := runCLI(t, env{}, "verify", h+"/prod/multi:v1", "--key", pub, "--subject-path", archive)
	if words := strings.Join(strings.Fields(out), " "); err != nil || !strings.Contains(words, "2 of 2 platform(s) verified") {
		t.Errorf("verify after attach = %v\n%s", err, out)
	}
}

// TestAttachRefusals (issue 26 item 3): a bundle of another image, one
// verified with another key, a tampered one, a JSON file that is no
// bundle and a file that is neither a bundle nor an archive are refused
// (exit 4, naming --bundle and what to do) with nothing pushed: the
// repository's tags and the image's referrers are the same before and
// after; a refused bundle among good ones in a directory refuses all.
func TestAttachRefusals(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("runs crane")
	}
	archive := filepath.Join(testdataDir, "archives", "docker25.tar")
	priv, pub := verifyKeyPair(t)
	_, otherPub := verifyKeyPair(t)
	reg := testenv.StartGGCR(t)
	h := reg.Host
	good := attestedBundle(t, archive, h+"/build/app:v1", priv)
	other := attestedBundle(t, filepath.Join(testdataDir, "archives", "podman.tar"), h+"/build/other:v1", priv)
	tool(t, testenv.Tool(t, "crane"), "cp", "--insecure", h+"/build/app:v1", h+"/prod/app:v1")
	prod := h + "/prod/app:v1"

	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	raw := mustRead(t, good)
	tampered := tamperedBundle(t, raw)
	mixed := t.TempDir()
	for i, b := range [][]byte{raw, mustRead(t, other)} {
		if err := os.WriteFile(filepath.Join(mixed, []string{"good.json", "other.json"}[i]), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name, bundle, key, inMsg string
	}{
		{"another image's statement", other, pub, "attests another image"},
		{"another key", good, otherPub, "does not verify"},
		{"tampered", write("tampered.json", tampered), pub, "does not verify"},
		{"JSON, not a bundle", write("not.json", []byte(`{"mediaType":"x"}`)), pub, "does not verify"},
		{"neither bundle nor archive", write("notes.txt", []byte("hello\n")), pub, "neither a Sigstore bundle nor an image archive"},
		{"a refused bundle in a directory", mixed, pub, "attests another image"},
	} {
		before := registryState(t, h, "prod/app", "v1")
		_, stderr, err := runCLI(t, env{}, "attach", "--bundle", tc.bundle, prod, "--key", tc.key)
		t.Logf("%s: %s", tc.name, stderr)
		if got := ExitCode(err); got != exitAttachRefused || !strings.Contains(stderr, "--bundle") || !strings.Contains(stderr, tc.inMsg) || !strings.Contains(stderr, "nothing was attached") {
			t.Errorf("%s: attach = exit %d, %v; want %d saying --bundle, %q and nothing was attached\n%s", tc.name, got, err, exitAttachRefused, tc.inMsg, stderr)
		}
		if after := registryState(t, h, "prod/app", "v1"); after != before {
			t.Errorf("%s: the registry changed: %s, was %s", tc.name, after, before)
		}
	}
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"no bundle", []string{"attach", prod, "--key", pub}},
		{"no image", []string{"attach", "--bundle", good, "--key", pub}},
		{"no policy", []string{"attach", "--bundle", good, prod}},
		{"bare repository for a file", []string{"attach", "--bundle", good, h + "/prod/app", "--key", pub}},
		{"bad mode", []string{"attach", "--bundle", good, prod, "--key", pub, "--referrers-mode", "x"}},
	} {
		if _, stderr, err := runCLI(t, env{}, tc.args...); ExitCode(err) != 2 {
			t.Errorf("%s: attach = %v, want a usage error\n%s", tc.name, err, stderr)
		}
	}
}

// TestAttachConcurrent (issue 26 item 3): 16 attach runs at once, each its
// own process with its own bundle of the same image, on registries
// without the referrers API (Debian's docker-registry 2.8 and distribution
// v3, as TestConcurrentRunsRealRegistries): no run fails and the image's
// fallback tag keeps every referrer.
func TestAttachConcurrent(t *testing.T) {
	if testing.Short() {
		t.Skip("starts registries and 32 processes")
	}
	t.Parallel()
	archive := filepath.Join(testdataDir, "archives", "docker25.tar")
	priv, pub := verifyKeyPair(t)
	for _, reg := range []testenv.Registry{testenv.StartDockerRegistry(t), testenv.StartDistribution(t)} {
		t.Run(reg.Name, func(t *testing.T) {
			image := reg.Host + "/race/attach:v1"
			statement := filepath.Join(t.TempDir(), "statement.json")
			stdout, stderr, err := runCLI(t, env{}, "--subject-path", archive, "--subject-name", image, "--push-image",
				"--signing-key", priv, "--bundle-path", filepath.Join(t.TempDir(), "b.json"), "--statement-path", statement, "--output", "json")
			if err != nil {
				t.Fatalf("attest: %v\n%s", err, stderr)
			}
			first := attestationsOf(t, stdout)[0]
			const runs = 16
			bundles := make([]string, runs)
			for i := range bundles {
				res, err := sign.Sign(context.Background(), mustRead(t, statement), sign.Options{SigningKey: priv})
				if err != nil {
					t.Fatal(err)
				}
				bundles[i] = filepath.Join(t.TempDir(), "b.sigstore.json")
				writeArchiveFile(t, bundles[i], res.Bundle)
			}
			outs, failed := runChildren(t, runs, "TestAttachConcurrentChild", func(i int) []string {
				return []string{attachChildEnv + "=" + strings.Join([]string{image, bundles[i], pub}, "\n")}
			})
			want := map[string]bool{first.AttestationDigest: true}
			for _, out := range outs {
				for _, line := range strings.Split(out, "\n") {
					if d, ok := strings.CutPrefix(line, "ATTACHED "); ok {
						want[d] = true
					}
				}
			}
			got := fallbackEntries(t, testenv.Ref(t, reg.Host+"/race/attach"), first.SubjectDigest)
			lost := 0
			for d := range want {
				if !got[d] {
					lost++
					t.Errorf("the fallback tag lost %s", d)
				}
			}
			if len(want) != runs+1-failed || len(got) != runs+1 {
				t.Errorf("the fallback tag has %d entries, the runs reported %d new ones; want %d", len(got), len(want)-1, runs)
			}
			t.Logf("RESULT %s runs=%d failed=%d lost=%d", reg.Name, runs, failed, lost)
		})
	}
}

// attachChildEnv holds, one per line, the image, the bundle and the public
// key of one run of TestAttachConcurrent.
const attachChildEnv = "OCI_ATTEST_CONCURRENT_ATTACH"

// TestAttachConcurrentChild is one run of TestAttachConcurrent: the CLI's
// attach with the default settle, printing the referrer it attached.
func TestAttachConcurrentChild(t *testing.T) {
	v := os.Getenv(attachChildEnv)
	if v == "" {
		t.Skip("child of TestAttachConcurrent")
	}
	args := strings.Split(v, "\n")
	waitChildStart(t)
	stdout, stderr, err := runCLI(t, env{}, "attach", "--bundle", args[1], args[0], "--key", args[2], "--output", "json")
	if err != nil {
		t.Fatalf("attach: %v\n%s%s", err, stdout, stderr)
	}
	for _, a := range attachReport(t, stdout).Attached {
		if !a.Already {
			os.Stdout.WriteString("ATTACHED " + a.Referrer + "\n")
		}
	}
}
