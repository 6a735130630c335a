package oci

import (
	"fmt"
	"strings"
)

// Select picks the image to attest: the first whose RepoTags match ref, else
// the first image. ref may be a full reference ("ghcr.io/o/app:v1",
// "alpine:3.20", with or without "@digest"), a repository ("ghcr.io/o/app")
// or a bare tag ("v1"). Names are compared the way docker normalises them
// ("alpine:3.20" = "docker.io/library/alpine:3.20"); a RepoTags element that
// is a bare tag (from an OCI layout's ref.name) matches any repository with
// that tag. Precedence: the image whose manifest digest or image ID is ref's
// "@digest"; same repository and tag; same tag for a bare tag; then — only
// for a reference without tag, bare words included ("alpine") — same
// repository. The string says which image and why, for the log.
func (a *Archive) Select(ref string) (*Image, string, error) {
	if len(a.Images) == 0 {
		return nil, "", fmt.Errorf("selecting an image of %q: %w", a.Path, ErrNoImages)
	}
	first := func(why string) (*Image, string, error) {
		return &a.Images[0], fmt.Sprintf("image 1 of %d (%s): %s", len(a.Images), describe(&a.Images[0]), why), nil
	}
	if ref == "" {
		return first("the first image; no image name given")
	}
	if _, dgst, ok := strings.Cut(ref, "@"); ok {
		for i := range a.Images {
			img := &a.Images[i]
			if string(img.ManifestDigest) == dgst || string(img.ImageID) == dgst {
				return img, fmt.Sprintf("image %d of %d (%s): its digest matches %q", i+1, len(a.Images), describe(img), ref), nil
			}
		}
	}
	want := parseName(ref)
	bare := isBareTag(ref)
	for _, match := range []func(tag string) bool{
		func(tag string) bool { // same repository and tag
			if bare || want.tag == "" {
				return false
			}
			if isBareTag(tag) {
				return tag == want.tag
			}
			got := parseName(tag)
			return got.repo == want.repo && got.tag == want.tag
		},
		func(tag string) bool { // a bare tag matches any repository
			if !bare {
				return false
			}
			if isBareTag(tag) {
				return tag == ref
			}
			return parseName(tag).tag == ref
		},
		func(tag string) bool { // a reference without tag: same repository
			return want.tag == "" && !isBareTag(tag) && parseName(tag).repo == want.repo
		},
	} {
		for i := range a.Images {
			for _, tag := range a.Images[i].RepoTags {
				if match(tag) {
					return &a.Images[i], fmt.Sprintf("image %d of %d (%s): its tag %q matches %q", i+1, len(a.Images), describe(&a.Images[i]), tag, ref), nil
				}
			}
		}
	}
	if len(a.Images) == 1 {
		return first(fmt.Sprintf("the only image; no tag in the archive matches %q", ref))
	}
	return first(fmt.Sprintf("the first image; no tag in the archive matches %q", ref))
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

// name is a normalised image reference.
type name struct {
	repo string // e.g. docker.io/library/alpine
	tag  string // empty when the reference has none
}

// parseName normalises a reference as docker does: a first component
// without "." or ":" that is not "localhost" means docker.io, and a
// docker.io name with one component gets "library/". A digest is dropped.
func parseName(ref string) name {
	if i := strings.Index(ref, "@"); i >= 0 {
		ref = ref[:i]
	}
	var n name
	if i := strings.LastIndex(ref, ":"); i >= 0 && !strings.Contains(ref[i:], "/") {
		ref, n.tag = ref[:i], ref[i+1:]
	}
	ref = strings.ToLower(ref)
	domain, rest, ok := strings.Cut(ref, "/")
	if !ok || (!strings.ContainsAny(domain, ".:") && domain != "localhost") {
		domain, rest = "docker.io", ref
	}
	if domain == "index.docker.io" || domain == "registry-1.docker.io" {
		domain = "docker.io"
	}
	if domain == "docker.io" && !strings.Contains(rest, "/") {
		rest = "library/" + rest
	}
	n.repo = domain + "/" + rest
	return n
}
