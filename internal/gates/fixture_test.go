package gates

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/oci-attest/oci-attest/internal/cli"
	"github.com/oci-attest/oci-attest/internal/oci/ocitest"
	"github.com/oci-attest/oci-attest/internal/testenv"
)

// What the documented policies name (docs/gates): the tests substitute the
// registry and the issuer, and sign as this repository's release workflow.
const (
	docImage       = "ghcr.io/my-org/my-app"
	docIssuer      = "https://token.actions.githubusercontent.com"
	docRepository  = "my-org/my-app"
	docWorkflow    = docRepository + "/.github/workflows/release.yml"
	otherWorkflow  = docRepository + "/.github/workflows/nightly.yml"
	predicateType  = "https://aflock.ai/attestations/oci/v0.1"
	releaseRef     = "refs/tags/v1.0.0"
	docsDir        = "../../docs/gates"
	ghPredicateJQ  = "gh-predicate.jq"
	trustRootJQ    = "trustroot.jq"
	podResource    = "pod.yaml"
	ghTrustedRoots = "trusted_root.jsonl"
)

// policies are the documented files the gates run with for one kind of
// Sigstore instance: a ClusterImagePolicy and the name of the TrustRoot it
// refers to (made by trustroot.jq from the stack's trusted root), and a
// Kyverno ClusterPolicy.
type policies struct {
	clusterImagePolicy, trustRoot, kyverno string
}

var (
	// customPolicies are the recipes for a custom instance; Kyverno's is
	// also public-good's.
	customPolicies = policies{"clusterimagepolicy-custom.yaml", "my-sigstore", "kyverno-clusterpolicy.yaml"}
	// githubPolicies are the recipes for GitHub's instance; the test's
	// TrustRoot "github" stands in for trustroot-github.yaml.
	githubPolicies = policies{"clusterimagepolicy-github.yaml", "github", "kyverno-clusterpolicy-github.yaml"}
)

// image is one registry image of a fixture: pushed from an archive, attested
// (or not) by oci-attest.
type image struct {
	ref     string // HOST/my-org/my-app:TAG
	digest  string // its manifest digest
	archive string // the archive it was pushed from
	bundle  string // the bundle oci-attest wrote ("" unattested)
	// platform is set for a platform manifest of an index: a pod names it
	// by digest (its tag names the index).
	platform bool
}

// byDigest is the image's reference by digest.
func (i image) byDigest() string {
	return i.ref[:strings.LastIndex(i.ref, ":")] + "@" + i.digest
}

// podName is what a pod names to run the image: its tag, or the digest of
// a platform manifest.
func (i image) podName() string {
	if i.platform {
		return i.byDigest()
	}
	return i.ref
}

// fixture is one registry holding the images every gate is tried on.
type fixture struct {
	s    *testenv.Sigstore
	reg  testenv.Registry
	docs policies
	repo string // HOST/my-org/my-app: what docImage becomes
	// release is attested by the release workflow on a release tag: every
	// gate admits it.
	release image
	// nightly is attested on a release tag by another workflow of the
	// repository: a wrong identity.
	nightly image
	// dev is attested by the release workflow, but its archive tags it
	// :dev: the policies' predicate condition fails.
	dev image
	// bare is pushed and never attested.
	bare image
	// index is a two-platform image attested by the release workflow, and
	// amd64 its linux/amd64 manifest: a gate admits either.
	index, amd64 image
}

// newFixture pushes and attests the fixture's images on reg.
func newFixture(t *testing.T, s *testenv.Sigstore, reg testenv.Registry, docs policies) *fixture {
	t.Helper()
	f := &fixture{s: s, reg: reg, docs: docs, repo: reg.Host + "/" + docRepository}
	f.release = f.attest(t, "v1.0.0", "release", docWorkflow)
	f.nightly = f.attest(t, "v1.0.1", "nightly", otherWorkflow)
	f.dev = f.attest(t, "dev", "dev", docWorkflow)
	f.bare = f.push(t, "v1.0.2", "bare")
	f.index, f.amd64 = f.attestIndex(t, "v2.0.0")
	return f
}

// archive writes a docker save archive of one image tagged f.repo:tag whose
// one layer holds content (so that every image has its own ID).
func (f *fixture) archive(t *testing.T, tag, content string) string {
	t.Helper()
	img := ocitest.Image{
		RepoTags: []string{f.repo + ":" + tag},
		Layers:   []ocitest.Layer{{Files: []ocitest.File{{Name: "etc/" + content, Content: content + "\n"}}}},
	}
	b, err := ocitest.Build(ocitest.Docker25, img)
	if err != nil {
		t.Fatal(err)
	}
	return writeArchive(t, content, b)
}

func writeArchive(t *testing.T, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name+".tar")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// attest pushes an image and attests it with oci-attest, signed by workflow
// at releaseRef.
func (f *fixture) attest(t *testing.T, tag, content, workflow string) image {
	t.Helper()
	im := image{ref: f.repo + ":" + tag, archive: f.archive(t, tag, content)}
	im.bundle = filepath.Join(t.TempDir(), content+".sigstore.json")
	out := f.run(t, im, workflow)
	if im.digest = out["subject-digest"]; im.digest == "" {
		t.Fatalf("attesting %s: no subject-digest in the outputs %v", im.ref, out)
	}
	return im
}

