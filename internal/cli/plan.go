package cli

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-attest/oci-attest/internal/oci"
	"github.com/oci-attest/oci-attest/internal/ref"
)

// group is what one registry subject can be: the images of one archive
// index (its platforms), or one image.
type group struct {
	archive *oci.Archive
	index   *oci.Index
	images  []*oci.Image
}

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
	return out
}

// name is how the log names a group: its first tag, else its first image.
func (g *group) name() string {
	if tags := g.images[0].RepoTags; len(tags) > 0 {
		return fmt.Sprintf("%q", tags[0])
	}
	if g.index != nil {
		return "untagged index " + shortID(g.index.Digest)
	}
	return "untagged " + describePlatform(g.images[0])
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

// plan decides what the run attests (ARCHITECTURE.md, "Multi-platform and
// multi-image"): every selected platform of every image index, and which
// images get which subject-name. With one image (or index) in all the
// archives, every subject-name is attested for it, as before there were
// lists; with several, each name must name one by its tag or digest, and
// without subject-name every image whose RepoTag names a registry
// repository is attested. What is not attested is logged and listed in
// the summary. Input errors (exit 2) come before anything is signed.
func (p *pipeline) plan() error {
	var all []*group
	for _, a := range p.archives {
		for _, g := range groups(a) {
			if err := p.selectPlatforms(g); err != nil {
				return err
			}
			if len(g.images) > 0 {
				all = append(all, g)
			}
		}
	}
	var bindings []*binding
	names := p.c.subjects
	switch {
	case len(all) == 1:
		g := all[0]
		if len(names) == 0 {
			b := p.bind(g, ref.Reference{}, "the only image; no image name given")
			if tags := g.images[0].RepoTags; len(tags) > 0 {
				b.defaultTag = tags[0]
			}
			bindings = append(bindings, b)
		}
		for _, n := range names {
			why := "the only image; no tag in the archive matches"
			if _, w, ok := g.archive.Find(n); ok {
				why = w
			}
			bindings = append(bindings, p.bind(g, n, why))
		}
	case len(names) > 0:
		named := map[*group]bool{}
		for i, n := range names {
			var hit []*group
			for _, g := range all {
				if img, why, ok := g.archive.Find(n); ok && g.holds(img) {
					bindings = append(bindings, p.bind(g, n, why))
					named[g] = true
					hit = append(hit, g)
				}
			}
			if len(hit) == 0 {
				return badInput("subject-name", "%q (line %d) names no image of %s, which hold %s: name each image by its tag or digest", splitLines(p.c.SubjectName)[i], i+1, archiveList(p.archives), groupList(all))
			}
		}
		for _, g := range all {
			if !named[g] {
				p.skip(g, "subject-name names another image")
			}
		}
	default:
		for _, g := range all {
			if tag := g.registryTag(); tag != "" {
				b := p.bind(g, ref.Reference{}, fmt.Sprintf("its tag %q names a registry repository", tag))
				b.defaultTag = tag
				bindings = append(bindings, b)
				continue
			}
			p.skip(g, "no RepoTag names a registry repository (set subject-name to attest it)")
		}
	}
	if p.c.SubjectDigest != "" && len(bindings) > 1 {
		return badInput("subject-digest", "names one image or index, but %d are attested (%s): give subject-name with each image's tag or digest instead", len(bindings), groupList(all))
	}
	for _, a := range p.archives {
		if !attested(bindings, a) {
			return badInput("subject-path", "%s holds no image this run attests (%s): %s", a.Path, groupList(groups(a)), p.whyNone(a))
		}
	}
	for _, b := range bindings {
		for _, img := range b.images {
			u := &attestResult{archive: b.archive, image: img, n: len(p.units), bind: b}
			b.units = append(b.units, u)
			p.units = append(p.units, u)
			p.log.Infof("attesting %s of %s: image ID %s, %d layer(s)", describePlatform(img), b.archive.Path, img.ImageID, len(img.DiffIDs))
		}
	}
	for _, s := range p.skipped {
		p.log.Infof("skipping %s of %s: %s", describePlatform(s.image), s.archive.Path, s.why)
	}
	p.log.SetOutput("image-id", p.units[0].image.ImageID.String())
	return nil
}

// bind is a binding of group g to name n (zero: defaulted later).
func (p *pipeline) bind(g *group, n ref.Reference, why string) *binding {
	b := &binding{archive: g.archive, images: g.images, index: g.index, target: n, named: !n.IsZero()}
	if n.IsZero() {
		p.log.Infof("%s of %s: %s", g.name(), filepath.Base(g.archive.Path), why)
	} else {
		p.log.Infof("%s of %s for %s: %s", g.name(), filepath.Base(g.archive.Path), n, why)
	}
	return b
}

// skip lists every image of g as not attested.
func (p *pipeline) skip(g *group, why string) {
	for _, img := range g.images {
		p.skipped = append(p.skipped, skippedImage{archive: g.archive, image: img, why: why})
	}
}

// holds reports whether img is one of g's images.
func (g *group) holds(img *oci.Image) bool {
	for _, x := range g.images {
		if x == img {
			return true
		}
	}
	return false
}

// selectPlatforms keeps the images of g that platforms selects, and logs
// what an index holds besides its platforms (buildx attestation
// manifests, platforms whose blobs the archive lacks).
func (p *pipeline) selectPlatforms(g *group) error {
	if g.index != nil {
		var idx ocispec.Index
		if err := json.Unmarshal(g.index.Raw, &idx); err == nil {
			att, absent := 0, []string{}
			for _, d := range idx.Manifests {
				switch {
				case oci.IsAttestationManifest(d):
					att++
				case !g.lists(d):
					if pl := oci.PlatformOf(d).String(); pl != "" {
						absent = append(absent, pl)
					} else {
						absent = append(absent, d.Digest.String())
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
			p.log.Infof("%s", msg)
		}
	}
	if len(p.c.platforms) == 0 {
		return nil
	}
	var kept []*oci.Image
	for _, img := range g.images {
		if selected(p.c.platforms, img.Platform) {
			kept = append(kept, img)
			continue
		}
		p.skipped = append(p.skipped, skippedImage{archive: g.archive, image: img, why: "platforms does not select " + orNone(img.Platform.String())})
	}
	if len(kept) == 0 && g.index != nil {
		var ps []string
		for _, img := range g.images {
			ps = append(ps, orNone(img.Platform.String()))
		}
		return badInput("platforms", "%s selects none of the platforms of %s in %s: %s", p.c.Platforms, g.name(), g.archive.Path, strings.Join(ps, ", "))
	}
	g.images = kept
	return nil
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

func selected(ps []oci.Platform, p oci.Platform) bool {
	for _, s := range ps {
		if s.Matches(p) {
			return true
		}
	}
	return false
}

func orNone(s string) string {
	if s == "" {
		return "(no platform)"
	}
	return s
}

// whyNone says why an archive contributes no image.
func (p *pipeline) whyNone(a *oci.Archive) string {
	for _, s := range p.skipped {
		if s.archive == a {
			return s.why
		}
	}
	return "none selected"
}

func attested(bs []*binding, a *oci.Archive) bool {
	for _, b := range bs {
		if b.archive == a {
			return true
		}
	}
	return false
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
