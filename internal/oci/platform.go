package oci

import (
	"fmt"
	"strings"

	"github.com/containerd/platforms"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Platform is an image's platform, as an image index descriptor or an
// image config names it (spelt as there: compare platforms with Matches or
// Normalize, never by their strings).
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

// spec is p as image-spec's Platform.
func (p Platform) spec() ocispec.Platform {
	return ocispec.Platform{OS: p.OS, Architecture: p.Architecture, Variant: p.Variant}
}

// ParsePlatform parses "os/architecture[/variant]" (e.g. linux/amd64,
// linux/arm/v7) with containerd's parser (github.com/containerd/platforms),
// which lowercases it and spells architectures as containerd does
// (x86_64 is amd64, aarch64 arm64). Unlike containerd it requires both the
// OS and the architecture, and takes no OS version or features, so that a
// platform never depends on the machine that reads it.
func ParsePlatform(s string) (Platform, error) {
	s = strings.TrimSpace(s)
	bad := func() (Platform, error) {
		return Platform{}, fmt.Errorf("%q is not a platform: use os/architecture[/variant], e.g. linux/amd64 or linux/arm/v7", s)
	}
	parts := strings.Split(s, "/")
	if len(parts) < 2 || len(parts) > 3 || strings.ContainsAny(s, "()+*") {
		return bad()
	}
	for _, p := range parts {
		if p == "" {
			return bad()
		}
	}
	p, err := platforms.Parse(s)
	if err != nil {
		return bad()
	}
	return Platform{OS: p.OS, Architecture: p.Architecture, Variant: p.Variant}, nil
}

// ParsePlatformSpelt parses s as ParsePlatform does but returns the
// platform as s spells it, not normalised: go-containerregistry compares
// platforms as spelt (a client asked for linux/x86_64 reads an entry spelt
// so, which linux/amd64 does not match), so Selection.Resolve asks it for
// both spellings.
func ParsePlatformSpelt(s string) (Platform, error) {
	if _, err := ParsePlatform(s); err != nil {
		return Platform{}, err
	}
	parts := strings.Split(strings.TrimSpace(s), "/")
	p := Platform{OS: parts[0], Architecture: parts[1]}
	if len(parts) == 3 {
		p.Variant = parts[2]
	}
	return p, nil
}

// Normalize is p as containerd normalises it (platforms.Normalize:
// lowercase, x86_64 is amd64, aarch64 arm64, arm's default variant v7,
// arm64's v8 dropped), with an empty OS read as linux — containerd reads it
// as its host's OS, and the images this tool attests run on Linux hosts.
func (p Platform) Normalize() Platform {
	n := normalizeSpec(p.spec())
	return Platform{OS: n.OS, Architecture: n.Architecture, Variant: n.Variant}
}

// normalizeSpec is NormalizePlatform of an image-spec Platform.
func normalizeSpec(p ocispec.Platform) ocispec.Platform {
	if p.OS == "" {
		p.OS = "linux"
	}
	return platforms.Normalize(p)
}

// Matches reports whether an image of platform img is one that the
// selection p names: the same platform once both are normalised, as
// containerd's platforms.OnlyStrict matches (linux/arm64 selects
// linux/arm64/v8, linux/arm selects linux/arm/v7 but not linux/arm/v6, and
// linux/amd64 does not select linux/386).
func (p Platform) Matches(img Platform) bool {
	return platforms.OnlyStrict(normalizeSpec(p.spec())).Match(normalizeSpec(img.spec()))
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
// buildx attestation manifest as buildx writes it: an image manifest of
// platform unknown/unknown annotated vnd.docker.reference.type
// attestation-manifest and vnd.docker.reference.digest (KindAttestation;
// ARCHITECTURE.md "Multi-platform and multi-image"). It is part of the
// index but no platform of it: no runtime selects it.
func IsAttestationManifest(d ocispec.Descriptor) bool {
	return entryKind(d) == KindAttestation
}

// PlatformOf is the platform an index descriptor names, spelt as it names
// it (zero when none).
func PlatformOf(d ocispec.Descriptor) Platform {
	if d.Platform == nil {
		return Platform{}
	}
	return Platform{OS: d.Platform.OS, Architecture: d.Platform.Architecture, Variant: d.Platform.Variant}
}
