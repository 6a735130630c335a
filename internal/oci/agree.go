package oci

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-attest/oci-attest/internal/ref"
)

// Archive rules: the two descriptions of a Docker ≥25 archive, and tags.
//
// docker with its classic store (moby image/tarexport Load), skopeo and
// podman's docker-archive: (containers/image docker/internal/tarfile) and
// ggcr's tarball read manifest.json; containerd (core/images/archive
// ImportIndex, used by docker with the containerd store) reads index.json
// when oci-layout is there, and podman load tries oci-archive: (index.json)
// first. Both must then describe the same images with the same names.

// imageKey identifies an image as loaders store it: config and stored
// layer digests, in order.
func imageKey(config digest.Digest, layers []digest.Digest) string {
	var b strings.Builder
	b.WriteString(config.String())
	for _, l := range layers {
		b.WriteString(" " + l.String())
	}
	return b.String()
}

func (img *Image) key() string {
	ls := make([]digest.Digest, len(img.Layers))
	for i, l := range img.Layers {
		ls[i] = l.Digest
	}
	return imageKey(img.ImageID, ls)
}

func (fm *foundManifest) key() string {
	ls := make([]digest.Digest, len(fm.manifest.Layers))
	for i, l := range fm.manifest.Layers {
		ls[i] = l.Digest
	}
	return imageKey(fm.manifest.Config.Digest, ls)
}

// tagKey normalises a tag as docker does ("alpine:3.20" and
// "docker.io/library/alpine:3.20" are one tag); a bare tag ("v1", from an
// OCI ref.name) stays itself.
func tagKey(tag string) string {
	if isBareTag(tag) {
		return tag
	}
	r, err := ref.Parse(tag)
	if err != nil {
		return tag // not a reference any loader would parse either: itself
	}
	return r.Name() + ":" + r.Tag
}

// tagOf is the tag part of a RepoTags element ("" when it has none or does
// not parse).
func tagOf(s string) string {
	r, err := ref.Parse(s)
	if err != nil {
		return ""
	}
	return r.Tag
}

// checkManifestTags refuses a tag that two different manifest.json images
// claim: docker's load gives it to the last, skopeo, ggcr and Select to
// the first.
func (t *table) checkManifestTags(a *Archive) error {
	owner := map[string]int{}
	keys := make([]string, len(a.Images))
	for i := range a.Images {
		keys[i] = a.Images[i].key()
		for _, tag := range a.Images[i].RepoTags {
			k := tagKey(tag)
			j, ok := owner[k]
			if !ok {
				owner[k] = i
				continue
			}
			if keys[j] != keys[i] {
				return fail(t.path, "manifest.json", "%w: tag %q is claimed by entries %d and %d, which are different images: docker load gives it to the last, skopeo, podman and ggcr to the first; %s", ErrAmbiguous, tag, j, i, resave)
			}
		}
	}
	return nil
}

// checkIndexTags refuses a name that two index.json descriptors leading to
// different content claim: containerd gives io.containerd.image.name (else
// org.opencontainers.image.ref.name) to the last, containers/image's
// oci-archive: matches ref.name and takes the first.
func (t *table) checkIndexTags(idx []ocispec.Descriptor) error {
	type claim struct {
		i int
		d digest.Digest
	}
	byName := map[string]claim{}
	byRef := map[string]claim{}
	for i, d := range idx {
		if skipDescriptor(d) || t.referrersIndex(d) {
			continue
		}
		for _, c := range []struct {
			m    map[string]claim
			name string
			key  string
		}{
			{byName, d.Annotations[annotationContainerdName], tagKey(d.Annotations[annotationContainerdName])},
			{byRef, d.Annotations[annotationRefName], d.Annotations[annotationRefName]},
		} {
			if c.name == "" {
				continue
			}
			old, ok := c.m[c.key]
			if !ok {
				c.m[c.key] = claim{i, d.Digest}
				continue
			}
			if old.d != d.Digest {
				return fail(t.path, "index.json", "%w: name %q is claimed by descriptors %d (%s) and %d (%s): containerd gives it to the last, skopeo and podman (oci-archive:) to the first; %s", ErrAmbiguous, c.name, old.i, old.d, i, d.Digest, resave)
			}
		}
	}
	return nil
}

// indexNames are the names index.json gives an image manifest, through
// every top descriptor that leads to it: full names normalised (tagKey),
// and bare tags (a ref.name without repository) apart.
func (t *table) indexNames(fm *foundManifest) (full, bare []string) {
	for _, d := range fm.topDigests {
		for _, n := range t.topNames[d] {
			if isBareTag(n) {
				bare = append(bare, n)
			} else {
				full = append(full, tagKey(n))
			}
		}
	}
	slices.Sort(full)
	return slices.Compact(full), bare
}

