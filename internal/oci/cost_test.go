package oci_test

import (
	"bytes"
	"compress/bzip2"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	digest "github.com/opencontainers/go-digest"

	"github.com/oci-attest/oci-attest/internal/oci"
	"github.com/oci-attest/oci-attest/internal/oci/ocitest"
)

// zerosLayer is ocitest.ZerosLayer with a typed diffID.
func zerosLayer(t testing.TB, n int64, c oci.Compression) ([]byte, digest.Digest) {
	t.Helper()
	stored, diffID := ocitest.ZerosLayer(n, c)
	return stored, digest.Digest(diffID)
}

// layerFile is a layer of a hand-made docker-archive: its path, stored
// bytes and diffID.
type layerFile struct {
	path   string
	stored []byte
	diffID digest.Digest
}

// dockerArchive is ocitest.DockerArchive of one image with the given layers
// (manifest.json last, after every layer).
func dockerArchive(t testing.TB, layers ...layerFile) []ocitest.Entry {
	t.Helper()
	var ls []ocitest.StoredLayer
	for _, l := range layers {
		ls = append(ls, ocitest.StoredLayer{Path: l.path, Stored: l.stored, DiffID: string(l.diffID)})
	}
	return ocitest.DockerArchive("cost.local/zeros:1", ls...)
}

