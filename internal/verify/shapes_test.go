package verify

import (
	"context"
	"slices"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-attest/oci-attest/internal/sign"
	"github.com/oci-attest/oci-attest/internal/testenv"
)

// TestVerifyPublishedShapes: verify of the index shapes real
// tools publish, every platform manifest attested on its own (as attest
// does for each), passes with and without --platform: Docker Hub official
// images (nine platforms, arm64 listed as arm64/v8, buildx attestation
// manifests), Windows images of three builds (mcr.microsoft.com), a
// Go binary image listed under arm/v6 and arm/v7 alike (one manifest),
// and an index whose platform entries carry os.features.
func TestVerifyPublishedShapes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	reg := testenv.StartOlareg(t)
	f := newFixture(t, reg, "verify/shapes")
	repo, repository := "verify/shapes", reg.Host+"/verify/shapes"
	key, pub := signingKey(t)
	n := 0
	entry := func(layers int64, p ocispec.Platform, attested bool) ocispec.Descriptor {
		t.Helper()
		img, err := random.Image(256, layers)
		if err != nil {
			t.Fatal(err)
		}
		cf, _ := img.ConfigFile()
		cf = cf.DeepCopy()
		cf.OS, cf.Architecture, cf.Variant, cf.OSVersion = p.OS, p.Architecture, p.Variant, p.OSVersion
		if img, err = mutate.ConfigFile(img, cf); err != nil {
			t.Fatal(err)
		}
		n++
		d := pushEntry(t, repository+":e"+string(rune('a'+n)), img, "")
		d.Platform = &p
		if attested {
			attestManifest(t, f.client, repository, d, f.predicate, key)
		}
		return d
	}
	buildxAtt := func(of ocispec.Descriptor) ocispec.Descriptor {
		t.Helper()
		img, _ := random.Image(128, 1)
		n++
		d := pushEntry(t, repository+":e"+string(rune('a'+n)), img, "")
		d.Platform = &ocispec.Platform{OS: "unknown", Architecture: "unknown"}
		d.Annotations = map[string]string{"vnd.docker.reference.type": "attestation-manifest", "vnd.docker.reference.digest": of.Digest.String()}
		return d
	}
	verify := func(what, tag, platform string) {
		t.Helper()
		rep, err := Verify(ctx, testenv.Ref(t, repository+":"+tag), Options{Client: f.client, Policy: sign.Policy{PublicKey: pub}, Platform: platform})
		if err != nil {
			t.Errorf("%s: Verify(%s, --platform %q) = %v", what, tag, platform, err)
			return
		}
		t.Logf("%s --platform %q: %d platforms", what, platform, len(rep.Platforms))
	}

	var official []ocispec.Descriptor
	for _, p := range []ocispec.Platform{
		{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm", Variant: "v5"},
		{OS: "linux", Architecture: "arm", Variant: "v6"}, {OS: "linux", Architecture: "arm", Variant: "v7"},
		{OS: "linux", Architecture: "arm64", Variant: "v8"}, {OS: "linux", Architecture: "386"},
		{OS: "linux", Architecture: "ppc64le"}, {OS: "linux", Architecture: "riscv64"}, {OS: "linux", Architecture: "s390x"},
	} {
		official = append(official, entry(1, p, true))
	}
	for _, d := range slices.Clone(official) {
		official = append(official, buildxAtt(d))
	}
	putIndex(t, reg.Host, repo, "official", official...)
	for _, p := range []string{"", "linux/amd64", "linux/arm/v5", "linux/arm/v6", "linux/arm/v7", "linux/arm", "linux/arm64", "linux/arm64/v8", "linux/386", "linux/riscv64"} {
		verify("official", "official", p)
	}

	win := []ocispec.Descriptor{
		entry(1, ocispec.Platform{OS: "windows", Architecture: "amd64", OSVersion: "10.0.17763.6893"}, true),
		entry(1, ocispec.Platform{OS: "windows", Architecture: "amd64", OSVersion: "10.0.20348.3207"}, true),
		entry(1, ocispec.Platform{OS: "windows", Architecture: "amd64", OSVersion: "10.0.26100.3194"}, true),
	}
	putIndex(t, reg.Host, repo, "windows", win...)
	for _, p := range []string{"", "windows/amd64"} {
		verify("windows", "windows", p)
	}
	// Windows and Linux in one index (e.g. golang, mcr.microsoft.com/dotnet).
	putIndex(t, reg.Host, repo, "mixed", append([]ocispec.Descriptor{official[0], official[4]}, win...)...)
	for _, p := range []string{"", "windows/amd64", "linux/amd64"} {
		verify("linux and windows", "mixed", p)
	}

	goarm := entry(1, ocispec.Platform{OS: "linux", Architecture: "arm", Variant: "v6"}, true)
	v7 := goarm
	v7.Platform = &ocispec.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}
	putIndex(t, reg.Host, repo, "goarm", official[0], goarm, v7)
	for _, p := range []string{"", "linux/arm/v7", "linux/arm/v6"} {
		verify("one manifest under arm/v6 and arm/v7", "goarm", p)
	}

	feat := entry(0, ocispec.Platform{OS: "windows", Architecture: "amd64", OSVersion: "10.0.17763.6893", OSFeatures: []string{"win32k"}}, true)
	putIndex(t, reg.Host, repo, "features", feat, official[0])
	for _, p := range []string{"", "windows/amd64", "linux/amd64"} {
		verify("os.features win32k, zero layers", "features", p)
	}
}
