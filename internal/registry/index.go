package registry

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"oras.land/oras-go/v2/registry/remote/auth"

	"github.com/oci-attest/oci-attest/internal/oci"
	"github.com/oci-attest/oci-attest/internal/ref"
)

// Binding (ARCHITECTURE.md, "Registry: resolve, bind, push" and
// "Multi-platform and multi-image"): the registry image is the archive's
// only if every entry a runtime reads from it is an image of the archive,
// config and layers (pushing it is push.go's).

// ImageSubject is the subject of s's image manifest itself — the platform
// manifest a node pulls, when s is an index — or s when they are one.
func (s *Subject) ImageSubject() *Subject {
	if s.Image.Digest == "" || s.Image.Digest == s.Descriptor.Digest {
		return s
	}
	return &Subject{Repository: s.Repository, Descriptor: s.Image, Image: s.Image, Layers: s.Layers}
}

// ResolveIndex resolves r — its digest when it has one, else its tag — and
// binds it to imgs: the attested images of one archive image index (its
// selected platforms), or a single image. held are every image the archive
// holds of that index, imgs among them (nil: imgs). It returns one Subject
// per image, in order, each with the registry's Descriptor and the Image
// manifest that is the image.
//
// An image manifest binds a single image: its config digest is the image
// ID and its layers are the image's (SameLayers). An index is read as the
// runtimes read it (oci.Selectable: every entry containerd or
// go-containerregistry reads for some platform, nested indexes included),
// and each selectable entry is matched to the held images by config and
// layers. When every one is an image of the archive, each attested image
// binds to the index and an entry that is it. When some are not and the
// archive holds only part of the index — a single image saved from it, or
// an index whose other platforms it lacks (oci.Index.LackCount) — each
// attested image binds to its entry alone and the index is no subject
// (Subject.Partial). Errors wrapping ErrBinding name the entry: an attested
// image no selectable entry is, a selectable entry with an archive image's
// config over other layers, a selectable entry that is no image of a
// complete archive, an index runtimes would read two ways. A manifest the
// registry does not have wraps ErrNotFound. Nothing is pushed.
func (c *Client) ResolveIndex(ctx context.Context, r ref.Reference, imgs, held []*oci.Image) ([]*Subject, error) {
	if len(imgs) == 0 {
		return nil, fmt.Errorf("resolving %s: no image to bind", r)
	}
	for _, img := range imgs {
		if err := img.ImageID.Validate(); err != nil {
			return nil, fmt.Errorf("resolving %s: invalid image ID %q: %w", r, img.ImageID, err)
		}
	}
	if held == nil {
		held = imgs
	}
	ctx, rp := c.repository(ctx, r, auth.ActionPull)
	reference := r.Oras().Reference
	if reference == "" {
		return nil, fmt.Errorf("resolving %s: %w", r, ErrNoReference)
	}
	top, err := rp.getManifest(ctx, reference)
	if err != nil {
		return nil, fmt.Errorf("resolving subject %s: %w", describeRef(rp, r.Tag, r.Digest), err)
	}
	b := &binding{rp: rp, r: r, top: top, held: held}
	switch mt := top.Desc.MediaType; {
	case oci.IsManifestMediaType(mt):
		return b.image(ctx, imgs)
	case oci.IsIndexMediaType(mt):
		return b.index(ctx, imgs)
	}
	return nil, b.fail(fmt.Errorf("unsupported manifest media type %q", top.Desc.MediaType))
}

// binding is what a reference names in the registry (top), being bound to
// attested images of the archive, which holds held.
type binding struct {
	rp   repo
	r    ref.Reference
	top  *fetched
	held []*oci.Image
}

// subject is the Subject of top, bound through its image manifest e.
func (b *binding) subject(e *entry) *Subject {
	return &Subject{Repository: b.r.Repo(), Tag: b.r.Tag, Descriptor: b.top.Desc, Image: e.desc, Layers: e.layers}
}

// fail is err reading top (no mismatch: those wrap ErrBinding).
func (b *binding) fail(err error) error {
	return fmt.Errorf("resolving subject %s: %w", describeRef(b.rp, b.r.Tag, b.top.Desc.Digest), err)
}

// at names top for binding errors.
func (b *binding) at() string {
	if oci.IsIndexMediaType(b.top.Desc.MediaType) {
		return fmt.Sprintf("index %s (%s)", b.top.Desc.Digest, describeRef(b.rp, b.r.Tag, ""))
	}
	return fmt.Sprintf("manifest %s (%s)", b.top.Desc.Digest, describeRef(b.rp, b.r.Tag, ""))
}

// image binds top, an image manifest, to one image: its config and layers.
func (b *binding) image(ctx context.Context, imgs []*oci.Image) ([]*Subject, error) {
	if len(imgs) > 1 {
		return nil, fmt.Errorf("%w: %s is an image manifest, not an index, but %d platforms of the archive's index are attested (%s)",
			ErrBinding, b.at(), len(imgs), platformList(imgs))
	}
	check, err := b.rp.sameLayers(ctx, b.top.Raw, imgs[0])
	if err != nil {
		return nil, b.fail(err)
	}
	return []*Subject{b.subject(&entry{desc: b.top.Desc, layers: check})}, nil
}

