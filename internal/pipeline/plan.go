package pipeline

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	digest "github.com/opencontainers/go-digest"

	"github.com/oci-attest/oci-attest/internal/display"
	"github.com/oci-attest/oci-attest/internal/oci"
	"github.com/oci-attest/oci-attest/internal/ref"
)

// Input is what a run is asked to attest, besides the archives.
type Input struct {
	// Names are the registry names to bind images to, each naming an image
	// of the archives by its tag or digest (with a single image in all the
	// archives, every name is bound to it). Empty: every image whose RepoTag
	// names a registry repository, bound to that tag.
	Names []ref.Reference
	// Platforms selects platforms of image indexes. Empty: every platform.
	Platforms []oci.Platform
	// SubjectDigest is the digest of the one registry image or index a
	// defaulted name is bound to (a named one carries its own digest).
	SubjectDigest digest.Digest
}

// Plan is what a run attests (ARCHITECTURE.md, "Multi-platform and
// multi-image"): its bindings, one per registry subject, and their units,
// one per attested image.
type Plan struct {
	Bindings []*Binding
	// Units are every binding's units, in order.
	Units []*Unit
	// Skipped are the images of the archives that are not attested.
	Skipped []Skipped
	// Notes describe the plan for the log, one line each: what each image
	// index holds, why each binding was made, what each unit attests.
	Notes []string
}

// Binding is one registry subject and the images attested for it: the
// selected platforms of an archive's image index, or one image.
type Binding struct {
	Archive *oci.Archive
	// Index is the archive's image index the images came from; nil for one
	// image.
	Index  *oci.Index
	Images []*oci.Image
	// Held are every image the archive holds of Index (Images among them,
	// whatever platforms were selected): what the registry's index may
	// hold (registry.ResolveIndex). Images for one image.
	Held []*oci.Image
	// Target is the registry name the caller gave (Named), else zero: Run
	// defaults it to DefaultTag.
	Target     ref.Reference
	Named      bool
	DefaultTag string
	// Digest is Input.SubjectDigest for a defaulted name.
	Digest digest.Digest
	Units  []*Unit
}

// Unit is one attested image: its own predicate, statement, bundle and
// referrers.
type Unit struct {
	// N is the unit's position in the run: the first unit's files get the
	// paths the caller gave, the others' go beside them.
	N       int
	Archive *oci.Archive
	Image   *oci.Image
	Binding *Binding
}

// Skipped is an image of an archive that the run does not attest.
type Skipped struct {
	Archive *oci.Archive
	Image   *oci.Image
	Why     string
}

// group is what one registry subject can be: the images of one archive
// index (its platforms), or one image.
type group struct {
	archive *oci.Archive
	index   *oci.Index
	images  []*oci.Image
	// held are the images before platforms were selected.
	held []*oci.Image
}

// planner builds a Plan.
type planner struct {
	in       Input
	archives []*oci.Archive
	plan     *Plan
}

// NewPlan decides what the run attests: every selected platform of every
// image index, and which images get which registry name. With one image (or
// index) in all the archives, every name is bound to it; with several, each
// name must name one by its tag or digest, and without names every image
// whose RepoTag names a registry repository is attested. Nothing is read or
// written: errors are FieldErrors of Input's fields (or of "Archives").
func NewPlan(archives []*oci.Archive, in Input) (*Plan, error) {
	p := &planner{in: in, archives: archives, plan: &Plan{}}
	var all []*group
	for _, a := range archives {
		for _, g := range groups(a) {
			p.noteIndex(g)
			if err := p.selectPlatforms(g); err != nil {
				return nil, err
			}
			if len(g.images) > 0 {
				all = append(all, g)
			}
		}
	}
	bindings, err := p.bindings(all)
	if err != nil {
		return nil, err
	}
	if in.SubjectDigest != "" && len(bindings) > 1 {
		return nil, &FieldError{Field: "SubjectDigest", Usage: true,
			Err: fmt.Errorf("%w, but %d are attested (%s)", ErrDigestForMany, len(bindings), groupList(all))}
	}
	for _, a := range archives {
		if !slices.ContainsFunc(bindings, func(b *Binding) bool { return b.Archive == a }) {
			return nil, usage("Archives", "%s holds no image this run attests (%s): %s", a.Path, groupList(groups(a)), p.whyNone(a))
		}
	}
	p.units(bindings)
	return p.plan, nil
}

