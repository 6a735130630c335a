package pipeline

import (
	"fmt"
	"path/filepath"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-attest/oci-attest/internal/display"
	"github.com/oci-attest/oci-attest/internal/oci"
	"github.com/oci-attest/oci-attest/internal/ref"
)

// groups splits an archive's images by the image index they came from, in
// archive order.
func groups(a *oci.Archive) []*group {
	var out []*group
	byIndex := map[string]*group{}
	for i := range a.Images {
		img := &a.Images[i]
		if img.ImageIndex == nil {
			out = append(out, &group{archive: a, images: []*oci.Image{img}})
			continue
		}
		g := byIndex[img.ImageIndex.Digest.String()]
		if g == nil {
			g = &group{archive: a, index: img.ImageIndex}
			byIndex[img.ImageIndex.Digest.String()] = g
			out = append(out, g)
		}
		g.images = append(g.images, img)
	}
	for _, g := range out {
		g.held = g.images
	}
	return out
}

// name is how the log names a group: its first tag, else its first image.
func (g *group) name() string {
	if tags := g.images[0].RepoTags; len(tags) > 0 {
		return fmt.Sprintf("%q", tags[0])
	}
	if g.index != nil {
		return "untagged index " + display.ID(g.index.Digest)
	}
	return "untagged " + DescribeImage(g.images[0])
}

// registryTag is the group's first RepoTag that names a registry
// repository; "" when none does.
func (g *group) registryTag() string {
	for _, tag := range g.images[0].RepoTags {
		if _, err := ref.Parse(tag); err == nil && strings.Contains(tag, "/") {
			return tag
		}
	}
	return ""
}

// noteIndex describes what an image index of the archive holds besides its
// platforms (buildx attestation manifests, platforms whose blobs the archive
// lacks).
func (p *planner) noteIndex(g *group) {
	if g.index == nil {
		return
	}
	children, err := oci.Children(g.index.Raw)
	if err != nil {
		return // the scan read it: not reached
	}
	att, absent := 0, []string{}
	for _, c := range children {
		switch {
		case c.Kind == oci.KindAttestation:
			att++
		case !g.lists(c.Descriptor):
			if pl := oci.PlatformOf(c.Descriptor).String(); pl != "" {
				absent = append(absent, pl)
			} else {
				absent = append(absent, c.Descriptor.Digest.String())
			}
		}
	}
	var ps []string
	for _, img := range g.images {
		ps = append(ps, img.Platform.String())
	}
	msg := fmt.Sprintf("image index %s (%s) of %s: %d platform(s), %s", g.index.Digest, g.name(), filepath.Base(g.archive.Path), len(g.images), strings.Join(ps, ", "))
	if att > 0 {
		msg += fmt.Sprintf("; %d buildx attestation manifest(s), which are not platforms and are not attested", att)
	}
	if len(absent) > 0 {
		msg += fmt.Sprintf("; listed but not in the archive, so not attested: %s", strings.Join(absent, ", "))
	}
	p.note("%s", msg)
}

// lists reports whether the index descriptor d is one of g's images.
func (g *group) lists(d ocispec.Descriptor) bool {
	for _, img := range g.images {
		if img.ManifestDigest == d.Digest {
			return true
		}
	}
	return false
}

// DescribeImage names an image by its platform, else its image ID, for the
// log.
func DescribeImage(img *oci.Image) string {
	if p := img.Platform.String(); p != "" {
		return p + " image " + display.ID(img.ImageID)
	}
	return "image " + display.ID(img.ImageID)
}

func orNone(s string) string {
	if s == "" {
		return "(no platform)"
	}
	return s
}

func archiveList(as []*oci.Archive) string {
	var s []string
	for _, a := range as {
		s = append(s, a.Path)
	}
	return strings.Join(s, ", ")
}

func groupList(gs []*group) string {
	var s []string
	for _, g := range gs {
		s = append(s, g.name())
	}
	if len(s) == 0 {
		return "no image"
	}
	return strings.Join(s, ", ")
}
