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
	ctx, rp := c.repository(ctx, r, auth.ActionPull)
	s := &Subject{Repository: r.Repo(), Tag: r.Tag}
	reference := r.Oras().Reference
	if reference == "" {
		return nil, fmt.Errorf("resolving %s: %w", r, ErrNoReference)
	}
	dgst := r.Digest
	top, err := rp.getManifest(ctx, reference)
	if err != nil {
		return nil, fmt.Errorf("resolving subject %s: %w", describeRef(rp, s.Tag, dgst), err)
	}
	s.Descriptor = top.Desc
	switch top.Desc.MediaType {
	case ocispec.MediaTypeImageManifest, oci.MediaTypeDockerManifest:
		cfg, err := configDigest(top.Raw)
		if err != nil {
			return nil, fmt.Errorf("resolving subject %s: %w", describeRef(rp, s.Tag, top.Desc.Digest), err)
		}
		if cfg != imageID {
			return nil, fmt.Errorf("%w: %s is manifest %s with config %s, but the attested image ID is %s",
				ErrBinding, describeRef(rp, s.Tag, ""), top.Desc.Digest, cfg, imageID)
		}
		s.Image = top.Desc
		return s, nil
	case ocispec.MediaTypeImageIndex, oci.MediaTypeDockerManifestList:
		child, seen, err := c.matchChild(ctx, rp, top.Raw, imageID)
		if err != nil {
			return nil, fmt.Errorf("resolving subject %s: %w", describeRef(rp, s.Tag, top.Desc.Digest), err)
		}
		if child == nil {
			return nil, fmt.Errorf("%w: no image of index %s (%s) has config %s, the attested image ID; its images have configs %s",
				ErrBinding, top.Desc.Digest, describeRef(rp, s.Tag, ""), imageID, strings.Join(seen, ", "))
		}
		s.Image = *child
		return s, nil
	default:
		return nil, fmt.Errorf("resolving subject %s: unsupported manifest media type %q", describeRef(rp, s.Tag, top.Desc.Digest), top.Desc.MediaType)
	}
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

// matchChild returns the index child (descriptor as the registry serves it)
// whose config digest is imageID, and the "child=config" pairs it saw.
func (c *Client) matchChild(ctx context.Context, rp repo, raw []byte, imageID digest.Digest) (*ocispec.Descriptor, []string, error) {
	var idx ocispec.Index
	if err := json.Unmarshal(raw, &idx); err != nil {
		return nil, nil, fmt.Errorf("parsing index: %w", err)
	}
	var seen []string
	for _, m := range idx.Manifests {
		if m.MediaType != ocispec.MediaTypeImageManifest && m.MediaType != oci.MediaTypeDockerManifest {
			continue // nested indexes and non-image entries are not images
		}
		if !imageArtifactType(m.ArtifactType) {
			continue // an artifact (SBOM, signature) listed in the index
		}
		child, err := rp.getManifest(ctx, m.Digest.String())
		if err != nil {
			return nil, seen, err
		}
		cfg, err := configDigest(child.Raw)
		if err != nil {
			return nil, seen, fmt.Errorf("child %s: %w", m.Digest, err)
		}
		if cfg == imageID {
			return &child.Desc, seen, nil
		}
		seen = append(seen, fmt.Sprintf("%s (image %s)", cfg, m.Digest))
	}
	if len(seen) == 0 {
		seen = []string{"(none)"}
	}
	return nil, seen, nil
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
