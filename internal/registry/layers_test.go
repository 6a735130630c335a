package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-attest/oci-attest/internal/oci"
	"github.com/oci-attest/oci-attest/internal/oci/ocitest"
	"github.com/oci-attest/oci-attest/internal/testenv"
)

func scanArchive(t testing.TB, name string) (string, *oci.Archive) {
	t.Helper()
	path := filepath.Join("..", "..", "testdata", "archives", name)
	a, err := oci.Scan(context.Background(), path, oci.ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return path, a
}

// fetchRaw is the manifest ref names, as the registry serves it.
func fetchRaw(t testing.TB, c *Client, ref string) []byte {
	t.Helper()
	raw, _, err := c.FetchManifest(context.Background(), testenv.Ref(t, ref), testenv.Ref(t, ref).Oras().Reference)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// TestSameLayersPushedAsIs: an image pushed from the archive (push-image)
// has the archive's blobs: bound without reading a layer.
func TestSameLayersPushedAsIs(t *testing.T) {
	t.Parallel()
	reg := testenv.StartOlareg(t)
	c := newTestClient(t, Options{})
	for _, name := range []string{"docker25.tar", "oci-gzip.tar", "docker-legacy.tar", "repeated-layer.tar"} {
		_, a := scanArchive(t, name)
		img := &a.Images[0]
		ref := reg.Host + "/same/" + strings.TrimSuffix(name, ".tar") + ":v1"
		if _, err := c.PushImage(context.Background(), a, img, testenv.Ref(t, ref)); err != nil {
			t.Fatal(err)
		}
		got, err := c.SameLayers(context.Background(), testenv.Ref(t, ref), fetchRaw(t, c, ref), img)
		if err != nil || got.Same != len(img.Layers) || got.Read != 0 {
			t.Errorf("%s: SameLayers() = %+v, %v; want %d layers the same, none read", name, got, err, len(img.Layers))
		}
	}
}

// TestSameLayersRecompressed: images other tools pushed with re-compressed
// layers bind — crane's (go-containerregistry's tarball, gzip) and
// skopeo's (zstd) — each layer read once and decompressed to the
// archive's diffID.
func TestSameLayersRecompressed(t *testing.T) {
	t.Parallel()
	reg := testenv.StartOlareg(t)
	c := newTestClient(t, Options{})
	path, a := scanArchive(t, "docker-legacy.tar")
	img := &a.Images[0]

	crane := reg.Host + "/recompressed/crane:v1"
	ti, err := tarball.ImageFromPath(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := name.ParseReference(crane, name.Insecure)
	if err := remote.Write(r, ti); err != nil {
		t.Fatal(err)
	}
	refs := []string{crane}
	if skopeo, err := exec.LookPath("skopeo"); err == nil {
		zstd := reg.Host + "/recompressed/skopeo:v1"
		out, err := exec.Command(skopeo, "copy", "--dest-tls-verify=false", "--dest-compress-format", "zstd", "--format", "oci",
			"docker-archive:"+path, "docker://"+zstd).CombinedOutput()
		if err != nil {
			t.Fatalf("skopeo copy: %v\n%s", err, out)
		}
		refs = append(refs, zstd)
	} else {
		testenv.RequireBin(t, "skopeo")
	}
	for _, ref := range refs {
		raw := fetchRaw(t, c, ref)
		got, err := c.SameLayers(context.Background(), testenv.Ref(t, ref), raw, img)
		if err != nil || got.Read != len(img.Layers) || got.Bytes == 0 {
			t.Errorf("%s: SameLayers() = %+v, %v; want every layer read and bound\n%s", ref, got, err, raw)
		}
		if s, err := c.Resolve(context.Background(), testenv.Ref(t, ref), img); err != nil || s.Layers.Read != len(img.Layers) {
			t.Errorf("%s: Resolve() = %+v, %v; want it bound, every layer read", ref, s, err)
		}
	}
}

// TestResolveIndexRecompressed: a multi-platform index copied by skopeo
// with every layer re-compressed (zstd) binds whole to the archive it was
// copied from: each entry's layers decompress to the archive's diffIDs.
func TestResolveIndexRecompressed(t *testing.T) {
	t.Parallel()
	skopeo := testenv.RequireBin(t, "skopeo")
	reg := testenv.StartGGCR(t)
	c := newTestClient(t, Options{})
	path, a := scanArchive(t, "oci-multiplatform.tar")
	ref := reg.Host + "/recompressed/multi:v1"
	out, err := exec.Command(skopeo, "copy", "--all", "--dest-tls-verify=false", "--dest-compress-format", "zstd", "--format", "oci",
		"oci-archive:"+path, "docker://"+ref).CombinedOutput()
	if err != nil {
		t.Fatalf("skopeo copy --all: %v\n%s", err, out)
	}
	var imgs []*oci.Image
	for i := range a.Images {
		imgs = append(imgs, &a.Images[i])
	}
	ss, err := c.ResolveIndex(context.Background(), testenv.Ref(t, ref), imgs, nil)
	if err != nil {
		t.Fatalf("ResolveIndex(re-compressed index) = %v", err)
	}
	for i, s := range ss {
		if s.Partial != nil || s.Descriptor.Digest == a.Images[i].ImageIndex.Digest || s.Image.Digest == a.Images[i].ManifestDigest || s.Layers.Read != len(a.Images[i].Layers) {
			t.Errorf("subject %d = %+v, want the registry's own index and manifest, every layer read", i, s)
		}
	}
}

// TestSameLayersRefused: a manifest with the archive's config over other
// layers has the archive's image ID but runs other files (class 3 of issue
// 22): refused, whether the layers are another image's, in another order,
// one fewer, or a stream with bytes after its end.
func TestSameLayersRefused(t *testing.T) {
	t.Parallel()
	reg := testenv.StartGGCR(t)
	c := newTestClient(t, Options{})
	_, a := scanArchive(t, "docker25-gzip.tar")
	img := &a.Images[0]
	other := ocitest.Compress(ocitest.LayerTar([]ocitest.File{{Name: "etc/evil", Content: "not the archive's"}}), oci.CompressionGzip)
	trailing := append(ocitest.Compress(ocitest.LayerTar([]ocitest.File{{Name: "f", Content: "x"}}), oci.CompressionGzip), "junk"...)
	layer := func(b []byte) ocispec.Descriptor {
		testenv.PushBlob(t, reg.Host, "refused", b)
		return ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayerGzip, Digest: digest.FromBytes(b), Size: int64(len(b))}
	}
	stored := func(i int) ocispec.Descriptor {
		rc, n, err := a.OpenBlob(img.Layers[i].Digest)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		var buf bytes.Buffer
		if _, err := buf.ReadFrom(rc); err != nil || int64(buf.Len()) != n {
			t.Fatal(err)
		}
		return layer(buf.Bytes())
	}
	testenv.PushBlob(t, reg.Host, "refused", img.ConfigRaw)
	cfg := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: img.ImageID, Size: int64(len(img.ConfigRaw))}
	l0, l1 := stored(0), stored(1)
	for i, tc := range []struct {
		name   string
		layers []ocispec.Descriptor
		want   string
	}{
		{"another image's layer", []ocispec.Descriptor{l0, layer(other)}, "layer 1"},
		{"the layers swapped", []ocispec.Descriptor{l1, l0}, "but the archive's diffID is"},
		{"one layer fewer", []ocispec.Descriptor{l0}, "has 1 layers"},
		{"bytes after the gzip stream", []ocispec.Descriptor{l0, layer(trailing)}, "corrupt compressed layer"},
	} {
		raw, _ := json.Marshal(ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest, Config: cfg, Layers: tc.layers})
		ref := fmt.Sprintf("%s/refused:case%d", reg.Host, i)
		testenv.PutManifest(t, reg.Host, "refused", fmt.Sprintf("case%d", i), ocispec.MediaTypeImageManifest, raw)
		_, err := c.SameLayers(context.Background(), testenv.Ref(t, ref), raw, img)
		if !errors.Is(err, ErrBinding) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: SameLayers() = %v; want ErrBinding naming %q", tc.name, err, tc.want)
		}
	}
}

