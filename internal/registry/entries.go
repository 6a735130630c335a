package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-attest/oci-attest/internal/oci"
)

// entry is a selectable entry of a registry index, matched to the images
// the archive holds.
type entry struct {
	sel oci.Selected
	// desc is the entry's manifest as the registry serves it.
	desc ocispec.Descriptor
	// images are the held images the manifest is (config and layers: one,
	// or several equal ones); none when it is another image.
	images []*oci.Image
	layers LayerCheck
	// why says why it is no held image.
	why string
}

// String names the entry for errors: the entry, who reads it, and why it
// is no image of the archive when it is not.
func (e *entry) String() string {
	s := fmt.Sprintf("%s, read by %s", e.sel.Child, byList(e.sel.By))
	if len(e.sel.Path) > 0 {
		s += fmt.Sprintf(" through nested index %s", e.sel.Path[len(e.sel.Path)-1].Descriptor.Digest)
	}
	if e.why != "" {
		s += ": " + e.why
	}
	return s
}

// byList names who reads an entry: the first three, and how many more.
func byList(by []string) string {
	if len(by) <= 3 {
		return strings.Join(by, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(by[:3], ", "), len(by)-3)
}

// matchAll matches every selectable entry of sel to the held images.
func (b *binding) matchAll(ctx context.Context, sel *oci.Selection) ([]*entry, error) {
	out := make([]*entry, 0, len(sel.Selectable))
	for _, s := range sel.Selectable {
		e, err := b.match(ctx, s)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// match fetches the manifest of the selectable entry s and finds the held
// images it is: the same config, and layers that are the image's
// (SameLayers). An entry with a held image's config over other layers is
// an error wrapping ErrBinding: it claims the archive's image ID and runs
// other files.
func (b *binding) match(ctx context.Context, s oci.Selected) (*entry, error) {
	e := &entry{sel: s}
	m, err := b.rp.getManifest(ctx, s.Descriptor.Digest.String())
	if err != nil {
		return nil, b.fail(fmt.Errorf("entry %s: %w", s.Child, err))
	}
	e.desc = m.Desc
	cfg, err := configDigest(m.Raw)
	if err != nil {
		e.why = err.Error()
		return e, nil
	}
	var refused error
	for _, img := range b.held {
		switch {
		case img.ImageID != cfg:
			continue
		case len(e.images) > 0:
			// The same config and diffIDs are the same image: the layers
			// decompress to them.
			if slices.Equal(img.DiffIDs, e.images[0].DiffIDs) {
				e.images = append(e.images, img)
			}
			continue
		}
		check, err := b.rp.sameLayers(ctx, m.Raw, img)
		switch {
		case errors.Is(err, ErrBinding):
			refused = err
		case err != nil:
			return nil, b.fail(fmt.Errorf("entry %s: %w", s.Child, err))
		default:
			e.images, e.layers = []*oci.Image{img}, check
		}
	}
	if len(e.images) == 0 && refused != nil {
		return nil, fmt.Errorf("%s: entry %s: %w", b.at(), e, refused)
	}
	if err := b.samePlatform(e); err != nil {
		return nil, err
	}
	if len(e.images) == 0 {
		e.why = fmt.Sprintf("config %s is no image of the archive", cfg)
		if img := b.sameStoredLayers(m.Raw); img != nil {
			e.why += fmt.Sprintf(", though its layers are the archive's %s image's (image ID %s): the archive holds that image with another config (skopeo copy to oci-archive: rewrites a Docker image's config as OCI); save the archive from the registry's bytes (crane pull --format=oci, regctl image export, docker save), or push the archive's own image",
				imagePlatform(img), img.ImageID)
		}
	}
	return e, nil
}

// sameStoredLayers returns a held image whose layers, as the archive
// stores them, are the manifest raw's layer blobs, in order: the same
// image with a rewritten config, which an error should say. Nil when none.
func (b *binding) sameStoredLayers(raw []byte) *oci.Image {
	var m ocispec.Manifest
	if json.Unmarshal(raw, &m) != nil || len(m.Layers) == 0 {
		return nil
	}
	for _, img := range b.held {
		if slices.EqualFunc(img.Layers, m.Layers, func(l oci.Layer, d ocispec.Descriptor) bool { return l.Digest == d.Digest }) {
			return img
		}
	}
	return nil
}

// samePlatform keeps the images e is that the index lists under their own
// platform: the entry's platform (its config's when it names none) and
// the archive image's, both normalised as containerd normalises them
// (Platform.Matches); an image whose config names no platform (neither
// OS nor architecture) says nothing to compare and is kept. An entry that
// is an archive image listed under another platform is an error wrapping
// ErrBinding: nodes of the listed platform would run it.
func (b *binding) samePlatform(e *entry) error {
	if len(e.images) == 0 {
		return nil
	}
	listed := oci.PlatformOf(e.sel.Descriptor)
	if listed.String() == "" {
		listed = e.images[0].ConfigPlatform()
	}
	var same []*oci.Image
	for _, img := range e.images {
		if listedAs(listed, img) {
			same = append(same, img)
		}
	}
	if len(same) == 0 {
		img := e.images[0]
		return fmt.Errorf("%s: entry %s: %w: it is the archive's %s image (image ID %s) listed as %s: nodes of %s would run it; list each image under its own platform",
			b.at(), e.sel.Child, ErrBinding, imagePlatform(img), img.ImageID, listed, listed)
	}
	e.images = same
	return nil
}

// listedAs reports whether an index may list the archive image img under
// the platform listed. An image whose platform comes from a config that
// names no variant (Docker before 20.10 and Jib write os and architecture
// only) is compared by OS and architecture alone: containerd's Normalize
// would read a bare "arm" as arm/v7, and an honest arm/v6 or arm/v5 image
// listed as such would be refused.
func listedAs(listed oci.Platform, img *oci.Image) bool {
	p := imagePlatform(img)
	switch {
	case p.String() == "":
		return true
	case img.Platform.String() == "" && p.Variant == "":
		l, q := listed.Normalize(), p.Normalize()
		return l.OS == q.OS && l.Architecture == q.Architecture
	}
	return listed.Matches(p)
}

// imagePlatform is img's platform: the archive's index descriptor's, else
// its config's.
func imagePlatform(img *oci.Image) oci.Platform {
	if img.Platform.String() != "" {
		return img.Platform
	}
	return img.ConfigPlatform()
}

// entryFor is the selectable entry attested image img binds to: one that
// is img and that a resolver reads for img's platform, else the first that
// is img; nil when none is.
func entryFor(entries []*entry, sel *oci.Selection, img *oci.Image) *entry {
	is := func(e *entry) bool { return slices.Contains(e.images, img) }
	if img.Platform.String() != "" {
		for _, p := range sel.Resolve(img.Platform) {
			c, ok := p.Entry()
			if !ok {
				continue
			}
			for _, e := range entries {
				if e.sel.Descriptor.Digest == c.Descriptor.Digest && is(e) {
					return e
				}
			}
		}
	}
	for _, e := range entries {
		if is(e) {
			return e
		}
	}
	return nil
}
