package oci_test

import (
	"encoding/json"
	"errors"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-attest/oci-attest/internal/oci"
)

// TestChildren: each entry's kind — buildx attestation manifests only as
// buildx writes them (unknown/unknown and the reference annotations), an
// entry with only one of the two is an image — and its platform,
// normalised as containerd does; an index that also reads as a manifest is
// refused.
func TestChildren(t *testing.T) {
	t.Parallel()
	d := func(mt, os, arch string, ann map[string]string, artifactType string) ocispec.Descriptor {
		x := ocispec.Descriptor{MediaType: mt, Digest: sha([]byte(mt + os + arch + artifactType)), Size: 1, Annotations: ann, ArtifactType: artifactType}
		if os != "" || arch != "" {
			x.Platform = &ocispec.Platform{OS: os, Architecture: arch}
		}
		return x
	}
	ref := map[string]string{"vnd.docker.reference.type": "attestation-manifest", "vnd.docker.reference.digest": string(sha([]byte("subject")))}
	for _, tc := range []struct {
		d        ocispec.Descriptor
		kind     oci.Kind
		platform string
	}{
		{d(ocispec.MediaTypeImageManifest, "linux", "x86_64", nil, ""), oci.KindImage, "linux/amd64"},
		{d(oci.MediaTypeDockerManifest, "Linux", "aarch64", nil, ""), oci.KindImage, "linux/arm64"},
		{d(ocispec.MediaTypeImageManifest, "linux", "arm", nil, ""), oci.KindImage, "linux/arm/v7"},
		{d(ocispec.MediaTypeImageManifest, "unknown", "unknown", ref, ""), oci.KindAttestation, "unknown/unknown"},
		{d(ocispec.MediaTypeImageManifest, "linux", "amd64", ref, ""), oci.KindImage, "linux/amd64"},
		{d(ocispec.MediaTypeImageManifest, "unknown", "unknown", nil, ""), oci.KindImage, "unknown/unknown"},
		{d(ocispec.MediaTypeImageManifest, "", "", ref, ""), oci.KindImage, ""},
		{d(ocispec.MediaTypeImageManifest, "linux", "amd64", nil, ocispec.MediaTypeImageConfig), oci.KindImage, "linux/amd64"},
		{d(ocispec.MediaTypeImageManifest, "linux", "amd64", nil, "application/spdx+json"), oci.KindOther, "linux/amd64"},
		{d(ocispec.MediaTypeImageIndex, "linux", "amd64", nil, ""), oci.KindIndex, "linux/amd64"},
		{d(oci.MediaTypeDockerManifestList, "", "", nil, ""), oci.KindIndex, ""},
		{d("application/vnd.oci.artifact.manifest.v1+json", "linux", "amd64", nil, ""), oci.KindOther, "linux/amd64"},
		{d("", "linux", "amd64", nil, ""), oci.KindOther, "linux/amd64"},
	} {
		raw, _ := json.Marshal(ocispec.Index{Manifests: []ocispec.Descriptor{tc.d}})
		cs, err := oci.Children(raw)
		if err != nil || len(cs) != 1 {
			t.Fatalf("Children(%s) = %v, %v", raw, cs, err)
		}
		if cs[0].Kind != tc.kind || cs[0].Platform.String() != tc.platform || oci.IsAttestationManifest(tc.d) != (tc.kind == oci.KindAttestation) {
			t.Errorf("Children(%s) = %s %q, want %s %q", raw, cs[0].Kind, cs[0].Platform, tc.kind, tc.platform)
		}
	}
	for _, raw := range []string{
		`{"manifests":[],"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:` + sha(nil).Encoded() + `","size":0}}`,
		`{"manifests":[],"layers":[]}`,
		`{"manifests":[],"config":null}`,
		`{"mediaType":"application/vnd.oci.image.manifest.v1+json","manifests":[]}`,
	} {
		if _, err := oci.Children([]byte(raw)); !errors.Is(err, oci.ErrAmbiguousIndex) {
			t.Errorf("Children(%s) = %v, want ErrAmbiguousIndex", raw, err)
		}
	}
	if _, err := oci.Children([]byte(`{"manifests":`)); !errors.Is(err, oci.ErrBadManifest) {
		t.Errorf("Children(truncated) = %v, want ErrBadManifest", err)
	}
}
