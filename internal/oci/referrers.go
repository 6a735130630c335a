package oci

import (
	"slices"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// fallbackName reports whether s has the form of a referrers fallback tag,
// sha256-<64 hex digits> (the distribution spec's referrers tag schema).
func fallbackName(s string) bool {
	hex, ok := strings.CutPrefix(s, "sha256-")
	return ok && len(hex) == 64 && strings.Trim(hex, "0123456789abcdef") == ""
}

// referrersIndex reports whether the index.json descriptor d is a
// referrers index, as regctl image copy --referrers writes one into a
// layout: an image index named only by a fallback tag name
// (org.opencontainers.image.ref.name sha256-<hex>) that leads to no image.
// It names no image, so it claims no name and lacks nothing (the archive
// rules ignore it).
func (t *table) referrersIndex(d ocispec.Descriptor) bool {
	return isIndexType(d.MediaType) && d.Annotations[annotationContainerdName] == "" &&
		fallbackName(d.Annotations[annotationRefName]) &&
		slices.ContainsFunc(t.emptyTops, func(e ocispec.Descriptor) bool { return e.Digest == d.Digest })
}

