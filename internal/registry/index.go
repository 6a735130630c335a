package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/registry/remote/auth"

	"github.com/oci-attest/oci-attest/internal/oci"
	"github.com/oci-attest/oci-attest/internal/ref"
)

// Multi-platform images (ARCHITECTURE.md, "Multi-platform and
// multi-image"): binding every attested platform of an archive's image
// index to the registry's index (pushing it is push.go's).

// ImageSubject is the subject of s's image manifest itself — the platform
// manifest a node pulls, when s is an index — or s when they are one.
func (s *Subject) ImageSubject() *Subject {
	if s.Image.Digest == "" || s.Image.Digest == s.Descriptor.Digest {
		return s
	}
	return &Subject{Repository: s.Repository, Descriptor: s.Image, Image: s.Image}
}

// ResolveIndex resolves r — its digest when it has one, else its tag — and
// binds it to imgs: the attested images of one archive image index (its
// platforms), or a single image. It returns one Subject per image, in order,
// each with the registry's Descriptor and the Image child bound to it.
//
// An image manifest binds a single image whose ID is its config digest. An
// index binds when, for every image of imgs, one of its image children has
// the image ID as config digest and, for images from an archive index
// (oci.Image.ImageIndex), every image child of the registry's index is one
// that the archive's index lists too (by manifest digest or platform).
// buildx attestation manifests, artifacts and nested indexes are not
// platforms and are not compared. A platform missing on either side is an
// error wrapping ErrBinding that names it; a manifest the registry does not
// have wraps ErrNotFound. Nothing is pushed.
func (c *Client) ResolveIndex(ctx context.Context, r ref.Reference, imgs []*oci.Image) ([]*Subject, error) {
	if len(imgs) == 0 {
		return nil, fmt.Errorf("resolving %s: no image to bind", r)
	}
	for _, img := range imgs {
		if err := img.ImageID.Validate(); err != nil {
			return nil, fmt.Errorf("resolving %s: invalid image ID %q: %w", r, img.ImageID, err)
		}
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
	b := &binding{rp: rp, r: r, top: top}
	switch top.Desc.MediaType {
	case ocispec.MediaTypeImageManifest, oci.MediaTypeDockerManifest:
		return b.image(imgs)
	case ocispec.MediaTypeImageIndex, oci.MediaTypeDockerManifestList:
		return b.index(ctx, imgs)
	}
	return nil, b.fail(fmt.Errorf("unsupported manifest media type %q", top.Desc.MediaType))
}

// binding is what a reference names in the registry (top), being bound to
// attested images.
type binding struct {
	rp  repo
	r   ref.Reference
	top *fetched
}

// subject is the Subject of top, bound through its image manifest image.
func (b *binding) subject(image ocispec.Descriptor) *Subject {
	return &Subject{Repository: b.r.Repo(), Tag: b.r.Tag, Descriptor: b.top.Desc, Image: image}
}

// fail is err reading top (no mismatch: those wrap ErrBinding).
func (b *binding) fail(err error) error {
	return fmt.Errorf("resolving subject %s: %w", describeRef(b.rp, b.r.Tag, b.top.Desc.Digest), err)
}

// image binds top, an image manifest: to one image, its config's.
func (b *binding) image(imgs []*oci.Image) ([]*Subject, error) {
	cfg, err := configDigest(b.top.Raw)
	if err != nil {
		return nil, b.fail(err)
	}
	if len(imgs) > 1 {
		return nil, fmt.Errorf("%w: %s is image manifest %s, not an index, but %d platforms of the archive's index are attested (%s)",
			ErrBinding, describeRef(b.rp, b.r.Tag, ""), b.top.Desc.Digest, len(imgs), platformList(imgs))
	}
	if cfg != imgs[0].ImageID {
		return nil, fmt.Errorf("%w: %s is manifest %s with config %s, but the attested image ID is %s",
			ErrBinding, describeRef(b.rp, b.r.Tag, ""), b.top.Desc.Digest, cfg, imgs[0].ImageID)
	}
	return []*Subject{b.subject(b.top.Desc)}, nil
}

// index binds top, an image index: each image to the image child with its
// config, every image child to the archive's index.
func (b *binding) index(ctx context.Context, imgs []*oci.Image) ([]*Subject, error) {
	children, err := indexImages(ctx, b.rp, b.top.Raw)
	if err != nil {
		return nil, b.fail(err)
	}
	out := make([]*Subject, len(imgs))
	matched := map[digest.Digest]bool{}
	var missing []string
	for i, img := range imgs {
		for _, ch := range children {
			if ch.config == img.ImageID {
				out[i] = b.subject(ch.desc)
				matched[ch.desc.Digest] = true
				break
			}
		}
		switch {
		case out[i] != nil:
		case img.Platform.String() != "":
			missing = append(missing, fmt.Sprintf("platform %s (image ID %s)", img.Platform, img.ImageID))
		default:
			missing = append(missing, "image ID "+img.ImageID.String())
		}
	}
	if len(missing) > 0 {
		var have []string
		for _, ch := range children {
			have = append(have, ch.String())
		}
		if len(have) == 0 {
			have = []string{"(none)"}
		}
		return nil, fmt.Errorf("%w: %s has no image with the config of the attested %s; its images are %s",
			ErrBinding, b.at(), strings.Join(missing, ", "), strings.Join(have, ", "))
	}
	if ix := imgs[0].ImageIndex; ix != nil {
		if err := b.checkListed(ix, children, matched); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// checkListed checks that the archive's index ix lists every image child
// of top that no attested image matched.
func (b *binding) checkListed(ix *oci.Index, children []indexChild, matched map[digest.Digest]bool) error {
	listed, err := listedChildren(ix.Raw)
	if err != nil {
		return b.fail(fmt.Errorf("the archive's index %s: %w", ix.Digest, err))
	}
	for _, ch := range children {
		if matched[ch.desc.Digest] || listed.has(ch) {
			continue
		}
		return fmt.Errorf("%w: %s holds %s, which the archive's index %s does not list: the registry's index is another one",
			ErrBinding, b.at(), ch, ix.Digest)
	}
	return nil
}

// at names top, an index, for binding errors.
func (b *binding) at() string {
	return fmt.Sprintf("index %s (%s)", b.top.Desc.Digest, describeRef(b.rp, b.r.Tag, ""))
}

// maxIndexImages bounds the image children of a registry index that binding
// fetches (one request each). Real multi-platform images list a handful.
const maxIndexImages = 256

// indexChild is an image child of a registry index.
type indexChild struct {
	desc     ocispec.Descriptor // as the registry serves it
	platform oci.Platform       // as the index's entry names it
	config   digest.Digest
}

func (ch indexChild) String() string {
	if p := ch.platform.String(); p != "" {
		return fmt.Sprintf("%s (image %s, config %s)", p, ch.desc.Digest, ch.config)
	}
	return fmt.Sprintf("image %s (no platform, config %s)", ch.desc.Digest, ch.config)
}

// indexImages fetches the image children of an index (raw): entries whose
// media type is an image manifest, that are no artifact and no buildx
// attestation manifest.
func indexImages(ctx context.Context, rp repo, raw []byte) ([]indexChild, error) {
	var idx ocispec.Index
	if err := json.Unmarshal(raw, &idx); err != nil {
		return nil, fmt.Errorf("parsing index: %w", err)
	}
	// Each image child is one request: a hostile index of 20,000 children
	// would hold the run for as many round trips. Counted before any.
	images := 0
	for _, m := range idx.Manifests {
		if m.MediaType == ocispec.MediaTypeImageManifest || m.MediaType == oci.MediaTypeDockerManifest {
			images++
		}
	}
	if images > maxIndexImages {
		return nil, fmt.Errorf("the index lists %d image manifests, more than the %d a binding fetches (README \"Limits\")", images, maxIndexImages)
	}
	var out []indexChild
	for _, m := range idx.Manifests {
		if m.MediaType != ocispec.MediaTypeImageManifest && m.MediaType != oci.MediaTypeDockerManifest {
			continue // nested indexes and non-image entries are not images
		}
		if !imageArtifactType(m.ArtifactType) || oci.IsAttestationManifest(m) {
			continue // an artifact (SBOM, signature) or a buildx attestation listed in the index
		}
		if err := m.Digest.Validate(); err != nil {
			return nil, fmt.Errorf("the index lists an image with an invalid digest %q: %w", m.Digest, err)
		}
		child, err := rp.getManifest(ctx, m.Digest.String())
		if err != nil {
			return nil, err
		}
		cfg, err := configDigest(child.Raw)
		if err != nil {
			return nil, fmt.Errorf("child %s: %w", m.Digest, err)
		}
		out = append(out, indexChild{desc: child.Desc, platform: oci.PlatformOf(m), config: cfg})
	}
	return out, nil
}

// listed is what an archive's index lists: manifest digests and platforms.
type listed struct {
	digests   map[digest.Digest]bool
	platforms map[string]bool
}

func listedChildren(raw []byte) (listed, error) {
	var idx ocispec.Index
	if err := json.Unmarshal(raw, &idx); err != nil {
		return listed{}, fmt.Errorf("parsing index: %w", err)
	}
	l := listed{digests: map[digest.Digest]bool{}, platforms: map[string]bool{}}
	for _, m := range idx.Manifests {
		l.digests[m.Digest] = true
		if p := oci.PlatformOf(m).String(); p != "" && !oci.IsAttestationManifest(m) {
			l.platforms[p] = true
		}
	}
	return l, nil
}

func (l listed) has(ch indexChild) bool {
	return l.digests[ch.desc.Digest] || (ch.platform.String() != "" && l.platforms[ch.platform.String()])
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
