package gates

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/oci-attest/oci-attest/internal/registry"
	"github.com/oci-attest/oci-attest/internal/testenv"
)

// TestGateLimits holds the engines to the limits docs/gates.md states, read
// in their source: Kyverno admits an attested image with 50 referrers of
// any type and refuses it with 51, where gh and policy-controller have no
// such limit; one Sigstore bundle referrer that does not parse makes gh and
// Kyverno refuse an image whose attestation verifies, while policy-controller
// skips it.
func TestGateLimits(t *testing.T) {
	t.Parallel()
	s := testenv.StartSigstore(t, testenv.SigstoreOptions{Rekor: true, TSA: true})
	f := &fixture{s: s, reg: testenv.StartOlareg(t), docs: customPolicies}
	f.repo = f.reg.Host + "/" + docRepository
	crowded := f.attest(t, "v1.0.0", "crowded", docWorkflow)
	broken := f.attest(t, "v1.0.1", "broken", docWorkflow)
	pushReferrers(t, broken, 1, registry.BundleMediaType, []byte(`{"mediaType":"not a Sigstore bundle"}`))

	byName := map[string]engine{}
	for _, e := range engines {
		byName[e.name] = e
	}
	expect := func(t *testing.T, e string, img image, admit bool, says string) {
		t.Helper()
		v := byName[e].check(t, testenv.Tool(t, byName[e].tool), f, img, s.IssuerURL)
		t.Log(v.output)
		switch {
		case admit && (!v.decided || !v.admitted):
			t.Fatalf("%s did not admit %s:\n%s", e, img.ref, v.output)
		case !admit && v.admitted:
			t.Fatalf("%s admitted %s:\n%s", e, img.ref, v.output)
		case !strings.Contains(v.output, says):
			t.Fatalf("%s's output lacks %q:\n%s", e, says, v.output)
		}
	}
	t.Run("bundle referrer that does not parse", func(t *testing.T) {
		t.Parallel()
		expect(t, "gh", broken, false, "error unmarshalling bundle")
		expect(t, "kyverno", broken, false, "failed to unmarshal bundle")
		expect(t, "policy-tester", broken, true, "Verification was successful")
	})
	t.Run("referrers of any type", func(t *testing.T) {
		t.Parallel()
		pushReferrers(t, crowded, 49, "application/spdx+json", nil) // 50 with the attestation
		expect(t, "kyverno", crowded, true, "pass: 2")
		pushReferrers(t, crowded, 1, "application/vnd.cyclonedx+json", nil) // 51
		expect(t, "kyverno", crowded, false, "too many referrers found, max limit is 50")
		expect(t, "gh", crowded, true, "jq -e -f gh-predicate.jq: true")
		expect(t, "policy-tester", crowded, true, "Verification was successful")
	})
}

// pushReferrers pushes n artifacts of artifactType (their config's media
// type, as the referrers listing shows it) with subject img, each with one
// layer of that media type: layer, or a distinct SBOM-like JSON when nil.
func pushReferrers(t *testing.T, img image, n int, artifactType string, layer []byte) {
	t.Helper()
	subject, err := name.ParseReference(img.byDigest())
	if err != nil {
		t.Fatal(err)
	}
	desc, err := remote.Head(subject)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		b := layer
		if b == nil {
			b = fmt.Appendf(nil, `{"spdxVersion":"SPDX-2.3","name":"%s-%d"}`, img.digest, i)
		}
		a, err := mutate.AppendLayers(mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.MediaType(artifactType)),
			static.NewLayer(b, types.MediaType(artifactType)))
		if err != nil {
			t.Fatal(err)
		}
		a = mutate.Subject(a, v1.Descriptor{MediaType: desc.MediaType, Digest: desc.Digest, Size: desc.Size}).(v1.Image)
		d, err := a.Digest()
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(subject.Context().Digest(d.String()), a); err != nil {
			t.Fatalf("pushing a %s referrer of %s: %v", artifactType, img.ref, err)
		}
	}
}
