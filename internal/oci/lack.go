package oci

import (
	"encoding/json"
	"fmt"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Lack is something an image index leads to that the archive does not hold
// (Index.Lacks): a manifest, nested index or other blob the index or one of
// its nested indexes lists, or a config or layer of such a manifest.
type Lack struct {
	// Entry is the descriptor, as an index lists it, of what the archive
	// lacks, or of the manifest whose config or layer it lacks.
	Entry ocispec.Descriptor
	// Blob is the config or layer of Entry's manifest that the archive
	// lacks; empty when it lacks Entry itself (or cannot read it as the
	// manifest or index its media type says).
	Blob digest.Digest
}

// String names what is lacking: "manifest sha256:… (linux/arm64)", "blob
// sha256:… of manifest sha256:… (linux/arm64)", "index sha256:…".
func (l Lack) String() string {
	platform := "no platform"
	if p := PlatformOf(l.Entry).String(); p != "" {
		platform = p
	}
	switch mt := l.Entry.MediaType; {
	case l.Blob != "":
		return fmt.Sprintf("blob %s of manifest %s (%s)", l.Blob, l.Entry.Digest, platform)
	case IsIndexMediaType(mt):
		return fmt.Sprintf("index %s", l.Entry.Digest)
	case IsManifestMediaType(mt):
		return fmt.Sprintf("manifest %s (%s)", l.Entry.Digest, platform)
	default:
		return fmt.Sprintf("%s %s", mt, l.Entry.Digest)
	}
}

const (
	// maxLacks bounds the Lacks an Index keeps (LackCount counts them all).
	maxLacks = 8
	// maxLackCount is where LackCount stops: an index may list one nested
	// index many times at every level.
	maxLackCount = 1 << 30
)

// lacks is what something leads to that the archive lacks: the first
// maxLacks, and how many in all.
type lacks struct {
	first []Lack
	count int
}

func (l *lacks) add(m lacks) {
	for _, x := range m.first {
		if len(l.first) == maxLacks {
			break
		}
		l.first = append(l.first, x)
	}
	l.count = min(l.count+m.count, maxLackCount)
}

// of is l with d as the Entry of each lack that has none (a config or
// layer of d's manifest, or d's blob itself).
func (l lacks) of(d ocispec.Descriptor) lacks {
	out := lacks{first: make([]Lack, len(l.first)), count: l.count}
	for i, x := range l.first {
		if x.Entry.Digest == "" {
			x.Entry = d
		}
		out.first[i] = x
	}
	return out
}

// self is the lack of the blob itself.
var self = lacks{first: []Lack{{}}, count: 1}

// lackWalk finds what the image indexes index.json names lead to that the
// archive lacks, as a pusher reads an index: by each descriptor's media
// type, into nested indexes (buildx attestation manifests and artifacts
// included) and each manifest's config and layers, to the scan's depth
// bound (maxIndexDepth; what lies deeper counts as lacking). Each index and
// manifest is read once (at each depth). Every blob it finds is recorded
// for Archive.OpenBlob, so a push reads exactly what the walk found.
type lackWalk struct {
	t         *table
	opts      ScanOptions
	indexes   map[lackKey]lacks
	manifests map[digest.Digest]lacks
}

type lackKey struct {
	d     digest.Digest
	depth int
}

// lacking sets what idx, named by index.json, leads to that the archive
// lacks.
func (w *lackWalk) lacking(idx *Index) {
	if w.indexes == nil {
		w.indexes, w.manifests = map[lackKey]lacks{}, map[digest.Digest]lacks{}
	}
	l := w.index(idx.Digest, idx.Raw, 0)
	idx.Lacks, idx.LackCount = l.first, l.count
}

// entry is what descriptor d, listed by an index at depth-1, leads to that
// the archive lacks.
func (w *lackWalk) entry(d ocispec.Descriptor, depth int) lacks {
	if depth > maxIndexDepth {
		return self.of(d)
	}
	e, err := w.t.blob(d.Digest, d.Size, "descriptor")
	if err != nil {
		return self.of(d)
	}
	w.found(d.Digest, e)
	if !IsIndexMediaType(d.MediaType) && !IsManifestMediaType(d.MediaType) {
		return lacks{} // a blob a pusher sends as it is
	}
	raw, err := w.t.jsonOf(e, "descriptor", w.opts.maxJSON())
	if err != nil {
		return self.of(d)
	}
	if IsIndexMediaType(d.MediaType) {
		return w.index(d.Digest, raw, depth).of(d)
	}
	return w.manifest(d.Digest, raw).of(d)
}

// index is what the index d (raw) at depth leads to that the archive lacks.
func (w *lackWalk) index(d digest.Digest, raw []byte, depth int) lacks {
	k := lackKey{d, depth}
	if l, ok := w.indexes[k]; ok {
		return l
	}
	l := self
	if children, err := Children(raw); err == nil {
		l = lacks{}
		for _, c := range children {
			l.add(w.entry(c.Descriptor, depth+1))
		}
	}
	w.indexes[k] = l
	return l
}

// manifest is the config and layers of the manifest d (raw) that the
// archive lacks.
func (w *lackWalk) manifest(d digest.Digest, raw []byte) lacks {
	if l, ok := w.manifests[d]; ok {
		return l
	}
	var m struct {
		Config *ocispec.Descriptor  `json:"config"`
		Layers []ocispec.Descriptor `json:"layers"`
	}
	l := self
	if json.Unmarshal(raw, &m) == nil && m.Config != nil {
		l = lacks{}
		for _, b := range append([]ocispec.Descriptor{*m.Config}, m.Layers...) {
			e, err := w.t.blob(b.Digest, b.Size, "descriptor")
			if err != nil {
				l.add(lacks{first: []Lack{{Blob: b.Digest}}, count: 1})
				continue
			}
			w.found(b.Digest, e)
		}
	}
	w.manifests[d] = l
	return l
}

// found records e as the blob of digest d for Archive.OpenBlob, unless an
// image's blob of that digest already is.
func (w *lackWalk) found(d digest.Digest, e *entry) {
	if _, have := w.t.blobs[d]; !have {
		w.t.useBlob(d, e)
	}
}
