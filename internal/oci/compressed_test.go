package oci_test

import (
	"bytes"
	"compress/bzip2"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	digest "github.com/opencontainers/go-digest"

	"github.com/oci-attest/oci-attest/internal/oci"
	"github.com/oci-attest/oci-attest/internal/oci/ocitest"
	"github.com/oci-attest/oci-attest/internal/testenv"
)

// compressTool is the command that compresses a stream with c, as people
// compress archives (docker save IMAGE | gzip > image.tar.gz).
var compressTool = map[oci.Compression]string{oci.CompressionGzip: "gzip", oci.CompressionZstd: "zstd", oci.CompressionBzip2: "bzip2"}

// realCompress compresses b with the system's tool for c.
func realCompress(t testing.TB, b []byte, c oci.Compression) []byte {
	t.Helper()
	cmd := testenv.Command(testenv.RequireBin(t, compressTool[c]), "-c")
	cmd.Stdin = bytes.NewReader(b)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s -c: %v", compressTool[c], err)
	}
	return out
}

// plainTar is data decompressed as docker load and containers/image do
// (gzip, zstd, bzip2, sniffed), or data itself.
func plainTar(data []byte) ([]byte, error) {
	var r io.Reader
	switch {
	case bytes.HasPrefix(data, []byte("\x1f\x8b")):
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, err
		}
		r = zr
	case bytes.HasPrefix(data, []byte("\x28\xb5\x2f\xfd")):
		zr, err := zstd.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, err
		}
		defer zr.Close()
		r = zr
	case bytes.HasPrefix(data, []byte("BZh")):
		r = bzip2.NewReader(bytes.NewReader(data))
	default:
		return data, nil
	}
	return io.ReadAll(r)
}

