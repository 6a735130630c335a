package registry

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-attest/oci-attest/internal/oci"
	"github.com/oci-attest/oci-attest/internal/oci/ocitest"
	"github.com/oci-attest/oci-attest/internal/testenv"
)

// TestPushImage pushes every image of every generated test archive to both
// in-process registries, checks that the registry image validates (layer
// digests and diffIDs against the config), binds to the archive's image ID,
// and keeps the stored manifest digest where the archive has one.
func TestPushImage(t *testing.T) {
	t.Parallel()
	archives, err := filepath.Glob(filepath.Join("..", "..", "testdata", "archives", "*.tar"))
	if err != nil || len(archives) == 0 {
		t.Fatalf("no test archives in testdata/archives: %v", err)
	}
	for _, reg := range testenv.InProcessRegistries(t) {
		for _, path := range archives {
			t.Run(reg.Name+"/"+filepath.Base(path), func(t *testing.T) {
				t.Parallel()
				ctx := context.Background()
				a, err := oci.Scan(ctx, path, oci.ScanOptions{})
				if err != nil {
					t.Fatalf("oci.Scan(%s) = %v", path, err)
				}
				c := newTestClient(t, Options{})
				for i := range a.Images {
					img := &a.Images[i]
					repository := reg.Host + "/pushed/" + strings.TrimSuffix(filepath.Base(path), ".tar")
					ref := repository + ":img" + string(rune('0'+i))
					desc, err := c.PushImage(ctx, a, img, testenv.Ref(t, ref))
					if err != nil {
						t.Fatalf("PushImage(image %d) = %v", i, err)
					}
					if img.ManifestDigest != "" && desc.Digest != img.ManifestDigest {
						t.Errorf("PushImage(image %d) digest = %s, want the stored manifest %s", i, desc.Digest, img.ManifestDigest)
					}
					s, err := c.Resolve(ctx, testenv.Ref(t, ref), img)
					if err != nil {
						t.Fatalf("Resolve(pushed image) = %v", err)
					}
					if s.Descriptor.Digest != desc.Digest {
						t.Errorf("Resolve(pushed image) = %s, PushImage said %s", s.Descriptor.Digest, desc.Digest)
					}
					r, err := name.ParseReference(ref, name.Insecure)
					if err != nil {
						t.Fatal(err)
					}
					ri, err := remote.Image(r)
					if err != nil {
						t.Fatalf("reading back %s: %v", ref, err)
					}
					// Every layer reads back with its digest (ggcr checks it while
					// reading); gzip images are fully validated, diffIDs included.
					layers, err := ri.Layers()
					if err != nil {
						t.Fatal(err)
					}
					gz := true
					for j, l := range layers {
						mt, _ := l.MediaType()
						gz = gz && strings.HasSuffix(string(mt), "gzip")
						// The pushed layers are the attested bytes: the stored
						// digests the scan computed, whatever the layout.
						if d, err := l.Digest(); err != nil || j >= len(img.Layers) || d.String() != img.Layers[j].Digest.String() {
							t.Errorf("pushed layer %d is %v (%v); the scan read %v", j, d, err, img.Layers)
						}
						rc, err := l.Compressed()
						if err != nil {
							t.Fatal(err)
						}
						if _, err := io.Copy(io.Discard, rc); err != nil {
							t.Errorf("layer of %s does not read back: %v", ref, err)
						}
						rc.Close()
					}
					if gz {
						if err := validate.Image(ri); err != nil {
							t.Errorf("pushed image %s does not validate: %v", ref, err)
						}
					}
					diffIDs := ""
					cf, err := ri.ConfigFile()
					if err != nil {
						t.Fatal(err)
					}
					for _, d := range cf.RootFS.DiffIDs {
						diffIDs += d.String() + " "
					}
					for _, d := range img.DiffIDs {
						if !strings.Contains(diffIDs, d.String()) {
							t.Errorf("pushed image lacks diffID %s", d)
						}
					}
				}
			})
		}
	}
}

