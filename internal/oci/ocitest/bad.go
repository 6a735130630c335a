package ocitest

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"fmt"
	"path"

	"github.com/oci-attest/oci-attest/internal/oci"
)

// BadArchive is a malformed archive and what oci.Scan must say about it
// (ARCHITECTURE.md "Archive rules").
type BadArchive struct {
	// Name describes the fault, as a file name ("symlink-loop.tar").
	Name string
	// Data is the archive.
	Data []byte
	// Err is the sentinel the scan error wraps.
	Err error
	// Entry is the archive entry the error names; empty when the fault is
	// the file as a whole.
	Entry string
}

// BadArchives returns one malformed archive per fault of ARCHITECTURE.md
// "Archive rules", each derived from a good archive of Archives.
func BadArchives() ([]BadArchive, error) {
	var out []BadArchive
	add := func(name string, err error, entry string, data []byte) {
		out = append(out, BadArchive{Name: name, Data: data, Err: err, Entry: entry})
	}
	good := func(name string) ([]Entry, []manifestEntry, error) {
		es, err := entriesOf(name)
		if err != nil {
			return nil, nil, err
		}
		var m []manifestEntry
		if err := json.Unmarshal(es[index(es, "manifest.json")].Body, &m); err != nil {
			return nil, nil, err
		}
		return es, m, nil
	}

	es, m, err := good("docker25.tar")
	if err != nil {
		return nil, err
	}
	d25 := Tar(es)
	add("truncated.tar", oci.ErrTruncated, "", d25[:len(d25)/2+100])
	add("not-a-tar.tar", oci.ErrNotArchive, "", bytes.Repeat([]byte("not a tar archive\n"), 64))
	add("xz.tar.xz", oci.ErrNotArchive, "", append([]byte("\xfd7zXZ\x00\x00\x04"), d25...)) // xz is refused with the command
	add("dotdot.tar", oci.ErrUnsafePath, "../evil", Tar(append(clone(es), Entry{Name: "../evil", Body: []byte("x")})))
	add("absolute.tar", oci.ErrUnsafePath, "/etc/evil", Tar(append(clone(es), Entry{Name: "/etc/evil", Body: []byte("x")})))
	layer := m[0].Layers[0]
	{
		c := clone(es)
		i := index(c, layer)
		add("missing-layer.tar", oci.ErrMissingBlob, layer, Tar(append(c[:i:i], c[i+1:]...)))
	}
	{
		c := clone(es)
		c[index(c, layer)].Body = LayerTar([]File{{Name: "etc/evil", Content: "swapped"}})
		add("digest-mismatch.tar", oci.ErrDigestMismatch, layer, Tar(c))
	}
	{
		c := clone(es)
		c[index(c, layer)] = Entry{Name: layer + "/", Type: tar.TypeDir}
		add("directory-layer.tar", oci.ErrNotFile, layer, Tar(c))
	}
	{
		c := clone(es)
		mm := cloneManifest(m)
		mm[0].Layers[0], mm[0].Layers[1] = mm[0].Layers[1], mm[0].Layers[0]
		c[index(c, "manifest.json")].Body = mustJSON(mm)
		add("diffid-mismatch.tar", oci.ErrDiffIDMismatch, m[0].Config, Tar(c))
	}
	add("empty-manifest.tar", oci.ErrBadManifest, "manifest.json", Tar([]Entry{{Name: "manifest.json"}}))
	add("no-images.tar", oci.ErrNoImages, "manifest.json", Tar([]Entry{{Name: "manifest.json", Body: []byte("[]")}}))

	es, m, err = good("podman-symlinks.tar")
	if err != nil {
		return nil, err
	}
	link := m[0].Layers[0]
	{
		c := clone(es)
		c[index(c, link)].Linkname = "loop"
		c = append(c, Entry{Name: path.Dir(link) + "/loop", Type: tar.TypeSymlink, Linkname: "layer.tar"})
		add("symlink-loop.tar", oci.ErrLinkLoop, link, Tar(c))
	}
	{
		c := clone(es)
		c[index(c, link)].Linkname = "../../etc/shadow"
		add("symlink-outside.tar", oci.ErrUnsafePath, link, Tar(c))
	}

	es, m, err = good("hardlink.tar")
	if err != nil {
		return nil, err
	}
	{
		// The hard link before its target: no extractor can create it
		// (docker load fails), and lexical readers follow it anyway.
		c := clone(es)
		hl := index(c, m[0].Layers[0])
		target := index(c, c[hl].Linkname)
		link := c[hl]
		c = append(c[:hl:hl], c[hl+1:]...)
		if target > hl {
			target--
		}
		c = append(c[:target:target], append([]Entry{link}, c[target:]...)...)
		add("hardlink-before-target.tar", oci.ErrAmbiguous, link.Name, Tar(c))
	}

	es, m, err = good("docker-legacy.tar")
	if err != nil {
		return nil, err
	}
	legacy := m[0].Layers[0] // <id>/layer.tar: its name claims no digest
	{
		c := clone(es)
		gz := Compress(c[index(c, legacy)].Body, oci.CompressionGzip)
		c[index(c, legacy)].Body = gz[:len(gz)-12]
		add("truncated-gzip.tar", oci.ErrCorruptLayer, legacy, Tar(c))
	}
	{
		c := clone(es)
		zs := Compress(bytes.Repeat(c[index(c, legacy)].Body, 20), oci.CompressionZstd)
		for j := 12; j < len(zs)-4; j += 5 {
			zs[j] ^= 0xa5
		}
		c[index(c, legacy)].Body = zs
		add("corrupt-zstd.tar", oci.ErrCorruptLayer, legacy, Tar(c))
	}
	name, data, err := mediaTypeBoth()
	if err != nil {
		return nil, err
	}
	add("mediatype-both.tar", oci.ErrAmbiguous, name, data)
	return out, nil
}