// gnuDotTar is an archive extracted with GNU tar and tarred again as people
// tar a layout directory: tar -cf x.tar -C DIR . (a "./" root entry, every
// name under "./").
func gnuDotTar(t testing.TB, data []byte) []byte {
	t.Helper()
	gnu := testenv.RequireBin(t, "tar")
	dir, out := t.TempDir(), filepath.Join(t.TempDir(), "dot.tar")
	in := writeTemp(t, "in.tar", data)
	for _, args := range [][]string{{"-xf", in, "-C", dir}, {"-cf", out, "-C", dir, "."}} {
		if b, err := testenv.Command(gnu, args...).CombinedOutput(); err != nil {
			t.Fatalf("tar %v: %v\n%s", args, err, b)
		}
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sameImages compares what two scans read, image by image.
func sameImages(t *testing.T, got, want *oci.Archive) {
	t.Helper()
	type img struct {
		ID, Manifest digest.Digest
		Tags         []string
		Layers       []oci.Layer
		DiffIDs      []digest.Digest
		Platform     string
	}
	view := func(a *oci.Archive) []img {
		var out []img
		for _, i := range a.Images {
			out = append(out, img{i.ImageID, i.ManifestDigest, i.RepoTags, i.Layers, i.DiffIDs, i.Platform.String()})
		}
		return out
	}
	if diff := cmp.Diff(view(want), view(got)); diff != "" || got.Format != want.Format || !bytes.Equal(got.ManifestRaw, want.ManifestRaw) {
		t.Errorf("images (-tar +other) %s; format %s, want %s; manifest raw equal: %v", diff, got.Format, want.Format, bytes.Equal(got.ManifestRaw, want.ManifestRaw))
	}
}

// TestCompressedArchives (issue 26 item 4): every fixture compressed as a
// whole by gzip, zstd and bzip2 reads as the same images; the tar digest
// is the compressed file's, and OpenBlob serves every config, layer and
// manifest with the tar's bytes.
func TestCompressedArchives(t *testing.T) {
	t.Parallel()
	for _, fx := range ocitest.Archives() {
		for c := range compressTool {
			t.Run(fx.Name+"."+string(c), func(t *testing.T) {
				t.Parallel()
				plain := filepath.Join(archivesDir, fx.Name)
				raw, err := os.ReadFile(plain)
				if err != nil {
					t.Fatal(err)
				}
				want, err := oci.Scan(context.Background(), plain, oci.ScanOptions{})
				if err != nil {
					t.Fatal(err)
				}
				z := realCompress(t, raw, c)
				a, err := oci.Scan(context.Background(), writeTemp(t, "a.tar."+string(c), z), oci.ScanOptions{TempDir: t.TempDir()})
				if err != nil {
					t.Fatalf("Scan(%s-compressed %s) = %v", c, fx.Name, err)
				}
				defer a.Close()
				if a.TarDigest != sha(z) || a.Compression != c || a.Size != int64(len(z)) {
					t.Errorf("TarDigest %s, Compression %s, Size %d; want the compressed file's %s, %s, %d", a.TarDigest, a.Compression, a.Size, sha(z), c, len(z))
				}
				sameImages(t, a, want)
				for _, img := range a.Images {
					ds := []digest.Digest{img.ImageID}
					if img.ManifestDigest != "" {
						ds = append(ds, img.ManifestDigest)
					}
					for _, l := range img.Layers {
						ds = append(ds, l.Digest)
					}
					for _, d := range ds {
						if got, wantb := mustBlob(t, a, d), mustBlob(t, want, d); !bytes.Equal(got, wantb) {
							t.Errorf("OpenBlob(%s) of the compressed archive differs from the tar's (%d bytes, %d)", d, len(got), len(wantb))
						}
					}
				}
			})
		}
	}
}

// mustBlob reads blob d of a whole.
func mustBlob(t *testing.T, a *oci.Archive, d digest.Digest) []byte {
	t.Helper()
	b, err := readBlob(t, a, d)
	if err != nil {
		t.Fatalf("reading blob %s: %v", d, err)
	}
	return b
}

// TestCompressedArchiveDeferredLayers: layers the pass defers in a
// compressed archive are decompressed after it from the decompressed
// stream read again, in any order (here the image names them in reverse).
func TestCompressedArchiveDeferredLayers(t *testing.T) {
	t.Parallel()
	a1, d1 := zerosLayer(t, 40<<20, oci.CompressionZstd)
	a2, d2 := zerosLayer(t, 48<<20, oci.CompressionGzip)
	es := dockerArchive(t, layerFile{path: "b/layer.tar", stored: a2, diffID: d2}, layerFile{path: "a/layer.tar", stored: a1, diffID: d1})
	// The image's first layer comes second in the tar.
	i, j := find(t, es, "a/layer.tar"), find(t, es, "b/layer.tar")
	es[i], es[j] = es[j], es[i]
	z := ocitest.Compress(ocitest.Tar(es), oci.CompressionGzip)
	a, cost, err := oci.ScanCounted(context.Background(), writeTemp(t, "deferred.tar.gz", z), oci.ScanOptions{}, nil)
	if err != nil {
		t.Fatalf("Scan() = %v", err)
	}
	if img := a.Images[0]; img.DiffIDs[0] != d2 || img.DiffIDs[1] != d1 {
		t.Errorf("diffIDs %v, want %s %s", img.DiffIDs, d2, d1)
	}
	if cost.Inflated != 2 || cost.Reread != int64(len(a1)+len(a2)) {
		t.Errorf("cost %+v: want both layers decompressed after the pass", cost)
	}
}

// TestCompressedArchiveBound: a compressed archive that expands more than
// 128 times (plus 64 MiB) is refused with the command that decompresses it,
// after decompressing no more than that; the same tar uncompressed is read.
func TestCompressedArchiveBound(t *testing.T) {
	t.Parallel()
	es := append(goodEntries(t, "docker25.tar"), ocitest.Entry{Name: "zeros", Body: make([]byte, 160<<20)})
	tarb := ocitest.Tar(es)
	z := ocitest.Compress(tarb, oci.CompressionGzip)
	_, err := oci.Scan(context.Background(), writeTemp(t, "bomb.tar.gz", z), oci.ScanOptions{})
	if !errors.Is(err, oci.ErrTooLarge) || !strings.Contains(err.Error(), "more than 128 times its size") || !strings.Contains(err.Error(), "gunzip") {
		t.Fatalf("Scan(%d bytes expanding to %d) = %v, want ErrTooLarge saying to gunzip", len(z), len(tarb), err)
	}
	if _, err := oci.Scan(context.Background(), writeTemp(t, "bomb.tar", tarb), oci.ScanOptions{}); err != nil {
		t.Errorf("Scan(the same tar) = %v", err)
	}
}

// TestGNUTarDotArchives (issue 26 item 4): every fixture extracted and
// tarred again with GNU tar's tar -cf x.tar -C DIR . — the way layout
// directories of crane, skopeo and oras are tarred — reads as the same
// images, also compressed.
func TestGNUTarDotArchives(t *testing.T) {
	t.Parallel()
	for _, fx := range ocitest.Archives() {
		t.Run(fx.Name, func(t *testing.T) {
			t.Parallel()
			plain := filepath.Join(archivesDir, fx.Name)
			raw, err := os.ReadFile(plain)
			if err != nil {
				t.Fatal(err)
			}
			want, err := oci.Scan(context.Background(), plain, oci.ScanOptions{})
			if err != nil {
				t.Fatal(err)
			}
			dot := gnuDotTar(t, raw)
			if !bytes.Contains(dot[:512], []byte("./\x00")) {
				t.Fatalf("GNU tar wrote no ./ root entry first")
			}
			for _, b := range [][]byte{dot, realCompress(t, dot, oci.CompressionGzip)} {
				a, err := oci.Scan(context.Background(), writeTemp(t, "dot.tar", b), oci.ScanOptions{})
				if err != nil {
					t.Fatalf("Scan(tar -C DIR . of %s) = %v", fx.Name, err)
				}
				sameImages(t, a, want)
			}
		})
	}
}
