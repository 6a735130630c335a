package oci

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Which entries of an image index runtimes run (ARCHITECTURE.md
// "Multi-platform and multi-image"): for every platform some entry names,
// the entry containerd's images.Manifest with platforms.Only picks and the
// entry go-containerregistry's remote.Image with WithPlatform picks. An
// attestation of an index is worth only as much as every such entry is
// attested; resolvers.go models the two resolvers.

// Bounds on what Selectable reads. Real multi-platform indexes list a few
// dozen entries, one level deep.
const (
	// maxSelectEntries bounds the entries of the index and its nested
	// indexes, all together.
	maxSelectEntries = 256
	// maxSelectFetches bounds the nested indexes, manifests and configs
	// Selectable fetches.
	maxSelectFetches = 256
	// maxSelectBlob bounds a fetched manifest, index or config.
	maxSelectBlob = 4 << 20
)

// Fetcher reads what an image index leads to: nested indexes, and the
// manifest and config of an entry that names no platform (containerd
// reads its platform from the config). Selectable checks every byte it is
// given against the descriptor's digest and size. An error wrapping
// ErrMissingBlob says the blob is not there (an archive that holds part of
// an index): a runtime reads nothing through it, its pull fails.
type Fetcher interface {
	// Manifest returns the bytes of the manifest or index d names.
	Manifest(ctx context.Context, d ocispec.Descriptor) ([]byte, error)
	// Blob returns the bytes of the blob d names (an image config).
	Blob(ctx context.Context, d ocispec.Descriptor) ([]byte, error)
}

// Resolver names a runtime's reading of an image index.
type Resolver string

// The resolvers Selectable models.
const (
	// Containerd is containerd's core/images.Manifest with
	// platforms.Only(P): the best match under the matcher's ordering,
	// entries without a platform last (their config's platform must
	// match), one entry per index level.
	Containerd Resolver = "containerd"
	// ContainerdWindows is containerd's core/images.Manifest on a Windows
	// host with its default matcher, platforms.Default(): the host's
	// platform only, the highest OS version first.
	ContainerdWindows Resolver = "containerd on Windows"
	// GoContainerregistry is go-containerregistry's remote.Image with
	// remote.WithPlatform(P): the first entry whose platform matches, an
	// entry without a platform counting as linux/amd64.
	GoContainerregistry Resolver = "go-containerregistry"
)

// Pick is the entry one resolver reads from an index for one platform.
type Pick struct {
	// Resolver is the resolver.
	Resolver Resolver
	// Target is the platform it was asked for.
	Target Target
	// Path is the nested indexes the resolver descends into, then the entry
	// it reads; empty when it reads none (Reason says why: the resolver
	// fails, and nothing runs).
	Path []Child
	// Reason says why Path is empty.
	Reason string
}

// Entry is the entry the resolver reads, if any.
func (p Pick) Entry() (Child, bool) {
	if len(p.Path) == 0 {
		return Child{}, false
	}
	return p.Path[len(p.Path)-1], true
}

// Selected is a selectable entry: one that some resolver reads for some
// platform.
type Selected struct {
	Child
	// Path is the nested indexes the entry is reached through (empty for an
	// entry of the index itself), as the first pick reached it.
	Path []Child
	// By lists who reads it, "resolver platform" each
	// ("containerd linux/amd64").
	By []string
}

// Selection is how the runtimes read an image index.
type Selection struct {
	// Targets are the platforms asked, each once: every platform an entry
	// names (nested indexes included, as spelt and normalised, with and
	// without its variant, OS version and features), linux/amd64 when an
	// entry names none, and the config platform of the entry without
	// platform containerd would read.
	Targets []Target
	// Picks are every resolver's picks for every platform.
	Picks []Pick
	// Selectable are the entries some pick reads, each once, in the order
	// first read.
	Selectable []Selected

	tree *indexTree
	// targets and entries index Targets and Selectable.
	targets map[string]bool
	entries map[entryKey]int
}

// Selectable reads the image index raw as containerd and
// go-containerregistry resolve it, fetching its nested indexes (and the
// manifest and config of an entry without platform) through f, and
// returns every entry they read for the platforms the index names. It
// refuses (ErrAmbiguousIndex) an index with an entry that has no mediaType
// (the spec requires one: containerd refuses the entry, go-containerregistry
// reads it as an image) or that also reads as an image manifest.
func Selectable(ctx context.Context, raw []byte, f Fetcher) (*Selection, error) {
	t, err := loadTree(ctx, raw, f)
	if err != nil {
		return nil, err
	}
	s := &Selection{tree: t}
	ctr := t.containerdTargets()
	for _, tg := range ctr {
		s.add(tg, t.containerd(tg))
	}
	for _, tg := range ctr {
		if tg.Platform.OS == "windows" {
			s.add(tg, t.containerdWindows(tg))
		}
	}
	for _, tg := range t.ggcrTargets() {
		s.add(tg, t.ggcr(tg))
	}
	return s, nil
}

// Resolve returns what containerd and go-containerregistry read from the
// index for p (verify --platform): containerd's pick for p, and
// go-containerregistry's for p as spelt and, when it differs, normalised.
// For a Windows platform it adds what containerd on each Windows host of
// p's architecture reads (platforms.Default: the highest OS version the
// host runs; the hosts Selectable asks, windowsHosts): p names no OS
// version, so every node of it counts.
func (s *Selection) Resolve(p Platform) []Pick {
	tg := Target{Platform: p.spec()}
	picks := []Pick{s.tree.containerd(tg), s.tree.ggcr(tg)}
	n := Target{Platform: normalizeSpec(p.spec())}
	if n.String() != tg.String() {
		picks = append(picks, s.tree.ggcr(n))
	}
	if n.Platform.OS != "windows" {
		return picks
	}
	var hosts []Target
	for _, h := range windowsHosts(s.tree.named()) {
		if h.Architecture == n.Platform.Architecture && h.Variant == n.Platform.Variant {
			hosts = append(hosts, Target{Platform: h})
		}
	}
	sortTargets(hosts)
	for i, h := range hosts {
		if i == 0 || h.String() != hosts[i-1].String() {
			picks = append(picks, s.tree.containerdWindows(h))
		}
	}
	return picks
}

// add records a pick.
func (s *Selection) add(tg Target, p Pick) {
	if s.targets == nil {
		s.targets, s.entries = map[string]bool{}, map[entryKey]int{}
	}
	if name := tg.String(); !s.targets[name] {
		s.targets[name] = true
		s.Targets = append(s.Targets, tg)
	}
	s.Picks = append(s.Picks, p)
	c, ok := p.Entry()
	if !ok {
		return
	}
	by := string(p.Resolver) + " " + tg.String()
	k := entryKey{c.Descriptor.Digest, c.Descriptor.MediaType, c.Descriptor.ArtifactType}
	if i, ok := s.entries[k]; ok {
		if !slices.Contains(s.Selectable[i].By, by) {
			s.Selectable[i].By = append(s.Selectable[i].By, by)
		}
		return
	}
	s.entries[k] = len(s.Selectable)
	s.Selectable = append(s.Selectable, Selected{Child: c, Path: p.Path[:len(p.Path)-1], By: []string{by}})
}

// entryKey identifies an entry as it is read: the same digest read as the
// same media type and artifact type.
type entryKey struct {
	digest                  digest.Digest
	mediaType, artifactType string
}

// indexNode is an index of the tree.
type indexNode struct {
	children []Child
	// absent says the index is not there (ErrMissingBlob): a resolver that
	// descends into it reads nothing.
	absent bool
	// noPlatform is what containerd reads for the first entry without a
	// platform, when that is an image manifest: its config's platform,
	// normalised but with an empty OS kept empty (each host reads it as its
	// own, onHost), or why it cannot.
	noPlatform *ocispec.Platform
	noPlatErr  string
}

// indexTree is an index and the nested indexes it leads to.
type indexTree struct {
	top    *indexNode
	nested map[digest.Digest]*indexNode
}

// loader fetches an index tree within the bounds.
type loader struct {
	f       Fetcher
	t       *indexTree
	entries int
	fetches int
}

func loadTree(ctx context.Context, raw []byte, f Fetcher) (*indexTree, error) {
	l := &loader{f: f, t: &indexTree{nested: map[digest.Digest]*indexNode{}}}
	top, err := l.node(ctx, raw, 0)
	if err != nil {
		return nil, err
	}
	l.t.top = top
	return l.t, nil
}

// node parses one index, loads its nested indexes and what containerd reads
// of its first entry without a platform.
func (l *loader) node(ctx context.Context, raw []byte, depth int) (*indexNode, error) {
	children, err := Children(raw)
	if err != nil {
		return nil, err
	}
	if l.entries += len(children); l.entries > maxSelectEntries {
		return nil, fmt.Errorf("%w: the image index and its nested indexes list more than %d entries", ErrTooLarge, maxSelectEntries)
	}
	n := &indexNode{children: children}
	first := true
	for _, c := range children {
		d := c.Descriptor
		if err := d.Digest.Validate(); err != nil {
			return nil, fmt.Errorf("%w: entry %q has an invalid digest: %w", ErrBadManifest, d.Digest, err)
		}
		if d.MediaType == "" {
			return nil, fmt.Errorf("%w: entry %s has no mediaType, which the OCI spec requires: containerd refuses it and go-containerregistry reads it as an image", ErrAmbiguousIndex, c)
		}
		if d.Platform == nil && first {
			first = false
			if IsManifestMediaType(d.MediaType) {
				if err := l.noPlatform(ctx, n, d); err != nil {
					return nil, err
				}
			}
		}
		if c.Kind != KindIndex || l.t.nested[d.Digest] != nil {
			continue
		}
		if depth+1 > maxIndexDepth {
			return nil, fmt.Errorf("%w: image indexes nested more than %d deep", ErrTooLarge, maxIndexDepth)
		}
		b, err := l.fetch(ctx, d, l.f.Manifest)
		if errors.Is(err, ErrMissingBlob) {
			l.t.nested[d.Digest] = &indexNode{absent: true}
			continue
		}
		if err != nil {
			return nil, err
		}
		child, err := l.node(ctx, b, depth+1)
		if err != nil {
			return nil, fmt.Errorf("nested index %s: %w", d.Digest, err)
		}
		l.t.nested[d.Digest] = child
	}
	return n, nil
}

// noPlatform reads what containerd reads for an image manifest entry
// without a platform (core/images.Manifest): the manifest, which must not
// read as an index (validateMediaType), and the platform its config names
// (ConfigPlatform).
func (l *loader) noPlatform(ctx context.Context, n *indexNode, d ocispec.Descriptor) error {
	b, err := l.fetch(ctx, d, l.f.Manifest)
	if errors.Is(err, ErrMissingBlob) {
		n.noPlatErr = "its manifest is not there"
		return nil
	}
	if err != nil {
		return err
	}
	var m struct {
		MediaType string             `json:"mediaType"`
		Manifests json.RawMessage    `json:"manifests"`
		Config    ocispec.Descriptor `json:"config"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		n.noPlatErr = "its manifest is not JSON"
		return nil
	}
	if len(m.Manifests) > 0 || IsIndexMediaType(m.MediaType) {
		n.noPlatErr = "its manifest reads as an index"
		return nil
	}
	if m.Config.Digest.Validate() != nil {
		n.noPlatErr = "its manifest has no valid config digest"
		return nil
	}
	cb, err := l.fetch(ctx, m.Config, l.f.Blob)
	if errors.Is(err, ErrMissingBlob) {
		n.noPlatErr = "its config is not there"
		return nil
	}
	if err != nil {
		return err
	}
	var p ocispec.Platform
	if err := json.Unmarshal(cb, &p); err != nil {
		n.noPlatErr = "its config is not JSON"
		return nil
	}
	emptyOS := p.OS == ""
	if p = normalizeSpec(p); emptyOS {
		p.OS = ""
	}
	n.noPlatform = &p
	return nil
}

// fetch reads what d names through get, within the bounds, and checks it.
func (l *loader) fetch(ctx context.Context, d ocispec.Descriptor, get func(context.Context, ocispec.Descriptor) ([]byte, error)) ([]byte, error) {
	if l.fetches++; l.fetches > maxSelectFetches {
		return nil, fmt.Errorf("%w: the image index leads to more than %d nested indexes and manifests to read", ErrTooLarge, maxSelectFetches)
	}
	if d.Size < 0 || d.Size > maxSelectBlob {
		return nil, fmt.Errorf("%w: %s is %d bytes, more than the %d an index entry may be", ErrTooLarge, d.Digest, d.Size, maxSelectBlob)
	}
	b, err := get(ctx, d)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", d.Digest, err)
	}
	if int64(len(b)) != d.Size || d.Digest.Validate() != nil || d.Digest.Algorithm().FromBytes(b) != d.Digest {
		return nil, fmt.Errorf("%w: %s: read %d bytes that do not match the descriptor (size %d)", ErrDigestMismatch, d.Digest, len(b), d.Size)
	}
	return b, nil
}