// entriesOf returns the entries of the archive of Archives named name.
func entriesOf(name string) ([]Entry, error) {
	for _, a := range Archives() {
		if a.Name == name {
			return Entries(a.Layout, a.Images...)
		}
	}
	return nil, fmt.Errorf("no archive %q", name)
}

// mediaTypeBoth is oci-multiplatform.tar with index.json naming, without
// mediaType, a blob that reads both as the arm64 image's manifest (config
// and layers; containers/image guesses a manifest first) and as an index
// of the amd64 image (containerd's and the scanner's reading): class 4 of
// ARCHITECTURE.md "Archive rules". It returns the blob's entry name and the
// archive.
func mediaTypeBoth() (string, []byte, error) {
	es, err := entriesOf("oci-multiplatform.tar")
	if err != nil {
		return "", nil, err
	}
	blobOf := func(d descriptor, v any) error {
		return json.Unmarshal(es[index(es, "blobs/sha256/"+d.Digest[len("sha256:"):])].Body, v)
	}
	var top, idx indexJSON
	if err := json.Unmarshal(es[index(es, "index.json")].Body, &top); err != nil {
		return "", nil, err
	}
	if err := blobOf(top.Manifests[0], &idx); err != nil {
		return "", nil, err
	}
	amd64, arm64 := idx.Manifests[0], idx.Manifests[len(idx.Manifests)-1]
	var m manifestJSON
	if err := blobOf(arm64, &m); err != nil {
		return "", nil, err
	}
	both := newBlob(mustJSON(map[string]any{"schemaVersion": 2, "config": m.Config, "layers": m.Layers, "manifests": []descriptor{amd64}}))
	name := "blobs/sha256/" + both.hex
	es = append(es, Entry{Name: name, Body: both.data})
	es[index(es, "index.json")].Body = mustJSON(map[string]any{"schemaVersion": 2, "mediaType": mediaTypeIndex, "manifests": []any{
		map[string]any{"digest": both.digest(), "size": len(both.data), "annotations": top.Manifests[0].Annotations},
	}})
	return name, Tar(es), nil
}

func index(es []Entry, name string) int {
	for i, e := range es {
		if e.Name == name {
			return i
		}
	}
	panic(fmt.Sprintf("ocitest: no entry %q", name))
}

func clone(es []Entry) []Entry { return append([]Entry(nil), es...) }

func cloneManifest(m []manifestEntry) []manifestEntry {
	out := make([]manifestEntry, len(m))
	for i, e := range m {
		out[i] = e
		out[i].Layers = append([]string(nil), e.Layers...)
	}
	return out
}
