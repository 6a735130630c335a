package oci_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	digest "github.com/opencontainers/go-digest"

	"github.com/oci-attest/oci-attest/internal/oci"
	"github.com/oci-attest/oci-attest/internal/oci/ocitest"
)

// readBlob reads blob d of a through OpenBlob.
func readBlob(t *testing.T, a *oci.Archive, d digest.Digest) ([]byte, error) {
	t.Helper()
	rc, size, err := a.OpenBlob(d)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err == nil && int64(len(b)) != size {
		t.Errorf("OpenBlob(%s) said %d bytes, read %d", d, size, len(b))
	}
	return b, err
}

// TestOpenBlob: every config, layer and stored manifest of every committed
// archive reads back through OpenBlob as the bytes the scan hashed —
// through symlinks, hard links and PAX headers — and a digest that is none
// of them is ErrMissingBlob.
func TestOpenBlob(t *testing.T) {
	t.Parallel()
	paths, err := filepath.Glob(filepath.Join(archivesDir, "*.tar"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no archives: %v", err)
	}
	// A layer behind a PAX header (a name longer than 100 bytes).
	long := strings.Repeat("long-directory-name/", 6) + "layer.tar"
	body := ocitest.LayerTar([]ocitest.File{{Name: "etc/long", Content: "long\n"}})
	longPath := writeTemp(t, "long.tar", ocitest.Tar(ocitest.DockerArchive("localhost/long:v1", ocitest.StoredLayer{Path: long, Stored: body, DiffID: string(sha(body))})))
	for _, path := range append(paths, longPath) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			t.Parallel()
			a, err := oci.Scan(context.Background(), path, oci.ScanOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for _, img := range a.Images {
				if b, err := readBlob(t, a, img.ImageID); err != nil || !bytes.Equal(b, img.ConfigRaw) {
					t.Errorf("config %s: %v; bytes equal ConfigRaw: %v", img.ImageID, err, bytes.Equal(b, img.ConfigRaw))
				}
				if img.ManifestDigest != "" {
					if b, err := readBlob(t, a, img.ManifestDigest); err != nil || !bytes.Equal(b, img.ManifestRaw) {
						t.Errorf("manifest %s: %v; bytes equal ManifestRaw: %v", img.ManifestDigest, err, bytes.Equal(b, img.ManifestRaw))
					}
				}
				for _, l := range img.Layers {
					b, err := readBlob(t, a, l.Digest)
					if err != nil || sha(b) != l.Digest || int64(len(b)) != l.Size {
						t.Errorf("layer %s (%s): %v; read %d bytes hashing to %s", l.Path, l.Digest, err, len(b), sha(b))
					}
				}
			}
			if _, _, err := a.OpenBlob(digest.FromString("not a blob")); !errors.Is(err, oci.ErrMissingBlob) {
				t.Errorf("OpenBlob(unknown) = %v, want ErrMissingBlob", err)
			}
		})
	}
}

// TestOpenBlobFileChanged: a blob whose bytes changed since the scan fails
// at the end of reading (ErrDigestMismatch), never reads as the blob; a file
// whose size changed is refused at once.
func TestOpenBlobFileChanged(t *testing.T) {
	t.Parallel()
	src, err := os.ReadFile(filepath.Join(archivesDir, "docker25-gzip.tar"))
	if err != nil {
		t.Fatal(err)
	}
	path := writeTemp(t, "changed.tar", src)
	a, err := oci.Scan(context.Background(), path, oci.ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	l := a.Images[0].Layers[0]
	stored, err := readBlob(t, a, l.Digest)
	if err != nil {
		t.Fatal(err)
	}
	at := bytes.Index(src, stored) + len(stored)/2
	changed := append([]byte{}, src...)
	changed[at] ^= 0xff
	if err := os.WriteFile(path, changed, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := readBlob(t, a, l.Digest); !errors.Is(err, oci.ErrDigestMismatch) || !strings.Contains(err.Error(), "changed") {
		t.Errorf("reading a changed layer: %v, want ErrDigestMismatch", err)
	}
	if b, err := readBlob(t, a, a.Images[0].ImageID); err != nil || !bytes.Equal(b, a.Images[0].ConfigRaw) {
		t.Errorf("the unchanged config: %v", err)
	}
	if err := os.WriteFile(path, append(changed, make([]byte, 512)...), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.OpenBlob(l.Digest); !errors.Is(err, oci.ErrDigestMismatch) || !strings.Contains(err.Error(), "when it was read: it changed") {
		t.Errorf("OpenBlob(file grew) = %v, want ErrDigestMismatch", err)
	}
}
