package cli

import (
	"bytes"
	"compress/gzip"
	"context"
	"maps"
	"os"
	"path/filepath"
	"testing"

	"github.com/oci-attest/oci-attest/internal/oci/ocitest"
	"github.com/oci-attest/oci-attest/internal/testenv"
)

// repoRoot is the repository's root, seen from this package's directory
// (go test runs tests in the package directory).
const repoRoot = "../.."

// testdataDir holds the generated archives and the golden statements.
const testdataDir = repoRoot + "/testdata"

// pubKeyFile writes a PEM public key (what --signing-key must not be given).
func pubKeyFile(t *testing.T) string {
	t.Helper()
	_, pub := verifyKeyPair(t)
	return pub
}

// rootWithLog is a trusted root listing a timestamp authority and a Rekor
// log (no services behind them).
func rootWithLog(t *testing.T) string {
	t.Helper()
	return testenv.OfflineTrustedRoot(t, true, true)
}

// gzipped writes a gzip-compressed copy of the file at p.
func gzipped(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), filepath.Base(p)+".gz")
	if err := os.WriteFile(out, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return out
}

// xzMagic writes a file that starts like an xz stream (the reader refuses
// xz-compressed archives with the command that decompresses them).
func xzMagic(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), filepath.Base(p)+".xz")
	if err := os.WriteFile(out, append([]byte("\xfd7zXZ\x00\x00\x04"), b...), 0o600); err != nil {
		t.Fatal(err)
	}
	return out
}

// imageTagged is a one-layer test image tagged tag ("" untagged) whose
// content is content.
func imageTagged(tag, content string) ocitest.Image {
	img := ocitest.Image{Layers: []ocitest.Layer{{Files: []ocitest.File{{Name: "etc/" + content, Content: content + "\n"}}}}}
	if tag != "" {
		img.RepoTags = []string{tag}
	}
	return img
}

// docker25 is a docker save (≥25) archive of images.
func docker25(t *testing.T, images ...ocitest.Image) []byte {
	t.Helper()
	b, err := ocitest.Build(ocitest.Docker25, images...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeArchiveFile(t *testing.T, p string, b []byte) {
	t.Helper()
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// untaggedArchive is an archive of two untagged images: none to attest
// without subject-name.
func untaggedArchive(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "untagged.tar")
	writeArchiveFile(t, p, docker25(t, imageTagged("", "a"), imageTagged("", "b")))
	return p
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// env is an injected environment (no os.Setenv: every test runs in parallel).
type env map[string]string

func (e env) get(k string) string { return e[k] }

// runCLI runs the CLI with e, and TMPDIR the test's own directory unless
// e sets it: a run without bundle-path writes its bundles there.
func runCLI(t *testing.T, e env, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	if _, ok := e["TMPDIR"]; !ok {
		e = maps.Clone(e)
		if e == nil {
			e = env{}
		}
		e["TMPDIR"] = t.TempDir()
	}
	var o, s bytes.Buffer
	err = Run(context.Background(), args, e.get, &o, &s)
	return o.String(), s.String(), err
}
