package oci_test

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	digest "github.com/opencontainers/go-digest"

	"github.com/oci-attest/oci-attest/internal/oci"
	"github.com/oci-attest/oci-attest/internal/oci/ocitest"
)

// TestCommittedArchivesAreGenerated fails when testdata/archives differs from
// what the generator writes now: the archives are never edited by hand.
func TestCommittedArchivesAreGenerated(t *testing.T) {
	t.Parallel()
	for _, a := range ocitest.Archives() {
		want, err := a.Build()
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(archivesDir, a.Name))
		if err != nil {
			t.Fatalf("%v; run: go run ./internal/oci/ocitest/gen -out testdata/archives", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("testdata/archives/%s differs from the generator's output; run: go run ./internal/oci/ocitest/gen -out testdata/archives", a.Name)
		}
	}
	if _, err := os.Stat(filepath.Join(archivesDir, "docker25.tar")); err != nil {
		t.Errorf("docker25.tar (embedded by the demo) is missing: %v", err)
	}
}

// wantImage is what a test expects of one scanned image.
type wantImage struct {
	RepoTags     []string
	Compressions []oci.Compression
	HasManifest  bool
}

// TestScanGoodArchives scans every generated archive and checks the results
// against values computed from the generator's inputs, not by the scanner.
func TestScanGoodArchives(t *testing.T) {
	t.Parallel()
	none, gz, zst := oci.CompressionNone, oci.CompressionGzip, oci.CompressionZstd
	tests := map[string]struct {
		format oci.Format
		images []wantImage
	}{
		"docker-legacy.tar":     {oci.FormatDocker, []wantImage{{[]string{"localhost/oci-attest/legacy:v1"}, []oci.Compression{none, none}, false}}},
		"docker25.tar":          {oci.FormatDocker, []wantImage{{[]string{ocitest.DemoTag}, []oci.Compression{none, none}, true}}},
		"docker25-gzip.tar":     {oci.FormatDocker, []wantImage{{[]string{"alpine:3.20"}, []oci.Compression{gz, gz}, true}}},
		"podman.tar":            {oci.FormatDocker, []wantImage{{[]string{"localhost/oci-attest/podman:v1"}, []oci.Compression{none, none}, false}}},
		"podman-symlinks.tar":   {oci.FormatDocker, []wantImage{{[]string{"localhost/oci-attest/podman:v1"}, []oci.Compression{none, none}, false}}},
		"hardlink.tar":          {oci.FormatDocker, []wantImage{{[]string{"localhost/oci-attest/hardlink:v1"}, []oci.Compression{none, none}, false}}},
		"crane.tar":             {oci.FormatDocker, []wantImage{{[]string{"localhost/oci-attest/crane:v1"}, []oci.Compression{gz, gz}, false}}},
		"oci-gzip.tar":          {oci.FormatOCILayout, []wantImage{{[]string{"localhost/oci-attest/oci:v1"}, []oci.Compression{gz, gz}, true}}},
		"oci-zstd.tar":          {oci.FormatOCILayout, []wantImage{{[]string{"v1"}, []oci.Compression{zst, zst}, true}}},
		"oci-multiplatform.tar": {oci.FormatOCILayout, []wantImage{{[]string{"localhost/oci-attest/multi:v1"}, []oci.Compression{gz}, true}, {[]string{"localhost/oci-attest/multi:v1"}, []oci.Compression{gz}, true}}},
		"multi-image.tar": {oci.FormatDocker, []wantImage{
			{[]string{"localhost/oci-attest/first:v1"}, []oci.Compression{none}, true},
			{[]string{"localhost/oci-attest/second:v2"}, []oci.Compression{none, none}, true},
			{nil, []oci.Compression{none}, true},
		}},
		"repeated-layer.tar": {oci.FormatDocker, []wantImage{{[]string{"localhost/oci-attest/repeated:v1"}, []oci.Compression{none, none, none}, true}}},
	}
	if len(tests) != len(ocitest.Archives()) {
		t.Fatalf("test table has %d archives, ocitest.Archives() %d", len(tests), len(ocitest.Archives()))
	}
	for _, ga := range ocitest.Archives() {
		tc, ok := tests[ga.Name]
		if !ok {
			t.Fatalf("no expectations for %s", ga.Name)
		}
		t.Run(ga.Name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(archivesDir, ga.Name)
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			a, err := oci.Scan(context.Background(), path, oci.ScanOptions{})
			if err != nil {
				t.Fatalf("Scan() error = %v", err)
			}
			if a.TarDigest != sha(raw) || a.Size != int64(len(raw)) || a.Path != path {
				t.Errorf("Scan() TarDigest, Size, Path = %s, %d, %s; want %s, %d, %s", a.TarDigest, a.Size, a.Path, sha(raw), len(raw), path)
			}
			if a.Format != tc.format {
				t.Errorf("Format = %s, want %s", a.Format, tc.format)
			}
			manifestName := "manifest.json"
			if tc.format == oci.FormatOCILayout {
				manifestName = "index.json"
			}
			if !bytes.Equal(a.ManifestRaw, fileEntry(t, path, manifestName)) {
				t.Errorf("ManifestRaw is not %s's bytes", manifestName)
			}
			if len(a.Images) != len(tc.images) || len(a.Manifest) != len(tc.images) {
				t.Fatalf("got %d images, %d manifest entries; want %d", len(a.Images), len(a.Manifest), len(tc.images))
			}
			// Expected diffIDs come from the generator's layer tars.
			var inputs []ocitest.Image
			inputs = append(inputs, ga.Images...)
			for i, w := range tc.images {
				img := a.Images[i]
				if img.Index != i {
					t.Errorf("image %d: Index = %d", i, img.Index)
				}
				if diff := cmp.Diff(w.RepoTags, img.RepoTags); diff != "" {
					t.Errorf("image %d RepoTags (-want +got):\n%s", i, diff)
				}
				if diff := cmp.Diff(w.RepoTags, a.Manifest[i].RepoTags); diff != "" {
					t.Errorf("manifest %d RepoTags (-want +got):\n%s", i, diff)
				}
				var wantDiffIDs []digest.Digest
				for _, l := range inputs[i].Layers {
					wantDiffIDs = append(wantDiffIDs, sha(ocitest.LayerTar(l.Files)))
				}
				if diff := cmp.Diff(wantDiffIDs, img.DiffIDs); diff != "" {
					t.Errorf("image %d DiffIDs (-want +got):\n%s", i, diff)
				}
				cfg := fileEntryResolved(t, path, img.ConfigPath)
				if img.ImageID != sha(cfg) || !bytes.Equal(img.ConfigRaw, cfg) {
					t.Errorf("image %d ImageID = %s, want sha256 of %s = %s", i, img.ImageID, img.ConfigPath, sha(cfg))
				}
				if img.ConfigPath != a.Manifest[i].Config {
					t.Errorf("image %d ConfigPath = %q, manifest Config %q", i, img.ConfigPath, a.Manifest[i].Config)
				}
				var comps []oci.Compression
				for j, l := range img.Layers {
					comps = append(comps, l.Compression)
					stored := fileEntryResolved(t, path, l.Path)
					if l.Digest != sha(stored) || l.Size != int64(len(stored)) {
						t.Errorf("image %d layer %d Digest, Size = %s, %d; want %s, %d", i, j, l.Digest, l.Size, sha(stored), len(stored))
					}
					if l.Path != a.Manifest[i].Layers[j] {
						t.Errorf("image %d layer %d Path = %q, manifest says %q", i, j, l.Path, a.Manifest[i].Layers[j])
					}
					if l.DiffID != img.DiffIDs[j] {
						t.Errorf("image %d layer %d DiffID = %s, DiffIDs[%d] = %s", i, j, l.DiffID, j, img.DiffIDs[j])
					}
				}
				if diff := cmp.Diff(w.Compressions, comps); diff != "" {
					t.Errorf("image %d compressions (-want +got):\n%s", i, diff)
				}
				if w.HasManifest {
					if img.ManifestDigest == "" || img.ManifestDigest != sha(img.ManifestRaw) || img.ManifestMediaType == "" {
						t.Errorf("image %d ManifestDigest = %q over %d bytes (%q)", i, img.ManifestDigest, len(img.ManifestRaw), img.ManifestMediaType)
					}
					if !bytes.Equal(img.ManifestRaw, fileEntry(t, path, "blobs/sha256/"+img.ManifestDigest.Encoded())) {
						t.Errorf("image %d ManifestRaw is not the blob's bytes", i)
					}
				} else if img.ManifestDigest != "" || img.ManifestRaw != nil {
					t.Errorf("image %d ManifestDigest = %q, want none", i, img.ManifestDigest)
				}
			}
		})
	}
}

