package registry

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	digest "github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

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
// imgs (platform, image ID, layers; the archive's index is idx's bytes,
// complete).
func archiveImages(t *testing.T, idx v1.ImageIndex, imgs []v1.Image, platforms ...string) []*oci.Image {
	t.Helper()
	raw, err := idx.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	ix := &oci.Index{Digest: digest.FromBytes(raw), Raw: raw, MediaType: "application/vnd.oci.image.index.v1+json"}
	var out []*oci.Image
	for i, img := range imgs {
		a := testenv.ArchiveImage(t, img, platforms[i])
		a.ImageIndex = ix
		out = append(out, a)
	}
	return out
}

// TestResolveIndex: every attested platform binds to its registry entry
// and the index; an attested platform no entry is, or an entry a complete
// archive does not hold, is ErrBinding naming it; the buildx attestation
// manifest is no platform on either side; an archive that holds only part
// of the index binds its platform manifests alone.
func TestResolveIndex(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	reg := testenv.StartOlareg(t)
	repository := reg.Host + "/index"
	c := newTestClient(t, Options{})

	idx, imgs := platformIndex(t, repository+":two", "linux/amd64", "linux/arm64")
	want := archiveImages(t, idx, imgs, "linux/amd64", "linux/arm64")
	ss, err := c.ResolveIndex(ctx, testenv.Ref(t, repository+":two"), want, nil)
	if err != nil {
		t.Fatalf("ResolveIndex(two platforms) = %v", err)
	}
	for i, s := range ss {
		if s.Descriptor.Digest != manifestDigest(t, idx) || s.Image.Digest != manifestDigest(t, imgs[i]) || s.Tag != "two" || s.Partial != nil || s.Layers.Same != 2 {
			t.Errorf("subject %d = %+v, want index %s and image %s, both layers the same", i, s, manifestDigest(t, idx), manifestDigest(t, imgs[i]))
		}
		if is := s.ImageSubject(); is.Descriptor.Digest != s.Image.Digest || is.Image.Digest != s.Image.Digest {
			t.Errorf("ImageSubject() = %+v, want the platform manifest %s", is, s.Image.Digest)
		}
	}
	// One platform selected (platforms): the other is held by the archive.
	if ss, err := c.ResolveIndex(ctx, testenv.Ref(t, repository+":two"), want[1:], want); err != nil || ss[0].Descriptor.Digest != manifestDigest(t, idx) {
		t.Errorf("ResolveIndex(arm64 only) = %+v, %v; want the index", ss, err)
	}

	// The registry's index lacks a platform the archive has.
	_, otherImgs := platformIndex(t, repository+":amd64only", "linux/amd64")
	mixed := archiveImages(t, idx, imgs, "linux/amd64", "linux/arm64")
	mixed[0] = testenv.ArchiveImage(t, otherImgs[0], "linux/amd64")
	mixed[0].ImageIndex = mixed[1].ImageIndex
	_, err = c.ResolveIndex(ctx, testenv.Ref(t, repository+":amd64only"), mixed, nil)
	if !errors.Is(err, ErrBinding) || !strings.Contains(err.Error(), "platform linux/arm64 (image ID "+imageID(t, imgs[1]).String()) || strings.Contains(err.Error(), "platform linux/amd64 (image ID") {
		t.Errorf("ResolveIndex(registry lacks arm64) = %v, want ErrBinding naming linux/arm64 only", err)
	}

	// The registry's index has a platform the archive's (complete) index
	// does not hold: another index.
	three, threeImgs := platformIndex(t, repository+":three", "linux/amd64", "linux/arm64", "linux/s390x")
	sub := archiveImages(t, idx, threeImgs[:2], "linux/amd64", "linux/arm64")
	_, err = c.ResolveIndex(ctx, testenv.Ref(t, repository+":three"), sub, nil)
	if !errors.Is(err, ErrBinding) || !strings.Contains(err.Error(), "image "+manifestDigest(t, threeImgs[2]).String()+" (linux/s390x)") || !strings.Contains(err.Error(), "another one") {
		t.Errorf("ResolveIndex(registry has s390x) = %v, want ErrBinding naming linux/s390x", err)
	}

	// The archive holds two platforms of that index and lacks the third
	// (a containerd-store docker save): each binds its platform manifest
	// alone; the index is no subject.
	lacking := archiveImages(t, three, threeImgs[:2], "linux/amd64", "linux/arm64")
	lacking[0].ImageIndex.LackCount = 1
	ss, err = c.ResolveIndex(ctx, testenv.Ref(t, repository+":three"), lacking, nil)
	if err != nil {
		t.Fatalf("ResolveIndex(two of three held) = %v", err)
	}
	for i, s := range ss {
		p := s.Partial
		if s.Descriptor.Digest != manifestDigest(t, threeImgs[i]) || s.Image.Digest != s.Descriptor.Digest || s.Tag != "" ||
			p == nil || p.Index.Digest != manifestDigest(t, three) || p.Tag != "three" || p.OtherCount != 1 || p.Others[0].Descriptor.Digest != manifestDigest(t, threeImgs[2]) {
			t.Errorf("subject %d = %+v (partial %+v), want the platform manifest %s alone, the index %s and s390x named", i, s, p, manifestDigest(t, threeImgs[i]), manifestDigest(t, three))
		}
		if s.ImageSubject() != s {
			t.Errorf("subject %d: ImageSubject() is another subject", i)
		}
	}
	// One platform saved alone (docker save --platform): the same.
	single := testenv.ArchiveImage(t, threeImgs[1], "linux/arm64")
	if s, err := c.Resolve(ctx, testenv.Ref(t, repository+":three"), single); err != nil || s.Descriptor.Digest != manifestDigest(t, threeImgs[1]) || s.Partial == nil || s.Partial.OtherCount != 2 {
		t.Errorf("Resolve(one platform saved alone) = %+v, %v; want its manifest alone", s, err)
	}

	// An image manifest binds one platform, not two.
	writeImage(t, repository+":single", imgs[0])
	if _, err := c.ResolveIndex(ctx, testenv.Ref(t, repository+":single"), want, nil); !errors.Is(err, ErrBinding) || !strings.Contains(err.Error(), "not an index") {
		t.Errorf("ResolveIndex(image manifest, two platforms) = %v, want ErrBinding", err)
	}
	if ss, err := c.ResolveIndex(ctx, testenv.Ref(t, repository+":single"), want[:1], nil); err != nil || ss[0].Descriptor.Digest != manifestDigest(t, imgs[0]) || ss[0].ImageSubject() != ss[0] {
		t.Errorf("ResolveIndex(image manifest, one platform) = %+v, %v", ss, err)
	}
}

