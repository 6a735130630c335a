package oci_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/oci-attest/oci-attest/internal/oci"
	"github.com/oci-attest/oci-attest/internal/oci/ocitest"
)

// TestReadLayer: the digests of a layer blob, whatever its compression;
// streams that do not decompress cleanly to their end, and compressions
// containerd cannot apply, are refused.
func TestReadLayer(t *testing.T) {
	t.Parallel()
	l := ocitest.LayerTar([]ocitest.File{{Name: "f", Content: "layer"}})
	for _, c := range []oci.Compression{oci.CompressionNone, oci.CompressionGzip, oci.CompressionZstd} {
		s := ocitest.Compress(l, c)
		got, err := oci.ReadLayer(bytes.NewReader(s))
		if err != nil || got.Stored != sha(s) || got.Size != int64(len(s)) || got.DiffID != sha(l) || got.Compression != c {
			t.Errorf("ReadLayer(%s) = %+v, %v; want stored %s, diffID %s", c, got, err, sha(s), sha(l))
		}
	}
	gz := ocitest.Compress(l, oci.CompressionGzip)
	two := append(append([]byte{}, gz...), ocitest.Compress(l, oci.CompressionGzip)...)
	if got, err := oci.ReadLayer(bytes.NewReader(two)); err != nil || got.DiffID != sha(append(append([]byte{}, l...), l...)) {
		t.Errorf("ReadLayer(two gzip members) = %+v, %v; want both members' bytes, as runtimes read them", got, err)
	}
	zs := ocitest.Compress(l, oci.CompressionZstd)
	for name, b := range map[string][]byte{
		"truncated gzip":       gz[:len(gz)-6],
		"gzip, then junk":      append(append([]byte{}, gz...), "junk"...),
		"zstd, then junk":      append(append([]byte{}, zs...), "junk"...),
		"gzip header, no body": gz[:10],
	} {
		if _, err := oci.ReadLayer(bytes.NewReader(b)); !errors.Is(err, oci.ErrCorruptLayer) {
			t.Errorf("ReadLayer(%s) = %v, want ErrCorruptLayer", name, err)
		}
	}
	if _, err := oci.ReadLayer(bytes.NewReader([]byte("\xfd7zXZ\x00rest"))); !errors.Is(err, oci.ErrUnsupportedCompression) {
		t.Errorf("ReadLayer(xz) = %v, want ErrUnsupportedCompression", err)
	}
}
