package oci

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// maxIndexDepth bounds nested image indexes.
const maxIndexDepth = 8

// Annotations that name an image in an OCI layout's index.json.
const (
	annotationRefName        = ocispec.AnnotationRefName // org.opencontainers.image.ref.name
	annotationContainerdName = "io.containerd.image.name"
	annotationReferenceType  = "vnd.docker.reference.type"
	// annotationManifestSubject marks the referrers containerd's exporter
	// adds to index.json (core/images AnnotationManifestSubject).
	annotationManifestSubject = "io.containerd.manifest.subject"
)

// foundManifest is an image manifest reached from index.json.
type foundManifest struct {
	// top is the descriptor in index.json the manifest was first reached
	// from; topDigests are the digests of all those it is reached from
	// (their names are table.topNames).
	top        ocispec.Descriptor
	topDigests []digest.Digest
	// desc is the manifest's own descriptor.
	desc      ocispec.Descriptor
	path      string
	entry     *entry
	raw       []byte
	mediaType string
	manifest  ocispec.Manifest
	// index is top's image index when top is one (nil when top is the
	// manifest itself).
	index *Index
}

// from sets what index.json says about the image: its stored manifest, the
// index it was reached through, and the platform the index's descriptor of
// it names (else the config's stays).
func (img *Image) from(fm *foundManifest) {
	img.ManifestDigest, img.ManifestRaw, img.ManifestMediaType = fm.desc.Digest, fm.raw, fm.mediaType
	img.ImageIndex = fm.index
	if p := PlatformOf(fm.desc); p.OS != "" && p.Architecture != "" {
		img.Platform = p
	}
}

// indexOrManifest is the union of the fields the walk reads.
type indexOrManifest struct {
	MediaType string               `json:"mediaType"`
	Manifests []ocispec.Descriptor `json:"manifests"`
	Config    *ocispec.Descriptor  `json:"config"`
	Layers    []ocispec.Descriptor `json:"layers"`
	Subject   *ocispec.Descriptor  `json:"subject"`
}

// parseIndex parses index.json (or a nested image index).
func parseIndex(b []byte) (*ocispec.Index, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, fmt.Errorf("%w: the image index is empty", ErrBadManifest)
	}
	var idx ocispec.Index
	if err := json.Unmarshal(b, &idx); err != nil {
		return nil, fmt.Errorf("%w: the image index is not valid JSON: %w", ErrBadManifest, err)
	}
	return &idx, nil
}

// walkIndex finds every image manifest index.json leads to, depth first in
// index order, each once. Manifests missing from the archive are skipped
// when they are children of a nested index, or anywhere when partial.
func (t *table) walkIndex(opts ScanOptions, partial bool) ([]*foundManifest, error) {
	ie := t.byName["index.json"]
	raw, err := t.jsonOf(ie, "index.json", opts.maxJSON())
	if err != nil {
		return nil, err
	}
	t.work.parsed(raw)
	idx, err := parseIndex(raw)
	if err != nil {
		return nil, fail(t.path, "index.json", "%w", err)
	}
	w := &walker{t: t, partial: partial, opts: opts, seen: map[digest.Digest]bool{}, under: map[digest.Digest][]*foundManifest{}, lacks: lackWalk{t: t, opts: opts}}
	for _, d := range idx.Manifests {
		if err := w.visit(d, d, "index.json", 0); err != nil {
			return nil, err
		}
		if skipDescriptor(d) {
			continue
		}
		// The names of each top digest, each once; and, for each image
		// manifest, the top digests it is under, each once (index.json may
		// repeat a descriptor or a name any number of times).
		first := t.topNames[d.Digest] == nil
		if first {
			if t.topNames == nil {
				t.topNames = map[digest.Digest][]string{}
			}
			t.topNames[d.Digest] = []string{}
		}
		for _, n := range repoTags(d.Annotations) {
			if !slices.Contains(t.topNames[d.Digest], n) {
				t.topNames[d.Digest] = append(t.topNames[d.Digest], n)
			}
		}
		ms := w.under[d.Digest]
		if first {
			for _, m := range ms {
				m.topDigests = append(m.topDigests, d.Digest)
			}
		}
		if len(ms) == 0 {
			w.empty = append(w.empty, d)
		}
	}
	t.emptyTops = w.empty
	if err := w.checkSelectable(); err != nil {
		return nil, err
	}
	return w.found, nil
}

// skipDescriptor reports whether an index descriptor is not an image: a
// buildx attestation manifest (annotated vnd.docker.reference.type, with
// platform unknown/unknown) or a referrer containerd's exporter adds to
// index.json (annotated io.containerd.manifest.subject) — unless it has a
// name, which containerd's import would give it.
func skipDescriptor(d ocispec.Descriptor) bool {
	if len(repoTags(d.Annotations)) > 0 {
		return false
	}
	if d.Annotations[annotationReferenceType] != "" || d.Annotations[annotationManifestSubject] != "" {
		return true
	}
	return d.Platform != nil && d.Platform.OS == "unknown" && d.Platform.Architecture == "unknown"
}

