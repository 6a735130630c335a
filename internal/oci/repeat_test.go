package oci_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	digest "github.com/opencontainers/go-digest"

	"github.com/oci-attest/oci-attest/internal/oci"
	"github.com/oci-attest/oci-attest/internal/oci/ocitest"
)

// TestScanRepeatedConfig: a manifest.json whose many entries name one large
// config is read with work linear in the archive, not entries × config size
// (each entry used to parse the config again: a 40 MiB archive could cost
// hours). Counted: the JSON parsed is at most twice the archive (here 8 GiB
// if each entry parsed the config).
func TestScanRepeatedConfig(t *testing.T) {
	t.Parallel()
	path, id := repeatedConfigArchive(t)
	a, cost, err := oci.ScanCounted(context.Background(), path, oci.ScanOptions{}, nil)
	if err != nil {
		t.Fatalf("Scan() error = %v", err)
	}
	t.Logf("%d-byte archive, cost %+v", a.Size, cost)
	if size := a.Size; cost.JSONBytes > 2*size {
		t.Errorf("Scan() parsed %d bytes of JSON from a %d-byte archive; want at most twice its size (the config once)", cost.JSONBytes, size)
	}
	if len(a.Images) != repeatedEntries || a.Images[repeatedEntries-1].ImageID != id {
		t.Errorf("Scan() = %d images, want %d of image %s", len(a.Images), repeatedEntries, id)
	}
}

// repeatedEntries is how many manifest.json entries repeatedConfigArchive
// writes.
const repeatedEntries = 2000

// repeatedConfigArchive writes a docker archive whose manifest.json names
// one config of 4 MiB repeatedEntries times, and returns it with the image
// ID.
func repeatedConfigArchive(t testing.TB) (string, digest.Digest) {
	t.Helper()
	cfg := []byte(`{"rootfs":{"type":"layers","diff_ids":[]},"pad":"` + strings.Repeat("x", 4<<20) + `"}`)
	id := sha(cfg)
	name := id.Encoded() + ".json"
	mj := manifestNaming(name, repeatedEntries)
	return writeTemp(t, "repeat.tar", tarOf(
		ocitest.Entry{Name: name, Body: cfg},
		ocitest.Entry{Name: "manifest.json", Body: []byte(mj)},
	)), id
}

// TestScanManyManifestsPerConfig: a Docker ≥25 archive whose index.json
// lists many image manifests of one config, and whose manifest.json lists
// many entries of it, matches each entry to the manifests by key, not
// entries × manifests times (40 million comparisons here; 9 s when it
// did). Counted: at most one match step per entry and two per manifest.
func TestScanManyManifestsPerConfig(t *testing.T) {
	t.Parallel()
	path, want := manyManifestsArchive(t)
	a, cost, err := oci.ScanCounted(context.Background(), path, oci.ScanOptions{}, nil)
	if err != nil {
		t.Fatalf("Scan() error = %v", err)
	}
	t.Logf("cost %+v", cost)
	const manifests, entries = manyManifests, manyEntries
	if cost.Matches > entries+2*manifests {
		t.Errorf("Scan() took %d match steps for %d entries and %d manifests; want at most %d", cost.Matches, entries, manifests, entries+2*manifests)
	}
	if len(a.Images) != entries || a.Images[0].ManifestDigest != want || a.Images[entries-1].ManifestDigest != want {
		t.Errorf("Scan() = %d images, first with manifest %s; want %d with %s", len(a.Images), a.Images[0].ManifestDigest, entries, want)
	}
}

// The image manifests and manifest.json entries of manyManifestsArchive.
const manyManifests, manyEntries = 2000, 20000

// manyManifestsArchive writes a Docker ≥25 archive: index.json lists
// manyManifests image manifests of one config (only the last one without
// layers), manifest.json lists manyEntries layerless entries of that
// config. It returns the archive and the digest of the manifest they match.
func manyManifestsArchive(t testing.TB) (string, digest.Digest) {
	t.Helper()
	cfg := []byte(`{"rootfs":{"type":"layers","diff_ids":[]}}`)
	cfgHex := sha(cfg).Encoded()
	es := []ocitest.Entry{{Name: "blobs/sha256/" + cfgHex, Body: cfg}}
	var idx strings.Builder
	idx.WriteString(`{"schemaVersion":2,"manifests":[`)
	var want digest.Digest
	for i := range manyManifests {
		layers := fmt.Sprintf(`[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%064x","size":1}]`, i)
		if i == manyManifests-1 {
			layers = `[]` // the one that matches manifest.json's entries
		}
		m := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:` + cfgHex + fmt.Sprintf(`","size":%d},"layers":%s}`, len(cfg), layers))
		want = sha(m)
		es = append(es, ocitest.Entry{Name: "blobs/sha256/" + want.Encoded(), Body: m})
		if i > 0 {
			idx.WriteString(",")
		}
		fmt.Fprintf(&idx, `{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%d}`, want, len(m))
	}
	idx.WriteString("]}")
	mj := manifestNaming("blobs/sha256/"+cfgHex, manyEntries)
	es = append(es, ocitest.Entry{Name: "index.json", Body: []byte(idx.String())}, ocitest.Entry{Name: "manifest.json", Body: []byte(mj)})
	return writeTemp(t, "many.tar", tarOf(es...)), want
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
