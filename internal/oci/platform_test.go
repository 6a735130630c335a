package oci_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"

	digest "github.com/opencontainers/go-digest"

	"github.com/oci-attest/oci-attest/internal/oci"
	"github.com/oci-attest/oci-attest/internal/ref"
)

// TestImagePlatformAndIndex: every image of a multi-platform OCI layout
// knows its platform (from the index's descriptor) and the index it came
// from, byte for byte; images of other archives take their platform from
// their config and have no index.
func TestImagePlatformAndIndex(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a, err := oci.Scan(ctx, filepath.Join("..", "..", "testdata", "archives", "oci-multiplatform.tar"), oci.ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Images) != 2 {
		t.Fatalf("oci-multiplatform.tar: %d images, want 2 (the buildx attestation manifest is no image)", len(a.Images))
	}
	var top struct {
		Manifests []struct {
			Digest digest.Digest `json:"digest"`
		} `json:"manifests"`
	}
	if err := json.Unmarshal(a.ManifestRaw, &top); err != nil || len(top.Manifests) != 1 {
		t.Fatalf("index.json = %s", a.ManifestRaw)
	}
	for i, want := range []string{"linux/amd64", "linux/arm64"} {
		img := a.Images[i]
		if got := img.Platform.String(); got != want {
			t.Errorf("image %d platform = %q, want %q", i, got, want)
		}
		ix := img.ImageIndex
		if ix == nil {
			t.Fatalf("image %d has no index", i)
		}
		if ix.Digest != top.Manifests[0].Digest || digest.FromBytes(ix.Raw) != ix.Digest || ix.MediaType != "application/vnd.oci.image.index.v1+json" {
			t.Errorf("image %d index = %s %s (%d bytes), want index.json's %s with its bytes", i, ix.Digest, ix.MediaType, len(ix.Raw), top.Manifests[0].Digest)
		}
	}
	// A name with the index digest finds the first platform.
	r, err := ref.Parse("localhost/oci-attest/multi@" + a.Images[0].ImageIndex.Digest.String())
	if err != nil {
		t.Fatal(err)
	}
	if img, _, ok := a.Find(r); !ok || img != &a.Images[0] {
		t.Errorf("Find(index digest) = %v, %v; want image 0", img, ok)
	}
	if _, _, ok := a.Find(ref.Reference{Registry: "ghcr.io", Repository: "nobody/else", Tag: "v9"}); ok {
		t.Error("Find(a name no image has) found one")
	}

	d, err := oci.Scan(ctx, filepath.Join("..", "..", "testdata", "archives", "docker-legacy.tar"), oci.ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct{ OS, Architecture string }
	_ = json.Unmarshal(d.Images[0].ConfigRaw, &cfg)
	if got := d.Images[0].Platform; got.OS != cfg.OS || got.Architecture != cfg.Architecture || got.OS == "" || d.Images[0].ImageIndex != nil {
		t.Errorf("docker-legacy image platform %+v, index %v; want the config's %s/%s and no index", got, d.Images[0].ImageIndex, cfg.OS, cfg.Architecture)
	}
}

func TestParsePlatform(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want string
		ok   bool
	}{
		{"linux/amd64", "linux/amd64", true},
		{"Linux/ARM64/v8", "linux/arm64/v8", true},
		{" linux/arm/v7 ", "linux/arm/v7", true},
		{"linux/x86_64", "linux/amd64", true},
		{"linux/aarch64", "linux/arm64", true},
		{"linux/armhf", "linux/arm", true},
		{"linux", "", false},
		{"amd64", "", false},
		{"windows(10.0.17763)/amd64", "", false},
		{"linux/", "", false},
		{"linux/amd64/v1/x", "", false},
		{"linux/am d64", "", false},
	} {
		p, err := oci.ParsePlatform(tc.in)
		if (err == nil) != tc.ok || (tc.ok && p.String() != tc.want) {
			t.Errorf("ParsePlatform(%q) = %q, %v; want %q (ok %v)", tc.in, p, err, tc.want, tc.ok)
		}
	}
	arm64 := oci.Platform{OS: "linux", Architecture: "arm64"}
	v8 := oci.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}
	for _, tc := range []struct {
		sel, img oci.Platform
		want     bool
	}{
		{arm64, v8, true},
		{v8, arm64, true},
		{oci.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}, oci.Platform{OS: "linux", Architecture: "arm", Variant: "v6"}, false},
		// containerd's normalisation: linux/arm is linux/arm/v7, not v6.
		{oci.Platform{OS: "linux", Architecture: "arm"}, oci.Platform{OS: "linux", Architecture: "arm", Variant: "v6"}, false},
		{oci.Platform{OS: "linux", Architecture: "arm"}, oci.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}, true},
		{oci.Platform{OS: "linux", Architecture: "amd64"}, arm64, false},
		{oci.Platform{OS: "linux", Architecture: "amd64"}, oci.Platform{OS: "Linux", Architecture: "x86_64"}, true},
		{oci.Platform{OS: "linux", Architecture: "amd64"}, oci.Platform{OS: "linux", Architecture: "386"}, false},
		{oci.Platform{OS: "linux", Architecture: "arm64"}, oci.Platform{OS: "linux", Architecture: "aarch64", Variant: "8"}, true},
		{oci.Platform{OS: "linux", Architecture: "amd64"}, oci.Platform{Architecture: "amd64"}, true},
	} {
		if got := tc.sel.Matches(tc.img); got != tc.want {
			t.Errorf("%s.Matches(%s) = %v, want %v", tc.sel, tc.img, got, tc.want)
		}
	}
}