// hostileIndex puts an index of entries to repo:tag on host: each entry
// is an image's descriptor, changed by its function.
func hostileIndex(t *testing.T, host, repo, tag string, entries ...ocispec.Descriptor) digest.Digest {
	t.Helper()
	raw, err := json.Marshal(ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex, Manifests: entries})
	if err != nil {
		t.Fatal(err)
	}
	testenv.PutManifest(t, host, repo, tag, ocispec.MediaTypeImageIndex, raw)
	return digest.FromBytes(raw)
}

// entryOf is img's index entry for platform p ("os/arch[/variant]", ""
// none).
func entryOf(t *testing.T, img v1.Image, p string) ocispec.Descriptor {
	t.Helper()
	mt, err := img.MediaType()
	if err != nil {
		t.Fatal(err)
	}
	size, err := img.Size()
	if err != nil {
		t.Fatal(err)
	}
	d := ocispec.Descriptor{MediaType: string(mt), Digest: manifestDigest(t, img), Size: size}
	if p != "" {
		parts := strings.Split(p, "/")
		d.Platform = &ocispec.Platform{OS: parts[0], Architecture: parts[1]}
		if len(parts) == 3 {
			d.Platform.Variant = parts[2]
		}
	}
	return d
}

// TestResolveIndexHostile: the classes of issue 22 that bound an index to
// an image runtimes do not run, refused. U is an image nobody attested,
// pushed beside the archive's images A (amd64) and B (arm64):
//   - class 1, an entry skipped by annotation, artifactType or nesting but
//     selected first for the platform;
//   - class 2, U spelt linux/x86_64 before A: containerd reads U for amd64;
//   - class 3, the archive's config over other layers;
//   - an entry without mediaType, an index that reads as a manifest too.
//
// With a complete archive each is refused; with a single image saved from
// the index, the image binds its own manifest alone (the index is no
// subject) — unless no runtime selects it, which is refused too.
func TestResolveIndexHostile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	reg := testenv.StartGGCR(t)
	repo := "hostile"
	repository := reg.Host + "/" + repo
	c := newTestClient(t, Options{})
	idx, imgs := platformIndex(t, repository+":honest", "linux/amd64", "linux/arm64")
	held := archiveImages(t, idx, imgs, "linux/amd64", "linux/arm64")
	a, b := entryOf(t, imgs[0], "linux/amd64"), entryOf(t, imgs[1], "linux/arm64")
	single := testenv.ArchiveImage(t, imgs[0], "linux/amd64") // saved alone: no index
	u := pushRandomImage(t, repository+":unattested")
	uAmd := entryOf(t, u, "linux/amd64")
	annotated := uAmd
	annotated.Annotations = map[string]string{"vnd.docker.reference.type": "attestation-manifest", "vnd.docker.reference.digest": a.Digest.String()}
	artifact := uAmd
	artifact.ArtifactType = "application/spdx+json"
	x86 := entryOf(t, u, "linux/x86_64")
	nested := mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: u, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}})
	nestedRaw, err := nested.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	testenv.PutManifest(t, reg.Host, repo, "nested", ocispec.MediaTypeImageIndex, nestedRaw)
	nestedEntry := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageIndex, Digest: digest.FromBytes(nestedRaw), Size: int64(len(nestedRaw)), Platform: &ocispec.Platform{OS: "linux", Architecture: "amd64"}}
	noType := uAmd
	noType.MediaType = ""

	for _, tc := range []struct {
		name    string
		entries []ocispec.Descriptor
		want    string
	}{
		{"reference annotations on a runnable image", []ocispec.Descriptor{annotated, a, b}, uAmd.Digest.String()},
		{"an artifactType", []ocispec.Descriptor{artifact, a, b}, uAmd.Digest.String()},
		{"a nested index", []ocispec.Descriptor{nestedEntry, a, b}, "through nested index " + nestedEntry.Digest.String()},
		{"linux/x86_64 first", []ocispec.Descriptor{x86, a, b}, "(linux/x86_64)"},
		{"no mediaType", []ocispec.Descriptor{noType, a, b}, "no mediaType"},
	} {
		hostileIndex(t, reg.Host, repo, "case", tc.entries...)
		_, err := c.ResolveIndex(ctx, testenv.Ref(t, repository+":case"), held, nil)
		if !errors.Is(err, ErrBinding) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: ResolveIndex() = %v, want ErrBinding naming %q", tc.name, err, tc.want)
		}
		// A single image saved from the index: no runtime reads A for
		// linux/amd64 but where x86_64 is spelt apart (go-containerregistry
		// reads A for linux/amd64): A binds its own manifest alone.
		s, err := c.Resolve(ctx, testenv.Ref(t, repository+":case"), single)
		switch {
		case tc.name == "no mediaType":
			if !errors.Is(err, oci.ErrAmbiguousIndex) {
				t.Errorf("%s: Resolve(single image) = %v, want the index refused as ambiguous", tc.name, err)
			}
		case tc.name == "linux/x86_64 first":
			if err != nil || s.Partial == nil || s.Descriptor.Digest != a.Digest || s.Partial.Others[0].Descriptor.Digest != uAmd.Digest {
				t.Errorf("%s: Resolve(single image) = %+v, %v; want A's manifest alone, U named", tc.name, s, err)
			}
		case !errors.Is(err, ErrBinding) || !strings.Contains(err.Error(), "no entry that runtimes select"):
			t.Errorf("%s: Resolve(single image) = %v, want ErrBinding: no runtime reads A", tc.name, err)
		}
	}

	// A shadowed: U, plain linux/amd64, comes first; no runtime reads A.
	hostileIndex(t, reg.Host, repo, "shadowed", uAmd, a, b)
	for _, imgs := range [][]*oci.Image{held, {single}} {
		_, err := c.ResolveIndex(ctx, testenv.Ref(t, repository+":shadowed"), imgs, nil)
		if !errors.Is(err, ErrBinding) || !strings.Contains(err.Error(), "containerd reads image "+uAmd.Digest.String()) || !strings.Contains(err.Error(), "platform linux/amd64 (image ID") {
			t.Errorf("ResolveIndex(A shadowed, %d images) = %v, want ErrBinding naming what containerd reads", len(imgs), err)
		}
	}

	// Class 3: the archive's config over another image's layers.
	other, err := random.Image(512, 2)
	if err != nil {
		t.Fatal(err)
	}
	layers, err := other.Layers()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := imgs[0].RawConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	testenv.PushBlob(t, reg.Host, repo, cfg)
	m := ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest,
		Config: ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: digest.FromBytes(cfg), Size: int64(len(cfg))}}
	for _, l := range layers {
		rc, err := l.Compressed()
		if err != nil {
			t.Fatal(err)
		}
		blob, err := io.ReadAll(rc)
		if err != nil {
			t.Fatal(err)
		}
		testenv.PushBlob(t, reg.Host, repo, blob)
		d, _ := l.Digest()
		size, _ := l.Size()
		m.Layers = append(m.Layers, ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayerGzip, Digest: digest.Digest(d.String()), Size: size})
	}
	mraw, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	testenv.PutManifest(t, reg.Host, repo, "config-reused", ocispec.MediaTypeImageManifest, mraw)
	reused := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromBytes(mraw), Size: int64(len(mraw)), Platform: &ocispec.Platform{OS: "linux", Architecture: "amd64"}}
	hostileIndex(t, reg.Host, repo, "reused", reused, b)
	for _, at := range []string{"reused", "config-reused"} {
		_, err := c.ResolveIndex(ctx, testenv.Ref(t, repository+":"+at), held[:1], held)
		if !errors.Is(err, ErrBinding) || !strings.Contains(err.Error(), "runs other files than the archive's") {
			t.Errorf("ResolveIndex(%s: the archive's config over other layers) = %v, want ErrBinding naming a layer", at, err)
		}
	}

	// An index that reads as an image manifest too.
	var both map[string]any
	if err := json.Unmarshal(mraw, &both); err != nil {
		t.Fatal(err)
	}
	both["mediaType"] = ocispec.MediaTypeImageIndex
	both["manifests"] = []ocispec.Descriptor{a, b}
	braw, _ := json.Marshal(both)
	testenv.PutManifest(t, reg.Host, repo, "both", ocispec.MediaTypeImageIndex, braw)
	if _, err := c.ResolveIndex(ctx, testenv.Ref(t, repository+":both"), held, nil); !errors.Is(err, ErrBinding) || !errors.Is(err, oci.ErrAmbiguousIndex) {
		t.Errorf("ResolveIndex(index and manifest at once) = %v, want ErrBinding (ambiguous)", err)
	}

	// The honest index still binds, whole.
	if ss, err := c.ResolveIndex(ctx, testenv.Ref(t, repository+":honest"), held, nil); err != nil || ss[0].Partial != nil || ss[1].Descriptor.Digest != manifestDigest(t, idx) {
		t.Errorf("ResolveIndex(honest) = %+v, %v", ss, err)
	}
}

