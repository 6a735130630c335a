package oci

import (
	"fmt"
	"strings"

	"github.com/oci-attest/oci-attest/internal/ref"
)

// Select picks the image to attest: the first whose RepoTags match want,
// else the first image (the zero Reference: the first image). RepoTags are
// parsed with the same parser as want, so "alpine:3.20" in an archive
// matches index.docker.io/library/alpine:3.20; a RepoTags element that is a
// bare tag (an OCI layout's ref.name "v1") matches any repository with that
// tag. Precedence: the image whose manifest digest or image ID is want's
// digest; same repository and tag; then — only for a want without tag —
// same repository. The string says which image and why, for the log.
func (a *Archive) Select(want ref.Reference) (*Image, string, error) {
	if len(a.Images) == 0 {
		return nil, "", fmt.Errorf("selecting an image of %q: %w", a.Path, ErrNoImages)
	}
	first := func(why string) (*Image, string, error) {
		return &a.Images[0], fmt.Sprintf("image 1 of %d (%s): %s", len(a.Images), describe(&a.Images[0]), why), nil
	}
	if want.IsZero() {
		return first("the first image; no image name given")
	}
	if img, why, ok := a.Find(want); ok {
		return img, why, nil
	}
	if len(a.Images) == 1 {
		return first(fmt.Sprintf("the only image; no tag in the archive matches %q", want))
	}
	return first(fmt.Sprintf("the first image; no tag in the archive matches %q", want))
}

// Find is Select without its fallback: the first image that want names —
// by its manifest digest, image ID or image index digest, else by tag
// (Select's precedence) — and why; false when none does.
func (a *Archive) Find(want ref.Reference) (*Image, string, bool) {
	if want.IsZero() {
		return nil, "", false
	}
	if want.Digest != "" {
		for i := range a.Images {
			img := &a.Images[i]
			if img.ManifestDigest == want.Digest || img.ImageID == want.Digest || (img.ImageIndex != nil && img.ImageIndex.Digest == want.Digest) {
				return img, fmt.Sprintf("image %d of %d (%s): its digest matches %q", i+1, len(a.Images), describe(img), want), true
			}
		}
	}
	for _, match := range []func(tag string) bool{
		func(tag string) bool { // same repository and tag
			if want.Tag == "" {
				return false
			}
			if isBareTag(tag) {
				return tag == want.Tag
			}
			got, err := ref.Parse(tag)
			return err == nil && got.SameRepository(want) && got.Tag == want.Tag
		},
		func(tag string) bool { // a reference without tag: same repository
			if want.Tag != "" || isBareTag(tag) {
				return false
			}
			got, err := ref.Parse(tag)
			return err == nil && got.SameRepository(want)
		},
	} {
		for i := range a.Images {
			for _, tag := range a.Images[i].RepoTags {
				if match(tag) {
					return &a.Images[i], fmt.Sprintf("image %d of %d (%s): its tag %q matches %q", i+1, len(a.Images), describe(&a.Images[i]), tag, want), true
				}
			}
		}
	}
	return nil, "", false
}

// describe names an image for the log.
func describe(img *Image) string {
	id := img.ImageID.Encoded()
	if len(id) > 12 {
		id = id[:12]
	}
	if len(img.RepoTags) == 0 {
		return "untagged, id " + id
	}
	return strings.Join(img.RepoTags, ", ") + ", id " + id
}
