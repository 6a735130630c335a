package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oci-attest/oci-attest/internal/actions"
	"github.com/oci-attest/oci-attest/internal/attest"
	"github.com/oci-attest/oci-attest/internal/oci"
	"github.com/oci-attest/oci-attest/internal/oci/ocitest"
	"github.com/oci-attest/oci-attest/internal/registry"
	"github.com/oci-attest/oci-attest/internal/testenv"
)

// skopeoArchive copies the index at ref with `skopeo copy --all` into an
// oci-archive tagged v1, as a user saves a multi-platform image.
func skopeoArchive(t *testing.T, ref string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "multi.tar")
	cmd := exec.Command(testenv.RequireBin(t, "skopeo"), "copy", "--all", "--src-tls-verify=false", "docker://"+ref, "oci-archive:"+out+":v1")
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("skopeo copy --all: %v\n%s", err, b)
	}
	return out
}

// attestationsOf decodes the attestations output of `--output json`.
func attestationsOf(t *testing.T, stdout string) []actions.Attestation {
	t.Helper()
	var outs struct {
		Attestations []actions.Attestation `json:"attestations"`
	}
	if err := json.Unmarshal([]byte(stdout), &outs); err != nil {
		t.Fatalf("--output json is not the outputs: %v\n%s", err, stdout)
	}
	return outs.Attestations
}

