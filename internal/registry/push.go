package registry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
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

// PushImage pushes image img of the scanned archive a (one of a.Images) to
// the tag of to and returns the pushed manifest's descriptor.
//
// It pushes exactly the bytes the scan read and attested: the config and
// every layer come from a.OpenBlob, which reads them again at the offsets
// the scan recorded and fails if they no longer hash to the scan's digests
// (the registry checks each upload's digest too). There is no second tar
// parser.
//
// An image whose manifest is stored in the archive (OCI layouts, Docker ≥25
// archives) is pushed with exactly that manifest, so it keeps its digest.
// Other archives (legacy docker save, podman, crane) get a Docker schema 2
// manifest over their layers as stored: gzip layers as
// application/vnd.docker.image.rootfs.diff.tar.gzip, uncompressed ones
// uncompressed, as application/vnd.docker.image.rootfs.diff.tar (docker,
// containerd and podman pull both). Pushing them uncompressed is what keeps
// the pushed layer the attested bytes, with the attested digest (its
// diffID); gzipping on the fly would cost CPU twice (once for the digest,
// once for the upload) and give a manifest digest that depends on the
// compressor's version. The cost is upload size. An archive with a zstd
// layer gets an OCI image manifest instead (Docker schema 2 has no zstd
// media type). The config bytes are never rewritten, so the image ID —
// what binding checks — is the archive's. go-containerregistry's remote
// writer uploads, over this Client's credentials, retries and plain-HTTP
// policy.
func (c *Client) PushImage(ctx context.Context, a *oci.Archive, img *oci.Image, to ref.Reference) (ocispec.Descriptor, error) {
	if to.Tag == "" {
		return ocispec.Descriptor{}, fmt.Errorf("pushing image to %s: %w", to, ErrNoTag)
	}
	if img == nil || a == nil {
		return ocispec.Descriptor{}, fmt.Errorf("pushing image to %s: no image selected from the archive", to)
	}
	what := fmt.Sprintf("pushing image %s from %s to %s", img.ImageID, a.Path, to)
	if digest.FromBytes(img.ConfigRaw) != img.ImageID {
		return ocispec.Descriptor{}, fmt.Errorf("%s: the image's config %s does not hash to the image ID %s", what, digest.FromBytes(img.ConfigRaw), img.ImageID)
	}
	if !holdsImage(a, img) {
		return ocispec.Descriptor{}, fmt.Errorf("%s: the image is not one the archive's scan read", what)
	}
	ai, err := imageOf(a, img)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("%s: %w", what, err)
	}
	v1img, err := partial.CompressedToImage(ai)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("%s: %w", what, err)
	}
	err = c.write(ctx, to, func(target name.Reference, opts []remote.Option) error { return remote.Write(target, v1img, opts...) })
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("%s: %w", what, err)
	}
	return ocispec.Descriptor{MediaType: string(ai.mediaType), Digest: digest.FromBytes(ai.raw), Size: int64(len(ai.raw))}, nil
}

// PushIndex pushes the image index idx of the scanned archive a (the
// ImageIndex of one of a.Images) to the tag of to — every manifest it lists (images, buildx attestation manifests,
// nested indexes) with their blobs, then the index's own bytes — and
// returns the index's descriptor: the registry's index digest is the
// archive's. Blobs are read in place from the archive, as PushImage reads
// them. An index the archive holds only part of (idx.Lacks: docker save
// with the containerd store keeps only the local platform's content) is
// refused before anything is pushed, with an error wrapping ErrIncomplete
// that names what is missing. go-containerregistry's remote writer uploads,
// over this Client's credentials, retries and plain-HTTP policy.
func (c *Client) PushIndex(ctx context.Context, a *oci.Archive, idx *oci.Index, to ref.Reference) (ocispec.Descriptor, error) {
	if to.Tag == "" {
		return ocispec.Descriptor{}, fmt.Errorf("pushing index to %s: %w", to, ErrNoTag)
	}
	if idx == nil || a == nil {
		return ocispec.Descriptor{}, fmt.Errorf("pushing index to %s: no index selected from the archive", to)
	}
	what := fmt.Sprintf("pushing image index %s from %s to %s", idx.Digest, a.Path, to)
	if digest.FromBytes(idx.Raw) != idx.Digest {
		return ocispec.Descriptor{}, fmt.Errorf("%s: the index's bytes do not hash to its digest", what)
	}
	if !holdsIndex(a, idx) {
		return ocispec.Descriptor{}, fmt.Errorf("%s: the index is not one the archive's scan read", what)
	}
	if idx.LackCount > 0 {
		return ocispec.Descriptor{}, fmt.Errorf("%s: %w: %s", what, ErrIncomplete, lacking(idx))
	}
	mt := idx.MediaType
	if mt == "" {
		mt = ocispec.MediaTypeImageIndex
	}
	ai := &archiveIndex{a: a, raw: idx.Raw, mediaType: types.MediaType(mt)}
	err := c.write(ctx, to, func(target name.Reference, opts []remote.Option) error { return remote.WriteIndex(target, ai, opts...) })
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("%s: %w", what, err)
	}
	return ocispec.Descriptor{MediaType: mt, Digest: idx.Digest, Size: int64(len(idx.Raw))}, nil
}

// holdsImage reports whether img is one of a.Images.
func holdsImage(a *oci.Archive, img *oci.Image) bool {
	for i := range a.Images {
		if &a.Images[i] == img {
			return true
		}
	}
	return false
}

// holdsIndex reports whether idx is the index of one of a.Images, as the
// scan recorded it (and so what it lacks is what a lacks).
func holdsIndex(a *oci.Archive, idx *oci.Index) bool {
	for i := range a.Images {
		if a.Images[i].ImageIndex == idx {
			return true
		}
	}
	return false
}

// lacking names what idx lacks: the first four, and how many more.
func lacking(idx *oci.Index) string {
	var s []string
	for _, l := range idx.Lacks[:min(4, len(idx.Lacks))] {
		s = append(s, l.String())
	}
	if more := idx.LackCount - len(s); more > 0 {
		s = append(s, fmt.Sprintf("and %d more", more))
	}
	return strings.Join(s, ", ")
}

// write runs a go-containerregistry write to the tag of to, through this
// Client (see remoteTarget).
func (c *Client) write(ctx context.Context, to ref.Reference, write func(name.Reference, []remote.Option) error) error {
	target, opts, err := c.remoteTarget(ctx, to)
	if err != nil {
		return err
	}
	if err := write(target, opts); err != nil {
		var re *retry.Error
		if errors.As(err, &re) {
			// go-containerregistry wraps a remote's failure in url.Errors
			// of its own and of net/http, each quoting the URL (with an
			// upload's state in its query): the request is named once,
			// without query, by the retry error's.
			return fmt.Errorf("%s %s: %w", re.Method, re.URL, re)
		}
		return redactedError{err}
	}
	return nil
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

// roundTripperFunc adapts a function to http.RoundTripper.
type roundTripperFunc func(*http.Request) (*http.Response, error)

// RoundTrip implements http.RoundTripper.
func (f roundTripperFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }
