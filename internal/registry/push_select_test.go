package registry

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-attest/oci-attest/internal/oci"
	"github.com/oci-attest/oci-attest/internal/oci/ocitest"
	"github.com/oci-attest/oci-attest/internal/testenv"
)

// disguisedArchive writes a buildx-style archive of amd64 and arm64 whose
// index lists first, for linux/amd64, a third image U under buildx's
// attestation annotations: the scan skips it (issue 9's rule for
// containerd's exported referrers), runtimes read it for linux/amd64.
func disguisedArchive(t *testing.T) (string, digest.Digest) {
	t.Helper()
	img := func(arch string) ocitest.Image {
		return ocitest.Image{RepoTags: []string{"localhost/x/multi:v1"}, Architecture: arch, Layers: []ocitest.Layer{{Files: []ocitest.File{{Name: "a", Content: arch}}}}}
	}
	es, err := ocitest.Entries(ocitest.OCIMultiPlatform, img("amd64"), img("arm64"), img("s390x"))
	if err != nil {
		t.Fatal(err)
	}
	var top ocispec.Index
	ti := slicesIndex(es, "index.json")
	if err := json.Unmarshal(es[ti].Body, &top); err != nil {
		t.Fatal(err)
	}
	ni := slicesIndex(es, "blobs/sha256/"+top.Manifests[0].Digest.Encoded())
	var idx ocispec.Index
	if err := json.Unmarshal(es[ni].Body, &idx); err != nil {
		t.Fatal(err)
	}
	u := idx.Manifests[len(idx.Manifests)-1]
	u.Platform = &ocispec.Platform{OS: "linux", Architecture: "amd64"}
	u.Annotations = map[string]string{"vnd.docker.reference.type": "attestation-manifest", "vnd.docker.reference.digest": idx.Manifests[0].Digest.String()}
	idx.Manifests = append([]ocispec.Descriptor{u}, idx.Manifests[:len(idx.Manifests)-1]...)
	raw, err := json.Marshal(idx)
	if err != nil {
		t.Fatal(err)
	}
	es[ni] = ocitest.Entry{Name: "blobs/sha256/" + digest.FromBytes(raw).Encoded(), Body: raw}
	top.Manifests[0].Digest, top.Manifests[0].Size = digest.FromBytes(raw), int64(len(raw))
	if es[ti].Body, err = json.Marshal(top); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "disguised.tar")
	if err := os.WriteFile(p, ocitest.Tar(es), 0o600); err != nil {
		t.Fatal(err)
	}
	return p, u.Digest
}

func slicesIndex(es []ocitest.Entry, name string) int {
	for i, e := range es {
		if e.Name == name {
			return i
		}
	}
	panic(name + " not in the archive")
}

// TestPushIndexSelectsOnlyImages: push-image of an archive whose index
// leads runtimes to an image the scan skipped is refused before anything
// is pushed, naming the entry (the rule binding holds the pushed index
// to); the honest buildx archive is pushed. The scan itself now refuses
// such an archive (oci's loaded.go, the same reading); PushIndex's check
// stays for an archive read otherwise.
func TestPushIndexSelectsOnlyImages(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p, u := disguisedArchive(t)
	reg := testenv.StartGGCR(t)
	c := newTestClient(t, Options{})
	to := testenv.Ref(t, reg.Host+"/disguised/multi:v1")
	a, err := oci.Scan(ctx, p, oci.ScanOptions{})
	switch {
	case err != nil:
		if !errors.Is(err, oci.ErrAmbiguous) || !strings.Contains(err.Error(), u.String()) || !strings.Contains(err.Error(), "containerd linux/amd64") {
			t.Errorf("Scan(disguised) = %v, want ErrAmbiguous naming %s", err, u)
		}
	case len(a.Images) != 2 || a.Images[0].ImageIndex == nil || a.Images[0].ImageIndex.LackCount != 0:
		t.Fatalf("the disguised archive: %d images, want amd64 and arm64 under a complete index", len(a.Images))
	default:
		_, err = c.PushIndex(ctx, a, a.Images[0].ImageIndex, to)
		if !errors.Is(err, ErrBinding) || !strings.Contains(err.Error(), u.String()) || !strings.Contains(err.Error(), "containerd linux/amd64") {
			t.Errorf("PushIndex(disguised) = %v, want ErrBinding naming %s", err, u)
		}
	}
	r, _ := name.ParseReference(to.String(), name.Insecure)
	if _, err := remote.Head(r); err == nil {
		t.Error("a refused PushIndex left the tag")
	}

	honest, err := oci.Scan(ctx, filepath.Join("..", "..", "testdata", "archives", "oci-multiplatform.tar"), oci.ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.PushIndex(ctx, honest, honest.Images[0].ImageIndex, to); err != nil {
		t.Errorf("PushIndex(buildx archive) = %v", err)
	}
}
