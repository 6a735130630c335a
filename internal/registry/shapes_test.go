package registry

import (
	"context"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/oci-attest/oci-attest/internal/testenv"
)

// TestResolveArmConfigWithoutVariant: an
// index lists an image under linux/arm/v6 (or arm/v5) whose config says
// only "architecture": "arm", with no variant — what Docker wrote before
// 20.10 (image.V1Image had no variant), what Jib writes (its container
// configuration has os and architecture only) and what manifest-tool /
// `docker manifest create --variant v6` lists when the images were built
// apart. `docker save` of that one platform (classic image store; here
// `crane pull --platform linux/arm/v6`, which writes the same tarball)
// holds the image with no index, so its platform is its config's: linux/arm,
// which containerd's Normalize reads as arm/v7. samePlatform then finds
// the archive's image listed under another platform and refuses with
// "nodes of linux/arm/v6 would run it; list each image under its own
// platform" — for an image the registry lists exactly where its publisher
// put it, which the user can neither change nor act on.
//
// The swap samePlatform guards against (TestResolveIndexPlatformsSwapped)
// needs two platforms the config names; a config without variant names
// none for arm, as a config without OS names no platform at all
// (imagePlatform's "compared with nothing"). Fix: compare a config-derived
// platform by what it names — when the config has no variant, match OS and
// architecture only (platforms.Normalize's arm default of v7 is a default,
// not what the image says); keep the strict comparison when the variant
// comes from the archive's index descriptor or the config names one.
func TestResolveArmConfigWithoutVariant(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	reg := testenv.StartOlareg(t)
	repository := reg.Host + "/armv6"
	c := newTestClient(t, Options{})

	var adds []mutate.IndexAddendum
	var v6 v1.Image
	for _, e := range []struct {
		listed        v1.Platform
		arch, variant string
	}{
		{v1.Platform{OS: "linux", Architecture: "amd64"}, "amd64", ""},
		{v1.Platform{OS: "linux", Architecture: "arm", Variant: "v6"}, "arm", ""},
	} {
		img, err := random.Image(512, 1)
		if err != nil {
			t.Fatal(err)
		}
		img = mutate.MediaType(img, types.DockerManifestSchema2)
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		cf = cf.DeepCopy()
		cf.OS, cf.Architecture, cf.Variant = "linux", e.arch, e.variant
		if img, err = mutate.ConfigFile(img, cf); err != nil {
			t.Fatal(err)
		}
		p := e.listed
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &p}})
		if e.arch == "arm" {
			v6 = img
		}
	}
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.DockerManifestList), adds...)
	r, err := name.ParseReference(repository+":1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(r, idx); err != nil {
		t.Fatal(err)
	}
	s, err := c.Resolve(ctx, testenv.Ref(t, repository+":1"), archived(t, v6))
	if err != nil {
		t.Fatalf("Resolve(docker save of the arm/v6 image whose config names no variant) = %v; want its entry, bound alone (Partial)", err)
	}
	if s.Descriptor.Digest != manifestDigest(t, v6) || s.Partial == nil {
		t.Errorf("Resolve = %+v, want the arm/v6 platform manifest %s alone", s, manifestDigest(t, v6))
	}
}
