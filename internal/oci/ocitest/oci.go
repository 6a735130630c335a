package ocitest

import "github.com/oci-attest/oci-attest/internal/oci"

// OCI media types.
const (
	mediaTypeIndex       = "application/vnd.oci.image.index.v1+json"
	mediaTypeManifest    = "application/vnd.oci.image.manifest.v1+json"
	mediaTypeConfig      = "application/vnd.oci.image.config.v1+json"
	mediaTypeLayer       = "application/vnd.oci.image.layer.v1.tar"
	mediaTypeInToto      = "application/vnd.in-toto+json"
	annotationRefName    = "org.opencontainers.image.ref.name"
	annotationContainerd = "io.containerd.image.name"
)

type indexJSON struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType"`
	Manifests     []descriptor `json:"manifests"`
}

type manifestJSON struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType"`
	Config        descriptor   `json:"config"`
	Layers        []descriptor `json:"layers"`
}

func layerMediaType(l builtLayer) string {
	switch l.comp {
	case oci.CompressionGzip:
		return mediaTypeLayer + "+gzip"
	case oci.CompressionZstd:
		return mediaTypeLayer + "+zstd"
	}
	return mediaTypeLayer
}

// imageManifest is the OCI image manifest of a built image.
func imageManifest(bi builtImage) manifestJSON {
	m := manifestJSON{
		SchemaVersion: 2,
		MediaType:     mediaTypeManifest,
		Config:        descriptor{MediaType: mediaTypeConfig, Digest: bi.config.digest(), Size: int64(len(bi.config.data))},
		Layers:        []descriptor{},
	}
	for _, l := range bi.layers {
		m.Layers = append(m.Layers, descriptor{MediaType: layerMediaType(l), Digest: l.stored.digest(), Size: int64(len(l.stored.data))})
	}
	return m
}

// oci writes an OCI image layout. Without nested, index.json names each
// image's manifest, annotated with its first RepoTag as ref.name (as skopeo
// does). With nested, index.json names one image index, annotated like
// buildx (io.containerd.image.name and a bare-tag ref.name taken from the
// first image's first RepoTag), holding every image plus an attestation
// manifest for the first.
func (b *builder) oci(images []Image, nested bool) error {
	var top, children []descriptor
	for i, img := range images {
		bi := build(img, true)
		for _, l := range bi.layers {
			b.blob(l.stored)
		}
		b.blob(bi.config)
		m := newBlob(mustJSON(imageManifest(bi)))
		b.blob(m)
		d := descriptor{MediaType: mediaTypeManifest, Digest: m.digest(), Size: int64(len(m.data))}
		if !nested {
			if len(img.RepoTags) > 0 {
				d.Annotations = map[string]string{annotationRefName: img.RepoTags[0]}
			}
			top = append(top, d)
			continue
		}
		d.Platform = &platform{Architecture: bi.Architecture, OS: bi.OS}
		children = append(children, d)
		if i == 0 {
			children = append(children, b.attestation(m))
		}
	}
	if nested {
		idx := newBlob(mustJSON(indexJSON{SchemaVersion: 2, MediaType: mediaTypeIndex, Manifests: children}))
		b.blob(idx)
		d := descriptor{MediaType: mediaTypeIndex, Digest: idx.digest(), Size: int64(len(idx.data))}
		if tags := images[0].RepoTags; len(tags) > 0 {
			n := dockerName(tags[0])
			d.Annotations = map[string]string{annotationContainerd: n}
			if i := lastColon(n); i >= 0 {
				d.Annotations[annotationRefName] = n[i+1:]
			}
		}
		top = []descriptor{d}
	}
	b.add(Entry{Name: "index.json", Body: mustJSON(indexJSON{SchemaVersion: 2, MediaType: mediaTypeIndex, Manifests: top})})
	b.add(Entry{Name: "oci-layout", Body: []byte(`{"imageLayoutVersion":"1.0.0"}`)})
	return nil
}

// attestation adds a buildx-style attestation manifest for the image
// manifest m and returns its descriptor.
func (b *builder) attestation(m blob) descriptor {
	stmt := newBlob([]byte(`{"_type":"https://in-toto.io/Statement/v0.1","predicateType":"https://spdx.dev/Document","subject":[{"name":"ocitest","digest":{"sha256":"` + m.hex + `"}}],"predicate":{}}`))
	b.blob(stmt)
	cfg := newBlob([]byte(`{"architecture":"unknown","os":"unknown","config":{},"rootfs":{"type":"layers","diff_ids":["` + stmt.digest() + `"]}}`))
	b.blob(cfg)
	am := newBlob(mustJSON(manifestJSON{
		SchemaVersion: 2, MediaType: mediaTypeManifest,
		Config: descriptor{MediaType: mediaTypeConfig, Digest: cfg.digest(), Size: int64(len(cfg.data))},
		Layers: []descriptor{{MediaType: mediaTypeInToto, Digest: stmt.digest(), Size: int64(len(stmt.data)),
			Annotations: map[string]string{"in-toto.io/predicate-type": "https://spdx.dev/Document"}}},
	}))
	b.blob(am)
	return descriptor{MediaType: mediaTypeManifest, Digest: am.digest(), Size: int64(len(am.data)),
		Platform:    &platform{Architecture: "unknown", OS: "unknown"},
		Annotations: map[string]string{"vnd.docker.reference.type": "attestation-manifest", "vnd.docker.reference.digest": m.digest()}}
}

func lastColon(s string) int {
	for i := len(s) - 1; i >= 0 && s[i] != '/'; i-- {
		if s[i] == ':' {
			return i
		}
	}
	return -1
}