// TestUnreferencedCompressedEntriesCostNothing (issue 9, class 6): gzip and
// zstd entries no image uses may expand to GiBs; the pass decompresses each
// only up to its small budget (PassRatio × its share of the file; nothing
// for entries under 64 KiB), so the whole scan decompresses a few MiB, not
// 2.6 GiB. The
// archive is still accepted, with the same image.
func TestUnreferencedCompressedEntriesCostNothing(t *testing.T) {
	t.Parallel()
	es := goodEntries(t, "docker-legacy.tar")
	good, err := oci.Scan(context.Background(), writeTemp(t, "good.tar", ocitest.Tar(es)), oci.ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	frames := bytes.Repeat(ocitest.Compress(make([]byte, 1<<20), oci.CompressionZstd), 300) // 300 MiB
	gz := ocitest.Compress(make([]byte, 64<<20), oci.CompressionGzip)                       // 64 MiB
	frame := ocitest.Compress(make([]byte, 1<<20), oci.CompressionZstd)
	junk := []ocitest.Entry{
		// 2000 MiB from 230 KB: big enough to be decompressed during the
		// pass, until its budget runs out.
		{Name: "0-junk/big.zst", Body: bytes.Repeat(frame, 2000)},
		{Name: "0-junk/frames.zst", Body: frames},
		{Name: "0-junk/zeros.gz", Body: gz},
		{Name: "zz-junk/again.zst", Body: frames},
	}
	path := writeTemp(t, "junk.tar", ocitest.Tar(append(junk, es...)))
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	a, cost, err := oci.ScanCounted(context.Background(), path, oci.ScanOptions{}, nil)
	if err != nil {
		t.Fatalf("Scan() = %v", err)
	}
	if a.Images[0].ImageID != good.Images[0].ImageID || len(a.Images[0].DiffIDs) != len(good.Images[0].DiffIDs) {
		t.Errorf("Scan() image %s, want %s", a.Images[0].ImageID, good.Images[0].ImageID)
	}
	if limit := oci.PassRatio * st.Size(); cost.Decompressed > limit {
		t.Errorf("Scan() decompressed %d bytes for a %d-byte archive whose layers are uncompressed; want at most %d (the pass's budget)", cost.Decompressed, st.Size(), limit)
	}
	if cost.Deferred != len(junk) || cost.Inflated != 0 || cost.Reread != 0 || cost.Decompressed == 0 {
		t.Errorf("Scan() cost %+v; want %d deferred entries (one partly decompressed during the pass), none decompressed after it", cost, len(junk))
	}
	t.Logf("%d-byte archive, cost %+v", st.Size(), cost)
}

// TestManyTinyCompressedEntries (issue 9, class 6, entry-count extreme):
// thousands of tiny zstd entries, each a frame of 1 MiB of zeros, cost no
// decompression at all (a decoder works a block of up to 128 KiB at a time,
// so even a small budget per entry would cost 128 KiB each): entries under
// 64 KiB are deferred untouched.
func TestManyTinyCompressedEntries(t *testing.T) {
	t.Parallel()
	frame := ocitest.Compress(make([]byte, 1<<20), oci.CompressionZstd)
	es := goodEntries(t, "docker-legacy.tar")
	for i := range 5000 {
		es = append(es, ocitest.Entry{Name: fmt.Sprintf("junk/%d.zst", i), Body: frame})
	}
	_, cost, err := oci.ScanCounted(context.Background(), writeTemp(t, "tiny.tar", ocitest.Tar(es)), oci.ScanOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cost.Decompressed != 0 || cost.Deferred != 5000 {
		t.Errorf("Scan() cost %+v; want 5000 entries deferred, nothing decompressed", cost)
	}
}

// TestScanMaxEntries: an archive of more than 65536 entries is refused,
// saying what to do.
func TestScanMaxEntries(t *testing.T) {
	t.Parallel()
	es := goodEntries(t, "docker-legacy.tar")
	for i := len(es); i <= 1<<16; i++ {
		es = append(es, ocitest.Entry{Name: fmt.Sprintf("junk/%d", i)})
	}
	_, err := oci.Scan(context.Background(), writeTemp(t, "many.tar", ocitest.Tar(es)), oci.ScanOptions{})
	if !errors.Is(err, oci.ErrTooLarge) || !strings.Contains(err.Error(), "more than 65536 entries") || !strings.Contains(err.Error(), `README "Limits"`) {
		t.Fatalf("Scan(65537 entries) = %v, want ErrTooLarge", err)
	}
}

// TestReferencedLayerAnyRatio (issue 9, class 6): a real layer of 300 MiB
// of zeros (zstd: a few KiB stored, far beyond any ratio limit) and one of
// 64 MiB (gzip -9, about 1000:1) are attested with their true diffIDs: the
// pass defers them, and they are decompressed after it, once each although
// the image names one twice, from their bytes read again at the offsets the
// pass recorded. So is a small gzip layer (too small to decompress during
// the pass); an ordinary one (ratio 3) is decompressed during the pass.
func TestReferencedLayerAnyRatio(t *testing.T) {
	t.Parallel()
	zst, zstDiff := zerosLayer(t, 300<<20, oci.CompressionZstd)
	gz, gzDiff := zerosLayer(t, 64<<20, oci.CompressionGzip)
	small := ocitest.LayerTar([]ocitest.File{{Name: "etc/small", Content: "small\n"}})
	text := benchLayer(512<<10, 3)
	textGz := ocitest.Compress(text, oci.CompressionGzip)
	if len(textGz) < 64<<10 || len(text) > oci.PassRatio*len(textGz) {
		t.Fatalf("the text layer stores in %d bytes for %d", len(textGz), len(text))
	}
	layers := []layerFile{
		{path: "a/layer.tar", stored: zst, diffID: zstDiff},
		// A name longer than 100 bytes: a PAX header precedes the entry,
		// and the offset the pass records must be past it.
		{path: strings.Repeat("long-directory-name/", 6) + "layer.tar", stored: gz, diffID: gzDiff},
		{path: "c/layer.tar", stored: ocitest.Compress(small, oci.CompressionGzip), diffID: sha(small)},
		{path: "a/layer.tar", stored: zst, diffID: zstDiff},
		{path: "d/layer.tar", stored: textGz, diffID: sha(text)},
	}
	path := writeTemp(t, "zeros.tar", ocitest.Tar(dockerArchive(t, layers...)))
	a, cost, err := oci.ScanCounted(context.Background(), path, oci.ScanOptions{}, nil)
	if err != nil {
		t.Fatalf("Scan() = %v, want the layers attested", err)
	}
	img := a.Images[0]
	for i, l := range layers {
		if img.DiffIDs[i] != l.diffID || img.Layers[i].Digest != sha(l.stored) || img.Layers[i].Size != int64(len(l.stored)) {
			t.Errorf("layer %d: diffID %s digest %s size %d; want %s %s %d", i, img.DiffIDs[i], img.Layers[i].Digest, img.Layers[i].Size, l.diffID, sha(l.stored), len(l.stored))
		}
	}
	if img.Layers[0].Compression != oci.CompressionZstd || img.Layers[1].Compression != oci.CompressionGzip {
		t.Errorf("compressions %s, %s", img.Layers[0].Compression, img.Layers[1].Compression)
	}
	if reread := int64(len(zst) + len(gz) + len(layers[2].stored)); cost.Deferred != 3 || cost.Inflated != 3 || cost.Reread != reread {
		t.Errorf("Scan() cost %+v; want the zeros layers and the small one deferred and decompressed once each from %d bytes read again, the text layer during the pass", cost, reread)
	}
	if cost.Decompressed < 364<<20 {
		t.Errorf("Scan() decompressed %d bytes; the layers hold 364 MiB", cost.Decompressed)
	}
}

// TestDeferredLayerNamedByDiffID: a deferred layer named <diffID>.tar.gz is
// accepted once decompressed; an unreferenced deferred entry whose name is
// neither its digest nor (as far as anyone computed) its diffID is refused,
// without paying for its decompression.
func TestDeferredLayerNamedByDiffID(t *testing.T) {
	t.Parallel()
	zst, diff := zerosLayer(t, 32<<20, oci.CompressionZstd)
	es := dockerArchive(t, layerFile{path: diff.Encoded() + ".tar.gz", stored: zst, diffID: diff})
	if _, err := oci.Scan(context.Background(), writeTemp(t, "named.tar", ocitest.Tar(es)), oci.ScanOptions{}); err != nil {
		t.Fatalf("Scan(layer named by its diffID) = %v", err)
	}
	other := digest.FromString("other").Encoded() + ".tar.gz"
	es = append(es, ocitest.Entry{Name: other, Body: zst})
	_, cost, err := oci.ScanCounted(context.Background(), writeTemp(t, "misnamed.tar", ocitest.Tar(es)), oci.ScanOptions{}, nil)
	if !errors.Is(err, oci.ErrDigestMismatch) || !strings.Contains(err.Error(), other) || !strings.Contains(err.Error(), "no image uses it") {
		t.Fatalf("Scan(unreferenced misnamed entry) = %v, want ErrDigestMismatch naming %s", err, other)
	}
	if cost.Inflated != 1 {
		t.Errorf("Scan() cost %+v; want only the layer decompressed after the pass", cost)
	}
}

// TestDeferredLayerFileChanged: a deferred layer is read again after the
// pass; if the file changed in between, the bytes read again do not hash to
// what the pass hashed, and Scan refuses the archive.
func TestDeferredLayerFileChanged(t *testing.T) {
	t.Parallel()
	zst, diff := zerosLayer(t, 32<<20, oci.CompressionZstd)
	b := ocitest.Tar(dockerArchive(t, layerFile{path: "l/layer.tar", stored: zst, diffID: diff}))
	path := writeTemp(t, "changed.tar", b)
	at := int64(bytes.Index(b, zst)) + int64(len(zst))/2
	_, _, err := oci.ScanCounted(context.Background(), path, oci.ScanOptions{}, func() {
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			t.Error(err)
			return
		}
		defer f.Close()
		if _, err := f.WriteAt([]byte{b[at] ^ 1}, at); err != nil {
			t.Error(err)
		}
	})
	if !errors.Is(err, oci.ErrDigestMismatch) || !strings.Contains(err.Error(), "l/layer.tar") || !strings.Contains(err.Error(), "changed") {
		t.Fatalf("Scan() = %v, want ErrDigestMismatch: the file changed", err)
	}
}

// TestDeferredLayerCorrupt: errors past the pass's budget (here data after
// the end of the stream) are found when the layer is decompressed after it.
func TestDeferredLayerCorrupt(t *testing.T) {
	t.Parallel()
	zst, diff := zerosLayer(t, 32<<20, oci.CompressionZstd)
	bad := append(append([]byte{}, zst...), "trailing junk"...)
	es := dockerArchive(t, layerFile{path: "l/layer.tar", stored: bad, diffID: diff})
	_, cost, err := oci.ScanCounted(context.Background(), writeTemp(t, "corrupt.tar", ocitest.Tar(es)), oci.ScanOptions{}, nil)
	if !errors.Is(err, oci.ErrCorruptLayer) || !strings.Contains(err.Error(), "l/layer.tar") {
		t.Fatalf("Scan() = %v, want ErrCorruptLayer naming the layer", err)
	}
	if cost.Inflated != 1 {
		t.Errorf("cost %+v, want the layer decompressed after the pass", cost)
	}
}

// TestDeferredLayerProgress: decompressing a deferred layer reports
// progress through LayerProgress (the CLI logs it), and stops when the
// context is cancelled.
func TestDeferredLayerProgress(t *testing.T) {
	t.Parallel()
	zst, diff := zerosLayer(t, 256<<20, oci.CompressionZstd)
	path := writeTemp(t, "progress.tar", ocitest.Tar(dockerArchive(t, layerFile{path: "l/layer.tar", stored: zst, diffID: diff})))
	t.Run("progress", func(t *testing.T) {
		t.Parallel()
		var calls int
		var last int64
		opts := oci.ScanOptions{ProgressInterval: time.Nanosecond, LayerProgress: func(entry string, read, size, decompressed int64) {
			calls++
			if entry != "l/layer.tar" || size != int64(len(zst)) || read > size || decompressed < last {
				t.Errorf("LayerProgress(%q, %d, %d, %d) after %d decompressed bytes", entry, read, size, decompressed, last)
			}
			last = decompressed
		}}
		if _, err := oci.Scan(context.Background(), path, opts); err != nil {
			t.Fatal(err)
		}
		if calls == 0 || last == 0 {
			t.Errorf("LayerProgress: %d calls, last at %d decompressed bytes; want progress while 256 MiB decompress", calls, last)
		}
	})
	t.Run("cancel", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		opts := oci.ScanOptions{ProgressInterval: time.Nanosecond, LayerProgress: func(string, int64, int64, int64) { cancel() }}
		_, cost, err := oci.ScanCounted(ctx, path, opts, nil)
		if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), path) {
			t.Fatalf("Scan() = %v, want context.Canceled naming the archive", err)
		}
		if cost.Decompressed >= 256<<20 {
			t.Errorf("Scan() decompressed the whole layer (%d bytes) after it was cancelled", cost.Decompressed)
		}
	})
}

