package registry

import (
	"io"
	"log"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	digest "github.com/opencontainers/go-digest"
)

// testSettle is the fallback tag's settle in tests that need the tag
// written but do not test the protocol's timing. A write must land within
// D = settle/2 of its read or its round is abandoned (as it should be), which
// on a loaded machine happened with D of 25–100 ms, breaking request counts
// and rounds that such tests assert; D = 200 ms is far above a write's
// round trip on a busy machine, and costs 0.4 s of verification waits.
const testSettle = 400 * time.Millisecond

// traceSettle is the settle of tests that check the exact requests of an
// update (probe, ETag, verification reads), which an abandoned round would
// change: D = 1 s, several times the slowest write's round trip seen at a
// load of 17 on two cores (about 300 ms).
const traceSettle = 2 * time.Second

// requestBudget is one Attach's request budget (ARCHITECTURE.md, "Limits
// and budgets": 6 with the referrers API, 9 with the fallback tag), plus 4
// for each further round of the fallback tag (a read, a write and two
// verification reads): a round is abandoned when its write outlasts D on a
// loaded machine, which is the protocol at work, not a cost regression.
func requestBudget(res *AttachResult) int {
	if res.ReferrersTag == "" {
		return 6
	}
	return 9 + 4*max(res.TagRounds-1, 0)
}

// pushRandomImage pushes a random OCI image to ref and returns it.
func pushRandomImage(t testing.TB, ref string) v1.Image {
	t.Helper()
	img, err := random.Image(512, 2)
	if err != nil {
		t.Fatal(err)
	}
	img = mutate.MediaType(img, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	writeImage(t, ref, img)
	return img
}

func writeImage(t testing.TB, ref string, img v1.Image) {
	t.Helper()
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatalf("pushing test image %s: %v", ref, err)
	}
}

// pushRandomIndex pushes a multi-arch index of n random images to ref.
func pushRandomIndex(t testing.TB, ref string, n int) v1.ImageIndex {
	t.Helper()
	idx, err := random.Index(512, 1, int64(n))
	if err != nil {
		t.Fatal(err)
	}
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(r, idx); err != nil {
		t.Fatalf("pushing test index %s: %v", ref, err)
	}
	return idx
}

// pushAppendedIndex pushes an index built the way crane, ko and
// mutate.AppendManifests build one; go-containerregistry v0.22 sets each
// entry's artifactType to its config media type.
func pushAppendedIndex(t testing.TB, ref string, n int) (v1.ImageIndex, []v1.Image) {
	t.Helper()
	var adds []mutate.IndexAddendum
	var imgs []v1.Image
	for i := range n {
		img, err := random.Image(256, 1)
		if err != nil {
			t.Fatal(err)
		}
		imgs = append(imgs, img)
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{
			Platform: &v1.Platform{OS: "linux", Architecture: []string{"amd64", "arm64", "s390x"}[i%3]},
		}})
	}
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex), adds...)
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(r, idx); err != nil {
		t.Fatalf("pushing test index %s: %v", ref, err)
	}
	return idx, imgs
}

func imageID(t testing.TB, img v1.Image) digest.Digest {
	t.Helper()
	h, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	return digest.Digest(h.String())
}

func manifestDigest(t testing.TB, img interface{ Digest() (v1.Hash, error) }) digest.Digest {
	t.Helper()
	h, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return digest.Digest(h.String())
}

// newTestClient is a Client with an empty environment and no Docker config.
func newTestClient(t testing.TB, opts Options) *Client {
	t.Helper()
	if opts.DockerConfig == "" {
		opts.DockerConfig = t.TempDir()
	}
	c, err := New(opts)
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	return c
}

// tagList returns the tags of repository ("host/repo").
func tagList(t testing.TB, repository string) []string {
	t.Helper()
	r, err := name.NewRepository(repository, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	tags, err := remote.List(r)
	if err != nil {
		t.Fatalf("listing tags of %s: %v", repository, err)
	}
	return tags
}

func discardLogger() *log.Logger { return log.New(io.Discard, "", 0) }

func digestOf(s string) digest.Digest { return digest.Digest(s) }

func digestFromBytes(b []byte) digest.Digest { return digest.FromBytes(b) }
