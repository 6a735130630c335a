package registry

import (
	"encoding/json"
	"fmt"
	"time"

	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Media types and annotations of the referrer artifact (ARCHITECTURE.md, "Registry: resolve, bind, push").
const (
	// BundleMediaType is the artifactType of the referrer and the media type
	// of its one layer.
	BundleMediaType = "application/vnd.dev.sigstore.bundle.v0.3+json"
	// AnnotationBundleContent says what the bundle carries.
	AnnotationBundleContent = "dev.sigstore.bundle.content"
	// AnnotationPredicateType is the in-toto predicate type of the bundle's
	// statement.
	AnnotationPredicateType = "dev.sigstore.bundle.predicateType"
	// bundleContentDSSE is the value of AnnotationBundleContent.
	bundleContentDSSE = "dsse-envelope"
)

// MaxBundleSize is the largest bundle a referrer carries: Kyverno v1.19.1
// refuses a bundle layer of more than 10 MB (maxLayerSize in
// pkg/image/verifiers/cpol/cosign/sigstore.go), and with it every attestation
// of the image, not only that one (docs/gates.md, "Limits"). A bundle is a
// few KiB plus twice the archive's manifest.json, base64-encoded.
const MaxBundleSize = 10 * 1000 * 1000

// emptyJSON is the empty config blob "{}".
var emptyJSON = []byte("{}")

// emptyConfig is the config descriptor of the artifact, without the data
// field (some registries reject it).
var emptyConfig = ocispec.Descriptor{
	MediaType: ocispec.MediaTypeEmptyJSON,
	Digest:    digest.FromBytes(emptyJSON),
	Size:      int64(len(emptyJSON)),
}

// artifact is a referrer manifest and the descriptors around it.
type artifact struct {
	raw   []byte
	desc  ocispec.Descriptor // the manifest, with artifactType and annotations (an index entry)
	layer ocispec.Descriptor // the bundle
}

// buildArtifact returns the referrer manifest for bundle bound to subject.
// Its bytes are what cosign writes for a bundle referrer, so cosign, oras and
// regctl find it.
func buildArtifact(subject ocispec.Descriptor, bundle []byte, predicateType string, created time.Time) (*artifact, error) {
	if !json.Valid(bundle) {
		return nil, fmt.Errorf("building referrer manifest: the bundle is not JSON")
	}
	if len(bundle) > MaxBundleSize {
		return nil, fmt.Errorf("building referrer manifest: %w: %d bytes, more than %d: Kyverno would refuse every attestation of the image; attest an archive with fewer images", ErrBundleTooLarge, len(bundle), MaxBundleSize)
	}
	layer := ocispec.Descriptor{
		MediaType: BundleMediaType,
		Digest:    digest.FromBytes(bundle),
		Size:      int64(len(bundle)),
	}
	ann := map[string]string{
		ocispec.AnnotationCreated: created.UTC().Format(time.RFC3339),
		AnnotationBundleContent:   bundleContentDSSE,
	}
	if predicateType != "" {
		ann[AnnotationPredicateType] = predicateType
	}
	m := ocispec.Manifest{
		Versioned:    specs.Versioned{SchemaVersion: 2},
		MediaType:    ocispec.MediaTypeImageManifest,
		ArtifactType: BundleMediaType,
		Config:       emptyConfig,
		Layers:       []ocispec.Descriptor{layer},
		Subject: &ocispec.Descriptor{
			MediaType: subject.MediaType,
			Digest:    subject.Digest,
			Size:      subject.Size,
		},
		Annotations: ann,
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("building referrer manifest: %w", err)
	}
	return &artifact{
		raw: raw,
		desc: ocispec.Descriptor{
			MediaType:    ocispec.MediaTypeImageManifest,
			Digest:       digest.FromBytes(raw),
			Size:         int64(len(raw)),
			ArtifactType: BundleMediaType,
			Annotations:  ann,
		},
		layer: layer,
	}, nil
}
