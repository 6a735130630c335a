package oci_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/oci-attest/oci-attest/internal/oci"
	"github.com/oci-attest/oci-attest/internal/oci/ocitest"
)

// TestScanRepeatedConfig: a manifest.json whose many entries name one large
// config is read in time linear in the archive, not entries × config size
// (each entry used to parse the config again: a 40 MiB archive could cost
// hours).
func TestScanRepeatedConfig(t *testing.T) {
	t.Parallel()
	cfg := []byte(`{"rootfs":{"type":"layers","diff_ids":[]},"pad":"` + strings.Repeat("x", 4<<20) + `"}`)
	sum := sha256.Sum256(cfg)
	name := hex.EncodeToString(sum[:]) + ".json"
	const entries = 2000
	mj := manifestNaming(name, entries)
	path := writeTemp(t, "repeat.tar", tarOf(
		ocitest.Entry{Name: name, Body: cfg},
		ocitest.Entry{Name: "manifest.json", Body: []byte(mj)},
	))
	start := time.Now()
	a, err := oci.Scan(context.Background(), path, oci.ScanOptions{})
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Scan() took %v", d)
	}
	if err != nil {
		t.Fatalf("Scan() error = %v", err)
	}
	if len(a.Images) != entries || a.Images[entries-1].ImageID.Encoded() != hex.EncodeToString(sum[:]) {
		t.Errorf("Scan() = %d images, want %d of image %x", len(a.Images), entries, sum)
	}
}

// TestScanManyManifestsPerConfig: a Docker ≥25 archive whose index.json
// lists many image manifests of one config, and whose manifest.json lists
// many entries of it, matches each distinct entry against the manifests
// once, not entries × manifests times.
func TestScanManyManifestsPerConfig(t *testing.T) {
	t.Parallel()
	cfg := []byte(`{"rootfs":{"type":"layers","diff_ids":[]}}`)
	cfgSum := sha256.Sum256(cfg)
	cfgHex := hex.EncodeToString(cfgSum[:])
	es := []ocitest.Entry{{Name: "blobs/sha256/" + cfgHex, Body: cfg}}
	const manifests, entries = 2000, 20000
	var idx strings.Builder
	idx.WriteString(`{"schemaVersion":2,"manifests":[`)
	var want string
	for i := range manifests {
		layers := fmt.Sprintf(`[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%064x","size":1}]`, i)
		if i == manifests-1 {
			layers = `[]` // the one that matches manifest.json's entries
		}
		m := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:` + cfgHex + fmt.Sprintf(`","size":%d},"layers":%s}`, len(cfg), layers))
		sum := sha256.Sum256(m)
		h := hex.EncodeToString(sum[:])
		es = append(es, ocitest.Entry{Name: "blobs/sha256/" + h, Body: m})
		if i > 0 {
			idx.WriteString(",")
		}
		fmt.Fprintf(&idx, `{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%d}`, h, len(m))
		want = "sha256:" + h
	}
	idx.WriteString("]}")
	mj := manifestNaming("blobs/sha256/"+cfgHex, entries)
	es = append(es, ocitest.Entry{Name: "index.json", Body: []byte(idx.String())}, ocitest.Entry{Name: "manifest.json", Body: []byte(mj)})
	path := writeTemp(t, "many.tar", tarOf(es...))
	start := time.Now()
	a, err := oci.Scan(context.Background(), path, oci.ScanOptions{})
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Scan() took %v", d)
	}
	if err != nil {
		t.Fatalf("Scan() error = %v", err)
	}
	if len(a.Images) != entries || string(a.Images[0].ManifestDigest) != want || string(a.Images[entries-1].ManifestDigest) != want {
		t.Errorf("Scan() = %d images, first with manifest %s; want %d with %s", len(a.Images), a.Images[0].ManifestDigest, entries, want)
	}
}

// manifestNaming is a manifest.json of n untagged, layerless images that all
// name the config at path.
func manifestNaming(path string, n int) string {
	entries := make([]string, n)
	for i := range entries {
		entries[i] = `{"Config":"` + path + `","RepoTags":null,"Layers":[]}`
	}
	return "[" + strings.Join(entries, ",") + "]"
}
