package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-attest/oci-attest/internal/oci"
	"github.com/oci-attest/oci-attest/internal/ref"
	"github.com/oci-attest/oci-attest/internal/registry"
)

// annotationContainerdName is the full image name containerd's import (and
// docker's with the containerd store) gives an index.json manifest.
const annotationContainerdName = "io.containerd.image.name"

// carrier gathers the OCI archive Options.CarryPath names (ARCHITECTURE.md,
// "Across an air gap"): every attested registry subject as the registry
// holds it — its manifests byte for byte, and its configs and layers, read
// from the attested archive where it holds the same digest, else downloaded
// — and the referrers this run attached, listed in index.json (as oras cp
// -r --to-oci-layout does) and in a referrers index named sha256-<hex> (as
// regctl image copy --referrers does).
type carrier struct {
	r      *run
	layout oci.Layout
	// referrers are the referrer descriptors of each subject, in order.
	referrers map[digest.Digest][]ocispec.Descriptor
	referred  []digest.Digest // the keys of referrers, in order
	subjects  []digest.Digest
	count     int  // referrers carried
	index     bool // a subject is an image index: no manifest.json
}

// carry writes Options.CarryPath after the referrers are attached; nothing
// without it, or when no unit was attached.
func (r *run) carry(ctx context.Context, res *Result) error {
	path := r.opts.CarryPath
	if path == "" {
		return nil
	}
	c := &carrier{r: r, referrers: map[digest.Digest][]ocispec.Descriptor{}}
	names := carryNames(res)
	for _, b := range res.Plan.Bindings {
		units := res.of(b)
		if units[0].Subject == nil || units[0].Attached == nil {
			continue
		}
		if err := c.subject(ctx, b, units, names[units[0].Subject.Descriptor.Digest]); err != nil {
			return &FieldError{Field: "CarryPath", Err: fmt.Errorf("writing the OCI archive %s: %w", path, err)}
		}
	}
	if len(c.subjects) == 0 {
		return nil
	}
	c.referrersIndexes()
	if c.index {
		c.layout.Docker = nil
	}
	if err := oci.WriteArchive(ctx, path, c.layout); err != nil {
		return &FieldError{Field: "CarryPath", Err: err}
	}
	if err := r.files.handBack(path); err != nil {
		return &FieldError{Field: "CarryPath", Err: err}
	}
	res.Carried = path
	r.rep.Infof("wrote OCI archive %s: %d image(s) as pushed and %d referrer(s)", path, len(c.subjects), c.count)
	return nil
}

// checkCarry refuses a CarryPath that is one of the attested archives: the
// OCI archive is written beside them, never over one.
func checkCarry(p *Plan, path string) error {
	if path == "" {
		return nil
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil // a new file
	}
	for _, b := range p.Bindings {
		if ai, err := os.Stat(b.Archive.Path); err == nil && os.SameFile(fi, ai) {
			return usage("CarryPath", "%s is the attested archive: write the OCI archive beside it, under another name", path)
		}
	}
	return nil
}

// carryNames names each bound subject in the written archive: containerd's
// full name, and the tag alone as docker save writes ref.name — unless two
// subjects share the tag, which then names each by its full name.
func carryNames(res *Result) map[digest.Digest]map[string]string {
	tags := map[string]map[digest.Digest]bool{}
	full := map[digest.Digest]ref.Reference{}
	for _, u := range res.Units {
		if u.Subject == nil || u.Target.Tag == "" {
			continue
		}
		d := u.Subject.Descriptor.Digest
		if _, ok := full[d]; ok {
			continue
		}
		full[d] = u.Target
		if tags[u.Target.Tag] == nil {
			tags[u.Target.Tag] = map[digest.Digest]bool{}
		}
		tags[u.Target.Tag][d] = true
	}
	out := map[digest.Digest]map[string]string{}
	for d, t := range full {
		name := t.Name() + ":" + t.Tag
		short := t.Tag
		if len(tags[t.Tag]) > 1 {
			short = name
		}
		out[d] = map[string]string{annotationContainerdName: name, ocispec.AnnotationRefName: short}
	}
	return out
}

