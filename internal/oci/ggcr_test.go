package oci_test

import (
	"context"
	"crypto/sha256"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	digest "github.com/opencontainers/go-digest"

	"github.com/oci-attest/oci-attest/internal/oci"
	"github.com/oci-attest/oci-attest/internal/oci/ocitest"
)

// ggcrFacts are what go-containerregistry (an independent implementation)
// computes for an image: the config digest, the stored layer digests and the
// digests of the decompressed layer streams, hashed here.
type ggcrFacts struct {
	imageID  digest.Digest
	digests  []digest.Digest
	diffIDs  []digest.Digest
	manifest digest.Digest
}

func factsOf(t *testing.T, img v1.Image, withManifest bool) ggcrFacts {
	t.Helper()
	var f ggcrFacts
	cn, err := img.ConfigName()
	if err != nil {
		t.Fatalf("ggcr ConfigName: %v", err)
	}
	f.imageID = digest.Digest(cn.String())
	if withManifest {
		d, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		f.manifest = digest.Digest(d.String())
	}
	ls, err := img.Layers()
	if err != nil {
		t.Fatalf("ggcr Layers: %v", err)
	}
	for _, l := range ls {
		d, err := l.Digest()
		if err != nil {
			t.Fatal(err)
		}
		f.digests = append(f.digests, digest.Digest(d.String()))
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatalf("ggcr Uncompressed: %v", err)
		}
		h := sha256.New()
		if _, err := io.Copy(h, rc); err != nil {
			t.Fatalf("ggcr reading layer: %v", err)
		}
		rc.Close()
		f.diffIDs = append(f.diffIDs, digest.NewDigest(digest.SHA256, h))
	}
	return f
}

func ourFacts(img oci.Image, withManifest bool) ggcrFacts {
	f := ggcrFacts{imageID: img.ImageID, diffIDs: img.DiffIDs}
	if withManifest {
		f.manifest = img.ManifestDigest
	}
	for _, l := range img.Layers {
		f.digests = append(f.digests, l.Digest)
	}
	return f
}

// TestGGCRAgrees compares the scanner's image IDs, layer digests and diffIDs
// with go-containerregistry's tarball reader (docker layouts) and layout
// reader (OCI layouts) on every generated archive ggcr can read.
func TestGGCRAgrees(t *testing.T) {
	t.Parallel()
	for _, ga := range ocitest.Archives() {
		t.Run(ga.Name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(archivesDir, ga.Name)
			a, err := oci.Scan(context.Background(), path, oci.ScanOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if a.Format == oci.FormatOCILayout {
				compareLayout(t, path, a)
				return
			}
			if ga.Layout == ocitest.Docker25 {
				// Docker ≥25 archives are OCI layouts too: the manifest
				// digests must agree with ggcr's layout reader.
				compareLayout(t, path, a)
			}
			if ga.Layout == ocitest.Hardlink {
				t.Skip("ggcr resolves a hard link's target relative to the link's directory (tar makes it relative to the archive root), so it cannot read this archive")
			}
			for _, img := range a.Images {
				var tag *name.Tag
				if len(img.RepoTags) > 0 {
					tg, err := name.NewTag(img.RepoTags[0])
					if err != nil {
						t.Fatal(err)
					}
					tag = &tg
				} else if len(a.Images) > 1 {
					continue // ggcr selects images by tag only
				}
				gi, err := tarball.Image(func() (io.ReadCloser, error) { return os.Open(path) }, tag)
				if err != nil {
					t.Fatalf("ggcr tarball.Image: %v", err)
				}
				if got, want := ourFacts(img, false), factsOf(t, gi, false); !equalFacts(got, want) {
					t.Errorf("scanner = %+v\nggcr    = %+v", got, want)
				}
			}
		})
	}
}

func equalFacts(a, b ggcrFacts) bool {
	if a.imageID != b.imageID || a.manifest != b.manifest || len(a.digests) != len(b.digests) || len(a.diffIDs) != len(b.diffIDs) {
		return false
	}
	for i := range a.digests {
		// ggcr's tarball reader reports, for an uncompressed layer, the
		// digest of the gzip stream it would push; compare stored digests
		// only for layers stored compressed (a is the scanner's).
		compressed := a.digests[i] != a.diffIDs[i]
		if (compressed && a.digests[i] != b.digests[i]) || a.diffIDs[i] != b.diffIDs[i] {
			return false
		}
	}
	return true
}

// compareLayout extracts an OCI-layout archive and walks it with ggcr.
func compareLayout(t *testing.T, path string, a *oci.Archive) {
	t.Helper()
	dir := t.TempDir()
	for n, e := range tarEntries(t, path) {
		if e.Typeflag != '0' {
			continue
		}
		p := filepath.Join(dir, n)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, e.body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatalf("ggcr layout: %v", err)
	}
	var found []ggcrFacts
	var walk func(ii v1.ImageIndex)
	walk = func(ii v1.ImageIndex) {
		im, err := ii.IndexManifest()
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range im.Manifests {
			switch {
			case d.MediaType.IsIndex():
				child, err := ii.ImageIndex(d.Digest)
				if err != nil {
					t.Fatal(err)
				}
				walk(child)
			case d.MediaType.IsImage() && !strings.Contains(d.Annotations["vnd.docker.reference.type"], "attestation"):
				img, err := ii.Image(d.Digest)
				if err != nil {
					t.Fatal(err)
				}
				found = append(found, factsOf(t, img, true))
			}
		}
	}
	walk(idx)
	if len(found) != len(a.Images) {
		t.Fatalf("ggcr found %d images, scanner %d", len(found), len(a.Images))
	}
	for i, img := range a.Images {
		if got := ourFacts(img, true); !equalFacts(got, found[i]) {
			t.Errorf("image %d: scanner = %+v\nggcr = %+v", i, got, found[i])
		}
	}
}
