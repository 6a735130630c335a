package ocitest

import (
	"fmt"

	"github.com/oci-attest/oci-attest/internal/oci"
)

// Archive is one of the good archives committed under testdata/archives.
type Archive struct {
	// Name is the file name (e.g. "docker25.tar").
	Name   string
	Layout Layout
	Images []Image
}

// Build writes the archive.
func (a Archive) Build() ([]byte, error) { return Build(a.Layout, a.Images...) }

// DemoTag is the tag of the image in docker25.tar, the archive the demo
// embeds.
const DemoTag = "localhost/oci-attest/demo:v1"

func files(tag string, n int) []File {
	return []File{
		{Name: fmt.Sprintf("etc/ocitest/%s-%d.txt", tag, n), Content: fmt.Sprintf("layer %d of %s\n", n, tag)},
		{Name: "etc/ocitest/layer", Content: fmt.Sprint(n, "\n")},
	}
}

func image(tag string, c oci.Compression, layers int) Image {
	img := Image{RepoTags: []string{tag}}
	for i := range layers {
		img.Layers = append(img.Layers, Layer{Files: files(tag, i), Compression: c})
	}
	return img
}

// Archives lists the good archives `go run ./internal/oci/ocitest/gen`
// writes to testdata/archives, one per layout docs/archives.md lists plus the
// multi-image and repeated-layer cases.
func Archives() []Archive {
	none, gz, zst := oci.CompressionNone, oci.CompressionGzip, oci.CompressionZstd
	repeated := image("localhost/oci-attest/repeated:v1", none, 2)
	repeated.Layers = append(repeated.Layers, repeated.Layers[0])
	arm := image("localhost/oci-attest/multi:v1", gz, 1)
	arm.Architecture = "arm64"
	arm.Layers[0].Files = append(arm.Layers[0].Files, File{Name: "etc/ocitest/arch", Content: "arm64\n"})
	return []Archive{
		{Name: "docker-legacy.tar", Layout: DockerLegacy, Images: []Image{image("localhost/oci-attest/legacy:v1", none, 2)}},
		{Name: "docker25.tar", Layout: Docker25, Images: []Image{image(DemoTag, none, 2)}},
		{Name: "docker25-gzip.tar", Layout: Docker25, Images: []Image{image("alpine:3.20", gz, 2)}},
		{Name: "podman.tar", Layout: Podman, Images: []Image{image("localhost/oci-attest/podman:v1", none, 2)}},
		{Name: "podman-symlinks.tar", Layout: PodmanSymlinks, Images: []Image{image("localhost/oci-attest/podman:v1", none, 2)}},
		{Name: "hardlink.tar", Layout: Hardlink, Images: []Image{image("localhost/oci-attest/hardlink:v1", none, 2)}},
		{Name: "crane.tar", Layout: Crane, Images: []Image{image("localhost/oci-attest/crane:v1", gz, 2)}},
		{Name: "oci-gzip.tar", Layout: OCI, Images: []Image{image("localhost/oci-attest/oci:v1", gz, 2)}},
		{Name: "oci-zstd.tar", Layout: OCI, Images: []Image{image("v1", zst, 2)}},
		{Name: "oci-multiplatform.tar", Layout: OCIMultiPlatform, Images: []Image{image("localhost/oci-attest/multi:v1", gz, 1), arm}},
		{Name: "multi-image.tar", Layout: Docker25, Images: []Image{
			image("localhost/oci-attest/first:v1", none, 1),
			image("localhost/oci-attest/second:v2", none, 2),
			{RepoTags: nil, Layers: []Layer{{Files: files("untagged", 0)}}},
		}},
		{Name: "repeated-layer.tar", Layout: Docker25, Images: []Image{repeated}},
	}
}

// DemoArchives are the archives the demo embeds (internal/demo/testdata,
// written by `go run ./internal/oci/ocitest/gen`): image.tar is
// testdata/archives/docker25.tar, and tampered.tar the same archive with one
// file of its last layer changed (DemoTamperedFile) and rebuilt
// consistently (new layer digest, diffID and config) — a well-formed archive
// that loads, as a swap by an attacker would be.
func DemoArchives() ([]Archive, error) {
	for _, a := range Archives() {
		if a.Name != "docker25.tar" {
			continue
		}
		img := a.Images[0]
		img.Layers = append([]Layer(nil), img.Layers...)
		last := &img.Layers[len(img.Layers)-1]
		last.Files = append([]File(nil), last.Files...)
		if last.Files[0].Name != DemoTamperedFile {
			return nil, fmt.Errorf("ocitest: the demo's last layer starts with %s, not %s", last.Files[0].Name, DemoTamperedFile)
		}
		last.Files[0].Content += "# one line an attacker added\n"
		return []Archive{
			{Name: "image.tar", Layout: a.Layout, Images: a.Images},
			{Name: "tampered.tar", Layout: a.Layout, Images: []Image{img}},
		}, nil
	}
	return nil, fmt.Errorf("ocitest: no docker25.tar")
}

// DemoTamperedFile is the file tampered.tar changes.
const DemoTamperedFile = "etc/ocitest/localhost/oci-attest/demo:v1-1.txt"
