package oci_test

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-attest/oci-attest/internal/oci"
)

// layoutOf is a one-image layout for WriteArchive: a config, one
// uncompressed tar layer (Open), the manifest, named app:v1.
func layoutOf(t *testing.T) (oci.Layout, digest.Digest) {
	t.Helper()
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	if err := tw.WriteHeader(&tar.Header{Name: "etc/hello", Size: 6, Mode: 0o644, Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	_, _ = tw.Write([]byte("hello\n"))
	_ = tw.Close()
	config := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["` + digest.FromBytes(layer.Bytes()).String() + `"]}}`)
	desc := func(mt string, b []byte) ocispec.Descriptor {
		return ocispec.Descriptor{MediaType: mt, Digest: digest.FromBytes(b), Size: int64(len(b))}
	}
	cd, ld := desc(ocispec.MediaTypeImageConfig, config), desc(ocispec.MediaTypeImageLayer, layer.Bytes())
	m, err := json.Marshal(ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest, Config: cd, Layers: []ocispec.Descriptor{ld}})
	if err != nil {
		t.Fatal(err)
	}
	md := desc(ocispec.MediaTypeImageManifest, m)
	md.Annotations = map[string]string{"io.containerd.image.name": "example.com/app:v1", ocispec.AnnotationRefName: "v1"}
	return oci.Layout{
		Manifests: []ocispec.Descriptor{md},
		Blobs: []oci.LayoutBlob{{Descriptor: md, Data: m}, {Descriptor: cd, Data: config},
			{Descriptor: ld, Open: func(context.Context) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(layer.Bytes())), nil }},
			{Descriptor: cd, Data: config}}, // twice: written once
		Docker: []oci.ManifestEntry{{Config: "blobs/sha256/" + cd.Digest.Encoded(), RepoTags: []string{"example.com/app:v1"}, Layers: []string{"blobs/sha256/" + ld.Digest.Encoded()}}},
	}, cd.Digest
}

// TestWriteArchive: the written archive is one the scanner accepts under
// the archive rules (manifest.json and index.json agree), with the image
// and its name.
func TestWriteArchive(t *testing.T) {
	t.Parallel()
	l, id := layoutOf(t)
	path := filepath.Join(t.TempDir(), "out.tar")
	if err := oci.WriteArchive(context.Background(), path, l); err != nil {
		t.Fatal(err)
	}
	a, err := oci.Scan(context.Background(), path, oci.ScanOptions{})
	if err != nil {
		t.Fatalf("the written archive is refused: %v", err)
	}
	defer a.Close()
	if len(a.Images) != 1 || a.Images[0].ImageID != id || len(a.Images[0].RepoTags) != 1 || a.Images[0].RepoTags[0] != "example.com/app:v1" {
		t.Errorf("images = %+v, want %s named example.com/app:v1", a.Images, id)
	}
}

// TestWriteArchiveFailure: a blob whose bytes are not its descriptor's
// fails the write, which leaves no file — neither at the path nor a
// temporary one beside it — and an existing file there untouched.
func TestWriteArchiveFailure(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		bad  func(b *oci.LayoutBlob)
	}{
		{"other bytes", func(b *oci.LayoutBlob) { b.Data = []byte(`{"os":"plan9"}`) }},
		{"short", func(b *oci.LayoutBlob) { b.Descriptor.Size++ }},
		{"open fails", func(b *oci.LayoutBlob) {
			b.Data, b.Open = nil, func(context.Context) (io.ReadCloser, error) { return nil, errors.New("registry down") }
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l, _ := layoutOf(t)
			tc.bad(&l.Blobs[1])
			dir := t.TempDir()
			path := filepath.Join(dir, "out.tar")
			if err := oci.WriteArchive(context.Background(), path, l); err == nil {
				t.Fatal("WriteArchive succeeded")
			}
			if es, _ := os.ReadDir(dir); len(es) != 0 {
				t.Errorf("the failed write left %v", es)
			}
			if err := os.WriteFile(path, []byte("before"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := oci.WriteArchive(context.Background(), path, l); err == nil {
				t.Fatal("WriteArchive succeeded")
			}
			if b, _ := os.ReadFile(path); string(b) != "before" {
				t.Errorf("the failed write changed the file there: %q", b)
			}
		})
	}
}
