package verify

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-attest/oci-attest/internal/oci"
)

// ErrNoPlatform is returned by Verify when Options.Platform names no
// platform of the index (or the image is no index).
var ErrNoPlatform = errors.New("no such platform")

// platform is an image child of an index.
type platform struct {
	desc     ocispec.Descriptor
	platform oci.Platform
}

// platforms lists the platforms of subject when it is an index (raw):
// its image manifests that are neither artifacts nor buildx attestation
// manifests, selected by want ("" every one). An image manifest has none.
func platforms(raw []byte, subject ocispec.Descriptor, want string) ([]platform, error) {
	if subject.MediaType != ocispec.MediaTypeImageIndex && subject.MediaType != oci.MediaTypeDockerManifestList {
		if want != "" {
			return nil, fmt.Errorf("%w: platform %s: %s is an image manifest, not an index", ErrNoPlatform, want, subject.Digest)
		}
		return nil, nil
	}
	var idx ocispec.Index
	if err := json.Unmarshal(raw, &idx); err != nil {
		return nil, fmt.Errorf("parsing index %s: %w", subject.Digest, err)
	}
	var sel oci.Platform
	if want != "" {
		p, err := oci.ParsePlatform(want)
		if err != nil {
			return nil, err
		}
		sel = p
	}
	var out []platform
	var all []string
	for _, m := range idx.Manifests {
		if m.MediaType != ocispec.MediaTypeImageManifest && m.MediaType != oci.MediaTypeDockerManifest {
			continue
		}
		switch m.ArtifactType {
		case "", ocispec.MediaTypeImageConfig, oci.MediaTypeDockerConfig:
		default:
			continue // an artifact listed in the index
		}
		if oci.IsAttestationManifest(m) {
			continue // buildx's: no platform
		}
		p := oci.PlatformOf(m)
		all = append(all, orUnknown(p.String()))
		if want != "" && !sel.Matches(p) {
			continue
		}
		out = append(out, platform{desc: ocispec.Descriptor{MediaType: m.MediaType, Digest: m.Digest, Size: m.Size}, platform: p})
	}
	if want != "" && len(out) == 0 {
		return nil, fmt.Errorf("%w: platform %s: index %s holds %s", ErrNoPlatform, want, subject.Digest, strings.Join(all, ", "))
	}
	return out, nil
}

func orUnknown(s string) string {
	if s == "" {
		return "(no platform)"
	}
	return s
}

// PlatformReport is what Verify found for one platform of an index.
type PlatformReport struct {
	// Platform is "os/architecture[/variant]" as the index names it (empty
	// when it names none).
	Platform string `json:"platform"`
	// Digest is the platform manifest's digest (what a node pulls).
	Digest string `json:"digest"`
	// ReferrersSource says how the platform manifest's own referrers were
	// listed ("api" or "tag:sha256-<hex>").
	ReferrersSource string `json:"referrersSource"`
	// Referrers is how many referrers of any type the platform manifest
	// has.
	Referrers int `json:"referrers"`
	// Attestations is how many oci attestations are of this platform: found
	// on the platform manifest, or on the index naming it.
	Attestations int `json:"attestations"`
	// Verified is how many of them verified.
	Verified int `json:"verified"`
	// ArchiveMatches is whether a verified attestation of this platform
	// matches the local archive; nil when no archive was given.
	ArchiveMatches *bool `json:"archiveMatches,omitempty"`
}