// TestSameLayersZstdChunked: an image copied by skopeo with
// zstd:chunked layers (podman's and CRI-O's partial-pull format) must still
// bind: its layers decompress to the archive's diffIDs.
func TestSameLayersZstdChunked(t *testing.T) {
	t.Parallel()
	skopeo := testenv.RequireBin(t, "skopeo")
	reg := testenv.StartOlareg(t)
	c := newTestClient(t, Options{})
	path, a := scanArchive(t, "docker-legacy.tar")
	img := &a.Images[0]
	ref := reg.Host + "/recompressed/chunked:v1"
	out, err := exec.Command(skopeo, "copy", "--dest-tls-verify=false", "--dest-compress-format", "zstd:chunked", "--format", "oci",
		"docker-archive:"+path, "docker://"+ref).CombinedOutput()
	if err != nil {
		t.Skipf("skopeo copy zstd:chunked: %v\n%s", err, out)
	}
	raw := fetchRaw(t, c, ref)
	if !strings.Contains(string(raw), "zstd-chunked") {
		t.Skipf("skopeo wrote no zstd:chunked layers:\n%s", raw)
	}
	if got, err := c.SameLayers(context.Background(), testenv.Ref(t, ref), raw, img); err != nil || got.Read != len(img.Layers) {
		t.Errorf("SameLayers(zstd:chunked) = %+v, %v; want every layer read and bound\n%s", got, err, raw)
	}
}
