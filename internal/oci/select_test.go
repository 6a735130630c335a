package oci_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/oci-attest/oci-attest/internal/oci"
	"github.com/oci-attest/oci-attest/internal/ref"
)

func TestSelect(t *testing.T) {
	t.Parallel()
	a := &oci.Archive{Path: "x.tar", Images: []oci.Image{
		{RepoTags: []string{"localhost/app:v1"}, ImageID: "sha256:1111111111111111111111111111111111111111111111111111111111111111"},
		{RepoTags: []string{"alpine:3.20", "ghcr.io/o/app:v2"}, ImageID: "sha256:2222222222222222222222222222222222222222222222222222222222222222"},
		{RepoTags: []string{"docker.io/library/busybox:1"}, ImageID: "sha256:3333333333333333333333333333333333333333333333333333333333333333"},
		{RepoTags: []string{"latest"}, ImageID: "sha256:4444444444444444444444444444444444444444444444444444444444444444"},
		{RepoTags: nil, ImageID: "sha256:5555555555555555555555555555555555555555555555555555555555555555", ManifestDigest: "sha256:9999999999999999999999999999999999999999999999999999999999999999"},
	}}
	tests := []struct {
		ref     string
		want    int
		wantWhy string
	}{
		{"", 0, "no image name given"},
		{"ghcr.io/o/app:v2@sha256:3333333333333333333333333333333333333333333333333333333333333333", 2, "its digest matches"},
		{"x@sha256:9999999999999999999999999999999999999999999999999999999999999999", 4, "its digest matches"},
		{"localhost/app:v1", 0, `its tag "localhost/app:v1" matches`},
		{"docker.io/library/alpine:3.20", 1, `its tag "alpine:3.20" matches`},
		{"index.docker.io/library/alpine:3.20@sha256:2222222222222222222222222222222222222222222222222222222222222222", 1, "matches"},
		{"alpine:3.20", 1, "matches"},
		{"ghcr.io/o/app:v2", 1, "matches"},
		{"busybox:1", 2, `"docker.io/library/busybox:1"`},
		// Bare words are Docker Hub repositories, as docker reads them.
		{"v2", 0, "the first image; no tag in the archive matches"},
		{"latest", 0, "the first image; no tag in the archive matches"},
		{"busybox", 2, `its tag "docker.io/library/busybox:1" matches "index.docker.io/library/busybox"`},
		{"example.com/x:latest", 3, `its tag "latest" matches`},
		{"ghcr.io/o/app", 1, "matches"},
		{"ghcr.io/o/app@sha256:2222222222222222222222222222222222222222222222222222222222222222", 1, "matches"},
		{"ghcr.io/o/app:v9", 0, "the first image; no tag in the archive matches"},
		{"ghcr.io/other:v9", 0, `the first image; no tag in the archive matches "ghcr.io/other:v9"`},
		{"localhost/app:v2", 0, "the first image"},
		{"LOCALHOST/APP:v1", 0, "matches"},
	}
	for _, tc := range tests {
		t.Run(tc.ref, func(t *testing.T) {
			t.Parallel()
			var want ref.Reference
			if tc.ref != "" {
				var err error
				if want, err = ref.Parse(tc.ref); err != nil {
					t.Fatal(err)
				}
			}
			img, why, err := a.Select(want)
			if err != nil {
				t.Fatal(err)
			}
			if img != &a.Images[tc.want] {
				t.Errorf("Select(%q) = image with %v, want image %d (%v); why: %s", tc.ref, img.RepoTags, tc.want, a.Images[tc.want].RepoTags, why)
			}
			if !strings.Contains(why, tc.wantWhy) {
				t.Errorf("Select(%q) why = %q, want it to contain %q", tc.ref, why, tc.wantWhy)
			}
		})
	}
	if _, _, err := (&oci.Archive{}).Select(ref.Reference{}); !errors.Is(err, oci.ErrNoImages) {
		t.Errorf("Select() on no images = %v, want ErrNoImages", err)
	}
}
