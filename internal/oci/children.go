package oci

import (
	"bytes"
	"encoding/json"
	"fmt"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// What an image index lists (ARCHITECTURE.md "Multi-platform and
// multi-image", "Registry: resolve, bind, push"): the one definition of
// the children of an index, which the archive reader, the plan, binding,
// push-image and verify share.

// Kind is what an index entry is to oci-attest.
type Kind int

// The kinds of index entries. Runtimes choose among entries by platform
// alone, whatever their kind: the kind says what an entry is once chosen.
const (
	// KindImage is an image manifest (OCI or Docker) that is neither an
	// artifact nor a buildx attestation manifest: a platform image.
	KindImage Kind = iota + 1
	// KindAttestation is a buildx attestation manifest as buildx writes
	// it: an image manifest of platform unknown/unknown annotated
	// vnd.docker.reference.type attestation-manifest and
	// vnd.docker.reference.digest. The only entry no runtime selects.
	KindAttestation
	// KindIndex is a nested image index (OCI or Docker manifest list).
	KindIndex
	// KindOther is anything else: an image manifest with an artifactType
	// that is no image config's, another or no media type.
	KindOther
)

func (k Kind) String() string {
	switch k {
	case KindImage:
		return "image"
	case KindAttestation:
		return "buildx attestation manifest"
	case KindIndex:
		return "image index"
	}
	return "other"
}

// Annotations buildx writes on an attestation manifest's descriptor.
const (
	annotationReferenceDigest = "vnd.docker.reference.digest"
	referenceTypeAttestation  = "attestation-manifest"
)

// Child is one entry of an image index.
type Child struct {
	// Descriptor is the entry as the index lists it.
	Descriptor ocispec.Descriptor
	// Kind is what the entry is.
	Kind Kind
	// Platform is the platform the entry names, normalised as containerd
	// normalises it (Platform.Normalize); zero when it names none.
	Platform Platform
	// features is the entry's platform "features" (go-containerregistry
	// matches them; image-spec's Platform no longer has the field).
	features []string
}

// String names the entry for messages: its kind, digest and platform.
func (c Child) String() string {
	p := PlatformOf(c.Descriptor).String()
	if p == "" {
		p = "no platform"
	}
	if c.Descriptor.MediaType == "" {
		return fmt.Sprintf("%s %s (%s, no mediaType)", c.Kind, c.Descriptor.Digest, p)
	}
	return fmt.Sprintf("%s %s (%s)", c.Kind, c.Descriptor.Digest, p)
}

// IsIndexMediaType reports whether mt is an image index's media type (OCI
// image index or Docker manifest list), as containerd's images.IsIndexType.
func IsIndexMediaType(mt string) bool {
	return mt == ocispec.MediaTypeImageIndex || mt == MediaTypeDockerManifestList
}

// IsManifestMediaType reports whether mt is an image manifest's media type
// (OCI or Docker schema 2), as containerd's images.IsManifestType.
func IsManifestMediaType(mt string) bool {
	return mt == ocispec.MediaTypeImageManifest || mt == MediaTypeDockerManifest
}

// indexJSON is what Children reads of an index: its entries, with the
// platform features image-spec's Descriptor drops, and the fields that
// would make it read as an image manifest too.
type indexJSON struct {
	MediaType string `json:"mediaType"`
	Manifests []struct {
		Platform *struct {
			Features []string `json:"features"`
		} `json:"platform"`
	} `json:"manifests"`
	Config   json.RawMessage `json:"config"`
	Layers   json.RawMessage `json:"layers"`
	FSLayers json.RawMessage `json:"fsLayers"`
}

// Children parses an image index (raw) and returns its entries in order,
// each with its kind and normalised platform. An index whose JSON also has
// an image manifest's config, layers or fsLayers (even null), or names a
// manifest media type, reads as both — containerd refuses it
// (core/images validateMediaType), go-containerregistry reads the index —
// and is an error wrapping ErrAmbiguousIndex.
func Children(raw []byte) ([]Child, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, fmt.Errorf("%w: the image index is empty", ErrBadManifest)
	}
	var idx ocispec.Index
	if err := json.Unmarshal(raw, &idx); err != nil {
		return nil, fmt.Errorf("%w: the image index is not valid JSON: %w", ErrBadManifest, err)
	}
	var extra indexJSON
	if err := json.Unmarshal(raw, &extra); err != nil {
		return nil, fmt.Errorf("%w: the image index is not valid JSON: %w", ErrBadManifest, err)
	}
	if len(extra.Config) > 0 || len(extra.Layers) > 0 || len(extra.FSLayers) > 0 || IsManifestMediaType(extra.MediaType) {
		return nil, fmt.Errorf("%w: the image index also reads as an image manifest (it has config, layers, fsLayers or an image manifest's mediaType)", ErrAmbiguousIndex)
	}
	out := make([]Child, len(idx.Manifests))
	for i, d := range idx.Manifests {
		out[i] = Child{Descriptor: d, Kind: entryKind(d)}
		if d.Platform != nil {
			out[i].Platform = PlatformOf(d).Normalize()
			out[i].features = extra.Manifests[i].Platform.Features
		}
	}
	return out, nil
}

// entryKind is the kind of index entry d.
func entryKind(d ocispec.Descriptor) Kind {
	switch {
	case IsIndexMediaType(d.MediaType):
		return KindIndex
	case !IsManifestMediaType(d.MediaType):
		return KindOther
	case isBuildxAttestation(d):
		return KindAttestation
	case d.ArtifactType != "" && d.ArtifactType != ocispec.MediaTypeImageConfig && d.ArtifactType != MediaTypeDockerConfig:
		return KindOther // an artifact (an SBOM, a signature) listed in the index
	}
	return KindImage
}

// isBuildxAttestation reports whether d is an attestation manifest as
// buildx writes it (KindAttestation): both the unknown/unknown platform,
// which no runtime selects, and the reference annotations.
func isBuildxAttestation(d ocispec.Descriptor) bool {
	if d.Platform == nil || d.Platform.OS != "unknown" || d.Platform.Architecture != "unknown" || d.Platform.Variant != "" {
		return false
	}
	_, err := digest.Parse(d.Annotations[annotationReferenceDigest])
	return d.Annotations[annotationReferenceType] == referenceTypeAttestation && err == nil
}
