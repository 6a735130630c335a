package registry

import (
	"context"
	"errors"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	digest "github.com/opencontainers/go-digest"

	"github.com/oci-attest/oci-attest/internal/oci"
	"github.com/oci-attest/oci-attest/internal/testenv"
)

// platformIndex pushes an OCI index of one random image per platform, plus
// a buildx-style attestation manifest, and returns the index and images.
func platformIndex(t *testing.T, ref string, platforms ...string) (v1.ImageIndex, []v1.Image) {
	t.Helper()
	return testenv.PushPlatformIndex(t, ref, platforms...)
}

// archiveImages are the oci.Images an archive holding idx would yield for
// imgs (platform and image ID; the archive's index is idx's bytes).
func archiveImages(t *testing.T, idx v1.ImageIndex, imgs []v1.Image, platforms ...string) []*oci.Image {
	t.Helper()
	raw, err := idx.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	ix := &oci.Index{Digest: digest.FromBytes(raw), Raw: raw, MediaType: "application/vnd.oci.image.index.v1+json"}
	var out []*oci.Image
	for i, img := range imgs {
		p, err := oci.ParsePlatform(platforms[i])
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, &oci.Image{ImageID: imageID(t, img), Platform: p, ImageIndex: ix})
	}
	return out
}

// TestResolveIndex: every attested platform binds to its registry child;
// a platform missing on either side is ErrBinding naming it; the buildx
// attestation manifest is no platform on either side.
func TestResolveIndex(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	reg := testenv.StartOlareg(t)
	repository := reg.Host + "/index"
	c := newTestClient(t, Options{})

	idx, imgs := platformIndex(t, repository+":two", "linux/amd64", "linux/arm64")
	want := archiveImages(t, idx, imgs, "linux/amd64", "linux/arm64")
	ss, err := c.ResolveIndex(ctx, testenv.Ref(t, repository+":two"), want)
	if err != nil {
		t.Fatalf("ResolveIndex(two platforms) = %v", err)
	}
	for i, s := range ss {
		if s.Descriptor.Digest != manifestDigest(t, idx) || s.Image.Digest != manifestDigest(t, imgs[i]) || s.Tag != "two" {
			t.Errorf("subject %d = %+v, want index %s and image %s", i, s, manifestDigest(t, idx), manifestDigest(t, imgs[i]))
		}
		if is := s.ImageSubject(); is.Descriptor.Digest != s.Image.Digest || is.Image.Digest != s.Image.Digest {
			t.Errorf("ImageSubject() = %+v, want the platform manifest %s", is, s.Image.Digest)
		}
	}
	// One platform selected: the other is listed by the archive's index.
	if _, err := c.ResolveIndex(ctx, testenv.Ref(t, repository+":two"), want[1:]); err != nil {
		t.Errorf("ResolveIndex(arm64 only) = %v", err)
	}

	// The registry's index lacks a platform the archive has.
	other, otherImgs := platformIndex(t, repository+":amd64only", "linux/amd64")
	mixed := archiveImages(t, idx, imgs, "linux/amd64", "linux/arm64")
	mixed[0].ImageID = imageID(t, otherImgs[0])
	_, err = c.ResolveIndex(ctx, testenv.Ref(t, repository+":amd64only"), mixed)
	if !errors.Is(err, ErrBinding) || !strings.Contains(err.Error(), "platform linux/arm64 (image ID "+imageID(t, imgs[1]).String()) || strings.Contains(err.Error(), "platform linux/amd64 (image ID") {
		t.Errorf("ResolveIndex(registry lacks arm64) = %v, want ErrBinding naming linux/arm64 only", err)
	}
	_ = other

	// The registry's index has a platform the archive's index does not list.
	three, threeImgs := platformIndex(t, repository+":three", "linux/amd64", "linux/arm64", "linux/s390x")
	sub := archiveImages(t, idx, threeImgs[:2], "linux/amd64", "linux/arm64")
	_, err = c.ResolveIndex(ctx, testenv.Ref(t, repository+":three"), sub)
	if !errors.Is(err, ErrBinding) || !strings.Contains(err.Error(), "linux/s390x (image "+manifestDigest(t, threeImgs[2]).String()) {
		t.Errorf("ResolveIndex(registry has s390x) = %v, want ErrBinding naming linux/s390x", err)
	}
	// The same index with the archive's index being it: bound.
	if _, err := c.ResolveIndex(ctx, testenv.Ref(t, repository+":three"), archiveImages(t, three, threeImgs[:2], "linux/amd64", "linux/arm64")); err != nil {
		t.Errorf("ResolveIndex(two of three, listed) = %v", err)
	}

	// An image manifest binds one platform, not two.
	writeImage(t, repository+":single", imgs[0])
	if _, err := c.ResolveIndex(ctx, testenv.Ref(t, repository+":single"), want); !errors.Is(err, ErrBinding) || !strings.Contains(err.Error(), "not an index") {
		t.Errorf("ResolveIndex(image manifest, two platforms) = %v, want ErrBinding", err)
	}
	if ss, err := c.ResolveIndex(ctx, testenv.Ref(t, repository+":single"), want[:1]); err != nil || ss[0].Descriptor.Digest != manifestDigest(t, imgs[0]) || ss[0].ImageSubject() != ss[0] {
		t.Errorf("ResolveIndex(image manifest, one platform) = %+v, %v", ss, err)
	}
}
