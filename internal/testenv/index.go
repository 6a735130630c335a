package testenv

import (
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	digest "github.com/opencontainers/go-digest"

	"github.com/oci-attest/oci-attest/internal/oci"
)

// PushPlatformIndex pushes to ref (host:port/repo:tag, plain HTTP) an OCI
// image index as buildx builds one, with go-containerregistry: one random
// image per platform ("os/arch[/variant]", its config naming the platform
// too) and, after the first, a buildx attestation manifest for it
// (platform unknown/unknown, vnd.docker.reference.type). It returns the
// index and the platform images, in order.
func PushPlatformIndex(t testing.TB, ref string, platforms ...string) (v1.ImageIndex, []v1.Image) {
	t.Helper()
	var adds []mutate.IndexAddendum
	var imgs []v1.Image
	for i, p := range platforms {
		pl, err := v1.ParsePlatform(p)
		if err != nil {
			t.Fatal(err)
		}
		img, err := random.Image(1024, 2)
		if err != nil {
			t.Fatal(err)
		}
		img = mutate.ConfigMediaType(mutate.MediaType(img, types.OCIManifestSchema1), types.OCIConfigJSON)
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		cf = cf.DeepCopy()
		cf.OS, cf.Architecture, cf.Variant = pl.OS, pl.Architecture, pl.Variant
		if img, err = mutate.ConfigFile(img, cf); err != nil {
			t.Fatal(err)
		}
		imgs = append(imgs, img)
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: pl}})
		if i > 0 {
			continue
		}
		d, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		stmt := static.NewLayer([]byte(`{"_type":"https://in-toto.io/Statement/v0.1","predicateType":"https://spdx.dev/Document","subject":[{"name":"x","digest":{"sha256":"`+d.Hex+`"}}],"predicate":{}}`), "application/vnd.in-toto+json")
		att, err := mutate.Append(mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON), mutate.Addendum{Layer: stmt})
		if err != nil {
			t.Fatal(err)
		}
		adds = append(adds, mutate.IndexAddendum{Add: att, Descriptor: v1.Descriptor{
			Platform:    &v1.Platform{OS: "unknown", Architecture: "unknown"},
			Annotations: map[string]string{"vnd.docker.reference.type": "attestation-manifest", "vnd.docker.reference.digest": d.String()},
		}})
	}
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex), adds...)
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(r, idx); err != nil {
		t.Fatalf("pushing %s: %v", ref, err)
	}
	return idx, imgs
}

// ArchiveImage is img as an archive that holds it would read it
// (oci.Image: image ID, config, layers as stored and their diffIDs,
// manifest), with platform p ("" none), for binding tests that have no
// archive.
func ArchiveImage(t testing.TB, img v1.Image, p string) *oci.Image {
	t.Helper()
	cfg, err := img.RawConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := img.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	mt, err := img.MediaType()
	if err != nil {
		t.Fatal(err)
	}
	out := &oci.Image{ImageID: digest.FromBytes(cfg), ConfigRaw: cfg, ManifestRaw: raw, ManifestDigest: digest.FromBytes(raw), ManifestMediaType: string(mt)}
	if p != "" {
		if out.Platform, err = oci.ParsePlatform(p); err != nil {
			t.Fatal(err)
		}
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range layers {
		d, err := l.Digest()
		if err != nil {
			t.Fatal(err)
		}
		diffID, err := l.DiffID()
		if err != nil {
			t.Fatal(err)
		}
		size, err := l.Size()
		if err != nil {
			t.Fatal(err)
		}
		out.Layers = append(out.Layers, oci.Layer{Digest: digest.Digest(d.String()), Size: size, DiffID: digest.Digest(diffID.String()), Compression: oci.CompressionGzip})
		out.DiffIDs = append(out.DiffIDs, digest.Digest(diffID.String()))
	}
	return out
}
