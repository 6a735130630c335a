package oci_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/oci-attest/oci-attest/internal/oci"
	"github.com/oci-attest/oci-attest/internal/oci/ocitest"
	"github.com/oci-attest/oci-attest/internal/ref"
)

// sentinels are the errors a malformed archive may give.
var sentinels = []error{
	oci.ErrNotArchive, oci.ErrTruncated, oci.ErrUnsafePath, oci.ErrLinkLoop, oci.ErrMissingBlob,
	oci.ErrNotFile, oci.ErrDuplicateEntry, oci.ErrDigestMismatch, oci.ErrDiffIDMismatch,
	oci.ErrCorruptLayer, oci.ErrUnsupportedCompression, oci.ErrTooLarge, oci.ErrBadManifest, oci.ErrNoImages,
	oci.ErrAmbiguous, oci.ErrNotLayer,
}

// FuzzScan feeds arbitrary bytes to the archive reader: it must never
// panic, every error must be one of the sentinels, and a success must be
// self-consistent.
func FuzzScan(f *testing.F) {
	for _, a := range ocitest.Archives() {
		b, err := os.ReadFile(filepath.Join(archivesDir, a.Name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	bads, err := ocitest.BadArchives()
	if err != nil {
		f.Fatal(err)
	}
	for _, ba := range bads {
		f.Add(ba.Data)
	}
	f.Add([]byte{})
	f.Add(ocitest.Tar([]ocitest.Entry{{Name: "manifest.json", Body: []byte(`[{"Config":"c.json","Layers":["l"]}]`)}, {Name: "l", Type: '2', Linkname: "l"}}))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		fh, err := os.CreateTemp(dir, "fuzz-*.tar")
		if err != nil {
			t.Fatal(err)
		}
		path := fh.Name()
		defer os.Remove(path)
		if _, err := fh.Write(data); err != nil {
			t.Fatal(err)
		}
		fh.Close()
		a, err := oci.Scan(context.Background(), path, oci.ScanOptions{MaxJSONSize: 1 << 20})
		if err != nil {
			for _, s := range sentinels {
				if errors.Is(err, s) {
					return
				}
			}
			t.Fatalf("Scan() error %v wraps no sentinel", err)
		}
		if a.TarDigest != sha(data) || a.Size != int64(len(data)) {
			t.Fatalf("Scan() TarDigest, Size = %s, %d; want %s, %d", a.TarDigest, a.Size, sha(data), len(data))
		}
		if len(a.Images) == 0 || len(a.Images) != len(a.Manifest) {
			t.Fatalf("Scan() = %d images, %d manifest entries", len(a.Images), len(a.Manifest))
		}
		for _, img := range a.Images {
			if len(img.DiffIDs) != len(img.Layers) || img.ImageID == "" {
				t.Fatalf("image %d: %d diffIDs for %d layers, ImageID %q", img.Index, len(img.DiffIDs), len(img.Layers), img.ImageID)
			}
		}
		if _, _, err := a.Select(ref.Reference{Registry: "localhost", Repository: "x", Tag: "v1"}); err != nil {
			t.Fatalf("Select() = %v", err)
		}
	})
}