// attestIndex pushes a linux/amd64 + linux/arm64 index (buildx's OCI
// output) tagged tag and attests every platform with the release workflow;
// it returns the index and its amd64 manifest.
func (f *fixture) attestIndex(t *testing.T, tag string) (index, amd64 image) {
	t.Helper()
	var imgs []ocitest.Image
	for _, arch := range []string{"amd64", "arm64"} {
		imgs = append(imgs, ocitest.Image{RepoTags: []string{f.repo + ":" + tag}, Architecture: arch,
			Layers: []ocitest.Layer{{Files: []ocitest.File{{Name: "etc/arch", Content: arch + "\n"}}}}})
	}
	b, err := ocitest.Build(ocitest.OCIMultiPlatform, imgs...)
	if err != nil {
		t.Fatal(err)
	}
	index = image{ref: f.repo + ":" + tag, archive: writeArchive(t, "index", b)}
	index.bundle = filepath.Join(t.TempDir(), "index.sigstore.json")
	out := f.run(t, index, docWorkflow)
	var units []struct {
		Platform    string `json:"platform"`
		ImageDigest string `json:"image-digest"`
	}
	if err := json.Unmarshal([]byte(out["attestations"]), &units); err != nil {
		t.Fatalf("attesting %s: the attestations output: %v", index.ref, err)
	}
	index.digest = out["subject-digest"]
	amd64 = image{ref: index.ref, archive: index.archive, bundle: index.bundle, platform: true}
	for _, u := range units {
		if u.Platform == "linux/amd64" {
			amd64.digest = u.ImageDigest
		}
	}
	if len(units) != 2 || index.digest == "" || amd64.digest == "" || index.digest == amd64.digest {
		t.Fatalf("attesting %s: outputs %v, want the index's and the amd64 manifest's digests", index.ref, out)
	}
	return index, amd64
}

// run runs oci-attest on im's archive (push-image, the local stack as a
// custom instance), signed by workflow at releaseRef, and returns its
// outputs (the first image's).
func (f *fixture) run(t *testing.T, im image, workflow string) map[string]string {
	t.Helper()
	s := f.s
	args := append([]string{"--subject-path", im.archive, "--subject-name", im.ref, "--push-image",
		"--sigstore", "custom"}, signingArgs(t, s)...)
	args = append(args, "--trusted-root", s.TrustedRootPath, "--identity-token", s.Token(t, workflowClaims(workflow, releaseRef)),
		"--bundle-path", im.bundle)
	var stdout, stderr bytes.Buffer
	if err := cli.Run(context.Background(), args, func(string) string { return "" }, &stdout, &stderr); err != nil {
		t.Fatalf("attesting %s: %v\n%s", im.ref, err, stderr.String())
	}
	out := map[string]string{}
	for _, l := range strings.Split(stdout.String(), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			out[k] = v
		}
	}
	return out
}

// signingArgs name the stack's services to oci-attest: Fulcio, the
// timestamp authority and Rekor v2 if it runs (no log: GitHub's shape); or,
// on a stack with Rekor v1 and no Rekor v2 (public-good's shape), Fulcio and
// Rekor v1 in a signing config, the log's integrated time being the signed
// time.
func signingArgs(t *testing.T, s *testenv.Sigstore) []string {
	t.Helper()
	switch {
	case s.RekorURL != "":
		return []string{"--fulcio-url", s.FulcioURL, "--rekor-url", s.RekorURL, "--tsa-url", s.TSAURL}
	case s.RekorV1URL != "":
		svc := testenv.SigningServices{Fulcio: s.FulcioURL, RekorV1: s.RekorV1URL, TSA: s.TSAURL}
		return []string{"--signing-config", testenv.WriteSigningConfig(t, svc)}
	}
	return []string{"--fulcio-url", s.FulcioURL, "--tsa-url", s.TSAURL}
}

// push pushes an image with go-containerregistry and attests nothing.
func (f *fixture) push(t *testing.T, tag, content string) image {
	t.Helper()
	im := image{ref: f.repo + ":" + tag, archive: f.archive(t, tag, content)}
	img, err := tarball.ImageFromPath(im.archive, nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := name.ParseReference(im.ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatalf("pushing %s: %v", im.ref, err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	im.digest = d.String()
	return im
}

// workflowClaims are the claims of an ID token of my-org/my-app's workflow
// (OWNER/REPO/.github/workflows/FILE) at ref: Fulcio's certificate then names
// https://github.com/WORKFLOW@REF as its identity, as GitHub's would.
func workflowClaims(workflow, ref string) map[string]any {
	wf := workflow + "@" + ref
	owner, _, _ := strings.Cut(docRepository, "/")
	return map[string]any{
		"repository":       docRepository,
		"repository_owner": owner,
		"sub":              "repo:" + docRepository + ":ref:" + ref,
		"ref":              ref,
		"ref_type":         "tag",
		"job_workflow_ref": wf,
		"workflow_ref":     wf,
	}
}

// docFile reads a documented file of docs/gates with the registry and the
// issuer substituted: docImage becomes repo, and docIssuer issuer unless
// issuer is docIssuer (the "wrong issuer" cases keep it).
func docFile(t *testing.T, file, repo, issuer string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(docsDir, file))
	if err != nil {
		t.Fatal(err)
	}
	b = bytes.ReplaceAll(b, []byte(docImage), []byte(repo))
	return bytes.ReplaceAll(b, []byte(docIssuer), []byte(issuer))
}

// writeDoc writes docFile's result into dir and returns its path.
func writeDoc(t *testing.T, dir, file, repo, issuer string) string {
	t.Helper()
	p := filepath.Join(dir, file)
	if err := os.WriteFile(p, docFile(t, file, repo, issuer), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
