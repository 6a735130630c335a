package ocitest

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// dockerKind is a variant of the docker-archive layout.
type dockerKind int

const (
	dockerLegacy dockerKind = iota
	docker25
	podman
	podmanSymlinks
	hardlink
)

// manifestEntry is one manifest.json entry as docker writes it.
type manifestEntry struct {
	Config       string                `json:"Config"`
	RepoTags     []string              `json:"RepoTags"`
	Layers       []string              `json:"Layers"`
	LayerSources map[string]descriptor `json:"LayerSources,omitempty"`
}

// descriptor is an OCI descriptor.
type descriptor struct {
	MediaType    string            `json:"mediaType"`
	Digest       string            `json:"digest"`
	Size         int64             `json:"size"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	Platform     *platform         `json:"platform,omitempty"`
	ArtifactType string            `json:"artifactType,omitempty"`
}

type platform struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
}

// v1ID is a legacy layer ID: a hash of the layer's diffID and its parent.
func v1ID(parent, diffID string) string {
	s := sha256.Sum256([]byte(parent + "\n" + diffID))
	return hex.EncodeToString(s[:])
}

// docker writes a docker-archive of the given kind.
func (b *builder) docker(images []Image, kind dockerKind) error {
	var manifest []manifestEntry
	repositories := map[string]map[string]string{}
	var index []descriptor
	for _, img := range images {
		bi := build(img, kind == docker25)
		me := manifestEntry{RepoTags: img.RepoTags, Layers: []string{}}
		parent := ""
		for i, l := range bi.layers {
			id := v1ID(parent, l.diff.digest())
			switch kind {
			case dockerLegacy:
				b.dir(id)
				b.add(Entry{Name: id + "/VERSION", Body: []byte("1.0")})
				b.add(Entry{Name: id + "/json", Body: v1JSON(id, parent)})
				b.add(Entry{Name: id + "/layer.tar", Body: l.diff.data})
				me.Layers = append(me.Layers, id+"/layer.tar")
			case docker25:
				b.blob(l.stored)
				me.Layers = append(me.Layers, "blobs/sha256/"+l.stored.hex)
				if i == 0 {
					me.LayerSources = map[string]descriptor{l.stored.digest(): {MediaType: layerMediaType(l), Digest: l.stored.digest(), Size: int64(len(l.stored.data))}}
				}
			case podman, podmanSymlinks, hardlink:
				file := l.diff.hex + ".tar"
				b.add(Entry{Name: file, Body: l.diff.data})
				b.dir(id)
				b.add(Entry{Name: id + "/VERSION", Body: []byte("1.0")})
				b.add(Entry{Name: id + "/json", Body: v1JSON(id, parent)})
				if kind == hardlink {
					b.add(Entry{Name: id + "/layer.tar", Type: tar.TypeLink, Linkname: file})
				} else {
					b.add(Entry{Name: id + "/layer.tar", Type: tar.TypeSymlink, Linkname: "../" + file})
				}
				if kind == podman {
					me.Layers = append(me.Layers, file)
				} else {
					me.Layers = append(me.Layers, id+"/layer.tar")
				}
			}
			parent = id
		}
		if kind == docker25 {
			b.blob(bi.config)
			me.Config = "blobs/sha256/" + bi.config.hex
			m := newBlob(mustJSON(imageManifest(bi)))
			b.blob(m)
			for _, tag := range img.RepoTags {
				ann := map[string]string{"io.containerd.image.name": dockerName(tag)}
				if i := strings.LastIndex(tag, ":"); i >= 0 && !strings.Contains(tag[i:], "/") {
					ann["org.opencontainers.image.ref.name"] = tag[i+1:]
				}
				index = append(index, descriptor{MediaType: mediaTypeManifest, Digest: m.digest(), Size: int64(len(m.data)), Annotations: ann})
			}
			if len(img.RepoTags) == 0 {
				index = append(index, descriptor{MediaType: mediaTypeManifest, Digest: m.digest(), Size: int64(len(m.data))})
			}
		} else {
			me.Config = bi.config.hex + ".json"
			b.add(Entry{Name: me.Config, Body: bi.config.data})
		}
		for _, tag := range img.RepoTags {
			if i := strings.LastIndex(tag, ":"); i >= 0 && parent != "" {
				repo := tag[:i]
				if repositories[repo] == nil {
					repositories[repo] = map[string]string{}
				}
				repositories[repo][tag[i+1:]] = parent
			}
		}
		manifest = append(manifest, me)
	}
	b.add(Entry{Name: "manifest.json", Body: mustJSON(manifest)})
	if len(repositories) > 0 {
		b.add(Entry{Name: "repositories", Body: mustJSON(repositories)})
	}
	if kind == docker25 {
		b.add(Entry{Name: "index.json", Body: mustJSON(indexJSON{SchemaVersion: 2, MediaType: mediaTypeIndex, Manifests: index})})
		b.add(Entry{Name: "oci-layout", Body: []byte(`{"imageLayoutVersion":"1.0.0"}`)})
	}
	return nil
}

// v1JSON is a legacy layer's json file.
func v1JSON(id, parent string) []byte {
	m := map[string]any{"id": id, "created": Epoch.Format("2006-01-02T15:04:05Z"), "container_config": map[string]any{}}
	if parent != "" {
		m["parent"] = parent
	}
	return mustJSON(m)
}

// dockerName is the name docker 25 records in io.containerd.image.name.
func dockerName(tag string) string {
	first, _, ok := strings.Cut(tag, "/")
	if ok && (strings.ContainsAny(first, ".:") || first == "localhost") {
		return tag
	}
	if !ok {
		return "docker.io/library/" + tag
	}
	return "docker.io/" + tag
}

// blob adds a blobs/sha256 entry.
func (b *builder) blob(bl blob) {
	b.dir("blobs")
	b.dir("blobs/sha256")
	b.add(Entry{Name: "blobs/sha256/" + bl.hex, Body: bl.data})
}
