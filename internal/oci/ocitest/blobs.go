package ocitest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sort"

	"github.com/klauspost/compress/zstd"

	"github.com/oci-attest/oci-attest/internal/oci"
)

// blob is content with its sha256.
type blob struct {
	data []byte
	hex  string
}

func newBlob(b []byte) blob {
	s := sha256.Sum256(b)
	return blob{data: b, hex: hex.EncodeToString(s[:])}
}

func (b blob) digest() string { return "sha256:" + b.hex }

// builtLayer is a layer in its uncompressed and stored forms.
type builtLayer struct {
	diff   blob // uncompressed tar
	stored blob
	comp   oci.Compression
}

// builtImage is an image with its blobs.
type builtImage struct {
	Image
	layers []builtLayer
	config blob
}

// LayerTar returns the uncompressed tar of a layer's files.
func LayerTar(files []File) []byte {
	fs := append([]File(nil), files...)
	sort.Slice(fs, func(i, j int) bool { return fs[i].Name < fs[j].Name })
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range fs {
		h := &tar.Header{Name: f.Name, Typeflag: tar.TypeReg, Size: int64(len(f.Content)), Mode: 0o644, ModTime: Epoch}
		if err := tw.WriteHeader(h); err != nil {
			panic(err)
		}
		if _, err := tw.Write([]byte(f.Content)); err != nil {
			panic(err)
		}
	}
	if err := tw.Close(); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// TextLayer returns about n bytes of a layer tar holding semi-compressible
// text (gzip keeps about a third), deterministic for seed: the layers of
// benchmarks.
func TextLayer(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 1)) //nolint:gosec // deterministic test content, not a secret
	words := []string{"layer", "image", "oci", "attest", "sha256", "docker", "usr/lib", "config", "\n", " "}
	var content bytes.Buffer
	for content.Len() < n-4096 {
		fmt.Fprintf(&content, "%s %x %s ", words[r.IntN(len(words))], r.Uint32(), words[r.IntN(len(words))])
	}
	return LayerTar([]File{{Name: "data.txt", Content: content.String()}})
}

// Compress compresses b with c (deterministically).
func Compress(b []byte, c oci.Compression) []byte {
	var buf bytes.Buffer
	switch c {
	case oci.CompressionGzip:
		zw := gzip.NewWriter(&buf)
		if _, err := zw.Write(b); err != nil {
			panic(err) // writing to a bytes.Buffer
		}
		zw.Close()
	case oci.CompressionZstd:
		zw, err := zstd.NewWriter(&buf, zstd.WithEncoderConcurrency(1))
		if err != nil {
			panic(err)
		}
		if _, err := zw.Write(b); err != nil {
			panic(err)
		}
		zw.Close()
	default:
		return b
	}
	return buf.Bytes()
}

// configJSON is the image config ocitest writes.
type configJSON struct {
	Created      string `json:"created"`
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
	Config       struct {
		Env []string `json:"Env"`
	} `json:"config"`
	RootFS struct {
		Type    string   `json:"type"`
		DiffIDs []string `json:"diff_ids"`
	} `json:"rootfs"`
	History []history `json:"history"`
}

type history struct {
	Created   string `json:"created"`
	CreatedBy string `json:"created_by"`
}

// build computes an image's layers and config. compress says whether the
// layout keeps the layers' Compression.
func build(img Image, compress bool) builtImage {
	bi := builtImage{Image: img}
	if bi.OS == "" {
		bi.OS = "linux"
	}
	if bi.Architecture == "" {
		bi.Architecture = "amd64"
	}
	var cfg configJSON
	cfg.Created = Epoch.Format("2006-01-02T15:04:05Z")
	cfg.Architecture, cfg.OS = bi.Architecture, bi.OS
	cfg.Config.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	cfg.RootFS.Type = "layers"
	cfg.RootFS.DiffIDs = []string{}
	for i, l := range img.Layers {
		diff := newBlob(LayerTar(l.Files))
		bl := builtLayer{diff: diff, stored: diff, comp: oci.CompressionNone}
		if compress && l.Compression != "" && l.Compression != oci.CompressionNone {
			bl.stored, bl.comp = newBlob(Compress(diff.data, l.Compression)), l.Compression
		}
		bi.layers = append(bi.layers, bl)
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, diff.digest())
		cfg.History = append(cfg.History, history{Created: cfg.Created, CreatedBy: fmt.Sprintf("ocitest layer %d", i)})
	}
	bi.config = newBlob(mustJSON(cfg))
	return bi
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
