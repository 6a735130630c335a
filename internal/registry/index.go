package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/registry/remote/auth"

	"github.com/oci-attest/oci-attest/internal/oci"
	"github.com/oci-attest/oci-attest/internal/ref"
	"github.com/oci-attest/oci-attest/internal/retry"
)

// Multi-platform images (ARCHITECTURE.md, "Multi-platform and
// multi-image"): binding every attested platform of an archive's image
// index to the registry's index, and pushing that index byte for byte.

// ErrIncomplete is returned by PushIndex when the archive lacks a manifest
// or blob the index leads to (docker save with the containerd store keeps
// only the local platform's content): the index cannot be pushed as it is.
var ErrIncomplete = errors.New("the archive does not hold everything the image index lists")

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
	subject := func(image ocispec.Descriptor) *Subject {
		return &Subject{Repository: r.Repo(), Tag: r.Tag, Descriptor: top.Desc, Image: image}
	}
	switch top.Desc.MediaType {
	case ocispec.MediaTypeImageManifest, oci.MediaTypeDockerManifest:
		cfg, err := configDigest(top.Raw)
		if err != nil {
			return nil, fmt.Errorf("resolving subject %s: %w", describeRef(rp, r.Tag, top.Desc.Digest), err)
		}
		if len(imgs) > 1 {
			return nil, fmt.Errorf("%w: %s is image manifest %s, not an index, but %d platforms of the archive's index are attested (%s)",
				ErrBinding, describeRef(rp, r.Tag, ""), top.Desc.Digest, len(imgs), platformList(imgs))
		}
		if cfg != imgs[0].ImageID {
			return nil, fmt.Errorf("%w: %s is manifest %s with config %s, but the attested image ID is %s",
				ErrBinding, describeRef(rp, r.Tag, ""), top.Desc.Digest, cfg, imgs[0].ImageID)
		}
		return []*Subject{subject(top.Desc)}, nil
	case ocispec.MediaTypeImageIndex, oci.MediaTypeDockerManifestList:
	default:
		return nil, fmt.Errorf("resolving subject %s: unsupported manifest media type %q", describeRef(rp, r.Tag, top.Desc.Digest), top.Desc.MediaType)
	}
	children, err := indexImages(ctx, rp, top.Raw)
	if err != nil {
		return nil, fmt.Errorf("resolving subject %s: %w", describeRef(rp, r.Tag, top.Desc.Digest), err)
	}
	at := fmt.Sprintf("index %s (%s)", top.Desc.Digest, describeRef(rp, r.Tag, ""))
	out := make([]*Subject, len(imgs))
	matched := map[digest.Digest]bool{}
	var missing []string
	for i, img := range imgs {
		for _, ch := range children {
			if ch.config == img.ImageID {
				out[i] = subject(ch.desc)
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
			ErrBinding, at, strings.Join(missing, ", "), strings.Join(have, ", "))
	}
	if ix := imgs[0].ImageIndex; ix != nil {
		listed, err := listedChildren(ix.Raw)
		if err != nil {
			return nil, fmt.Errorf("resolving subject %s: the archive's index %s: %w", describeRef(rp, r.Tag, top.Desc.Digest), ix.Digest, err)
		}
		for _, ch := range children {
			if matched[ch.desc.Digest] || listed.has(ch) {
				continue
			}
			return nil, fmt.Errorf("%w: %s holds %s, which the archive's index %s does not list: the registry's index is another one; push the archive's (push-image) or point subject-name/subject-digest at it",
				ErrBinding, at, ch, ix.Digest)
		}
	}
	return out, nil
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

// PushIndex pushes the image index idx of the archive at archivePath to the
// tag of to — every manifest it lists (images, buildx attestation manifests,
// nested indexes) with their blobs, then the index's own bytes — and returns
// the index's descriptor: the registry's index digest is the archive's. Blobs
// are read in place from the archive. An archive that lacks something the
// index leads to is refused before anything is pushed (ErrIncomplete).
// go-containerregistry's remote writer uploads, over this Client's
// credentials, retries and plain-HTTP policy.
func (c *Client) PushIndex(ctx context.Context, archivePath string, a *oci.Archive, idx *oci.Index, to ref.Reference) (ocispec.Descriptor, error) {
	if to.Tag == "" {
		return ocispec.Descriptor{}, fmt.Errorf("pushing index to %s: %w", to, ErrNoTag)
	}
	if idx == nil || a == nil {
		return ocispec.Descriptor{}, fmt.Errorf("pushing index to %s: no index selected from the archive", to)
	}
	what := fmt.Sprintf("pushing image index %s from %s to %s", idx.Digest, archivePath, to)
	if digest.FromBytes(idx.Raw) != idx.Digest {
		return ocispec.Descriptor{}, fmt.Errorf("%s: the index's bytes do not hash to its digest", what)
	}
	if a.Path != archivePath {
		return ocispec.Descriptor{}, fmt.Errorf("%s: the index was scanned from %s", what, a.Path)
	}
	mt := idx.MediaType
	if mt == "" {
		mt = ocispec.MediaTypeImageIndex
	}
	ti := &tarIndex{blobs: &tarBlobs{a: a}, raw: idx.Raw, mediaType: types.MediaType(mt)}
	if missing := ti.blobs.missing(ti, 0); len(missing) > 0 {
		if len(missing) > 4 {
			missing = append(missing[:4], fmt.Sprintf("and %d more", len(missing)-4))
		}
		return ocispec.Descriptor{}, fmt.Errorf("%s: %w: %s", what, ErrIncomplete, strings.Join(missing, ", "))
	}
	target, opts, err := c.remoteTarget(ctx, to)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("%s: %w", what, err)
	}
	if err := remote.WriteIndex(target, ti, opts...); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("%s: %w", what, redactedError{err})
	}
	return ocispec.Descriptor{MediaType: mt, Digest: idx.Digest, Size: int64(len(idx.Raw))}, nil
}

