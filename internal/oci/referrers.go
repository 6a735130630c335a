package oci

import (
	"encoding/json"
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
// rules ignore it); its manifests are referrers (Archive.Referrers).
func (t *table) referrersIndex(d ocispec.Descriptor) bool {
	return IsIndexMediaType(d.MediaType) && d.Annotations[annotationContainerdName] == "" &&
		fallbackName(d.Annotations[annotationRefName]) &&
		slices.ContainsFunc(t.emptyTops, func(e ocispec.Descriptor) bool { return e.Digest == d.Digest })
}

// maxReferrers bounds the referrers an archive's scan keeps.
const maxReferrers = 1024

// Referrer is a manifest the archive carries whose subject is one of its
// images or image indexes: an attestation (or another artifact) that
// travelled with the image, as oras cp -r --to-oci-layout lists them in
// index.json and regctl image copy --referrers lists them in a referrers
// index named sha256-<hex>. A referrer is never an image of the archive.
type Referrer struct {
	// Descriptor is the referrer manifest's descriptor as the archive
	// lists it (its artifactType and annotations included), with the
	// digest and size of its bytes.
	Descriptor ocispec.Descriptor
	// Raw is the manifest's bytes.
	Raw []byte
	// Subject is the image manifest or image index it refers to.
	Subject ocispec.Descriptor
	// ArtifactType is the manifest's artifactType, else its config's media
	// type.
	ArtifactType string
	// Layers are the manifest's layers, each with its bytes when the
	// archive holds them as a small JSON blob (a Sigstore bundle), nil
	// otherwise.
	Layers []ReferrerLayer
	// Via says where the archive lists it: "index.json", or the name of the
	// referrers index (sha256-<hex>) that lists it.
	Via string
}

// ReferrerLayer is a layer of a referrer manifest.
type ReferrerLayer struct {
	ocispec.Descriptor
	// Data is the blob's bytes, checked against the descriptor; nil when the
	// archive lacks it or holds it only as a large or non-JSON entry.
	Data []byte
}

// referrerManifest is the part of a manifest a referrer is read by.
type referrerManifest struct {
	MediaType    string               `json:"mediaType"`
	ArtifactType string               `json:"artifactType"`
	Config       *ocispec.Descriptor  `json:"config"`
	Layers       []ocispec.Descriptor `json:"layers"`
	Manifests    []ocispec.Descriptor `json:"manifests"`
	Subject      *ocispec.Descriptor  `json:"subject"`
}

// referrers finds the referrers of a's images and image indexes that
// index.json lists, directly or in a referrers index; at most maxReferrers
// (a.ReferrersOmitted counts the others). A blob that is missing, does not
// match its descriptor or is no manifest is not a referrer.
func (t *table) referrers(a *Archive, opts ScanOptions) {
	ie := t.byName["index.json"]
	if ie == nil || ie.json == nil {
		return
	}
	idx, err := parseIndex(ie.json)
	if err != nil {
		return
	}
	subjects := map[string]bool{}
	for _, img := range a.Images {
		subjects[img.ManifestDigest.String()] = img.ManifestDigest != ""
		if img.ImageIndex != nil {
			subjects[img.ImageIndex.Digest.String()] = true
		}
	}
	seen := map[string]bool{}
	add := func(d ocispec.Descriptor, via string) {
		if seen[d.Digest.String()] {
			return
		}
		seen[d.Digest.String()] = true
		r, ok := t.referrer(d, via, subjects, opts)
		switch {
		case !ok:
		case len(a.Referrers) == maxReferrers:
			a.ReferrersOmitted++
		default:
			a.Referrers = append(a.Referrers, r)
		}
	}
	for _, d := range idx.Manifests {
		if IsIndexMediaType(d.MediaType) && fallbackName(d.Annotations[annotationRefName]) {
			if _, raw, ok := t.manifestBlob(d, opts); ok {
				var ri referrerManifest
				if json.Unmarshal(raw, &ri) == nil {
					for _, c := range ri.Manifests {
						add(c, d.Annotations[annotationRefName])
					}
				}
			}
			continue
		}
		add(d, "index.json")
	}
}

// referrer reads the manifest d names as a referrer of one of subjects.
func (t *table) referrer(d ocispec.Descriptor, via string, subjects map[string]bool, opts ScanOptions) (Referrer, bool) {
	if !IsManifestMediaType(d.MediaType) {
		return Referrer{}, false
	}
	_, raw, ok := t.manifestBlob(d, opts)
	if !ok {
		return Referrer{}, false
	}
	var m referrerManifest
	if json.Unmarshal(raw, &m) != nil || m.Subject == nil || !subjects[m.Subject.Digest.String()] {
		return Referrer{}, false
	}
	r := Referrer{Descriptor: d, Raw: raw, Subject: *m.Subject, ArtifactType: m.ArtifactType, Via: via}
	if r.ArtifactType == "" && m.Config != nil {
		r.ArtifactType = m.Config.MediaType
	}
	for _, l := range m.Layers {
		rl := ReferrerLayer{Descriptor: l}
		if e, err := t.blob(l.Digest, l.Size, "referrer layer"); err == nil && e.json != nil {
			rl.Data = e.json
		}
		r.Layers = append(r.Layers, rl)
	}
	return r, true
}

// manifestBlob is the kept JSON blob descriptor d names, checked against
// its digest and size.
func (t *table) manifestBlob(d ocispec.Descriptor, opts ScanOptions) (*entry, []byte, bool) {
	e, err := t.blob(d.Digest, d.Size, "descriptor")
	if err != nil {
		return nil, nil, false
	}
	raw, err := t.jsonOf(e, "descriptor", opts.maxJSON())
	return e, raw, err == nil
}