// walker is one walk of index.json (walkIndex).
type walker struct {
	t *table
	// partial says manifests named by index.json may be missing (docker
	// archives: manifest.json is what they are read by); otherwise only
	// children of nested indexes may be.
	partial bool
	opts    ScanOptions
	seen    map[digest.Digest]bool
	found   []*foundManifest
	// under lists, for each manifest or index visited, the image manifests
	// found at or beneath it.
	under map[digest.Digest][]*foundManifest
	// empty are the top descriptors under which no image was found.
	empty []ocispec.Descriptor
	// indexes are the image indexes index.json names, by digest; lacks
	// finds what each leads to that the archive lacks.
	indexes map[digest.Digest]*Index
	lacks   lackWalk
	// order are the image indexes index.json names, in its order, and
	// skipped those under which the walk skipped an entry
	// (checkSelectable).
	order   []*Index
	skipped map[digest.Digest]bool
}

// visit walks the descriptor d, reached from the entry from at depth
// below the index.json descriptor top: an image index's children, depth
// first, or an image manifest, which it records. Anything else, and a
// manifest the archive may lack and does, is skipped.
func (w *walker) visit(top, d ocispec.Descriptor, from string, depth int) error {
	w.t.work.indexSteps++
	if depth > maxIndexDepth {
		return fail(w.t.path, from, "%w: image indexes nested more than %d deep", ErrBadManifest, maxIndexDepth)
	}
	if skipDescriptor(d) {
		w.skip(top, depth)
		return nil // an attestation manifest (buildx), not an image
	}
	if w.seen[d.Digest] {
		return nil
	}
	w.seen[d.Digest] = true
	what := fmt.Sprintf("descriptor %s in %s", d.Digest, from)
	e, raw, m, err := w.read(d, what)
	if errors.Is(err, ErrMissingBlob) && (w.partial || depth > 0) {
		// A multi-platform index whose other platforms were not saved
		// (docker save with the containerd store keeps only the local
		// platform's content): those manifests are simply not here.
		return nil
	}
	if err != nil {
		return err
	}
	mt := d.MediaType
	if mt == "" {
		// The OCI spec requires mediaType. Without it, containers/image
		// (oci-archive:) guesses from the blob — a manifest first — and
		// go-containerregistry's layout skips the descriptor.
		if m.Manifests != nil && m.Config != nil {
			return fail(w.t.path, e.name, "%w: %s has no mediaType and its blob reads both as an image manifest (config %s) and as an image index: containers/image (oci-archive:) guesses the manifest, containerd and oci-attest read the index; the OCI spec requires mediaType on a descriptor; %s", ErrAmbiguous, what, m.Config.Digest, resave)
		}
		return fail(w.t.path, e.name, "%w: %s has no mediaType, which the OCI spec requires: go-containerregistry skips it, containers/image guesses its type from the blob; %s", ErrAmbiguous, what, resave)
	}
	switch {
	case IsIndexMediaType(mt):
		if depth == 0 {
			w.topIndex(&Index{Digest: d.Digest, Raw: raw, MediaType: mt})
		}
		children, err := Children(raw)
		if err != nil {
			// Its JSON reads as an image manifest too: containerd refuses it
			// (validateMediaType), the others read the index.
			return fail(w.t.path, e.name, "%w: %s: %w; %s", ErrAmbiguous, what, err, resave)
		}
		return w.visitChildren(top, d, e.name, children, depth)
	case IsManifestMediaType(mt):
		if m.Config == nil {
			return fail(w.t.path, e.name, "%w: image manifest has no config", ErrBadManifest)
		}
		if ct := m.Config.MediaType; ct != ocispec.MediaTypeImageConfig && ct != MediaTypeDockerConfig {
			w.skip(top, depth)
			return nil // an artifact, not an image
		}
		if m.Subject != nil {
			return nil // a referrer (Archive.Referrers), never an image
		}
		fm := &foundManifest{
			top: top, desc: d, path: e.name, entry: e, raw: raw, mediaType: mt,
			manifest: ocispec.Manifest{Config: *m.Config, Layers: m.Layers},
			index:    w.indexes[top.Digest],
		}
		w.found = append(w.found, fm)
		w.under[d.Digest] = []*foundManifest{fm}
		return nil
	}
	w.skip(top, depth)
	return nil // another kind of blob (e.g. a signature); not an image
}

