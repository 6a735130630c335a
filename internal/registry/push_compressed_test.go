package registry

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/oci-attest/oci-attest/internal/oci"
	"github.com/oci-attest/oci-attest/internal/oci/ocitest"
	"github.com/oci-attest/oci-attest/internal/testenv"
)

// TestPushFromCompressedArchive (issue 26 item 4): an archive compressed
// as a whole pushes the same registry image as the tar it holds — the
// index of a multi-platform archive byte for byte, the image of a docker
// archive with its stored manifest — its blobs read from the decompressed
// stream (spilled once).
func TestPushFromCompressedArchive(t *testing.T) {
	t.Parallel()
	reg := testenv.StartOlareg(t)
	for _, fx := range []string{"oci-multiplatform.tar", "docker25-gzip.tar", "podman.tar"} {
		for _, c := range []oci.Compression{oci.CompressionGzip, oci.CompressionZstd} {
			t.Run(fx+"."+string(c), func(t *testing.T) {
				t.Parallel()
				ctx := context.Background()
				raw, err := os.ReadFile(filepath.Join("..", "..", "testdata", "archives", fx))
				if err != nil {
					t.Fatal(err)
				}
				p := filepath.Join(t.TempDir(), fx+"."+string(c))
				if err := os.WriteFile(p, ocitest.Compress(raw, c), 0o600); err != nil {
					t.Fatal(err)
				}
				a, err := oci.Scan(ctx, p, oci.ScanOptions{TempDir: t.TempDir()})
				if err != nil {
					t.Fatal(err)
				}
				defer a.Close()
				plain, err := oci.Scan(ctx, filepath.Join("..", "..", "testdata", "archives", fx), oci.ScanOptions{})
				if err != nil {
					t.Fatal(err)
				}
				cl := newTestClient(t, Options{})
				target := reg.Host + "/compressed/" + fx
				got := push(t, cl, a, target+":"+string(c))
				if want := push(t, cl, plain, target+":plain"); got != want {
					t.Errorf("pushed %s from the %s-compressed archive, %s from the tar", got, c, want)
				}
				r, err := name.ParseReference(target+"@"+got, name.Insecure)
				if err != nil {
					t.Fatal(err)
				}
				if a.Images[0].Layers[0].Compression == oci.CompressionGzip {
					ri, err := remote.Image(r)
					if err != nil {
						t.Fatal(err)
					}
					if err := validate.Image(ri); err != nil {
						t.Errorf("pushed image does not validate: %v", err)
					}
				}
			})
		}
	}
}

// push pushes the first image (or its index) of a to target.
func push(t *testing.T, cl *Client, a *oci.Archive, target string) string {
	t.Helper()
	ctx := context.Background()
	img := &a.Images[0]
	if img.ImageIndex != nil {
		d, err := cl.PushIndex(ctx, a, img.ImageIndex, testenv.Ref(t, target))
		if err != nil {
			t.Fatalf("PushIndex(%s) = %v", a.Path, err)
		}
		return d.Digest.String()
	}
	d, err := cl.PushImage(ctx, a, img, testenv.Ref(t, target))
	if err != nil {
		t.Fatalf("PushImage(%s) = %v", a.Path, err)
	}
	return d.Digest.String()
}