// Real xz and bzip2 streams of xzLayerTar (xz -9e, bzip2 -9).
const (
	xzLayerHex    = "fd377a585a000004e6d6b446020021011c00000010cf58cce007ff005c5d00329d088614a807d0e1cf95bf2192fd4f4fb009bc14d734f1a69c92a0f53f07219a2c7194c884d72c43313ba681ef01903d1b5ab60b62b455303c3a66efa813a1b0d0cf26547c259a573c00185199929727af448278027e83e54c040000aeecae9f9ecc04a300017880100000007cbcdbc5b1c467fb020000000004595a"
	bzip2LayerHex = "425a68393141592653591a7bc53b00003b5b90ca104000ff8410006e22de5004000108200074214f46a69a0681ea34d34d3d209451880c80c8001ddacff20e68215f0d7a908554082a129a5d32e5118a0919a2a0f6eac4e02081026582664eb5a38878b2a21d77748a9efcfbc1480955f5d047f1772453850901a7bc53b0"
)

// xzLayerTar is the layer the xz and bzip2 streams hold.
func xzLayerTar() []byte {
	return ocitest.LayerTar([]ocitest.File{{Name: "etc/ocitest/xz", Content: "compressed\n"}})
}

// TestXzAndBzip2LayersRefused (issue 9, class 5's xz clause): docker loads xz
// and bzip2 layers but containerd does not; with their true diffIDs in the
// config they are refused as unsupported, not as corrupt or "not a tar".
// Unreferenced, they are just entries.
func TestXzAndBzip2LayersRefused(t *testing.T) {
	t.Parallel()
	diff := sha(xzLayerTar())
	bz, _ := hex.DecodeString(bzip2LayerHex)
	if got, err := io.ReadAll(bzip2.NewReader(bytes.NewReader(bz))); err != nil || !bytes.Equal(got, xzLayerTar()) {
		t.Fatalf("the bzip2 stream does not hold xzLayerTar: %v", err)
	}
	xz, _ := hex.DecodeString(xzLayerHex)
	for _, tc := range []struct {
		name   string
		stored []byte
	}{{"xz", xz}, {"bzip2", bz}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			es := dockerArchive(t, layerFile{path: "l/layer.tar", stored: tc.stored, diffID: diff})
			_, err := oci.Scan(context.Background(), writeTemp(t, tc.name+".tar", ocitest.Tar(es)), oci.ScanOptions{})
			if !errors.Is(err, oci.ErrUnsupportedCompression) || !strings.Contains(err.Error(), "l/layer.tar") ||
				!strings.Contains(err.Error(), tc.name+"-compressed layer: containerd cannot load it; re-save the image with gzip or zstd layers") {
				t.Fatalf("Scan(%s layer) = %v, want ErrUnsupportedCompression naming the layer and what to do", tc.name, err)
			}
			junk := append(goodEntries(t, "docker-legacy.tar"), ocitest.Entry{Name: "extra/layer." + tc.name, Body: tc.stored})
			if _, err := oci.Scan(context.Background(), writeTemp(t, "junk.tar", ocitest.Tar(junk)), oci.ScanOptions{}); err != nil {
				t.Errorf("Scan(unreferenced %s entry) = %v", tc.name, err)
			}
			// A layer compressed as a whole is a tar without manifest.json
			// once decompressed (bzip2), or refused with the command (xz).
			want := map[string]string{"xz": "decompress it first (xz -d)", "bzip2": "neither manifest.json nor index.json"}[tc.name]
			whole := writeTemp(t, "whole", tc.stored)
			if _, err := oci.Scan(context.Background(), whole, oci.ScanOptions{}); !errors.Is(err, oci.ErrNotArchive) || !strings.Contains(err.Error(), want) {
				t.Errorf("Scan(%s-compressed file) = %v, want ErrNotArchive saying %q", tc.name, err, want)
			}
		})
	}
}
