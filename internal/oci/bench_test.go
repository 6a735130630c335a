package oci_test

import (
	"archive/tar"
	"bytes"
	stdgzip "compress/gzip"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	kpgzip "github.com/klauspost/compress/gzip"

	"github.com/oci-attest/oci-attest/internal/oci"
	"github.com/oci-attest/oci-attest/internal/oci/ocitest"
)

// benchLayer returns n bytes of a layer tar holding semi-compressible text
// (gzip shrinks it about 3×), deterministic for seed.
func benchLayer(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	words := []string{"layer", "image", "oci", "attest", "sha256", "docker", "usr/lib", "config", "\n", " "}
	var content bytes.Buffer
	for content.Len() < n-4096 {
		fmt.Fprintf(&content, "%s %x %s ", words[r.IntN(len(words))], r.Uint32(), words[r.IntN(len(words))])
	}
	return ocitest.LayerTar([]ocitest.File{{Name: "data.txt", Content: content.String()}})
}

// writeBenchArchive writes a Docker ≥25-style archive (manifest.json and
// blobs/sha256) of layers layers of about size bytes (uncompressed) in total, stored with compression c.
func writeBenchArchive(b *testing.B, size, layers int, c oci.Compression) string {
	b.Helper()
	var es []ocitest.Entry
	var diffIDs, stored []string
	for i := range layers {
		l := benchLayer(size/layers, uint64(i))
		s := ocitest.Compress(l, c)
		diffIDs = append(diffIDs, string(sha(l)))
		stored = append(stored, "blobs/sha256/"+sha(s).Encoded())
		es = append(es, ocitest.Entry{Name: stored[i], Body: s})
	}
	cfg := []byte(fmt.Sprintf(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":%s}}`, jsonList(diffIDs)))
	cfgName := "blobs/sha256/" + sha(cfg).Encoded()
	es = append(es, ocitest.Entry{Name: cfgName, Body: cfg})
	es = append(es, ocitest.Entry{Name: "manifest.json", Body: []byte(fmt.Sprintf(`[{"Config":%q,"RepoTags":["bench:1"],"Layers":%s}]`, cfgName, jsonList(stored)))})
	p := filepath.Join(b.TempDir(), "bench.tar")
	f, err := os.Create(p)
	if err != nil {
		b.Fatal(err)
	}
	tw := tar.NewWriter(f)
	for _, e := range es {
		if err := tw.WriteHeader(&tar.Header{Name: e.Name, Size: int64(len(e.Body)), Mode: 0o644, Typeflag: tar.TypeReg}); err != nil {
			b.Fatal(err)
		}
		tw.Write(e.Body)
	}
	if err := tw.Close(); err != nil {
		b.Fatal(err)
	}
	f.Close()
	return p
}

func jsonList(s []string) string {
	var buf bytes.Buffer
	buf.WriteString("[")
	for i, x := range s {
		if i > 0 {
			buf.WriteString(",")
		}
		fmt.Fprintf(&buf, "%q", x)
	}
	buf.WriteString("]")
	return buf.String()
}

// BenchmarkScan measures Scan on generated 64 MiB archives (4 layers),
// stored uncompressed, gzip and zstd; bytes/s are of the archive file.
func BenchmarkScan(b *testing.B) {
	for _, c := range []oci.Compression{oci.CompressionNone, oci.CompressionGzip, oci.CompressionZstd} {
		b.Run(string(c), func(b *testing.B) {
			path := writeBenchArchive(b, 64<<20, 4, c)
			st, err := os.Stat(path)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(st.Size())
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				a, err := oci.Scan(context.Background(), path, oci.ScanOptions{})
				if err != nil {
					b.Fatal(err)
				}
				if len(a.Images[0].DiffIDs) != 4 {
					b.Fatal("wrong layers")
				}
			}
		})
	}
}

// BenchmarkScanCrafted times Scan on the crafted archives whose cost the
// tests count (TestScanRepeatedConfig, TestScanManyManifestsPerConfig,
// TestScanRepeatedIndexChildren): the times those tests used to bound.
func BenchmarkScanCrafted(b *testing.B) {
	for _, tc := range []struct {
		name  string
		write func(testing.TB) string
	}{
		{"repeated-config", func(tb testing.TB) string { p, _ := repeatedConfigArchive(tb); return p }},
		{"many-manifests", func(tb testing.TB) string { p, _ := manyManifestsArchive(tb); return p }},
		{"nested-index", nestedIndexArchive},
	} {
		b.Run(tc.name, func(b *testing.B) {
			path := tc.write(b)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := oci.Scan(context.Background(), path, oci.ScanOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkGunzip compares the gzip decoders the scanner could use, on a
// 32 MiB layer; bytes/s are decompressed bytes.
func BenchmarkGunzip(b *testing.B) {
	l := benchLayer(32<<20, 7)
	gz := ocitest.Compress(l, oci.CompressionGzip)
	for _, tc := range []struct {
		name string
		open func(io.Reader) (io.Reader, error)
	}{
		{"stdlib", func(r io.Reader) (io.Reader, error) { return stdgzip.NewReader(r) }},
		{"klauspost", func(r io.Reader) (io.Reader, error) { return kpgzip.NewReader(r) }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(len(l)))
			for b.Loop() {
				zr, err := tc.open(bytes.NewReader(gz))
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.Copy(io.Discard, zr); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
