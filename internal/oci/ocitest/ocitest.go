// Package ocitest writes small, deterministic image archives in every
// layout of ARCHITECTURE.md "Archive rules" (docker save legacy and ≥25,
// podman/skopeo docker-archive with symlinked or hard-linked layers,
// crane/ggcr tarballs, OCI layouts with gzip or zstd layers, nested
// multi-platform indexes), for tests. Entries are sorted (a hard link after
// its target, as tar writes it) and carry a fixed modification time, so the
// same input always gives the same bytes.
//
// Tests that need a malformed archive take the good entries from Entries,
// change them, and write them with Tar.
package ocitest

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"time"

	"github.com/oci-attest/oci-attest/internal/oci"
)

// Epoch is the modification time of every entry and the creation time of
// every image.
var Epoch = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

// Layout names an archive layout.
type Layout string

// The layouts Build writes.
const (
	// DockerLegacy is docker save before 25: <hex>.json configs,
	// <id>/layer.tar uncompressed layers, <id>/json, <id>/VERSION,
	// repositories.
	DockerLegacy Layout = "docker-legacy"
	// Docker25 is docker save from 25 on: blobs/sha256/<hex> for layers,
	// configs and manifests, index.json, oci-layout, manifest.json with a
	// LayerSources key, repositories. Layers may be gzip (containerd store).
	Docker25 Layout = "docker25"
	// Podman is podman save / skopeo docker-archive: <diffid>.tar layers,
	// <hex>.json configs, and <id>/layer.tar symlinks to ../<diffid>.tar.
	Podman Layout = "podman"
	// PodmanSymlinks is Podman with manifest.json naming the <id>/layer.tar
	// symlinks rather than the files they point to.
	PodmanSymlinks Layout = "podman-symlinks"
	// Hardlink is Podman with <id>/layer.tar hard links, named by
	// manifest.json.
	Hardlink Layout = "hardlink"
	// Crane is what go-containerregistry's tarball.Write (crane pull) writes:
	// sha256:<hex> configs and <hex>.tar.gz gzip layers.
	Crane Layout = "crane"
	// OCI is an OCI image-layout archive (skopeo oci-archive): index.json
	// naming one image manifest per image, annotated with
	// org.opencontainers.image.ref.name.
	OCI Layout = "oci"
	// OCIMultiPlatform is buildx type=oci output: index.json names one image
	// index (annotated with io.containerd.image.name and ref.name) whose
	// manifests are the images, one per platform, plus a buildx attestation
	// manifest.
	OCIMultiPlatform Layout = "oci-multiplatform"
)

// File is a regular file in a layer.
type File struct {
	Name    string
	Content string
}

// Layer is one image layer.
type Layer struct {
	Files []File
	// Compression is how the layer is stored; the zero value is
	// uncompressed. Legacy and podman layouts store layers uncompressed
	// whatever it says; Crane always uses gzip.
	Compression oci.Compression
}

// Image is one image of an archive.
type Image struct {
	// RepoTags name the image; OCI layouts record the first one.
	RepoTags []string
	Layers   []Layer
	// OS and Architecture default to linux/amd64.
	OS, Architecture string
}

// Entry is one tar entry.
type Entry struct {
	Name     string
	Type     byte // tar.TypeReg when zero
	Linkname string
	Body     []byte
	// Mode is the header's mode; 0644 (0755 for directories) when zero.
	Mode int64
}

// Build writes images as an archive of the given layout.
func Build(layout Layout, images ...Image) ([]byte, error) {
	es, err := Entries(layout, images...)
	if err != nil {
		return nil, err
	}
	return Tar(es), nil
}

// Entries returns the entries of an archive of the given layout, sorted.
func Entries(layout Layout, images ...Image) ([]Entry, error) {
	if len(images) == 0 {
		return nil, fmt.Errorf("building a %s archive: no images", layout)
	}
	b := &builder{seen: map[string]bool{}}
	var err error
	switch layout {
	case DockerLegacy:
		err = b.docker(images, dockerLegacy)
	case Docker25:
		err = b.docker(images, docker25)
	case Podman:
		err = b.docker(images, podman)
	case PodmanSymlinks:
		err = b.docker(images, podmanSymlinks)
	case Hardlink:
		err = b.docker(images, hardlink)
	case Crane:
		err = b.crane(images)
	case OCI:
		err = b.oci(images, false)
	case OCIMultiPlatform:
		err = b.oci(images, true)
	default:
		err = fmt.Errorf("unknown layout %q", layout)
	}
	if err != nil {
		return nil, fmt.Errorf("building a %s archive: %w", layout, err)
	}
	sort.SliceStable(b.entries, func(i, j int) bool { return b.entries[i].Name < b.entries[j].Name })
	return linksAfterTargets(b.entries), nil
}

// linksAfterTargets moves every hard link that sorts before its target to
// just after it: tar (and every tool that writes hard links) writes a file
// at its first name and links at the later ones, and an extractor can only
// link a file it has already written.
func linksAfterTargets(es []Entry) []Entry {
	out := make([]Entry, 0, len(es))
	done := map[string]bool{}
	waiting := map[string][]Entry{}
	var emit func(e Entry)
	emit = func(e Entry) {
		out = append(out, e)
		done[e.Name] = true
		for _, l := range waiting[e.Name] {
			emit(l)
		}
		delete(waiting, e.Name)
	}
	for _, e := range es {
		if e.Type == tar.TypeLink && !done[e.Linkname] {
			waiting[e.Linkname] = append(waiting[e.Linkname], e)
			continue
		}
		emit(e)
	}
	var missing []string // targets not in the archive: keep the links, last
	for name := range waiting {
		missing = append(missing, name)
	}
	sort.Strings(missing)
	for _, name := range missing {
		out = append(out, waiting[name]...)
	}
	return out
}

// ReadTar reads the entries of the tar file at path, to be changed and
// written again with Tar.
func ReadTar(path string) ([]Entry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var es []Entry
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return es, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", path, err)
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %s: %w", path, h.Name, err)
		}
		es = append(es, Entry{Name: h.Name, Type: h.Typeflag, Linkname: h.Linkname, Body: body, Mode: h.Mode})
	}
}

// Tar writes entries as a tar archive with fixed metadata.
func Tar(entries []Entry) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		typ := e.Type
		if typ == 0 {
			typ = tar.TypeReg
		}
		h := &tar.Header{Name: e.Name, Typeflag: typ, Linkname: e.Linkname, ModTime: Epoch, Mode: 0o644}
		if typ == tar.TypeDir {
			h.Mode = 0o755
		}
		if e.Mode != 0 {
			h.Mode = e.Mode
		}
		if typ == tar.TypeReg || typ == tar.TypeRegA { //nolint:staticcheck // tests write old writers' entries
			h.Size = int64(len(e.Body))
		}
		if err := tw.WriteHeader(h); err != nil {
			panic(fmt.Sprintf("ocitest: writing tar header %q: %v", e.Name, err)) // only bad test input gets here
		}
		if _, err := tw.Write(e.Body); err != nil {
			panic(fmt.Sprintf("ocitest: writing tar entry %q: %v", e.Name, err))
		}
	}
	if err := tw.Close(); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// builder collects entries, each name once.
type builder struct {
	entries []Entry
	seen    map[string]bool
}

func (b *builder) add(e Entry) {
	if b.seen[e.Name] {
		return
	}
	b.seen[e.Name] = true
	b.entries = append(b.entries, e)
}

func (b *builder) dir(name string) { b.add(Entry{Name: name + "/", Type: tar.TypeDir}) }
