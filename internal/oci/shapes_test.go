package oci_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/oci-attest/oci-attest/internal/oci"
)

// TestLayoutTarredFromDot: an OCI
// layout directory — what `crane pull --format=oci`, `skopeo copy … oci:`,
// kaniko's --oci-layout-path, umoci and rules_oci write — is made an archive
// with `tar -C layout -cf image.tar .`, the usual idiom (GNU and BSD tar
// alike). Its first entry is the directory "./", then "./index.json",
// "./blobs/sha256/…". docker load (moby's tarexport extracts the tar) and
// containerd's import (path.Clean of each name) read it; Scan refuses it
// at the first entry: cleanName reads "./" as "." and calls it an "empty
// name" (ErrUnsafePath), so the user is told the archive is unsafe and not
// what to do. Fix: a directory entry naming the archive's root ("./", ".")
// says nothing and is skipped (a regular file named "." stays refused).
func TestLayoutTarredFromDot(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p, err := layout.Write(filepath.Join(dir, "layout"), empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	img, err := random.Image(512, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": "1"})); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "image.tar")
	cmd := exec.Command("tar", "-C", filepath.Join(dir, "layout"), "-cf", out, ".")
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tar: %v\n%s", err, b)
	}
	a, err := oci.Scan(context.Background(), out, oci.ScanOptions{})
	if err != nil {
		t.Fatalf("Scan(layout tarred with `tar -C layout -cf image.tar .`) = %v; want its image", err)
	}
	if len(a.Images) != 1 {
		t.Errorf("Scan = %d images, want 1", len(a.Images))
	}
}
