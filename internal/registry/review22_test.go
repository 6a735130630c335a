package registry

import (
	"context"
	"os/exec"
	"strings"
	"testing"

	"github.com/oci-attest/oci-attest/internal/testenv"
)

// Review of issue 22 (branch h22-review): findings against h22-wire, each a
// test that fails on it.

// TestReview22BindingIgnoresPlatforms: binding must not accept an index
// that lists the archive's images under each other's platforms, and today
// it does.
//
// The archive's index says A is linux/amd64 and B linux/arm64; the
// registry's index lists B as linux/amd64 and A as linux/arm64. containerd
// (core/images/image.go Manifest: the entry platforms.Only(linux/amd64)
// matches) and go-containerregistry (remote/index.go childByPlatform) read
// B on an amd64 node: "a resolver would read the index as another image"
// than the archive's linux/amd64 image (issue 22, "Differential test").
// ResolveIndex matches each selectable entry to the held images by config
// and layers only (entries.go match), and entryFor falls back to "the first
// entry that is img" whatever platform it is listed under, so every
// selectable entry is "an image of the archive" and the index is bound
// whole: the statement names the index digest and A's manifest, and
// `verify --platform linux/amd64` then succeeds on B's attestation while
// amd64 nodes run the arm64 image (exec format error at best; with
// platforms that both run, e.g. amd64 and 386, the other image silently).
//
// Fix: an entry is an image of the archive for platform P only if the
// archive's image is P (oci.Platform.Matches on both sides normalised); an
// attested image whose only matching entry is listed under another
// platform is ErrBinding naming both platforms (or, at the least, the index
// is no subject and the log says so).
func TestReview22BindingIgnoresPlatforms(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	reg := testenv.StartGGCR(t)
	repo := "swapped"
	repository := reg.Host + "/" + repo
	c := newTestClient(t, Options{})
	idx, imgs := platformIndex(t, repository+":honest", "linux/amd64", "linux/arm64")
	held := archiveImages(t, idx, imgs, "linux/amd64", "linux/arm64")
	hostileIndex(t, reg.Host, repo, "swapped", entryOf(t, imgs[1], "linux/amd64"), entryOf(t, imgs[0], "linux/arm64"))
	ss, err := c.ResolveIndex(ctx, testenv.Ref(t, repository+":swapped"), held, nil)
	if err == nil {
		for i, s := range ss {
			t.Errorf("ResolveIndex(platforms swapped) bound the archive's %s image to %s (entry %s), which the registry's index lists under another platform",
				held[i].Platform, s.Descriptor.Digest, s.Image.Digest)
		}
	}
}

// TestReview22SameLayersZstdChunked: an image copied by skopeo with
// zstd:chunked layers (podman's and CRI-O's partial-pull format) must still
// bind: its layers decompress to the archive's diffIDs.
func TestReview22SameLayersZstdChunked(t *testing.T) {
	t.Parallel()
	skopeo := testenv.RequireBin(t, "skopeo")
	reg := testenv.StartOlareg(t)
	c := newTestClient(t, Options{})
	path, a := scanArchive(t, "docker-legacy.tar")
	img := &a.Images[0]
	ref := reg.Host + "/recompressed/chunked:v1"
	out, err := exec.Command(skopeo, "copy", "--dest-tls-verify=false", "--dest-compress-format", "zstd:chunked", "--format", "oci",
		"docker-archive:"+path, "docker://"+ref).CombinedOutput()
	if err != nil {
		t.Skipf("skopeo copy zstd:chunked: %v\n%s", err, out)
	}
	raw := fetchRaw(t, c, ref)
	if !strings.Contains(string(raw), "zstd-chunked") {
		t.Skipf("skopeo wrote no zstd:chunked layers:\n%s", raw)
	}
	if got, err := c.SameLayers(context.Background(), testenv.Ref(t, ref), raw, img); err != nil || got.Read != len(img.Layers) {
		t.Errorf("SameLayers(zstd:chunked) = %+v, %v; want every layer read and bound\n%s", got, err, raw)
	}
}