// topIndex records idx, an image index index.json names, with what it
// leads to that the archive lacks.
func (w *walker) topIndex(idx *Index) {
	if w.indexes == nil {
		w.indexes = map[digest.Digest]*Index{}
	}
	w.lacks.lacking(idx)
	w.indexes[idx.Digest] = idx
	w.order = append(w.order, idx)
}

// read reads and parses the blob d names (what the walk calls it); an
// error wrapping ErrMissingBlob when the archive lacks it.
func (w *walker) read(d ocispec.Descriptor, what string) (*entry, []byte, *indexOrManifest, error) {
	e, err := w.t.blob(d.Digest, d.Size, what)
	if err != nil {
		return nil, nil, nil, err
	}
	raw, err := w.t.jsonOf(e, what, w.opts.maxJSON())
	if err != nil {
		return nil, nil, nil, err
	}
	var m indexOrManifest
	w.t.work.parsed(raw)
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, nil, nil, fail(w.t.path, e.name, "%w: %s is not valid JSON: %v", ErrBadManifest, what, err)
	}
	return e, raw, &m, nil
}

// visitChildren visits the children of the image index d (stored as the
// entry from) and records the image manifests found beneath them as under
// d: each once, however many ways it is reached (an index may list a child
// many times, at every level).
func (w *walker) visitChildren(top, d ocispec.Descriptor, from string, children []Child, depth int) error {
	have := map[*foundManifest]bool{}
	for _, ch := range children {
		c := ch.Descriptor
		if err := w.visit(top, c, from, depth+1); err != nil {
			return err
		}
		if skipDescriptor(c) {
			continue
		}
		for _, fm := range w.under[c.Digest] {
			w.t.work.indexSteps++
			if !have[fm] {
				have[fm] = true
				w.under[d.Digest] = append(w.under[d.Digest], fm)
			}
		}
	}
	return nil
}

// layout reads a pure OCI image-layout archive through its index.json.
func (t *table) layout(ie *entry, opts ScanOptions) (*Archive, error) {
	raw, err := t.jsonOf(ie, "index.json", opts.maxJSON())
	if err != nil {
		return nil, err
	}
	ims, err := t.walkIndex(opts, false)
	if err != nil {
		return nil, err
	}
	if len(ims) == 0 {
		return nil, fail(t.path, "index.json", "%w: index.json leads to no image manifest", ErrNoImages)
	}
	names := 0
	for _, im := range ims {
		if names += 1 + len(im.manifest.Layers); names > maxManifestNames {
			return nil, fail(t.path, "index.json", "%w: index.json leads to more than %d images and layers in all, the most an archive may (README \"Limits\"); save fewer images in one archive", ErrTooLarge, maxManifestNames)
		}
	}
	t.work.parsed(raw)
	if idx, err := parseIndex(raw); err == nil {
		if err := t.checkIndexTags(idx.Manifests); err != nil {
			return nil, err
		}
	}
	a := &Archive{Format: FormatOCILayout, ManifestRaw: raw}
	for i, im := range ims {
		what := fmt.Sprintf("image manifest %s", im.desc.Digest)
		if _, err := t.blob(im.manifest.Config.Digest, im.manifest.Config.Size, what+" config"); err != nil {
			return nil, err
		}
		me := ManifestEntry{Config: blobPath(im.manifest.Config.Digest), RepoTags: repoTags(im.top.Annotations), Layers: []string{}}
		for j, l := range im.manifest.Layers {
			if _, err := t.blob(l.Digest, l.Size, fmt.Sprintf("%s layer %d", what, j)); err != nil {
				return nil, err
			}
			me.Layers = append(me.Layers, blobPath(l.Digest))
		}
		img, err := t.image(me, what, opts)
		if err != nil {
			return nil, err
		}
		img.Index = i
		img.from(im)
		t.useBlob(im.desc.Digest, im.entry)
		a.Manifest = append(a.Manifest, me)
		a.Images = append(a.Images, *img)
	}
	return a, nil
}

// blobPath is where an OCI layout stores the blob of digest d.
func blobPath(d digest.Digest) string {
	return "blobs/" + d.Algorithm().String() + "/" + d.Encoded()
}

// repoTags derives RepoTags from an index.json descriptor's annotations:
// io.containerd.image.name is a full name; org.opencontainers.image.ref.name
// is either a full name ("localhost/app:v1") or, without "/" or ":", a bare
// tag ("latest", "1.0") kept as is. No annotation gives nil.
func repoTags(ann map[string]string) []string {
	if n := ann[annotationContainerdName]; validTag(n) {
		return []string{n}
	}
	if n := ann[annotationRefName]; validTag(n) {
		return []string{n}
	}
	return nil
}

// isBareTag reports whether a RepoTags element is a tag without repository.
func isBareTag(s string) bool {
	return !strings.ContainsAny(s, "/:@")
}