// fileEntryResolved reads a path of a tar, following the links the
// generator writes (one level).
func fileEntryResolved(t *testing.T, path, name string) []byte {
	t.Helper()
	es := tarEntries(t, path)
	for range 3 {
		e, ok := es[name]
		if !ok {
			t.Fatalf("%s has no entry %q", path, name)
		}
		switch e.Typeflag {
		case '2':
			name = filepath.Join(filepath.Dir(name), e.Linkname)
		case '1':
			name = e.Linkname
		default:
			return e.body
		}
	}
	t.Fatalf("%s: links too deep at %q", path, name)
	return nil
}

// TestScanDocker25ManifestChoice checks how a Docker ≥25 archive's image
// manifest is found: by config digest, among manifests sharing the config
// the one whose layers manifest.json names; a manifest with the image's
// config but other layers, alone, is an error (index.json and manifest.json
// then describe different images: ErrAmbiguous).
func TestScanDocker25ManifestChoice(t *testing.T) {
	t.Parallel()
	es := goodEntries(t, "docker25.tar")
	ii := find(t, es, "index.json")
	var idx struct {
		SchemaVersion int              `json:"schemaVersion"`
		MediaType     string           `json:"mediaType"`
		Manifests     []map[string]any `json:"manifests"`
	}
	if err := json.Unmarshal(es[ii].Body, &idx); err != nil {
		t.Fatal(err)
	}
	good := idx.Manifests[0]
	var m map[string]any
	if err := json.Unmarshal(es[find(t, es, "blobs/sha256/"+strings.TrimPrefix(good["digest"].(string), "sha256:"))].Body, &m); err != nil {
		t.Fatal(err)
	}
	m["layers"].([]any)[0].(map[string]any)["digest"] = string(sha([]byte("a gzip variant")))
	other, _ := json.Marshal(m)
	es = append(es, ocitest.Entry{Name: "blobs/sha256/" + sha(other).Encoded(), Body: other})
	otherDesc := map[string]any{"mediaType": good["mediaType"], "digest": string(sha(other)), "size": len(other)}

	for _, tc := range []struct {
		name      string
		manifests []map[string]any
		want      digest.Digest
		wantErr   error
	}{
		{"other first", []map[string]any{otherDesc, good}, digest.Digest(good["digest"].(string)), nil},
		{"only other", []map[string]any{otherDesc}, "", oci.ErrAmbiguous},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := append([]ocitest.Entry(nil), es...)
			idx2 := idx
			idx2.Manifests = tc.manifests
			c[ii].Body, _ = json.Marshal(idx2)
			a, err := oci.Scan(context.Background(), writeTemp(t, "d.tar", ocitest.Tar(c)), oci.ScanOptions{})
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Scan() error = %v, want %v", err, tc.wantErr)
			}
			if err == nil && a.Images[0].ManifestDigest != tc.want {
				t.Errorf("ManifestDigest = %s, want %s", a.Images[0].ManifestDigest, tc.want)
			}
		})
	}
}

