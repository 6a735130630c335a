package oci

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// tarReads is the reference: archive/tar's reader reads b to its end.
func tarReads(b []byte) bool {
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		_, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return true
		}
		if err != nil && !errors.Is(err, tar.ErrInsecurePath) {
			return false
		}
	}
}

// checkInChunks runs tarCheck on b fed in pieces of the given size.
func checkInChunks(b []byte, chunk int) error {
	c := newTarCheck()
	for len(b) > 0 {
		k := min(chunk, len(b))
		c.feed(b[:k])
		b = b[k:]
	}
	return c.Close()
}

func tarSeeds() [][]byte {
	var out [][]byte
	w := func(f func(tw *tar.Writer)) []byte {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		f(tw)
		tw.Close()
		return buf.Bytes()
	}
	out = append(out, nil, make([]byte, 512), make([]byte, 1024), []byte("not a tar"))
	out = append(out, w(func(tw *tar.Writer) {
		tw.WriteHeader(&tar.Header{Name: "a", Mode: 0o644, Size: 5, Typeflag: tar.TypeReg})
		tw.Write([]byte("hello"))
		tw.WriteHeader(&tar.Header{Name: "d/", Mode: 0o755, Typeflag: tar.TypeDir})
		tw.WriteHeader(&tar.Header{Name: "l", Linkname: "a", Typeflag: tar.TypeSymlink})
	}))
	out = append(out, w(func(tw *tar.Writer) { // PAX: a long name and a large uid
		tw.WriteHeader(&tar.Header{Name: strings.Repeat("n", 200), Mode: 0o644, Size: 3, Uid: 1 << 30, Typeflag: tar.TypeReg})
		tw.Write([]byte("abc"))
	}))
	out = append(out, w(func(tw *tar.Writer) { // GNU format
		tw.WriteHeader(&tar.Header{Name: strings.Repeat("g", 150), Mode: 0o644, Size: 600, Typeflag: tar.TypeReg, Format: tar.FormatGNU})
		tw.Write(make([]byte, 600))
	}))
	return out
}

// TestTarCheckAgreesWithArchiveTar: the plain-header path and the hand-over
// to archive/tar give archive/tar's verdict, whatever the chunk sizes.
func TestTarCheckAgreesWithArchiveTar(t *testing.T) {
	t.Parallel()
	for i, b := range tarSeeds() {
		variants := [][]byte{b}
		if len(b) > 0 {
			variants = append(variants, b[:len(b)-1], b[:len(b)/2], append(append([]byte(nil), b...), 1))
		}
		if len(b) >= 512 {
			variants = append(variants, append(append([]byte(nil), b[:512]...), b...))
			flipped := append([]byte(nil), b...)
			flipped[134] ^= 0x01 // the size's low digit: the checksum breaks
			variants = append(variants, flipped)
		}
		for j, v := range variants {
			want := tarReads(v)
			for _, chunk := range []int{1, 7, 512, 1 << 20} {
				if got := checkInChunks(v, chunk) == nil; got != want {
					t.Errorf("seed %d variant %d, chunks of %d: tarCheck says tar = %v, archive/tar %v", i, j, chunk, got, want)
				}
			}
		}
	}
}

// FuzzTarCheck: on any bytes, tarCheck's verdict is archive/tar's.
func FuzzTarCheck(f *testing.F) {
	for _, b := range tarSeeds() {
		f.Add(b, uint16(512))
	}
	f.Fuzz(func(t *testing.T, b []byte, chunk uint16) {
		want := tarReads(b)
		if got := checkInChunks(b, int(chunk)+1) == nil; got != want {
			t.Fatalf("tarCheck says tar = %v, archive/tar %v (chunks of %d)", got, want, int(chunk)+1)
		}
	})
}
