package ocitest

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// crane writes the archive with go-containerregistry's own tarball writer
// (what `crane pull` writes), so the layout is authentic, then reads its
// entries back.
func (b *builder) crane(images []Image) error {
	// tarball.MultiRefWrite orders images and tags by map iteration, so only
	// one image with one tag gives reproducible bytes.
	if len(images) != 1 || len(images[0].RepoTags) != 1 {
		return errors.New("crane archives take exactly one image with one tag (ggcr orders several at random)")
	}
	gi, err := ggcrImage(images[0])
	if err != nil {
		return err
	}
	tag, err := name.NewTag(images[0].RepoTags[0])
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := tarball.Write(tag, gi, &buf); err != nil {
		return fmt.Errorf("tarball.Write: %w", err)
	}
	tr := tar.NewReader(&buf)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			return err
		}
		b.add(Entry{Name: h.Name, Type: h.Typeflag, Linkname: h.Linkname, Body: body})
	}
}

// ggcrImage builds img as a go-containerregistry image with gzip layers.
func ggcrImage(img Image) (v1.Image, error) {
	osName, arch := img.OS, img.Architecture
	if osName == "" {
		osName = "linux"
	}
	if arch == "" {
		arch = "amd64"
	}
	gi, err := mutate.ConfigFile(empty.Image, &v1.ConfigFile{
		Created: v1.Time{Time: Epoch}, OS: osName, Architecture: arch,
		Config: v1.Config{Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}},
		RootFS: v1.RootFS{Type: "layers"},
	})
	if err != nil {
		return nil, err
	}
	for i, l := range img.Layers {
		data := LayerTar(l.Files)
		layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
		if err != nil {
			return nil, fmt.Errorf("layer %d: %w", i, err)
		}
		gi, err = mutate.Append(gi, mutate.Addendum{Layer: layer, History: v1.History{Created: v1.Time{Time: Epoch}, CreatedBy: fmt.Sprintf("ocitest layer %d", i)}})
		if err != nil {
			return nil, fmt.Errorf("layer %d: %w", i, err)
		}
	}
	return gi, nil
}