// TestMultiPlatformRealTools: a two-platform index (plus a buildx
// attestation manifest) in a registry, saved with skopeo copy --all into
// an OCI archive, is attested in one step with push-image to olareg (the
// referrers API) and distribution (the fallback tag): the index is pushed
// byte for byte, every platform gets its own statement and bundle, attached
// to the index and to its platform manifest. cosign verify-attestation
// passes on the tag, the index digest and each platform digest; oras
// discover lists the referrers; oci-attest verify reports every platform.
func TestMultiPlatformRealTools(t *testing.T) {
	if testing.Short() {
		t.Skip("runs skopeo, the Sigstore stack, registries, cosign and oras")
	}
	t.Parallel()
	s := testenv.StartSigstore(t, testenv.SigstoreOptions{Rekor: true, TSA: true})
	src := testenv.StartOlareg(t)
	idx, _ := testenv.PushPlatformIndex(t, src.Host+"/src/app:v1", "linux/amd64", "linux/arm64")
	archive := skopeoArchive(t, src.Host+"/src/app:v1")
	// skopeo writes the index anew (the platform manifests keep their
	// bytes): push-image must push the archive's, byte for byte.
	scanned, err := oci.Scan(context.Background(), archive, oci.ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(scanned.Images) != 2 || scanned.Images[0].ImageIndex == nil {
		t.Fatalf("skopeo's archive: %d images, want 2 platforms of an index", len(scanned.Images))
	}
	idxDigest := scanned.Images[0].ImageIndex.Digest
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	cosign, oras := testenv.Tool(t, "cosign"), testenv.Tool(t, "oras")

	for _, reg := range []testenv.Registry{testenv.StartOlareg(t), testenv.StartDistribution(t)} {
		t.Run(reg.Name, func(t *testing.T) {
			t.Parallel()
			image := reg.Host + "/multi/app:v1"
			stdout, stderr, err := runCLI(t, env{}, "--subject-path", archive, "--subject-name", image, "--push-image",
				"--sigstore", "custom", "--fulcio-url", s.FulcioURL, "--rekor-url", s.RekorURL, "--tsa-url", s.TSAURL,
				"--trusted-root", s.TrustedRootPath, "--identity-token", s.Token(t),
				"--bundle-path", filepath.Join(t.TempDir(), "b.sigstore.json"), "--output", "json")
			if err != nil {
				t.Fatalf("attest: %v\n%s", err, stderr)
			}
			for _, want := range []string{"2 platform(s), linux/amd64, linux/arm64", "1 buildx attestation manifest(s), which are not platforms", "byte for byte"} {
				if !strings.Contains(stderr, want) {
					t.Errorf("log lacks %q:\n%s", want, stderr)
				}
			}
			as := attestationsOf(t, stdout)
			if len(as) != 2 {
				t.Fatalf("attestations = %+v, want one per platform", as)
			}
			repo := reg.Host + "/multi/app"
			platformDigest := map[string]string{}
			for i, want := range []string{"linux/amd64", "linux/arm64"} {
				a := as[i]
				if a.Platform != want || a.SubjectDigest != idxDigest.String() || a.SubjectName != image || a.SubjectPath != archive || a.AttestationDigest == "" {
					t.Errorf("attestation %d = %+v, want %s under the pushed index %s (the archive's, byte for byte)", i, a, want, idxDigest)
				}
				// The platform's manifest is the source index's (skipping the
				// attestation manifest listed after amd64).
				if wantImg := im.Manifests[map[int]int{0: 0, 1: 2}[i]].Digest.String(); a.ImageDigest != wantImg {
					t.Errorf("attestation %d image-digest = %s, want %s", i, a.ImageDigest, wantImg)
				}
				if _, err := os.Stat(a.BundlePath); err != nil {
					t.Errorf("bundle %s: %v", a.BundlePath, err)
				}
				if (a.ReferrersTag == "") != reg.API {
					t.Errorf("attestation %d referrers-tag = %q on %s", i, a.ReferrersTag, reg.Name)
				}
				platformDigest[want] = a.ImageDigest
			}

			cosignVerify := func(ref string) {
				t.Helper()
				cmd := exec.Command(cosign, "verify-attestation", "--type", attest.PredicateType,
					"--trusted-root", s.TrustedRootPath, "--allow-http-registry", "--insecure-ignore-sct", "--use-signed-timestamps",
					"--certificate-identity", s.Identity(), "--certificate-oidc-issuer", s.IssuerURL, ref)
				cmd.Env = append(os.Environ(), "TUF_ROOT="+t.TempDir(), "SIGSTORE_NO_CACHE=true", "DOCKER_CONFIG="+t.TempDir())
				out, err := cmd.CombinedOutput()
				if err != nil || !strings.Contains(string(out), "Verification for "+ref) {
					t.Errorf("cosign verify-attestation %s = %v\n%s", ref, err, out)
				}
			}
			cosignVerify(image)
			cosignVerify(repo + "@" + idxDigest.String())
			for _, d := range platformDigest {
				cosignVerify(repo + "@" + d)
			}

			discover := func(ref string) string {
				t.Helper()
				cmd := exec.Command(oras, "discover", "--plain-http", "--format", "json", "--artifact-type", registry.BundleMediaType, ref)
				cmd.Env = append(os.Environ(), "HOME="+t.TempDir(), "DOCKER_CONFIG="+t.TempDir())
				var out, errb bytes.Buffer
				cmd.Stdout, cmd.Stderr = &out, &errb
				if err := cmd.Run(); err != nil {
					t.Fatalf("oras discover %s: %v\n%s", ref, err, errb.String())
				}
				return out.String()
			}
			onIndex := discover(repo + "@" + idxDigest.String())
			for _, a := range as {
				if !strings.Contains(onIndex, a.AttestationDigest) {
					t.Errorf("oras discover on the index lacks %s (%s):\n%s", a.AttestationDigest, a.Platform, onIndex)
				}
			}
			for p, d := range platformDigest {
				if out := discover(repo + "@" + d); strings.Count(out, `"`+registry.BundleMediaType+`"`) != 1 {
					t.Errorf("oras discover on %s (%s) lists %d bundle referrers, want 1:\n%s", d, p, strings.Count(out, `"`+registry.BundleMediaType+`"`), out)
				}
			}

			policy := []string{"--trusted-root", s.TrustedRootPath, "--certificate-identity", s.Identity(), "--certificate-oidc-issuer", s.IssuerURL}
			out, _, err := runCLI(t, env{}, append([]string{"verify", image, "--subject-path", archive}, policy...)...)
			words := strings.Join(strings.Fields(out), " ")
			if err != nil {
				t.Fatalf("oci-attest verify %s = %v\n%s", image, err, out)
			}
			for _, want := range []string{
				"platform linux/amd64 " + platformDigest["linux/amd64"] + " VERIFIED: 2 of 2",
				"platform linux/arm64 " + platformDigest["linux/arm64"] + " VERIFIED: 2 of 2",
				"checked 4 Sigstore bundle referrer(s)", "2 of 2 platform(s) verified", archive + " matches",
			} {
				if !strings.Contains(words, want) {
					t.Errorf("oci-attest verify %s lacks %q:\n%s", image, want, out)
				}
			}
			// Each platform's own digest verifies on its own.
			for p, d := range platformDigest {
				out, _, err := runCLI(t, env{}, append([]string{"verify", repo + "@" + d, "--subject-path", archive}, policy...)...)
				if err != nil || !strings.Contains(out, "VERIFIED") {
					t.Errorf("oci-attest verify %s (%s) = %v\n%s", d, p, err, out)
				}
			}
		})
	}
}

// TestMultiImageArchive: a docker save of two images tagged for two
// repositories is attested into both in one step (each image pushed and
// attached in its own repository); subject-name lists pick images by tag;
// names, globs and archives that name nothing are input errors before
// anything is signed; a failure after an image was attached says which were
// and which were not.
func TestMultiImageArchive(t *testing.T) {
	t.Parallel()
	reg := testenv.StartOlareg(t)
	priv, pub := verifyKeyPair(t)
	dir := t.TempDir()
	archive := filepath.Join(dir, "two.tar")
	// docker names each image in index.json by its bare tag too: distinct tags.
	one, two := reg.Host+"/team/one:v1", reg.Host+"/other/two:v2"
	writeArchiveFile(t, archive, docker25(t, imageTagged(one, "one"), imageTagged(two, "two"), imageTagged("", "untagged")))

	stdout, stderr, err := runCLI(t, env{}, "--subject-path", archive, "--push-image", "--signing-key", priv,
		"--bundle-path", filepath.Join(dir, "b.json"), "--output", "json")
	if err != nil {
		t.Fatalf("attest: %v\n%s", err, stderr)
	}
	as := attestationsOf(t, stdout)
	if len(as) != 2 || as[0].SubjectName != one || as[1].SubjectName != two || as[0].BundlePath != filepath.Join(dir, "b.json") ||
		filepath.Dir(as[1].BundlePath) != dir || as[0].ImageID == as[1].ImageID {
		t.Fatalf("attestations = %+v, want %s and %s, the second bundle beside the first", as, one, two)
	}
	if !strings.Contains(stderr, "skipping linux/amd64 image") || !strings.Contains(stderr, "no RepoTag names a registry repository") {
		t.Errorf("log does not list the untagged image as skipped:\n%s", stderr)
	}
	for _, image := range []string{one, two} {
		if out, _, err := runCLI(t, env{}, "verify", image, "--key", pub, "--subject-path", archive); err != nil || !strings.Contains(out, archive+" matches") {
			t.Errorf("verify %s = %v\n%s", image, err, out)
		}
	}

	// subject-name picks images by tag, each into its repository, in every
	// archive a glob matches (a copy of the archive beside it too).
	if err := os.WriteFile(filepath.Join(dir, "copy.tar"), mustRead(t, archive), 0o600); err != nil {
		t.Fatal(err)
	}
	copyTar := filepath.Join(dir, "copy.tar")
	stdout, stderr, err = runCLI(t, env{}, "--subject-path", filepath.Join(dir, "*.tar"), "--subject-name", two+"\n"+one,
		"--signing-key", priv, "--output", "json")
	as2 := attestationsOf(t, stdout)
	if err != nil || len(as2) != 4 {
		t.Fatalf("attest --subject-path *.tar --subject-name two, one = %v, %+v\n%s", err, as2, stderr)
	}
	for i, want := range []struct{ name, path string }{{two, copyTar}, {two, archive}, {one, copyTar}, {one, archive}} {
		if as2[i].SubjectName != want.name || as2[i].SubjectPath != want.path || as2[i].AttestationDigest == "" {
			t.Errorf("attestation %d = %+v, want %s from %s", i, as2[i], want.name, want.path)
		}
	}
	if as2[0].BundlePath == as2[1].BundlePath || filepath.Dir(as2[0].BundlePath) != filepath.Dir(as2[1].BundlePath) {
		t.Errorf("the same image's two bundles are %s and %s: want two files in one directory", as2[0].BundlePath, as2[1].BundlePath)
	}

	for _, tc := range []struct {
		name  string
		args  []string
		input string
		want  string
	}{
		{"a name that names no image", []string{"--subject-path", archive, "--subject-name", one + "\n" + reg.Host + "/nobody/else:v1"}, "subject-name", "(line 2) names no image"},
		{"a glob that matches nothing", []string{"--subject-path", filepath.Join(dir, "*.oci")}, "subject-path", "matches no file"},
		{"a second archive with nothing attestable", []string{"--subject-path", archive + "\n" + untaggedArchive(t)}, "subject-path", "holds no image this run attests"},
		{"subject-digest for several images", []string{"--subject-path", archive, "--subject-digest", "sha256:" + strings.Repeat("a", 64)}, "subject-digest", "but 2 are attested"},
		{"platforms selecting nothing", []string{"--subject-path", filepath.Join(testdataDir, "archives", "oci-multiplatform.tar"), "--platforms", "linux/s390x"}, "platforms", "selects none of the platforms"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := filepath.Join(t.TempDir(), "b.json")
			_, stderr, err := runCLI(t, env{}, append(tc.args, "--signing-key", priv, "--bundle-path", b)...)
			if ExitCode(err) != 2 || !strings.Contains(err.Error(), "input "+tc.input+":") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("run = %v (exit %d), want an input %s error saying %q\n%s", err, ExitCode(err), tc.input, tc.want, stderr)
			}
			if _, err := os.Stat(b); err == nil {
				t.Error("a bundle was written before the input error")
			}
		})
	}

	t.Run("failure after an image was attached", func(t *testing.T) {
		t.Parallel()
		// The second image's fallback tag holds something else: it is never
		// overwritten (referrers-mode tag writes it even with the API), so
		// that image fails after the first was attached.
		testenv.PutManifest(t, reg.Host, "other/two", "sha256-"+strings.TrimPrefix(as[1].SubjectDigest, "sha256:"), "application/vnd.oci.image.manifest.v1+json",
			[]byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}`))
		_, _, err := runCLI(t, env{}, "--subject-path", archive, "--signing-key", priv, "--referrers-mode", "tag", "--bundle-path", filepath.Join(t.TempDir(), "b.json"))
		if err == nil || !strings.Contains(err.Error(), "attested and attached: "+reg.Host+"/team/one@") || !strings.Contains(err.Error(), "not attached: "+reg.Host+"/other/two@") {
			t.Errorf("run = %v, want it to say one was attached and two was not", err)
		}
	})
}

// TestConcurrentRunsRealRegistries: 16 runs at once attest the same
// two-platform index on Debian's docker-registry 2.8 and on distribution
// v3 (no referrers API: every run updates three fallback tags): no run
// fails (a referrer PUT the registry answers MANIFEST_BLOB_UNKNOWN while
// other runs upload the same blobs is retried) and no entry is lost.
func TestConcurrentRunsRealRegistries(t *testing.T) {
	if testing.Short() {
		t.Skip("starts registries and 32 processes")
	}
	t.Parallel()
	archive := filepath.Join(testdataDir, "archives", "oci-multiplatform.tar")
	// One registry at a time: 16 runs already load the 2 cores here far
	// more than 16 jobs on their own runners do.
	for _, reg := range []testenv.Registry{testenv.StartDockerRegistry(t), testenv.StartDistribution(t)} {
		t.Run(reg.Name, func(t *testing.T) {
			image := reg.Host + "/race/multi:v1"
			// The index is pushed once; the runs attach to it.
			stdout, stderr, err := runCLI(t, env{}, "--subject-path", archive, "--subject-name", image, "--push-image",
				"--signing-key", "ephemeral", "--bundle-path", filepath.Join(t.TempDir(), "b.json"), "--output", "json")
			if err != nil {
				t.Fatalf("first attest: %v\n%s", err, stderr)
			}
			first := attestationsOf(t, stdout)
			const runs = 16
			outs, failed := runChildren(t, runs, "TestConcurrentRunChild", func(int) []string {
				return []string{raceChildEnv + "=" + image, raceDirEnv + "=" + t.TempDir()}
			})
			var wantIndex []string
			reuploads := 0
			for _, out := range outs {
				for _, line := range strings.Split(out, "\n") {
					if d, ok := strings.CutPrefix(line, "ATTESTED "); ok {
						wantIndex = append(wantIndex, d)
					}
					var n int
					if _, err := fmt.Sscanf(line, "REUPLOADS %d", &n); err == nil {
						reuploads += n
					}
				}
			}
			repo := testenv.Ref(t, reg.Host+"/race/multi")
			entries := func(d string) map[string]bool { return fallbackEntries(t, repo, d) }
			onIndex := entries(first[0].SubjectDigest)
			lost := 0
			for _, d := range append(wantIndex, first[0].AttestationDigest, first[1].AttestationDigest) {
				if !onIndex[d] {
					lost++
					t.Errorf("the index's fallback tag lost %s", d)
				}
			}
			if len(wantIndex) != 2*(runs-failed) || len(onIndex) != 2*runs+2 {
				t.Errorf("the index's fallback tag has %d entries, the runs reported %d; want %d", len(onIndex), len(wantIndex), 2*runs+2)
			}
			for _, a := range first {
				if n := len(entries(a.ImageDigest)); n != runs+1 {
					lost += runs + 1 - n
					t.Errorf("the fallback tag of %s (%s) has %d entries, want %d", a.ImageDigest, a.Platform, n, runs+1)
				}
			}
			t.Logf("RESULT %s runs=%d failed=%d lost=%d reuploads=%d", reg.Name, runs, failed, lost, reuploads)
		})
	}
}

const (
	raceChildEnv = "OCI_ATTEST_CONCURRENT_RUN_IMAGE"
	raceDirEnv   = "OCI_ATTEST_CONCURRENT_RUN_DIR"
)

// TestConcurrentRunChild is one run of TestConcurrentRunsRealRegistries: the
// CLI's attest with an ephemeral key and the default settle delay, printing
// the index referrers it attached.
func TestConcurrentRunChild(t *testing.T) {
	image := os.Getenv(raceChildEnv)
	if image == "" {
		t.Skip("child of TestConcurrentRunsRealRegistries")
	}
	var log bytes.Buffer
	e := env{}
	c, err := readFlagsConfig([]string{"--subject-path", filepath.Join(testdataDir, "archives", "oci-multiplatform.tar"), "--subject-name", image,
		"--signing-key", "ephemeral", "--bundle-path", filepath.Join(os.Getenv(raceDirEnv), "b.json")}, e.get, &log)
	if err == nil {
		err = c.Validate()
	}
	if err != nil {
		t.Fatal(err)
	}
	waitChildStart(t)
	res, err := attestRun(context.Background(), c, actions.New(false, &log, e.get), &log, seams{})
	if err != nil {
		t.Fatalf("attest: %v\n%s", err, log.String())
	}
	for _, r := range res.Units {
		os.Stdout.WriteString("ATTESTED " + r.Attached.Artifact.Digest.String() + "\n")
		fmt.Printf("REUPLOADS %d\n", r.Attached.Reuploads+r.AttachedImage.Reuploads)
	}
}

// TestPushImagePartialIndex: an archive whose index lists a platform it
// does not hold (docker save with the containerd store keeps only the local
// platform's content) cannot be pushed as the whole index; with push-image
// its one platform image is pushed and attested alone, as the log says.
func TestPushImagePartialIndex(t *testing.T) {
	t.Parallel()
	amd := imageTagged("localhost/x/multi:v1", "amd64")
	arm := imageTagged("localhost/x/multi:v1", "arm64")
	arm.Architecture = "arm64"
	es, err := ocitest.Entries(ocitest.OCIMultiPlatform, amd, arm)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	full := filepath.Join(dir, "full.tar")
	writeArchiveFile(t, full, ocitest.Tar(es))
	fa, err := oci.Scan(context.Background(), full, oci.ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var kept []ocitest.Entry
	for _, e := range es {
		if e.Name != "blobs/sha256/"+fa.Images[1].ManifestDigest.Encoded() {
			kept = append(kept, e)
		}
	}
	partial := filepath.Join(dir, "partial.tar")
	writeArchiveFile(t, partial, ocitest.Tar(kept))
	reg := testenv.StartOlareg(t)
	stdout, stderr, err := runCLI(t, env{}, "--subject-path", partial, "--subject-name", reg.Host+"/partial/app:v1", "--push-image",
		"--signing-key", "ephemeral", "--bundle-path", filepath.Join(dir, "b.json"), "--output", "json")
	if err != nil {
		t.Fatalf("attest: %v\n%s", err, stderr)
	}
	as := attestationsOf(t, stdout)
	if len(as) != 1 || as[0].Platform != "linux/amd64" || as[0].SubjectDigest != fa.Images[0].ManifestDigest.String() {
		t.Errorf("attestations = %+v, want linux/amd64 bound to its own manifest %s", as, fa.Images[0].ManifestDigest)
	}
	for _, want := range []string{"listed but not in the archive, so not attested: linux/arm64", "pushing that image alone"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("log lacks %q:\n%s", want, stderr)
		}
	}

	// The whole index in the registry (pushed from the full archive), the
	// partial archive attested against its tag: bound to the amd64
	// manifest alone — the index, which runs arm64 too, is no subject —
	// and the log says so.
	if _, stderr, err := runCLI(t, env{}, "--subject-path", full, "--subject-name", reg.Host+"/partial/app:full", "--push-image",
		"--signing-key", "ephemeral", "--bundle-path", filepath.Join(dir, "full.json")); err != nil {
		t.Fatalf("attest the full archive: %v\n%s", err, stderr)
	}
	stdout, stderr, err = runCLI(t, env{}, "--subject-path", partial, "--subject-name", reg.Host+"/partial/app:full",
		"--signing-key", "ephemeral", "--bundle-path", filepath.Join(dir, "p.json"), "--output", "json")
	if err != nil {
		t.Fatalf("attest the partial archive against the whole index: %v\n%s", err, stderr)
	}
	as = attestationsOf(t, stdout)
	if len(as) != 1 || as[0].SubjectDigest != fa.Images[0].ManifestDigest.String() || as[0].ImageDigest != as[0].SubjectDigest {
		t.Errorf("attestations = %+v, want linux/amd64 bound to its own manifest %s alone", as, fa.Images[0].ManifestDigest)
	}
	for _, want := range []string{"holds only part of index " + reg.Host + "/partial/app:full (" + fa.Images[0].ImageIndex.Digest.String(), fa.Images[1].ManifestDigest.String() + " (linux/arm64)", "the index is no subject"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("log lacks %q:\n%s", want, stderr)
		}
	}
}

// TestBindingAdvice: an archive attested against a tag that names another
// image fails before anything is signed, with what to do — push it, or
// point subject-name at the registry image that is it.
func TestBindingAdvice(t *testing.T) {
	t.Parallel()
	reg := testenv.StartGGCR(t)
	dir := t.TempDir()
	mine, other := filepath.Join(dir, "mine.tar"), filepath.Join(dir, "other.tar")
	writeArchiveFile(t, mine, docker25(t, imageTagged("localhost/x/app:v1", "mine")))
	writeArchiveFile(t, other, docker25(t, imageTagged("localhost/x/app:v1", "other")))
	image := reg.Host + "/advice/app:v1"
	if _, stderr, err := runCLI(t, env{}, "--subject-path", other, "--subject-name", image, "--push-image", "--signing-key", "ephemeral", "--bundle-path", filepath.Join(dir, "o.json")); err != nil {
		t.Fatalf("pushing the other image: %v\n%s", err, stderr)
	}
	_, stderr, err := runCLI(t, env{}, "--subject-path", mine, "--subject-name", image, "--signing-key", "ephemeral", "--bundle-path", filepath.Join(dir, "m.json"))
	if !errors.Is(err, registry.ErrBinding) || !strings.Contains(err.Error(), "push-image: true") || !strings.Contains(err.Error(), "point subject-name/subject-digest at the registry image that is it") {
		t.Errorf("attest against another image = %v, want ErrBinding with advice\n%s", err, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "m.json")); err == nil {
		t.Error("a bundle was written for an image that did not bind")
	}
}
