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
	// given.
	Tag string
	// Descriptor is what subject-digest or the tag names, exactly as the
	// registry serves it (an image manifest or an index).
	Descriptor ocispec.Descriptor
	// Image is the image manifest whose config digest equals the image ID:
	// Descriptor itself unless Descriptor is an index.
	Image ocispec.Descriptor
}

// Resolve resolves r — its digest when it has one, else its tag — and
// binds it to the attested image: the manifest's config digest must equal
// imageID; for an index, a child whose config matches is chosen. Nothing is
// pushed. A mismatch returns an error wrapping ErrBinding that names both
// digests; a manifest the registry does not have wraps ErrNotFound.
func (c *Client) Resolve(ctx context.Context, r ref.Reference, imageID digest.Digest) (*Subject, error) {
	if err := imageID.Validate(); err != nil {
		return nil, fmt.Errorf("resolving %s: invalid image ID %q: %w", r, imageID, err)
	}
	s, err := c.ResolveIndex(ctx, r, []*oci.Image{{ImageID: imageID}})
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

// imageArtifactType reports whether an index entry's artifactType is that
// of a runnable image: none, or an image config media type, which
// go-containerregistry (crane, ko, mutate.AppendManifests) writes for every
// image it appends.
func imageArtifactType(at string) bool {
	switch at {
	case "", ocispec.MediaTypeImageConfig, oci.MediaTypeDockerConfig:
		return true
	}
	return false
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
