package cli

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	digest "github.com/opencontainers/go-digest"

	"github.com/oci-attest/oci-attest/internal/attest"
	"github.com/oci-attest/oci-attest/internal/oci"
	"github.com/oci-attest/oci-attest/internal/oci/ocitest"
	"github.com/oci-attest/oci-attest/internal/testenv"
)

// tool is testenv.RunTool.
var tool = testenv.RunTool

// skopeoPolicy is a containers policy that accepts anything (the tests'
// registries are local).
func skopeoPolicy(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "policy.json")
	if err := os.WriteFile(p, []byte(`{"default":[{"type":"insecureAcceptAnything"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func fileDigest(t *testing.T, p string) string {
	t.Helper()
	s := sha256.Sum256(mustRead(t, p))
	return string(s[:])
}

// airgapCase is an attested image to carry: the archive, how it got to the
// registry, and what the written archive must then hold.
type airgapCase struct {
	name string
	// setup makes the attested archive and returns it and the extra
	// attest flags.
	setup func(t *testing.T, image string) (string, []string)
	// referrers is how many referrers the written archive carries (one per
	// platform on the index and on the platform manifest).
	referrers int
	// downloaded: the registry's layers are not the archive's (another
	// tool pushed them re-compressed), so they were downloaded.
	downloaded bool
	// docker: the registry's manifest is Docker's schema 2, which
	// containers/image's oci-archive: does not select by name (it lists
	// only OCI media types): skopeo reads the image through manifest.json.
	docker bool
}

func airgapCases(reg testenv.Registry) []airgapCase {
	return []airgapCase{
		{name: "index pushed by push-image", referrers: 4, setup: func(t *testing.T, image string) (string, []string) {
			src := reg.Host + "/src/" + strings.ReplaceAll(t.Name(), "/", "-") + ":v1"
			testenv.PushPlatformIndex(t, strings.ToLower(src), "linux/amd64", "linux/arm64")
			return skopeoArchive(t, strings.ToLower(src)), []string{"--push-image"}
		}},
		{name: "docker save pushed re-compressed by skopeo", referrers: 1, downloaded: true, setup: func(t *testing.T, image string) (string, []string) {
			return skopeoPushed(t, image, "--format", "oci"), nil
		}},
		{name: "docker save pushed by skopeo as docker schema 2", referrers: 1, downloaded: true, docker: true, setup: func(t *testing.T, image string) (string, []string) {
			return skopeoPushed(t, image), nil
		}},
	}
}

// skopeoPushed is a docker save archive of an image tagged image, which
// skopeo copy pushes there, compressing its layers.
func skopeoPushed(t *testing.T, image string, flags ...string) string {
	t.Helper()
	archive := filepath.Join(t.TempDir(), "app.tar")
	writeArchiveFile(t, archive, docker25(t, imageTagged(image, "airgap")))
	args := append([]string{"--policy", skopeoPolicy(t), "copy", "--dest-tls-verify=false"}, flags...)
	tool(t, testenv.RequireBin(t, "skopeo"), append(args, "docker-archive:"+archive, "docker://"+image)...)
	return archive
}

// TestAttestedArchiveRoundTrip (issue 26 item 2): attested-archive-path
// writes, beside the untouched archive, an OCI archive of the images as the
// registry holds them — olareg (referrers API) and ggcr's registry (the
// fallback tag); a multi-platform index pushed with push-image, and an
// image skopeo pushed with re-compressed layers, which are downloaded — and
// their referrers. The scanner accepts it under the archive rules, verify
// --subject-path verifies what it carries; on the far side skopeo copy
// --preserve-digests keeps the digests, oras cp -r carries the referrers,
// which cosign verify-attestation and oci-attest verify then check in the
// production registry.
func TestAttestedArchiveRoundTrip(t *testing.T) {
	if testing.Short() {
		t.Skip("runs skopeo, oras, cosign and registries")
	}
	t.Parallel()
	priv, pub := verifyKeyPair(t)
	oras, cosign := testenv.Tool(t, "oras"), testenv.Tool(t, "cosign")
	for _, reg := range []testenv.Registry{testenv.StartOlareg(t), testenv.StartGGCR(t)} {
		for i, tc := range airgapCases(reg) {
			t.Run(reg.Name+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				image := reg.Host + "/airgap/app" + string(rune('a'+i)) + ":v1"
				archive, flags := tc.setup(t, image)
				before := fileDigest(t, archive)
				out := filepath.Join(filepath.Dir(archive), "app.oci.tar")
				// bundle-path: the bundles stay in the test's directory, not
				// a temporary one of their own the run hands back.
				args := append([]string{"--subject-path", archive, "--subject-name", image, "--signing-key", priv,
					"--bundle-path", filepath.Join(t.TempDir(), "b.sigstore.json"),
					"--attested-archive-path", out, "--github-attestations=false", "--output", "json"}, flags...)
				stdout, stderr, err := runCLI(t, env{}, args...)
				if err != nil {
					t.Fatalf("attest: %v\n%s", err, stderr)
				}
				var outs map[string]any
				if err := json.Unmarshal([]byte(stdout), &outs); err != nil || outs["attested-archive-path"] != out {
					t.Errorf("outputs %s: attested-archive-path is not %s (%v)", stdout, out, err)
				}
				if fileDigest(t, archive) != before {
					t.Errorf("the attested archive %s changed", archive)
				}
				subject := checkWritten(t, archive, out, tc)

				// Offline: the archive carries its attestations.
				if vout, _, err := runCLI(t, env{}, "verify", "--subject-path", out, "--key", pub); err != nil {
					t.Errorf("verify --subject-path %s = %v\n%s", out, err, vout)
				}
				// The far side: skopeo keeps the digests, oras the referrers.
				far := testenv.StartOlareg(t)
				farSkopeo(t, out, far.Host+"/prod/skopeo:v1", subject, tc.docker)
				prod := far.Host + "/prod/oras:v1"
				// One at a time: olareg v0.1.2 adds a referrer to its subject's
				// list by reading and replacing it with no lock (referrerAdd),
				// so of two referrers of one subject that oras pushes at once
				// (the index's two bundles) it may keep one.
				tool(t, oras, "cp", "-r", "--concurrency", "1", "--from-oci-layout", out+":v1", "--to-plain-http", prod)
				if got := tool(t, oras, "discover", "--plain-http", "--format", "json", prod+"@"+subject.String()); !strings.Contains(got, "application/vnd.dev.sigstore.bundle") {
					t.Errorf("oras discover in the production registry lists no bundle:\n%s", got)
				}
				cout := tool(t, cosign, "verify-attestation", "--key", pub, "--insecure-ignore-tlog", "--type", attest.PredicateType,
					"--allow-http-registry", prod)
				if got, want := strings.Count(cout, `"payloadType":"application/vnd.in-toto+json"`), tc.referrers/len(orig(t, archive)); got != want {
					t.Errorf("cosign verify-attestation %s printed %d statement(s), want %d (one per platform):\n%s", prod, got, want, cout)
				}
				if vout, _, err := runCLI(t, env{}, "verify", prod, "--key", pub); err != nil {
					t.Errorf("oci-attest verify %s = %v\n%s", prod, err, vout)
				}
				// regctl reads a layout directory: the archive untarred.
				dir := t.TempDir()
				tool(t, testenv.RequireBin(t, "tar"), "-xf", out, "-C", dir)
				regctl, host := testenv.Tool(t, "regctl"), "reg="+far.Host+",tls=disabled"
				tool(t, regctl, "--host", host, "image", "copy", "--referrers", "ocidir://"+dir+":v1", far.Host+"/prod/regctl:v1")
				if got := tool(t, regctl, "--host", host, "artifact", "list", "--format", "{{json .}}", far.Host+"/prod/regctl@"+subject.String()); !strings.Contains(got, "application/vnd.dev.sigstore.bundle") {
					t.Errorf("regctl artifact list in the production registry lists no bundle:\n%s", got)
				}
			})
		}
	}
}

// farSkopeo: skopeo reads the written archive as the registry's image —
// by name from index.json, and copies it with --preserve-digests into the
// production registry; a Docker schema 2 image, which oci-archive: does not
// select, through manifest.json as the same image (its config).
func farSkopeo(t *testing.T, out, prod string, subject digest.Digest, docker bool) {
	t.Helper()
	skopeo := testenv.RequireBin(t, "skopeo")
	if docker {
		a, err := oci.Scan(context.Background(), out, oci.ScanOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		if got := digest.FromString(tool(t, skopeo, "inspect", "--config", "--raw", "docker-archive:"+out)); got != a.Images[0].ImageID {
			t.Errorf("skopeo inspect docker-archive: config %s, want %s", got, a.Images[0].ImageID)
		}
		return
	}
	if got := digest.FromString(tool(t, skopeo, "inspect", "--raw", "oci-archive:"+out+":v1")); got != subject {
		t.Errorf("skopeo inspect oci-archive: digest %s, want the registry's %s", got, subject)
	}
	tool(t, skopeo, "--policy", skopeoPolicy(t), "copy", "--all", "--preserve-digests", "--dest-tls-verify=false",
		"oci-archive:"+out+":v1", "docker://"+prod)
	if got := digest.FromString(tool(t, skopeo, "inspect", "--raw", "--tls-verify=false", "docker://"+prod)); got != subject {
		t.Errorf("skopeo copy --preserve-digests: %s in the production registry, want %s", got, subject)
	}
}

// orig is the attested archive's images.
func orig(t *testing.T, archive string) []oci.Image {
	t.Helper()
	a, err := oci.Scan(context.Background(), archive, oci.ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	return a.Images
}

// checkWritten checks the written archive under the archive rules: the
// attested images under the registry's subject digest, their layers the
// registry's (downloaded when another tool re-compressed them, else the
// archive's), and the referrers. It returns the subject digest.
func checkWritten(t *testing.T, archive, out string, tc airgapCase) digest.Digest {
	t.Helper()
	orig, err := oci.Scan(context.Background(), archive, oci.ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer orig.Close()
	a, err := oci.Scan(context.Background(), out, oci.ScanOptions{})
	if err != nil {
		t.Fatalf("the written archive is refused under the archive rules: %v", err)
	}
	defer a.Close()
	if len(a.Images) != len(orig.Images) {
		t.Fatalf("written archive: %d images, want %d", len(a.Images), len(orig.Images))
	}
	for i, img := range a.Images {
		o := orig.Images[i]
		if img.ImageID != o.ImageID || len(img.RepoTags) == 0 {
			t.Errorf("image %d: %s %v, want %s, named", i, img.ImageID, img.RepoTags, o.ImageID)
		}
		if same := img.Layers[0].Digest == o.Layers[0].Digest; same == tc.downloaded {
			t.Errorf("image %d: layer %s, archive's %s: want them different only when re-compressed (%v)", i, img.Layers[0].Digest, o.Layers[0].Digest, tc.downloaded)
		}
	}
	if len(a.Referrers) != tc.referrers {
		t.Errorf("written archive carries %d referrers, want %d", len(a.Referrers), tc.referrers)
	}
	if idx := a.Images[0].ImageIndex; idx != nil {
		return idx.Digest
	}
	return a.Images[0].ManifestDigest
}

// TestAttestedArchivePathMistakes: attested-archive-path without
// push-to-registry, or naming the attested archive itself, is an input
// error (exit 2) naming it, before anything is signed or written.
func TestAttestedArchivePathMistakes(t *testing.T) {
	t.Parallel()
	priv, _ := verifyKeyPair(t)
	archive := filepath.Join(t.TempDir(), "app.tar")
	writeArchiveFile(t, archive, docker25(t, imageTagged("127.0.0.1:1/app:v1", "x")))
	before := fileDigest(t, archive)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no push", []string{"--attested-archive-path", filepath.Join(t.TempDir(), "out.tar"), "--push-to-registry=false"}, "needs push-to-registry"},
		{"over the archive", []string{"--attested-archive-path", archive}, "is the attested archive"},
	} {
		_, stderr, err := runCLI(t, env{}, append([]string{"--subject-path", archive, "--signing-key", priv, "--github-attestations=false"}, tc.args...)...)
		if ExitCode(err) != 2 || !strings.Contains(err.Error(), "attested-archive-path") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: exit %d, %v; want 2 naming attested-archive-path: %s\n%s", tc.name, ExitCode(err), err, tc.want, stderr)
		}
	}
	if fileDigest(t, archive) != before {
		t.Error("the attested archive changed")
	}
}

// TestAirGapRoundTrip (issue 26, "Done means"): the whole round trip, on a
// registry with the referrers API (olareg) and one without (ggcr's: the
// fallback tag), with the real far-side tools. The build side attests with
// push-image, bundle-path and attested-archive-path; skopeo copy --all
// --preserve-digests puts the archive's image into the far registry and
// drops its referrers (verify finds none); bad bundles and archives —
// another image's, another key, tampered — are refused by attach (exit 4)
// and by verify --subject-path (exit 4), and the far registry's tags and
// referrers are the same before and after; then attach --bundle ARCHIVE
// (and, on a second copy, the bundle-path file) attaches, oci-attest verify
// and cosign verify-attestation pass, and attaching again (the archive or
// the file) changes nothing.
func TestAirGapRoundTrip(t *testing.T) {
	if testing.Short() {
		t.Skip("runs skopeo, cosign and registries")
	}
	t.Parallel()
	priv, pub := verifyKeyPair(t)
	_, otherPub := verifyKeyPair(t)
	skopeo, cosign := testenv.RequireBin(t, "skopeo"), testenv.Tool(t, "cosign")
	for _, kind := range []struct {
		name  string
		start func(testing.TB) testenv.Registry
	}{{"olareg", testenv.StartOlareg}, {"ggcr", testenv.StartGGCR}} {
		t.Run(kind.name, func(t *testing.T) {
			t.Parallel()
			near, far := kind.start(t).Host, kind.start(t).Host
			dir := t.TempDir()
			carried, bundle := filepath.Join(dir, "app.oci.tar"), filepath.Join(dir, "app.sigstore.json")
			if _, stderr, err := runCLI(t, env{}, "--subject-path", filepath.Join(testdataDir, "archives", "docker25.tar"),
				"--subject-name", near+"/app:v1", "--push-image", "--signing-key", priv, "--bundle-path", bundle,
				"--attested-archive-path", carried, "--github-attestations=false"); err != nil {
				t.Fatalf("attest: %v\n%s", err, stderr)
			}
			otherBundle := attestedBundle(t, filepath.Join(testdataDir, "archives", "podman.tar"), near+"/other:v1", priv)
			farCopy := func(repo string) string {
				tool(t, skopeo, "--policy", skopeoPolicy(t), "copy", "--all", "--preserve-digests", "--dest-tls-verify=false",
					"oci-archive:"+carried+":v1", "docker://"+far+"/"+repo+":v1")
				return far + "/" + repo + ":v1"
			}
			app := farCopy("app")
			if _, _, err := runCLI(t, env{}, "verify", app, "--key", pub); ExitCode(err) != exitVerifyNoneFound {
				t.Fatalf("verify after skopeo copy = %v, want none found (skopeo copies no referrers)", err)
			}

			airGapRefusals(t, far, carried, bundle, otherBundle, pub, otherPub)

			stdout, stderr, err := runCLI(t, env{}, "attach", "--bundle", carried, app, "--key", pub, "--output", "json")
			if rep := attachReport(t, stdout); err != nil || len(rep.Attached) != 1 || rep.Attached[0].Already || rep.Attached[0].Subject != rep.Digest {
				t.Fatalf("attach --bundle %s = %v, report %+v; want one referrer of the image\n%s", carried, err, rep, stderr)
			}
			if out, _, err := runCLI(t, env{}, "verify", app, "--key", pub); err != nil {
				t.Errorf("verify after attach = %v\n%s", err, out)
			}
			cout := tool(t, cosign, "verify-attestation", "--key", pub, "--insecure-ignore-tlog", "--type", attest.PredicateType, "--allow-http-registry", app)
			if !strings.Contains(cout, `"payloadType":"application/vnd.in-toto+json"`) {
				t.Errorf("cosign verify-attestation %s printed no statement:\n%s", app, cout)
			}
			before := registryState(t, far, "app", "v1")
			for _, b := range []string{carried, bundle} {
				stdout, _, err := runCLI(t, env{}, "attach", "--bundle", b, app, "--key", pub, "--output", "json")
				if rep := attachReport(t, stdout); err != nil || len(rep.Attached) != 1 || !rep.Attached[0].Already {
					t.Errorf("attach --bundle %s again = %v, report %+v; want already attached", b, err, rep)
				}
			}
			if after := registryState(t, far, "app", "v1"); after != before {
				t.Errorf("attaching again changed the registry: %s, was %s", after, before)
			}

			// The bundle-path file, on a second copy.
			file := farCopy("file")
			stdout, stderr, err = runCLI(t, env{}, "attach", "--bundle", bundle, file, "--key", pub, "--output", "json")
			if rep := attachReport(t, stdout); err != nil || len(rep.Attached) != 1 || rep.Attached[0].Already {
				t.Errorf("attach --bundle %s = %v, report %+v; want one referrer\n%s", bundle, err, rep, stderr)
			}
			if out, _, err := runCLI(t, env{}, "verify", file, "--key", pub); err != nil {
				t.Errorf("verify after attach --bundle FILE = %v\n%s", err, out)
			}
		})
	}
}

// airGapRefusals: on the far side, archives and bundles of another image,
// checked with another key, or tampered are refused by verify
// --subject-path and by attach, each saying why; the far registry's tags
// and referrers of app:v1 do not change.
func airGapRefusals(t *testing.T, far, carried, bundle, otherBundle, pub, otherPub string) {
	t.Helper()
	good := mustRead(t, bundle)
	tampered := tamperedBundle(t, good)
	dir := t.TempDir()
	tamperedFile := filepath.Join(dir, "tampered.sigstore.json")
	writeArchiveFile(t, tamperedFile, tampered)
	app := far + "/app:v1"
	before := registryState(t, far, "app", "v1")
	for _, tc := range []struct {
		name, bundle, key string
		// verifyMsg is what verify --subject-path says of an archive ("": a
		// bundle file, not verified so), attachMsg what attach says.
		verifyMsg, attachMsg string
	}{
		{"archive of another image's bundle", rewrittenArchive(t, carried, good, mustRead(t, otherBundle)), pub,
			"does not match any digest in statement", "attests another image"},
		{"archive, another key", carried, otherPub, "signed by a different key", "signed by a different key"},
		{"archive, tampered", rewrittenArchive(t, carried, good, tampered), pub, "could not verify envelope", "could not verify envelope"},
		{"another image's bundle", otherBundle, pub, "", "attests another image"},
		{"bundle, another key", bundle, otherPub, "", "signed by a different key"},
		{"bundle, tampered", tamperedFile, pub, "", "could not verify envelope"},
	} {
		if tc.verifyMsg != "" {
			out, _, err := runCLI(t, env{}, "verify", "--subject-path", tc.bundle, "--key", tc.key)
			t.Logf("%s: verify --subject-path:\n%s", tc.name, out)
			if ExitCode(err) != exitVerifyNoneVerified || !strings.Contains(out, tc.verifyMsg) {
				t.Errorf("%s: verify --subject-path = exit %d, %v; want %d, the report saying %q\n%s", tc.name, ExitCode(err), err, exitVerifyNoneVerified, tc.verifyMsg, out)
			}
		}
		_, stderr, err := runCLI(t, env{}, "attach", "--bundle", tc.bundle, app, "--key", tc.key)
		t.Logf("%s: attach: %s", tc.name, stderr)
		if ExitCode(err) != exitAttachRefused || !strings.Contains(stderr, "--bundle") || !strings.Contains(stderr, tc.attachMsg) || !strings.Contains(stderr, "nothing was attached") {
			t.Errorf("%s: attach = exit %d, %v; want %d naming --bundle, saying %q and that nothing was attached\n%s", tc.name, ExitCode(err), err, exitAttachRefused, tc.attachMsg, stderr)
		}
	}
	if after := registryState(t, far, "app", "v1"); after != before {
		t.Errorf("the refusals changed the far registry: %s, was %s", after, before)
	}
}

// rewrittenArchive is a copy of the OCI archive at src whose blob old is
// replaced by repl, and every descriptor that leads to it (the referrer
// manifest, a referrers index, index.json) rewritten to the new digests: an
// archive carrying another bundle as a tool would have written it.
func rewrittenArchive(t *testing.T, src string, old, repl []byte) string {
	t.Helper()
	entries, err := ocitest.ReadTar(src)
	if err != nil {
		t.Fatal(err)
	}
	replaceBlob(t, entries, digest.FromBytes(old), repl)
	out := filepath.Join(t.TempDir(), "rewritten.oci.tar")
	writeArchiveFile(t, out, ocitest.Tar(entries))
	return out
}

// replaceBlob replaces the blob old of entries by repl, then, in every JSON
// document that holds a descriptor of old, that descriptor, the document
// (a blob) being replaced in turn.
func replaceBlob(t *testing.T, entries []ocitest.Entry, old digest.Digest, repl []byte) {
	t.Helper()
	nd, found := digest.FromBytes(repl), false
	for i := range entries {
		if entries[i].Name == "blobs/sha256/"+old.Encoded() {
			entries[i].Name, entries[i].Body, found = "blobs/sha256/"+nd.Encoded(), repl, true
		}
	}
	if !found {
		t.Fatalf("the archive holds no blob %s", old)
	}
	for i := range entries {
		var doc any
		if json.Unmarshal(entries[i].Body, &doc) != nil || !repoint(doc, old, nd, len(repl)) {
			continue
		}
		raw, err := json.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		if entries[i].Name == "index.json" {
			entries[i].Body = raw
			continue
		}
		replaceBlob(t, entries, digest.FromBytes(entries[i].Body), raw)
	}
}

// repoint sets every descriptor of old in the JSON value v to nd and size;
// it reports whether there was one.
func repoint(v any, old, nd digest.Digest, size int) bool {
	found := false
	switch v := v.(type) {
	case map[string]any:
		if v["digest"] == old.String() {
			v["digest"], v["size"], found = nd.String(), size, true
		}
		for _, c := range v {
			found = repoint(c, old, nd, size) || found
		}
	case []any:
		for _, c := range v {
			found = repoint(c, old, nd, size) || found
		}
	}
	return found
}
