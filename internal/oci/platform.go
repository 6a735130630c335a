package oci

import (
	"fmt"
	"strings"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Platform is an image's platform, as an image index descriptor or an
// image config names it.
type Platform struct {
	OS           string
	Architecture string
	Variant      string
}

// String is "os/architecture[/variant]" ("linux/arm64/v8"), or "" for the
// zero Platform.
func (p Platform) String() string {
	if p.OS == "" && p.Architecture == "" {
		return ""
	}
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// ParsePlatform parses "os/architecture[/variant]" (e.g. linux/amd64,
// linux/arm/v7), lowercased, as docker buildx --platform takes it.
func ParsePlatform(s string) (Platform, error) {
	parts := strings.Split(strings.ToLower(strings.TrimSpace(s)), "/")
	if len(parts) < 2 || len(parts) > 3 {
		return Platform{}, fmt.Errorf("%q is not a platform: use os/architecture[/variant], e.g. linux/amd64 or linux/arm/v7", s)
	}
	for _, p := range parts {
		if p == "" || strings.ContainsFunc(p, func(r rune) bool {
			return (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '_' && r != '-' && r != '.'
		}) {
			return Platform{}, fmt.Errorf("%q is not a platform: use os/architecture[/variant], e.g. linux/amd64 or linux/arm/v7", s)
		}
	}
	p := Platform{OS: parts[0], Architecture: parts[1]}
	if len(parts) == 3 {
		p.Variant = parts[2]
	}
	return p, nil
}

// Matches reports whether an image of platform img is one that the
// selection p names: same OS and architecture, and — when p names a
// variant — the same variant, arm64's default variant being v8 (as
// containerd's platform matcher normalises it).
func (p Platform) Matches(img Platform) bool {
	if p.OS != img.OS || p.Architecture != img.Architecture {
		return false
	}
	if p.Variant == "" {
		return true
	}
	norm := func(q Platform) string {
		if q.Architecture == "arm64" && q.Variant == "" {
			return "v8"
		}
		return q.Variant
	}
	return norm(p) == norm(img)
}

// Index is an image index of an archive, as stored: what an image was
// reached through from index.json (the multi-platform image of an OCI
// layout, of buildx type=oci, of docker save with the containerd store).
type Index struct {
	// Digest is the sha256 of Raw.
	Digest digest.Digest
	// Raw is the index's bytes exactly as stored.
	Raw []byte
	// MediaType is the media type of Raw (an OCI image index or a Docker
	// manifest list).
	MediaType string
	// Lacks is what the index leads to that the archive does not hold —
	// manifests, nested indexes and other blobs it lists (buildx
	// attestation manifests and artifacts included), the configs and
	// layers of those manifests — the first 8 in index order; LackCount
	// counts them all, each as often as it is listed (up to 2^30). An index
	// can be pushed as stored only when LackCount is 0 (docker save with
	// the containerd store keeps only the local platform's content).
	Lacks     []Lack
	LackCount int
}

// IsAttestationManifest reports whether an image index descriptor is a
// buildx attestation manifest (annotated vnd.docker.reference.type, or of
// platform unknown/unknown; its subject is a platform manifest): part of the
// index, but no platform of it.
func IsAttestationManifest(d ocispec.Descriptor) bool {
	return d.Annotations[annotationReferenceType] != "" || (d.Platform != nil && d.Platform.OS == "unknown" && d.Platform.Architecture == "unknown")
}

// PlatformOf is the platform an index descriptor names (zero when none).
func PlatformOf(d ocispec.Descriptor) Platform {
	if d.Platform == nil {
		return Platform{}
	}
	return Platform{OS: d.Platform.OS, Architecture: d.Platform.Architecture, Variant: d.Platform.Variant}
}
