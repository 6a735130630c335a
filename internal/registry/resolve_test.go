package registry

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/oci-attest/oci-attest/internal/testenv"
)

// putRaw PUTs a manifest with the given Content-Type to a real registry.
func putRaw(t *testing.T, host, repo, ref, mediaType, body string) {
	t.Helper()
	testenv.PutManifest(t, host, repo, ref, mediaType, []byte(body))
}

// TestResolveNeverBindsNonImages: what a tag names is bound only when it is
// an image manifest or an index runtimes resolve to the image: a Docker
// schema 1 manifest carrying a config digest is refused, never bound; an
// index that reaches the image through a nested index is what runtimes
// read (they descend into it), and binds with the image as its entry.
func TestResolveNeverBindsNonImages(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	reg := testenv.StartGGCR(t)
	repository := reg.Host + "/shapes"
	img := pushRandomImage(t, repository+":v1")
	id := imageID(t, img)
	held := archived(t, img)
	c := newTestClient(t, Options{})

	// Schema 1 (signed) with a config field naming the image ID.
	putRaw(t, reg.Host, "shapes", "schema1", "application/vnd.docker.distribution.manifest.v1+prettyjws",
		`{"schemaVersion":1,"name":"shapes","tag":"schema1","config":{"digest":"`+id.String()+`"},"fsLayers":[],"history":[]}`)
	if _, err := c.Resolve(ctx, testenv.Ref(t, repository+":schema1"), held); errors.Is(err, ErrBinding) || err == nil || !strings.Contains(err.Error(), "unsupported manifest media type") {
		t.Errorf("Resolve(schema 1) = %v, want an unsupported media type error", err)
	}

	// index → index → image.
	inner := mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: img})
	outer := mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: inner})
	ref, err := name.ParseReference(repository+":nested", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(ref, outer); err != nil {
		t.Fatal(err)
	}
	s, err := c.Resolve(ctx, testenv.Ref(t, repository+":nested"), held)
	if err != nil || s.Descriptor.Digest != manifestDigest(t, outer) || s.Image.Digest != manifestDigest(t, img) {
		t.Errorf("Resolve(nested index) = %+v, %v; want the outer index and the image", s, err)
	}
	// The control: the inner index itself binds to its child.
	innerRef, _ := name.ParseReference(repository+":inner", name.Insecure)
	if err := remote.WriteIndex(innerRef, inner); err != nil {
		t.Fatal(err)
	}
	s, err = c.Resolve(ctx, testenv.Ref(t, repository+":inner"), held)
	if err != nil || s.Descriptor.Digest == s.Image.Digest || s.Image.Digest != manifestDigest(t, img) {
		t.Errorf("Resolve(index) = %+v, %v; want the image child %s", s, err, manifestDigest(t, img))
	}
}