// bindings binds the groups to names (ARCHITECTURE.md, "Multi-platform and
// multi-image").
func (p *planner) bindings(all []*group) ([]*Binding, error) {
	var out []*Binding
	names := p.in.Names
	switch {
	case len(all) == 1:
		g := all[0]
		if len(names) == 0 {
			b := p.bind(g, ref.Reference{}, "the only image; no image name given")
			if tags := g.images[0].RepoTags; len(tags) > 0 {
				b.DefaultTag = tags[0]
			}
			out = append(out, b)
		}
		for _, n := range names {
			why := "the only image; no tag in the archive matches"
			if _, w, ok := g.archive.Find(n); ok {
				why = w
			}
			out = append(out, p.bind(g, n, why))
		}
	case len(names) > 0:
		named := map[*group]bool{}
		for i, n := range names {
			hit := false
			for _, g := range all {
				if img, why, ok := g.archive.Find(n); ok && slices.Contains(g.images, img) {
					out = append(out, p.bind(g, n, why))
					named[g], hit = true, true
				}
			}
			if !hit {
				return nil, usage("Names", "%q (line %d) names no image of %s, which hold %s: name each image by its tag or digest", n.String(), i+1, archiveList(p.archives), groupList(all))
			}
		}
		for _, g := range all {
			if !named[g] {
				p.skip(g, "the names given name other images")
			}
		}
	default:
		for _, g := range all {
			if tag := g.registryTag(); tag != "" {
				b := p.bind(g, ref.Reference{}, fmt.Sprintf("its tag %q names a registry repository", tag))
				b.DefaultTag = tag
				out = append(out, b)
				continue
			}
			p.skip(g, "no RepoTag names a registry repository (give its registry name to attest it)")
		}
	}
	return out, nil
}

// units makes one unit per image of every binding.
func (p *planner) units(bindings []*Binding) {
	for _, b := range bindings {
		for _, img := range b.Images {
			u := &Unit{N: len(p.plan.Units), Archive: b.Archive, Image: img, Binding: b}
			b.Units = append(b.Units, u)
			p.plan.Units = append(p.plan.Units, u)
			p.note("attesting %s of %s: image ID %s, %d layer(s)", DescribeImage(img), b.Archive.Path, img.ImageID, len(img.DiffIDs))
		}
	}
	p.plan.Bindings = bindings
	for _, s := range p.plan.Skipped {
		p.note("skipping %s of %s: %s", DescribeImage(s.Image), s.Archive.Path, s.Why)
	}
}

// bind is a binding of group g to name n (zero: defaulted by Run).
func (p *planner) bind(g *group, n ref.Reference, why string) *Binding {
	b := &Binding{Archive: g.archive, Images: g.images, Held: g.held, Index: g.index, Target: n, Named: !n.IsZero()}
	if n.IsZero() {
		b.Digest = p.in.SubjectDigest
		p.note("%s of %s: %s", g.name(), filepath.Base(g.archive.Path), why)
	} else {
		p.note("%s of %s for %s: %s", g.name(), filepath.Base(g.archive.Path), n, why)
	}
	return b
}

func (p *planner) note(format string, args ...any) {
	p.plan.Notes = append(p.plan.Notes, fmt.Sprintf(format, display.Args(args)...))
}

// skip lists every image of g as not attested.
func (p *planner) skip(g *group, why string) {
	for _, img := range g.images {
		p.plan.Skipped = append(p.plan.Skipped, Skipped{Archive: g.archive, Image: img, Why: why})
	}
}

// selectPlatforms keeps the images of g that Input.Platforms selects.
func (p *planner) selectPlatforms(g *group) error {
	if len(p.in.Platforms) == 0 {
		return nil
	}
	var kept []*oci.Image
	for _, img := range g.images {
		if slices.ContainsFunc(p.in.Platforms, func(s oci.Platform) bool { return s.Matches(img.Platform) }) {
			kept = append(kept, img)
			continue
		}
		p.plan.Skipped = append(p.plan.Skipped, Skipped{Archive: g.archive, Image: img, Why: "the platforms selected do not include " + orNone(img.Platform.String())})
	}
	if len(kept) == 0 && g.index != nil {
		var ps, sel []string
		for _, img := range g.images {
			ps = append(ps, orNone(img.Platform.String()))
		}
		for _, s := range p.in.Platforms {
			sel = append(sel, s.String())
		}
		return usage("Platforms", "%s selects none of the platforms of %s in %s: %s", strings.Join(sel, ","), g.name(), g.archive.Path, strings.Join(ps, ", "))
	}
	g.images = kept
	return nil
}

// whyNone says why an archive contributes no image.
func (p *planner) whyNone(a *oci.Archive) string {
	for _, s := range p.plan.Skipped {
		if s.Archive == a {
			return s.Why
		}
	}
	return "none selected"
}