// checkIndexAgrees checks, for a Docker ≥25 archive, that index.json and
// manifest.json describe the same images with the same names, and fills
// each image's ManifestDigest/ManifestRaw from index.json.
//
// The images compared on the index.json side are those whose manifest,
// config and layers are all in the archive: docker save with the
// containerd store lists platforms it did not save (their blobs are
// missing) and buildx adds attestation manifests (platform unknown/unknown,
// vnd.docker.reference.type), which are not images.
func (t *table) checkIndexAgrees(a *Archive, opts ScanOptions) error {
	found, err := t.walkIndex(opts, true)
	if err != nil {
		return err
	}
	idxRaw, _ := t.jsonOf(t.byName["index.json"], "index.json", opts.maxJSON())
	t.work.parsed(idxRaw)
	if idx, err := parseIndex(idxRaw); err == nil {
		if err := t.checkIndexTags(idx.Manifests); err != nil {
			return err
		}
	}
	byKey := map[string]*foundManifest{}
	var present []*foundManifest
	for _, fm := range found {
		if !t.complete(fm) {
			continue
		}
		present = append(present, fm)
		t.work.matches++
		if byKey[fm.key()] == nil {
			byKey[fm.key()] = fm
		}
	}
	// Names index.json gives to content that is not in the archive.
	for _, d := range t.emptyTops {
		if t.referrersIndex(d) {
			continue // regctl's referrers index names no image
		}
		for _, n := range repoTags(d.Annotations) {
			return fail(t.path, "index.json", "%w: index.json names %s %q, but no image under it is complete in the archive: containerd loads the name for missing content, docker and skopeo load manifest.json's images; %s", ErrAmbiguous, d.Digest, n, resave)
		}
	}
	// manifest.json → index.json.
	tagsOf, err := t.manifestJSONInIndex(a, byKey)
	if err != nil {
		return err
	}
	// index.json → manifest.json, names included.
	inManifest := map[string]bool{}
	for i := range a.Images {
		inManifest[a.Images[i].key()] = true
	}
	for _, fm := range present {
		k := fm.key()
		t.work.matches++
		if !inManifest[k] {
			return fail(t.path, fm.path, "%w: index.json leads to image manifest %s (config %s), which manifest.json does not list: containerd and podman (index.json) load it, docker and skopeo docker-archive: do not; if the archive holds several platforms, save one (docker save --platform); %s", ErrAmbiguous, fm.desc.Digest, fm.manifest.Config.Digest, resave)
		}
		if err := t.checkNamesAgree(fm, tagsOf[k]); err != nil {
			return err
		}
	}
	return nil
}

// manifestJSONInIndex checks that every image of manifest.json is one
// index.json leads to (byKey) and fills it from index.json; it returns
// the tags manifest.json gives each, by image key.
func (t *table) manifestJSONInIndex(a *Archive, byKey map[string]*foundManifest) (map[string][]string, error) {
	tagsOf := map[string][]string{}
	for i := range a.Images {
		img := &a.Images[i]
		t.work.matches++
		fm := byKey[img.key()]
		if fm == nil {
			return nil, fail(t.path, "manifest.json", "%w: manifest.json entry %d (config %s, %d layers) is no image that index.json leads to: docker and skopeo docker-archive: load it, containerd and podman (index.json) do not; %s", ErrAmbiguous, i, img.ImageID, len(img.Layers), resave)
		}
		img.from(fm)
		t.useBlob(fm.desc.Digest, fm.entry)
		for _, tag := range img.RepoTags {
			tagsOf[img.key()] = append(tagsOf[img.key()], tag)
		}
	}
	return tagsOf, nil
}

// checkNamesAgree checks that index.json names the image manifest fm as
// manifest.json tags its image (tags): the same full names, when index.json
// gives any or no bare tag, and each bare tag among the tags.
func (t *table) checkNamesAgree(fm *foundManifest, tags []string) error {
	full, bare := t.indexNames(fm)
	var mine []string
	for _, tag := range tags {
		mine = append(mine, tagKey(tag))
	}
	slices.Sort(mine)
	mine = slices.Compact(mine)
	if len(full) > 0 || len(bare) == 0 {
		if !slices.Equal(full, mine) {
			return fail(t.path, fm.path, "%w: index.json names image manifest %s %s but manifest.json tags its image %s: containerd and docker name it differently; %s", ErrAmbiguous, fm.desc.Digest, quoteList(full), quoteList(tags), resave)
		}
	}
	for _, b := range bare {
		if !slices.ContainsFunc(tags, func(tag string) bool { return tagOf(tag) == b }) {
			return fail(t.path, fm.path, "%w: index.json tags image manifest %s %q but manifest.json tags its image %s; %s", ErrAmbiguous, fm.desc.Digest, b, quoteList(tags), resave)
		}
	}
	return nil
}

// complete reports whether an image manifest's config and layers are all
// in the archive and match their descriptors; a blob that is there but
// does not match is an error later (Scan refuses it), not a missing one.
func (t *table) complete(fm *foundManifest) bool {
	for _, d := range append([]ocispec.Descriptor{fm.manifest.Config}, fm.manifest.Layers...) {
		if _, err := t.blob(d.Digest, d.Size, "descriptor"); err != nil && errors.Is(err, ErrMissingBlob) {
			return false
		}
	}
	return true
}

func quoteList(s []string) string {
	if len(s) == 0 {
		return "(no name)"
	}
	q := make([]string, len(s))
	for i, x := range s {
		q[i] = fmt.Sprintf("%q", x)
	}
	return strings.Join(q, ", ")
}
