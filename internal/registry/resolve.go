package registry

import (
	"context"
	"encoding/json"
	"fmt"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-attest/oci-attest/internal/oci"
	"github.com/oci-attest/oci-attest/internal/ref"
)

// Subject is the registry image an attestation is bound to (ARCHITECTURE.md, "Data flow",
// step 3).
type Subject struct {
	// Repository is the subject's repository (no tag or digest); its Name()
	// is "registry/repository", e.g. "localhost:5000/app".
	Repository ref.Reference
	// Tag is the tag the subject was resolved from; empty when a digest was
	// given, or when the tag names an index that is no subject (Partial).
	Tag string
	// Descriptor is what subject-digest or the tag names, exactly as the
	// registry serves it (an image manifest or an index) — or, with
	// Partial, the platform manifest of that index that is the image.
	Descriptor ocispec.Descriptor
	// Image is the image manifest that is the attested image (its config
	// and layers): Descriptor itself unless Descriptor is an index.
	Image ocispec.Descriptor
	// Layers is how Image's layers were found to be the archive image's.
	Layers LayerCheck
	// Partial is set when the tag or digest names an index of which the
	// archive holds only some of the images runtimes select: the index is
	// then no subject, and Descriptor is the platform manifest.
	Partial *PartialIndex
}

// PartialIndex is a registry index bound only through its platform
// manifests (Subject.Partial).
type PartialIndex struct {
	// Index is the index the tag or digest names.
	Index ocispec.Descriptor
	// Tag is the tag it was resolved from ("" for a digest).
	Tag string
	// Others are the entries runtimes select that are no image of the
	// archive (at most maxNamed).
	Others []oci.Child
	// OtherCount counts them all.
	OtherCount int
}

// Resolve resolves r — its digest when it has one, else its tag — and
// binds it to the archive's image img: ResolveIndex for one image. Nothing
// is pushed. A mismatch returns an error wrapping ErrBinding that names
// both; a manifest the registry does not have wraps ErrNotFound.
func (c *Client) Resolve(ctx context.Context, r ref.Reference, img *oci.Image) (*Subject, error) {
	if img == nil {
		return nil, fmt.Errorf("resolving %s: no image to bind", r)
	}
	s, err := c.ResolveIndex(ctx, r, []*oci.Image{img}, nil)
	if err != nil {
		return nil, err
	}
	return s[0], nil
}

// describeRef names what was resolved for error messages.
func describeRef(rp repo, tag string, d digest.Digest) string {
	switch {
	case tag != "" && d != "":
		return rp.name() + ":" + tag + "@" + d.String()
	case tag != "":
		return rp.name() + ":" + tag
	case d != "":
		return rp.name() + "@" + d.String()
	}
	return rp.name()
}

// configDigest returns an image manifest's config digest.
func configDigest(raw []byte) (digest.Digest, error) {
	var m ocispec.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return "", fmt.Errorf("parsing image manifest: %w", err)
	}
	if err := m.Config.Digest.Validate(); err != nil {
		return "", fmt.Errorf("image manifest has an invalid config digest %q: %w", m.Config.Digest, err)
	}
	return m.Config.Digest, nil
}