// remoteTarget is to as go-containerregistry names it, and the options that
// send its requests through this Client (credentials, retries, the
// plain-HTTP guard), with push scope.
func (c *Client) remoteTarget(ctx context.Context, to ref.Reference) (name.Reference, []remote.Option, error) {
	opts := []name.Option{name.WeakValidation}
	if c.allowInsecure {
		opts = append(opts, name.Insecure)
	}
	target, err := name.ParseReference(to.Host()+"/"+to.Repository+":"+to.Tag, opts...)
	if err != nil {
		return nil, nil, err
	}
	ctx = auth.AppendRepositoryScope(ctx, to.Oras(), auth.ActionPull, auth.ActionPush)
	rt := roundTripperFunc(func(req *http.Request) (*http.Response, error) { return c.auth.Do(req) })
	return target, []remote.Option{
		remote.WithContext(ctx), remote.WithTransport(rt), remote.WithUserAgent("oci-attest"),
		// go-containerregistry v0.22.1 retries on top of our transport
		// (408/429/5xx, three tries) unless told not to: statuses are our
		// transport's to retry, and so is every error it already retried
		// (*retry.Error). What it may still retry is a connection error of a
		// request our transport sent once because its body cannot be
		// replayed — a layer streamed from the archive, which its upload
		// loop opens again.
		remote.WithRetryStatusCodes(),
		remote.WithRetryPredicate(ggcrRetryable),
	}, nil
}

// ggcrRetryable is go-containerregistry's retry predicate: only errors no
// one retried yet (see remoteTarget).
func ggcrRetryable(err error) bool {
	var done *retry.Error
	var status *transport.Error
	again, _ := transient(err)
	return again && !errors.As(err, &done) && !errors.As(err, &status)
}

// tarBlobs reads an OCI layout's blobs (blobs/<alg>/<hex>) in place from
// the archive, through oci.Archive.OpenBlob (at the offsets the scan
// recorded, checked against its digests).
type tarBlobs struct {
	a *oci.Archive
}

func blobName(h v1.Hash) string { return "blobs/" + h.Algorithm + "/" + h.Hex }

func (b *tarBlobs) open(h v1.Hash) (io.ReadCloser, error) {
	rc, _, err := b.a.OpenBlob(digest.Digest(h.String()))
	return rc, err
}

// read reads a small blob (a manifest, a config) and checks its digest.
func (b *tarBlobs) read(h v1.Hash, limit int64) ([]byte, error) {
	rc, err := b.open(h)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	raw, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", blobName(h), err)
	}
	if int64(len(raw)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", blobName(h), limit)
	}
	if got := digest.FromBytes(raw); got.String() != h.String() {
		return nil, fmt.Errorf("%s has digest %s", blobName(h), got)
	}
	return raw, nil
}

func (b *tarBlobs) has(h v1.Hash) bool {
	rc, err := b.open(h)
	if err != nil {
		return false
	}
	rc.Close()
	return true
}

