package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oci-attest/oci-attest/internal/oci"
	"github.com/oci-attest/oci-attest/internal/registry"
	"github.com/oci-attest/oci-attest/internal/testenv"
)

// TestAttachAlreadyCountsOnlyWhatVerifyChecks (review of issue 26, attach): a
// referrer that merely holds the same bundle bytes is not necessarily one
// verify or the gates accept. Here the subject already has a referrer with
// the bundle as its layer but annotated with another predicate type (as
// any writer of the repository, or another tool's attach, may push):
// verify rejects it ("differs from the referrer's annotation"). attach
// must not take it for "already attached" (attach.attachedAlready matches
// only the layer digest): expected, attach pushes its own, well-formed
// referrer, and verify then succeeds. Today attach reports "already
// attached", pushes nothing, exits 0, and verify still fails: the bundle
// can never be attached to that image.
func TestAttachAlreadyCountsOnlyWhatVerifyChecks(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("runs crane")
	}
	archive := filepath.Join(testdataDir, "archives", "docker25.tar")
	priv, pub := verifyKeyPair(t)
	h := testenv.StartOlareg(t).Host
	b := attestedBundle(t, archive, h+"/build/app:v1", priv)
	tool(t, testenv.Tool(t, "crane"), "cp", "--insecure", h+"/build/app:v1", h+"/prod/app:v1")
	prod := h + "/prod/app:v1"

	c, err := registry.New(registry.Options{DockerConfig: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	repo := testenv.Ref(t, h+"/prod/app")
	_, desc, err := c.FetchManifest(context.Background(), repo, "v1")
	if err != nil {
		t.Fatal(err)
	}
	s := &registry.Subject{Repository: repo, Descriptor: desc, Image: desc}
	if _, err := c.Attach(context.Background(), s, mustRead(t, b), registry.AttachOptions{PredicateType: "https://example.com/not-the-oci-attestor"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runCLI(t, env{}, "verify", prod, "--key", pub); err == nil {
		t.Fatal("verify accepted a referrer annotated with another predicate type: the premise of this test is gone")
	}
	stdout, stderr, err := runCLI(t, env{}, "attach", "--bundle", b, prod, "--key", pub)
	t.Logf("attach: %v\n%s%s", err, stdout, stderr)
	if out, _, err := runCLI(t, env{}, "verify", prod, "--key", pub); err != nil {
		t.Errorf("verify after attach = %v: attach took a referrer verify rejects for the bundle already attached\n%s", err, out)
	}
}

// TestAttachSameBundleTwice (review of issue 26, attach): a directory
// holding the same bundle twice (a copy under another name) attaches it
// once. Expected: one referrer of the subject, and the report says the
// second is the same bundle (Already, or one entry). Checked on a registry
// without the referrers API (ggcr: the fallback tag), where a duplicate
// entry in the sha256-<hex> index is what gates and oras list.
func TestAttachSameBundleTwice(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("runs crane")
	}
	archive := filepath.Join(testdataDir, "archives", "docker25.tar")
	priv, pub := verifyKeyPair(t)
	for _, reg := range testenv.InProcessRegistries(t) {
		t.Run(reg.Name, func(t *testing.T) {
			t.Parallel()
			h := reg.Host
			b := attestedBundle(t, archive, h+"/build/app:v1", priv)
			tool(t, testenv.Tool(t, "crane"), "cp", "--insecure", h+"/build/app:v1", h+"/prod/app:v1")
			dir := t.TempDir()
			for _, n := range []string{"a.json", "b.json"} {
				if err := os.WriteFile(filepath.Join(dir, n), mustRead(t, b), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			stdout, stderr, err := runCLI(t, env{}, "attach", "--bundle", dir, h+"/prod/app:v1", "--key", pub, "--output", "json")
			if err != nil {
				t.Fatalf("attach DIR = %v\n%s", err, stderr)
			}
			rep := attachReport(t, stdout)
			state := registryState(t, h, "prod/app", "v1")
			refs := strings.Split(strings.SplitN(state, "referrers: ", 2)[1], ",")
			pushed := 0
			for _, a := range rep.Attached {
				if !a.Already {
					pushed++
				}
			}
			if len(refs) != 1 || pushed != 1 {
				t.Errorf("the same bundle twice: %d referrer(s) listed (%s), report says %d pushed (%+v); want one", len(refs), state, pushed, rep.Attached)
			}
		})
	}
}

// TestAttestedArchiveTwoNamesOneImage (review of issue 26, item 2): one
// archive attested under two names of the same repository (subject-name
// app:v1 and app:v2: two bindings of one registry image). Expected: the
// attested archive carries every referrer the run attached — here as many
// as the registry lists for the image — so that attach on the far side
// re-attaches them all. pipeline.carrier.subject returns early for a
// second binding of the same subject ("already carried") before looking
// at that binding's referrers, so those are left out.
func TestAttestedArchiveTwoNamesOneImage(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("runs crane")
	}
	priv, _ := verifyKeyPair(t)
	h := testenv.StartOlareg(t).Host
	archive := filepath.Join(testdataDir, "archives", "docker25.tar")
	out := filepath.Join(t.TempDir(), "app.oci.tar")
	_, stderr, err := runCLI(t, env{}, "--subject-path", archive, "--subject-name", h+"/carry/app:v1\n"+h+"/carry/app:v2", "--push-image",
		"--signing-key", priv, "--bundle-path", filepath.Join(t.TempDir(), "b.sigstore.json"),
		"--attested-archive-path", out, "--github-attestations=false")
	if err != nil {
		t.Fatalf("attest: %v\n%s", err, stderr)
	}
	state := registryState(t, h, "carry/app", "v1")
	inRegistry := len(strings.Split(strings.SplitN(state, "referrers: ", 2)[1], ","))
	a, err := oci.Scan(context.Background(), out, oci.ScanOptions{})
	if err != nil {
		t.Fatalf("scanning the attested archive: %v", err)
	}
	defer a.Close()
	if len(a.Referrers) != inRegistry {
		t.Errorf("the attested archive carries %d referrer(s), the registry lists %d for the image (%s)", len(a.Referrers), inRegistry, state)
	}
}

// TestAttestedArchiveFromCompressed (review of issue 26, items 2 and 4):
// attested-archive-path from a gzip-compressed docker save archive pushed
// by push-image. Expected: the written archive verifies offline (verify
// --subject-path OUT) as the one written from the uncompressed archive.
func TestAttestedArchiveFromCompressed(t *testing.T) {
	t.Parallel()
	priv, pub := verifyKeyPair(t)
	h := testenv.StartOlareg(t).Host
	gz := filepath.Join(t.TempDir(), "app.tar.gz")
	tool(t, testenv.RequireBin(t, "sh"), "-c", "gzip -c < \"$0\" > \"$1\"", filepath.Join(testdataDir, "archives", "docker25.tar"), gz)
	out := filepath.Join(t.TempDir(), "app.oci.tar")
	_, stderr, err := runCLI(t, env{}, "--subject-path", gz, "--subject-name", h+"/gz/app:v1", "--push-image",
		"--signing-key", priv, "--bundle-path", filepath.Join(t.TempDir(), "b.sigstore.json"),
		"--attested-archive-path", out, "--github-attestations=false")
	if err != nil {
		t.Fatalf("attest: %v\n%s", err, stderr)
	}
	if vout, _, err := runCLI(t, env{}, "verify", "--subject-path", out, "--key", pub); err != nil {
		t.Errorf("verify --subject-path %s = %v\n%s", out, err, vout)
	}
}