// index binds top, an image index: each attested image to a selectable
// entry that is it; the index too when every selectable entry is an image
// of the archive.
func (b *binding) index(ctx context.Context, imgs []*oci.Image) ([]*Subject, error) {
	sel, err := oci.Selectable(ctx, b.top.Raw, indexFetcher{b.rp})
	switch {
	case errors.Is(err, oci.ErrAmbiguousIndex):
		return nil, fmt.Errorf("%w: %s: %w", ErrBinding, b.at(), err)
	case err != nil:
		return nil, b.fail(err)
	}
	entries, err := b.matchAll(ctx, sel)
	if err != nil {
		return nil, err
	}
	out := make([]*Subject, len(imgs))
	var missing []*oci.Image
	for i, img := range imgs {
		e := entryFor(entries, sel, img)
		if e == nil {
			missing = append(missing, img)
			continue
		}
		out[i] = b.subject(e)
	}
	if len(missing) > 0 {
		return nil, b.unselected(sel, entries, missing)
	}
	var others []*entry
	for _, e := range entries {
		if len(e.images) == 0 {
			others = append(others, e)
		}
	}
	switch {
	case len(others) == 0:
		return out, nil
	case !partialArchive(imgs):
		return nil, b.another(imgs[0].ImageIndex, others)
	}
	for _, s := range out {
		s.Descriptor, s.Tag = s.Image, ""
		s.Partial = &PartialIndex{Index: b.top.Desc, Tag: b.r.Tag, OtherCount: len(others)}
		for _, e := range others[:min(maxNamed, len(others))] {
			s.Partial.Others = append(s.Partial.Others, e.sel.Child)
		}
	}
	return out, nil
}

// partialArchive reports whether the archive holds only part of what the
// registry's index may hold: a single image (no index of its own), or an
// index whose other platforms it lacks (docker save with the containerd
// store lists platforms it did not save).
func partialArchive(imgs []*oci.Image) bool {
	ix := imgs[0].ImageIndex
	return ix == nil || ix.LackCount > 0
}

// maxNamed bounds the entries an error or a PartialIndex names.
const maxNamed = 4

// unselected is the error for attested images that no selectable entry
// is: it says what the runtimes read instead.
func (b *binding) unselected(sel *oci.Selection, entries []*entry, missing []*oci.Image) error {
	var what, reads []string
	for _, img := range missing {
		what = append(what, fmt.Sprintf("%s (image ID %s)", platformName(img), img.ImageID))
		if img.Platform.String() != "" {
			reads = append(reads, describePicks(img.Platform, sel.Resolve(img.Platform)))
		}
	}
	var have []string
	for _, e := range entries {
		have = append(have, e.String())
	}
	if len(have) == 0 {
		have = []string{"(none)"}
	}
	msg := fmt.Sprintf("%s has no entry that runtimes select and that is the attested %s", b.at(), strings.Join(what, ", "))
	if len(reads) > 0 {
		msg += "; " + strings.Join(reads, "; ")
	}
	return fmt.Errorf("%w: %s; the entries runtimes select are %s", ErrBinding, msg, strings.Join(have, ", "))
}

// another is the error for a complete archive whose registry index has
// selectable entries that are no image of it.
func (b *binding) another(ix *oci.Index, others []*entry) error {
	var names []string
	for _, e := range others[:min(maxNamed, len(others))] {
		names = append(names, e.String())
	}
	if more := len(others) - len(names); more > 0 {
		names = append(names, fmt.Sprintf("and %d more", more))
	}
	return fmt.Errorf("%w: %s holds %s, which runtimes select and which the archive's index %s does not hold: the registry's index is another one",
		ErrBinding, b.at(), strings.Join(names, ", "), ix.Digest)
}

// describePicks says what each resolver reads for platform p.
func describePicks(p oci.Platform, picks []oci.Pick) string {
	var s []string
	for _, pk := range picks {
		said := fmt.Sprintf("%s reads nothing (%s)", pk.Resolver, pk.Reason)
		if c, ok := pk.Entry(); ok {
			said = fmt.Sprintf("%s reads %s", pk.Resolver, c)
		}
		// Resolve asks for the platform as spelt and as normalised: a
		// resolver reading the same entry for both is said once.
		if !slices.Contains(s, said) {
			s = append(s, said)
		}
	}
	return fmt.Sprintf("for %s %s", p, strings.Join(s, ", "))
}

// platformName names an archive image for errors: its platform, else its
// image ID.
func platformName(img *oci.Image) string {
	if p := img.Platform.String(); p != "" {
		return "platform " + p
	}
	return "image " + img.ImageID.String()
}

func platformList(imgs []*oci.Image) string {
	var s []string
	for _, img := range imgs {
		s = append(s, platformName(img))
	}
	return strings.Join(s, ", ")
}