// TestScanPAXGlobalHeaders checks that PAX global headers (git archive and
// some tar writers add them, each named pax_global_header) are metadata, not
// entries: two of them are no duplicate.
func TestScanPAXGlobalHeaders(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for range 2 {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeXGlobalHeader, Name: "pax_global_header", PAXRecords: map[string]string{"comment": "x"}}); err != nil {
			t.Fatal(err)
		}
	}
	tw.Flush()
	// Append the good archive's entries (its tar, end blocks included).
	raw := append(buf.Bytes(), ocitest.Tar(goodEntries(t, "podman.tar"))...)
	a, err := oci.Scan(context.Background(), writeTemp(t, "g.tar", raw), oci.ScanOptions{})
	if err != nil {
		t.Fatalf("Scan() error = %v", err)
	}
	if a.TarDigest != sha(raw) || len(a.Images) != 1 {
		t.Errorf("Scan() = %s with %d images", a.TarDigest, len(a.Images))
	}
}

// TestScanPartialMultiPlatform checks archives that keep one platform of a
// multi-platform image: docker save with the containerd store writes
// index.json → image index naming every platform's manifest, but only the
// local platform's blobs. Missing children of a nested index are skipped;
// present ones are still checked.
func TestScanPartialMultiPlatform(t *testing.T) {
	t.Parallel()
	missing := map[string]any{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": string(sha([]byte("arm64 manifest, not saved"))), "size": 1234,
		"platform": map[string]any{"architecture": "arm64", "os": "linux"}}

	t.Run("docker25", func(t *testing.T) {
		t.Parallel()
		es := goodEntries(t, "docker25.tar")
		ii := find(t, es, "index.json")
		var idx map[string]any
		if err := json.Unmarshal(es[ii].Body, &idx); err != nil {
			t.Fatal(err)
		}
		top := idx["manifests"].([]any)[0].(map[string]any)
		want := digest.Digest(top["digest"].(string))
		child := map[string]any{"mediaType": top["mediaType"], "digest": top["digest"], "size": top["size"], "platform": map[string]any{"architecture": "amd64", "os": "linux"}}
		nested, _ := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": []any{missing, child}})
		es = append(es, ocitest.Entry{Name: "blobs/sha256/" + sha(nested).Encoded(), Body: nested})
		idx["manifests"] = []any{map[string]any{"mediaType": "application/vnd.oci.image.index.v1+json", "digest": string(sha(nested)), "size": len(nested), "annotations": top["annotations"]}}
		es[ii].Body, _ = json.Marshal(idx)
		a, err := oci.Scan(context.Background(), writeTemp(t, "d.tar", ocitest.Tar(es)), oci.ScanOptions{})
		if err != nil {
			t.Fatalf("Scan() error = %v", err)
		}
		if a.Images[0].ManifestDigest != want {
			t.Errorf("ManifestDigest = %s, want %s", a.Images[0].ManifestDigest, want)
		}
	})

	t.Run("oci-layout", func(t *testing.T) {
		t.Parallel()
		es := goodEntries(t, "oci-multiplatform.tar")
		a0, err := oci.Scan(context.Background(), filepath.Join(archivesDir, "oci-multiplatform.tar"), oci.ScanOptions{})
		if err != nil {
			t.Fatal(err)
		}
		// Drop the arm64 manifest blob (the second image).
		gone := "blobs/sha256/" + a0.Images[1].ManifestDigest.Encoded()
		i := find(t, es, gone)
		es = append(es[:i:i], es[i+1:]...)
		a, err := oci.Scan(context.Background(), writeTemp(t, "o.tar", ocitest.Tar(es)), oci.ScanOptions{})
		if err != nil {
			t.Fatalf("Scan() error = %v", err)
		}
		if len(a.Images) != 1 || a.Images[0].ManifestDigest != a0.Images[0].ManifestDigest {
			t.Errorf("Scan() = %d images (first %s); want only %s", len(a.Images), a.Images[0].ManifestDigest, a0.Images[0].ManifestDigest)
		}
	})
}