// missing lists what the index leads to and the archive lacks.
func (b *tarBlobs) missing(x *tarIndex, depth int) []string {
	m, err := x.IndexManifest()
	if err != nil {
		return []string{err.Error()}
	}
	if depth > 8 { // the scanner's bound on nested indexes
		return []string{"image indexes nested more than 8 deep"}
	}
	var out []string
	for _, d := range m.Manifests {
		switch {
		case d.MediaType.IsIndex():
			child, err := x.ImageIndex(d.Digest)
			if err != nil {
				out = append(out, fmt.Sprintf("index %s", d.Digest))
				continue
			}
			out = append(out, b.missing(child.(*tarIndex), depth+1)...)
		case d.MediaType.IsImage():
			raw, err := b.read(d.Digest, maxManifestSize)
			if err != nil {
				out = append(out, fmt.Sprintf("manifest %s (%s)", d.Digest, platformOf(d)))
				continue
			}
			im, err := v1.ParseManifest(bytes.NewReader(raw))
			if err != nil {
				out = append(out, fmt.Sprintf("manifest %s: %v", d.Digest, err))
				continue
			}
			for _, l := range append([]v1.Descriptor{im.Config}, im.Layers...) {
				if !b.has(l.Digest) {
					out = append(out, fmt.Sprintf("blob %s of manifest %s (%s)", l.Digest, d.Digest, platformOf(d)))
				}
			}
		default:
			if !b.has(d.Digest) {
				out = append(out, fmt.Sprintf("%s %s", d.MediaType, d.Digest))
			}
		}
	}
	return out
}

func platformOf(d v1.Descriptor) string {
	if d.Platform == nil {
		return "no platform"
	}
	return d.Platform.String()
}

// tarIndex is an image index stored in the archive, as
// go-containerregistry's v1.ImageIndex.
type tarIndex struct {
	blobs     *tarBlobs
	raw       []byte
	mediaType types.MediaType
}

var _ v1.ImageIndex = (*tarIndex)(nil)

func (x *tarIndex) MediaType() (types.MediaType, error) { return x.mediaType, nil }
func (x *tarIndex) RawManifest() ([]byte, error)        { return x.raw, nil }
func (x *tarIndex) Digest() (v1.Hash, error)            { return partial.Digest(x) }
func (x *tarIndex) Size() (int64, error)                { return partial.Size(x) }
func (x *tarIndex) IndexManifest() (*v1.IndexManifest, error) {
	return v1.ParseIndexManifest(bytes.NewReader(x.raw))
}

// child is the index entry for h.
func (x *tarIndex) child(h v1.Hash) (v1.Descriptor, error) {
	m, err := x.IndexManifest()
	if err != nil {
		return v1.Descriptor{}, err
	}
	for _, d := range m.Manifests {
		if d.Digest == h {
			return d, nil
		}
	}
	return v1.Descriptor{}, fmt.Errorf("%s is not in the index", h)
}

// childBlob is the index entry for h and the manifest it names.
func (x *tarIndex) childBlob(h v1.Hash) (v1.Descriptor, []byte, error) {
	d, err := x.child(h)
	if err != nil {
		return v1.Descriptor{}, nil, err
	}
	raw, err := x.blobs.read(h, maxManifestSize)
	return d, raw, err
}

func (x *tarIndex) Image(h v1.Hash) (v1.Image, error) {
	d, raw, err := x.childBlob(h)
	if err != nil {
		return nil, err
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("manifest %s: %w", h, err)
	}
	cfg, err := x.blobs.read(m.Config.Digest, maxBlobSize)
	if err != nil {
		return nil, err
	}
	return partial.CompressedToImage(&tarImage{blobs: x.blobs, raw: raw, mediaType: d.MediaType, config: cfg, manifest: m})
}

func (x *tarIndex) ImageIndex(h v1.Hash) (v1.ImageIndex, error) {
	d, raw, err := x.childBlob(h)
	if err != nil {
		return nil, err
	}
	return &tarIndex{blobs: x.blobs, raw: raw, mediaType: d.MediaType}, nil
}

// tarImage is an image manifest stored in the archive (a platform image, a
// buildx attestation manifest) with its config and layers.
type tarImage struct {
	blobs     *tarBlobs
	raw       []byte
	mediaType types.MediaType
	config    []byte
	manifest  *v1.Manifest
}

func (i *tarImage) RawConfigFile() ([]byte, error)      { return i.config, nil }
func (i *tarImage) RawManifest() ([]byte, error)        { return i.raw, nil }
func (i *tarImage) MediaType() (types.MediaType, error) { return i.mediaType, nil }

func (i *tarImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	for _, d := range i.manifest.Layers {
		if d.Digest == h {
			return &tarLayer{blobs: i.blobs, desc: d}, nil
		}
	}
	return nil, fmt.Errorf("layer %s is not in the stored manifest", h)
}

type tarLayer struct {
	blobs *tarBlobs
	desc  v1.Descriptor
}

func (l *tarLayer) Digest() (v1.Hash, error)            { return l.desc.Digest, nil }
func (l *tarLayer) Size() (int64, error)                { return l.desc.Size, nil }
func (l *tarLayer) MediaType() (types.MediaType, error) { return l.desc.MediaType, nil }
func (l *tarLayer) Compressed() (io.ReadCloser, error)  { return l.blobs.open(l.desc.Digest) }