// subject adds one binding's subject, its manifests and blobs, and the
// referrers attached to it and to its platform manifests.
func (c *carrier) subject(ctx context.Context, b *Binding, units []*UnitResult, names map[string]string) error {
	s := units[0].Subject
	// A second binding of the same subject (the image attested under
	// another name) adds its referrers only: the subject is carried, under
	// the first name (carryNames).
	if !slices.Contains(c.subjects, s.Descriptor.Digest) {
		c.subjects = append(c.subjects, s.Descriptor.Digest)
		top := s.Descriptor
		top.Annotations = names
		if err := c.manifest(ctx, b.Archive, s.Repository, top, 0, true); err != nil {
			return err
		}
		c.layout.Manifests = append(c.layout.Manifests, top)
	}
	for _, u := range units {
		for _, a := range []*registry.AttachResult{u.Attached, u.AttachedImage} {
			if a == nil || slices.ContainsFunc(c.layout.Manifests, func(d ocispec.Descriptor) bool { return d.Digest == a.Artifact.Digest }) {
				continue
			}
			if err := c.manifest(ctx, b.Archive, s.Repository, a.Artifact, 0, false); err != nil {
				return err
			}
			c.layout.Manifests = append(c.layout.Manifests, a.Artifact)
			of := u.Subject.Descriptor.Digest
			if a == u.AttachedImage {
				of = u.Subject.Image.Digest
			}
			if c.referrers[of] == nil {
				c.referred = append(c.referred, of)
			}
			c.referrers[of] = append(c.referrers[of], a.Artifact)
			c.count++
		}
	}
	return nil
}

// maxDepth bounds nested image indexes (an index of indexes of manifests).
const maxDepth = 4

// manifest adds the manifest d of repository as the registry serves it, and
// every blob and manifest it leads to; an attested image manifest (image)
// gets its manifest.json entry.
func (c *carrier) manifest(ctx context.Context, a *oci.Archive, repository ref.Reference, d ocispec.Descriptor, depth int, image bool) error {
	if depth > maxDepth {
		return fmt.Errorf("manifest %s: image indexes nested deeper than %d", d.Digest, maxDepth)
	}
	raw, got, err := c.r.client.FetchManifest(ctx, repository, d.Digest.String())
	if err != nil {
		return err
	}
	if got.Size != d.Size {
		return fmt.Errorf("manifest %s: the registry served %d bytes, the descriptor says %d", d.Digest, got.Size, d.Size)
	}
	var m struct {
		Manifests []ocispec.Descriptor `json:"manifests"`
		Config    *ocispec.Descriptor  `json:"config"`
		Layers    []ocispec.Descriptor `json:"layers"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return fmt.Errorf("manifest %s: %w", d.Digest, err)
	}
	c.layout.Blobs = append(c.layout.Blobs, oci.LayoutBlob{Descriptor: got, Data: raw})
	if len(m.Manifests) > 0 {
		c.index = true
	}
	for _, child := range m.Manifests {
		if err := c.manifest(ctx, a, repository, child, depth+1, false); err != nil {
			return err
		}
	}
	if m.Config == nil {
		return nil
	}
	entry := oci.ManifestEntry{Config: blobName(m.Config.Digest)}
	if n := d.Annotations[annotationContainerdName]; n != "" {
		entry.RepoTags = []string{n}
	}
	for _, l := range append([]ocispec.Descriptor{*m.Config}, m.Layers...) {
		if len(l.URLs) > 0 {
			continue // a foreign layer: registries hold no copy, loaders fetch it from its URLs
		}
		c.layout.Blobs = append(c.layout.Blobs, c.blob(a, repository, l))
		if l.Digest != m.Config.Digest {
			entry.Layers = append(entry.Layers, blobName(l.Digest))
		}
	}
	if image {
		c.layout.Docker = append(c.layout.Docker, entry)
	}
	return nil
}

// blob is a config or layer: read from the attested archive when it holds
// that digest (the same bytes: no download), else from the registry (a layer
// another tool pushed re-compressed).
func (c *carrier) blob(a *oci.Archive, repository ref.Reference, d ocispec.Descriptor) oci.LayoutBlob {
	return oci.LayoutBlob{Descriptor: d, Open: func(ctx context.Context) (io.ReadCloser, error) {
		rc, _, err := a.OpenBlob(d.Digest)
		if err == nil || !errors.Is(err, oci.ErrMissingBlob) {
			return rc, err
		}
		return c.r.client.OpenBlob(ctx, repository, d)
	}}
}

// referrersIndexes adds one referrers index per subject, named by the
// fallback tag's sha256-<hex>.
func (c *carrier) referrersIndexes() {
	for _, d := range c.referred {
		refs := c.referrers[d]
		idx := ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex, Manifests: refs}
		raw, err := json.Marshal(idx)
		if err != nil {
			continue // descriptors always marshal
		}
		desc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageIndex, Digest: digest.FromBytes(raw), Size: int64(len(raw)),
			Annotations: map[string]string{ocispec.AnnotationRefName: d.Algorithm().String() + "-" + d.Encoded()}}
		c.layout.Blobs = append(c.layout.Blobs, oci.LayoutBlob{Descriptor: desc, Data: raw})
		c.layout.Manifests = append(c.layout.Manifests, desc)
	}
}

// blobName is a blob's path in an OCI layout (manifest.json's Config and
// Layers of the written archive).
func blobName(d digest.Digest) string { return "blobs/" + d.Algorithm().String() + "/" + d.Encoded() }