func TestPushImageErrors(t *testing.T) {
	t.Parallel()
	reg := testenv.StartGGCR(t)
	ctx := context.Background()
	path := filepath.Join("..", "..", "testdata", "archives", "docker-legacy.tar")
	a, err := oci.Scan(ctx, path, oci.ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c := newTestClient(t, Options{})
	if _, err := c.PushImage(ctx, a, &a.Images[0], testenv.Ref(t, reg.Host+"/x")); err == nil || !strings.Contains(err.Error(), "tag") {
		t.Errorf("PushImage(no tag) = %v, want an error asking for a tag", err)
	}
	forged := a.Images[0]
	forged.ImageID = digestOf("sha256:" + strings.Repeat("0", 64))
	if _, err := c.PushImage(ctx, a, &forged, testenv.Ref(t, reg.Host+"/x:v1")); err == nil || !strings.Contains(err.Error(), "image ID") {
		t.Errorf("PushImage(wrong image ID) = %v, want an error", err)
	}
	// The same image of another scan of the same file is not a's.
	again, err := oci.Scan(ctx, path, oci.ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.PushImage(ctx, a, &again.Images[0], testenv.Ref(t, reg.Host+"/x:v1")); err == nil || !strings.Contains(err.Error(), "not one the archive's scan read") {
		t.Errorf("PushImage(another scan's image) = %v, want an error", err)
	}
	r, _ := name.NewRepository(reg.Host+"/x", name.Insecure)
	if tags, err := remote.List(r); err == nil && len(tags) != 0 {
		t.Errorf("failed pushes left tags %v", tags)
	}
}

// TestPushImageThroughDirectoryLink: a layer whose path runs through a
// directory symlink (the scanner resolves it) is pushed from where the link
// leads, not refused as missing.
func TestPushImageThroughDirectoryLink(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	entries, err := ocitest.ReadTar(filepath.Join("..", "..", "testdata", "archives", "docker-legacy.tar"))
	if err != nil {
		t.Fatal(err)
	}
	var es []ocitest.Entry
	for _, e := range entries {
		// Layer directories move under store/; their old names become
		// links to the new place.
		if dir, rest, ok := strings.Cut(strings.TrimSuffix(e.Name, "/"), "/"); len(dir) == 64 && (ok || e.Type == tar.TypeDir) {
			if !ok {
				es = append(es, ocitest.Entry{Name: dir, Type: tar.TypeSymlink, Linkname: "store/" + dir})
				e.Name = "store/" + dir + "/"
			} else {
				e.Name = "store/" + dir + "/" + rest
			}
		}
		es = append(es, e)
	}
	path := filepath.Join(t.TempDir(), "dirlink.tar")
	if err := os.WriteFile(path, ocitest.Tar(es), 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := oci.Scan(ctx, path, oci.ScanOptions{})
	if err != nil {
		t.Fatalf("oci.Scan() = %v", err)
	}
	if !strings.Contains(string(a.ManifestRaw), "/layer.tar") {
		t.Fatalf("manifest.json does not name <id>/layer.tar paths: %s", a.ManifestRaw)
	}
	reg := testenv.StartGGCR(t)
	c := newTestClient(t, Options{})
	ref := reg.Host + "/dirlink:v1"
	if _, err := c.PushImage(ctx, a, &a.Images[0], testenv.Ref(t, ref)); err != nil {
		t.Fatalf("PushImage() = %v", err)
	}
	if _, err := c.Resolve(ctx, testenv.Ref(t, ref), &a.Images[0]); err != nil {
		t.Errorf("Resolve(pushed image) = %v", err)
	}
}

// TestPushImageAsStored: an image without a stored manifest is pushed with
// its layers exactly as the archive stores them — uncompressed layers
// uncompressed (Docker schema 2, rootfs.diff.tar), a zstd layer under an OCI
// manifest — so every pushed layer digest is the attested one, and the
// manifest digest is the same on every push.
func TestPushImageAsStored(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	reg := testenv.StartGGCR(t)
	c := newTestClient(t, Options{})
	body := ocitest.LayerTar([]ocitest.File{{Name: "etc/zstd", Content: "zstd\n"}})
	zstdArchive := filepath.Join(t.TempDir(), "zstd.tar")
	if err := os.WriteFile(zstdArchive, ocitest.Tar(ocitest.DockerArchive("localhost/zstd:v1",
		ocitest.StoredLayer{Path: "a/layer.tar", Stored: body, DiffID: digest.FromBytes(body).String()},
		ocitest.StoredLayer{Path: "b/layer.tar", Stored: ocitest.Compress(body, oci.CompressionZstd), DiffID: digest.FromBytes(body).String()},
	)), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path     string
		manifest types.MediaType
		layers   []types.MediaType
	}{
		{filepath.Join("..", "..", "testdata", "archives", "docker-legacy.tar"), types.DockerManifestSchema2, []types.MediaType{types.DockerUncompressedLayer, types.DockerUncompressedLayer}},
		{filepath.Join("..", "..", "testdata", "archives", "crane.tar"), types.DockerManifestSchema2, []types.MediaType{types.DockerLayer, types.DockerLayer}},
		{zstdArchive, types.OCIManifestSchema1, []types.MediaType{types.OCIUncompressedLayer, types.OCILayerZStd}},
	} {
		a, err := oci.Scan(ctx, tc.path, oci.ScanOptions{})
		if err != nil {
			t.Fatal(err)
		}
		img := &a.Images[0]
		ref := reg.Host + "/stored/" + strings.TrimSuffix(filepath.Base(tc.path), ".tar") + ":v1"
		desc, err := c.PushImage(ctx, a, img, testenv.Ref(t, ref))
		if err != nil {
			t.Fatalf("PushImage(%s) = %v", tc.path, err)
		}
		again, err := c.PushImage(ctx, a, img, testenv.Ref(t, ref))
		if err != nil || again.Digest != desc.Digest {
			t.Errorf("PushImage(%s) again = %v, %v; want the same manifest %s", tc.path, again.Digest, err, desc.Digest)
		}
		if _, err := c.Resolve(ctx, testenv.Ref(t, ref), img); err != nil {
			t.Errorf("Resolve(%s) = %v", ref, err)
		}
		r, _ := name.ParseReference(ref, name.Insecure)
		ri, err := remote.Image(r)
		if err != nil {
			t.Fatal(err)
		}
		m, err := ri.Manifest()
		if err != nil {
			t.Fatal(err)
		}
		if m.MediaType != tc.manifest || desc.MediaType != string(tc.manifest) || len(m.Layers) != len(tc.layers) {
			t.Fatalf("%s: pushed %s (said %s) with %d layers; want %s with %d", tc.path, m.MediaType, desc.MediaType, len(m.Layers), tc.manifest, len(tc.layers))
		}
		for i, l := range m.Layers {
			if l.MediaType != tc.layers[i] || l.Digest.String() != img.Layers[i].Digest.String() || l.Size != img.Layers[i].Size {
				t.Errorf("%s: layer %d pushed as %s %s %d; want %s %s %d", tc.path, i, l.MediaType, l.Digest, l.Size, tc.layers[i], img.Layers[i].Digest, img.Layers[i].Size)
			}
		}
	}
}

// TestPushImageArchiveChanged: push-image pushes only the bytes the scan
// attested; if the archive changed after the scan, the push fails and no
// tag is left.
func TestPushImageArchiveChanged(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src, err := os.ReadFile(filepath.Join("..", "..", "testdata", "archives", "docker25-gzip.tar"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "changed.tar")
	if err := os.WriteFile(path, src, 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := oci.Scan(ctx, path, oci.ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rc, _, err := a.OpenBlob(a.Images[0].Layers[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	layer, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	changed := append([]byte{}, src...)
	changed[bytes.Index(src, layer)+len(layer)/2] ^= 0xff
	if err := os.WriteFile(path, changed, 0o600); err != nil {
		t.Fatal(err)
	}
	reg := testenv.StartGGCR(t)
	c := newTestClient(t, Options{})
	if _, err := c.PushImage(ctx, a, &a.Images[0], testenv.Ref(t, reg.Host+"/changed:v1")); err == nil || !strings.Contains(err.Error(), "changed") {
		t.Fatalf("PushImage(changed archive) = %v, want an error saying the file changed", err)
	}
	r, _ := name.NewRepository(reg.Host+"/changed", name.Insecure)
	if tags, err := remote.List(r); err == nil && len(tags) != 0 {
		t.Errorf("the failed push left tags %v", tags)
	}
}

// TestPushIndex pushes the generated multi-platform archive (two platforms
// and a buildx attestation manifest) as a whole index: the registry's index
// digest is the archive's, every child reads back and validates, and it
// binds every platform. An archive that lacks a platform's blobs is refused
// before anything is pushed.
func TestPushIndex(t *testing.T) {
	t.Parallel()
	archive := filepath.Join("..", "..", "testdata", "archives", "oci-multiplatform.tar")
	regs := append(testenv.InProcessRegistries(t), testenv.StartDistribution(t))
	for _, reg := range regs {
		t.Run(reg.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			a, err := oci.Scan(ctx, archive, oci.ScanOptions{})
			if err != nil {
				t.Fatal(err)
			}
			c := newTestClient(t, Options{})
			target := reg.Host + "/pushed/multi:v1"
			desc, err := c.PushIndex(ctx, a, a.Images[0].ImageIndex, testenv.Ref(t, target))
			if err != nil {
				t.Fatalf("PushIndex() = %v", err)
			}
			if desc.Digest != a.Images[0].ImageIndex.Digest {
				t.Errorf("PushIndex() digest = %s, want the archive's index %s", desc.Digest, a.Images[0].ImageIndex.Digest)
			}
			r, err := name.ParseReference(target, name.Insecure)
			if err != nil {
				t.Fatal(err)
			}
			ri, err := remote.Index(r)
			if err != nil {
				t.Fatal(err)
			}
			im, _ := ri.IndexManifest()
			if len(im.Manifests) != 3 {
				t.Errorf("pushed index lists %d manifests, want 3 (two platforms, one attestation)", len(im.Manifests))
			}
			for _, d := range im.Manifests {
				child, err := ri.Image(d.Digest)
				if err != nil {
					t.Fatalf("reading back child %s: %v", d.Digest, err)
				}
				if d.Platform != nil && d.Platform.OS == "unknown" {
					continue // the buildx attestation: an in-toto layer, no tar to validate
				}
				if err := validate.Image(child); err != nil {
					t.Errorf("pushed platform %s does not validate: %v", d.Platform, err)
				}
			}
			var imgs []*oci.Image
			for i := range a.Images {
				imgs = append(imgs, &a.Images[i])
			}
			ss, err := c.ResolveIndex(ctx, testenv.Ref(t, target), imgs, nil)
			if err != nil {
				t.Fatalf("ResolveIndex(pushed) = %v", err)
			}
			for i, s := range ss {
				if s.Image.Digest != a.Images[i].ManifestDigest {
					t.Errorf("platform %s bound to %s, want its manifest %s", a.Images[i].Platform, s.Image.Digest, a.Images[i].ManifestDigest)
				}
			}
		})
	}

	t.Run("incomplete", func(t *testing.T) {
		t.Parallel()
		ctx := context.Background()
		amd := ocitest.Image{RepoTags: []string{"localhost/x/multi:v1"}, Layers: []ocitest.Layer{{Files: []ocitest.File{{Name: "a", Content: "amd64"}}}}}
		arm := ocitest.Image{RepoTags: []string{"localhost/x/multi:v1"}, Architecture: "arm64", Layers: []ocitest.Layer{{Files: []ocitest.File{{Name: "a", Content: "arm64"}}}}}
		es, err := ocitest.Entries(ocitest.OCIMultiPlatform, amd, arm)
		if err != nil {
			t.Fatal(err)
		}
		full := filepath.Join(t.TempDir(), "full.tar")
		if err := os.WriteFile(full, ocitest.Tar(es), 0o600); err != nil {
			t.Fatal(err)
		}
		fa, err := oci.Scan(ctx, full, oci.ScanOptions{})
		if err != nil {
			t.Fatal(err)
		}
		// Drop the arm64 manifest: as docker save with the containerd store
		// leaves out platforms it does not have.
		drop := "blobs/sha256/" + fa.Images[1].ManifestDigest.Encoded()
		var kept []ocitest.Entry
		for _, e := range es {
			if e.Name != drop {
				kept = append(kept, e)
			}
		}
		p := filepath.Join(t.TempDir(), "partial.tar")
		if err := os.WriteFile(p, ocitest.Tar(kept), 0o600); err != nil {
			t.Fatal(err)
		}
		a, err := oci.Scan(ctx, p, oci.ScanOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(a.Images) != 1 || a.Images[0].ImageIndex == nil {
			t.Fatalf("partial archive: %d images, want 1 under the index", len(a.Images))
		}
		reg := testenv.StartGGCR(t)
		c := newTestClient(t, Options{})
		// The full archive's index has the same digest, but what it lacks
		// is another archive's.
		_, err = c.PushIndex(ctx, a, fa.Images[0].ImageIndex, testenv.Ref(t, reg.Host+"/partial/multi:v1"))
		if err == nil || !strings.Contains(err.Error(), "not one the archive's scan read") {
			t.Errorf("PushIndex(another archive's index) = %v, want an error", err)
		}
		_, err = c.PushIndex(ctx, a, a.Images[0].ImageIndex, testenv.Ref(t, reg.Host+"/partial/multi:v1"))
		if !errors.Is(err, ErrIncomplete) || !strings.Contains(err.Error(), fa.Images[1].ManifestDigest.String()) || !strings.Contains(err.Error(), "linux/arm64") {
			t.Errorf("PushIndex(partial) = %v, want ErrIncomplete naming the arm64 manifest", err)
		}
		r, _ := name.ParseReference(reg.Host+"/partial/multi:v1", name.Insecure)
		if _, err := remote.Head(r); err == nil {
			t.Error("a refused PushIndex left the tag")
		}
	})
}

// TestLacking: an incomplete index's error names the first four things it
// lacks and counts the others.
func TestLacking(t *testing.T) {
	t.Parallel()
	idx := &oci.Index{LackCount: 7}
	var want []string
	for i := range 6 {
		l := oci.Lack{Entry: ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromString(fmt.Sprint(i))}}
		idx.Lacks = append(idx.Lacks, l)
		if i < 4 {
			want = append(want, l.String())
		}
	}
	want = append(want, "and 3 more")
	if got := lacking(idx); got != strings.Join(want, ", ") {
		t.Errorf("lacking() = %q, want %q", got, strings.Join(want, ", "))
	}
	if got, want := lacking(&oci.Index{Lacks: idx.Lacks[:1], LackCount: 1}), idx.Lacks[0].String(); got != want {
		t.Errorf("lacking(one) = %q, want %q", got, want)
	}
}
