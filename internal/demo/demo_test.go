package demo

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/oci-attest/oci-attest/internal/oci/ocitest"
)

// TestDemo runs the README's first command: the whole flow against both
// embedded registries, ending with a tampered archive being caught.
func TestDemo(t *testing.T) {
	t.Parallel()
	var out strings.Builder
	err := Run(context.Background(), Options{Out: &out})
	stdout := out.String()
	if err != nil {
		t.Fatalf("Run() = %v\n%s", err, stdout)
	}
	for _, want := range []string{
		"no fallback tag written", "the fallback tag sha256-", "image.tar matches",
		"4. A tampered copy", "caught: the signature verifies, but the archive is not the attested image", "imageid", "diffids[1]",
		"   $ oci-attest --subject-path ", "   $ oras discover ", "   $ oci-attest verify ", "removed when the demo exits", "oci-attest demo --keep",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("demo output lacks %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout, "registry requests") {
		t.Errorf("demo output still counts requests:\n%s", stdout)
	}
}

// TestFixtures: the embedded archives are what the generator writes (go run
// ./internal/oci/ocitest/gen), and tampered.tar changes the file the demo
// names.
func TestFixtures(t *testing.T) {
	t.Parallel()
	as, err := ocitest.DemoArchives()
	if err != nil {
		t.Fatal(err)
	}
	embedded := map[string][]byte{"image.tar": imageTar, "tampered.tar": tamperedTar}
	for _, a := range as {
		b, err := a.Build()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, embedded[a.Name]) {
			t.Errorf("testdata/%s differs from the generator's output; run: go run ./internal/oci/ocitest/gen", a.Name)
		}
	}
	if tamperedFile != ocitest.DemoTamperedFile {
		t.Errorf("tamperedFile = %q, want %q", tamperedFile, ocitest.DemoTamperedFile)
	}
}
