package oci_test

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	digest "github.com/opencontainers/go-digest"

	"github.com/oci-attest/oci-attest/internal/oci/ocitest"
)

// archivesDir is where the generated archives are committed.
const archivesDir = "../../testdata/archives"

// writeTemp writes b to a file in a test temp dir and returns its path.
func writeTemp(t testing.TB, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// sha is the sha256 digest of b.
func sha(b []byte) digest.Digest {
	s := sha256.Sum256(b)
	return digest.NewDigestFromBytes(digest.SHA256, s[:])
}

// fileEntry reads one entry of a tar file with archive/tar.
func fileEntry(t testing.TB, path, name string) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			t.Fatalf("%s has no entry %q", path, name)
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Name == name {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	}
}

// goodEntries returns the entries of the named good archive.
func goodEntries(t testing.TB, name string) []ocitest.Entry {
	t.Helper()
	for _, a := range ocitest.Archives() {
		if a.Name == name {
			es, err := ocitest.Entries(a.Layout, a.Images...)
			if err != nil {
				t.Fatal(err)
			}
			return es
		}
	}
	t.Fatalf("no archive %q", name)
	return nil
}

// find returns the index of the entry named name.
func find(t testing.TB, es []ocitest.Entry, name string) int {
	t.Helper()
	for i, e := range es {
		if e.Name == name {
			return i
		}
	}
	t.Fatalf("no entry %q", name)
	return -1
}

// withoutTrailingSlash compares tar names.
func trimSlash(s string) string { return string(bytes.TrimSuffix([]byte(s), []byte("/"))) }

// tarEntry is an entry read with archive/tar.
type tarEntry struct {
	*tar.Header
	body []byte
}

// tarEntries reads every entry of a tar file with archive/tar.
func tarEntries(t testing.TB, path string) map[string]tarEntry {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m := map[string]tarEntry{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return m
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		m[trimSlash(h.Name)] = tarEntry{h, b}
	}
}