// TestResolveIndexPlatformsSwapped: binding must not accept an index
// that lists the archive's images under each other's platforms, and today
// it does.
//
// The archive's index says A is linux/amd64 and B linux/arm64; the
// registry's index lists B as linux/amd64 and A as linux/arm64. containerd
// (core/images/image.go Manifest: the entry platforms.Only(linux/amd64)
// matches) and go-containerregistry (remote/index.go childByPlatform) read
// B on an amd64 node: "a resolver would read the index as another image"
// than the archive's linux/amd64 image (issue 22, "Differential test").
// ResolveIndex matches each selectable entry to the held images by config
// and layers only (entries.go match), and entryFor falls back to "the first
// entry that is img" whatever platform it is listed under, so every
// selectable entry is "an image of the archive" and the index is bound
// whole: the statement names the index digest and A's manifest, and
// `verify --platform linux/amd64` then succeeds on B's attestation while
// amd64 nodes run the arm64 image (exec format error at best; with
// platforms that both run, e.g. amd64 and 386, the other image silently).
//
// An entry is an image of the archive only if it is listed under the
// archive image's platform (oci.Platform.Matches, both normalised): else
// ErrBinding naming both platforms (entries.go samePlatform).
func TestResolveIndexPlatformsSwapped(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	reg := testenv.StartGGCR(t)
	repo := "swapped"
	repository := reg.Host + "/" + repo
	c := newTestClient(t, Options{})
	idx, imgs := platformIndex(t, repository+":honest", "linux/amd64", "linux/arm64")
	held := archiveImages(t, idx, imgs, "linux/amd64", "linux/arm64")
	hostileIndex(t, reg.Host, repo, "swapped", entryOf(t, imgs[1], "linux/amd64"), entryOf(t, imgs[0], "linux/arm64"))
	ss, err := c.ResolveIndex(ctx, testenv.Ref(t, repository+":swapped"), held, nil)
	if err != nil && (!errors.Is(err, ErrBinding) || !strings.Contains(err.Error(), "linux/amd64") || !strings.Contains(err.Error(), "linux/arm64")) {
		t.Errorf("ResolveIndex(platforms swapped) = %v; want ErrBinding naming both platforms", err)
	}
	if err == nil {
		for i, s := range ss {
			t.Errorf("ResolveIndex(platforms swapped) bound the archive's %s image to %s (entry %s), which the registry's index lists under another platform",
				held[i].Platform, s.Descriptor.Digest, s.Image.Digest)
		}
	}
}
