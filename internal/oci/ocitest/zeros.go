package ocitest

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/oci-attest/oci-attest/internal/oci"
)

// ZerosLayer returns a layer tar holding one file of n zero bytes,
// compressed with c (gzip at level 9), and the layer's diffID, without ever
// holding the n bytes: 1 GiB of zeros stores in about 1 MiB with gzip and a
// few KiB with zstd, far beyond any ratio a bomb limit would allow.
func ZerosLayer(n int64, c oci.Compression) (stored []byte, diffID string) {
	var buf bytes.Buffer
	var zw io.WriteCloser
	var err error
	switch c {
	case oci.CompressionGzip:
		zw, err = gzip.NewWriterLevel(&buf, gzip.BestCompression)
	case oci.CompressionZstd:
		zw, err = zstd.NewWriter(&buf, zstd.WithEncoderConcurrency(1))
	default:
		err = fmt.Errorf("compression %q", c)
	}
	if err != nil {
		panic(fmt.Sprintf("ocitest: ZerosLayer: %v", err)) // only bad test input gets here
	}
	h := sha256.New()
	tw := tar.NewWriter(io.MultiWriter(h, zw))
	if err := tw.WriteHeader(&tar.Header{Name: "zeros", Typeflag: tar.TypeReg, Size: n, Mode: 0o644, ModTime: Epoch}); err != nil {
		panic(err)
	}
	chunk := make([]byte, 1<<20)
	for left := n; left > 0; left -= int64(len(chunk)) {
		if _, err := tw.Write(chunk[:min(left, int64(len(chunk)))]); err != nil {
			panic(err)
		}
	}
	if err := tw.Close(); err != nil {
		panic(err)
	}
	if err := zw.Close(); err != nil {
		panic(err)
	}
	return buf.Bytes(), "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// StoredLayer is a layer of DockerArchive: its archive path, its bytes as
// stored and its diffID.
type StoredLayer struct {
	Path   string
	Stored []byte
	DiffID string
}

// DockerArchive returns the entries of a docker save (< 25) style archive
// of one image tagged tag, whose layers are stored as given (a path may
// repeat: the image then names that layer again). manifest.json comes last,
// after every layer, as docker save writes it, so a scanner cannot know
// which entries are layers until the end.
func DockerArchive(tag string, layers ...StoredLayer) []Entry {
	var cfg configJSON
	cfg.Created = Epoch.Format("2006-01-02T15:04:05Z")
	cfg.Architecture, cfg.OS = "amd64", "linux"
	cfg.RootFS.Type = "layers"
	cfg.RootFS.DiffIDs = []string{}
	var es []Entry
	paths := []string{}
	seen := map[string]bool{}
	for i, l := range layers {
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, l.DiffID)
		cfg.History = append(cfg.History, history{Created: cfg.Created, CreatedBy: fmt.Sprintf("ocitest layer %d", i)})
		paths = append(paths, l.Path)
		if !seen[l.Path] {
			seen[l.Path] = true
			es = append(es, Entry{Name: l.Path, Body: l.Stored})
		}
	}
	config := newBlob(mustJSON(cfg))
	es = append(es, Entry{Name: config.hex + ".json", Body: config.data})
	es = append(es, Entry{Name: "manifest.json", Body: mustJSON([]manifestEntry{{Config: config.hex + ".json", RepoTags: []string{tag}, Layers: paths}})})
	return es
}
