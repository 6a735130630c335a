package verify

import (
	"context"
	"fmt"
	"slices"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-attest/oci-attest/internal/attest"
	"github.com/oci-attest/oci-attest/internal/oci"
	"github.com/oci-attest/oci-attest/internal/registry"
)

// Carried answers, with no registry and no bundle file, "do this archive's
// images carry verified attestations?": it reads the archive at
// opts.SubjectPath once — its images under the archive rules, and the
// referrer manifests whose subject is one of them (oci.Archive.Referrers:
// what oras cp -r --to-oci-layout, regctl image copy --referrers and
// oci-attest's attested-archive-path put into a layout) — and verifies every
// Sigstore bundle referrer with the same policy as Verify and Bundles: the
// signature and signer, the predicate type, the statement naming the
// referrer's subject digest, and the predicate's image (image ID and
// diffIDs) against the archive's image whose manifest the statement names.
// The archive is not the attested file (tardigest), so only the image is
// compared. Every image of the archive (or the one opts.Platform selects)
// needs a verified attestation. It returns the Report with ErrNoneFound,
// ErrNoneVerified or ErrArchiveDiffers when the outcome is not a success;
// other errors return a nil Report.
func Carried(ctx context.Context, opts Options) (*Report, error) {
	if err := opts.Check(); err != nil {
		return nil, fmt.Errorf("verifying the archive's attestations: %w", err)
	}
	if opts.Policy.PublicKey == nil && opts.TrustedMaterial == nil {
		return nil, fmt.Errorf("verifying the archive's attestations: no trusted root: keyless bundles are verified against their Sigstore instance's trusted root")
	}
	if opts.SubjectPath == "" {
		return nil, fmt.Errorf("verifying the archive's attestations: no archive")
	}
	pol, err := newCertPolicy(opts.Repository, opts.Workflow)
	if err != nil {
		return nil, err
	}
	local, err := scanArchive(ctx, opts.SubjectPath)
	if err != nil {
		return nil, err
	}
	imgs, err := carriedImages(local.a, opts.Platform)
	if err != nil {
		return nil, err
	}
	rep := &Report{
		ReferrersSource: sourceArchive,
		TarDigest:       local.a.TarDigest.String(),
		Attestations:    []Attestation{},
		Ignored:         []Ignored{},
		SubjectPath:     opts.SubjectPath,
	}
	for _, img := range imgs {
		rep.Platforms = append(rep.Platforms, PlatformReport{Platform: img.Platform.String(), Digest: imageKey(img)})
	}
	c := carried{opts: opts, pol: pol, local: local, images: imgs}
	for _, r := range local.a.Referrers {
		if len(rep.Attestations) == maxCandidates {
			rep.Unchecked++
			continue
		}
		a, why := c.check(ctx, r)
		switch {
		case why != "":
			rep.Ignored = append(rep.Ignored, Ignored{Digest: r.Descriptor.Digest.String(), ArtifactType: r.ArtifactType, Reason: why})
		default:
			if a.Verified {
				rep.Verified++
			}
			rep.Attestations = append(rep.Attestations, a)
		}
	}
	rep.Unchecked += local.a.ReferrersOmitted
	rep.Checked = len(rep.Attestations)
	return rep, outcome(rep)
}

// sourceArchive is Report.ReferrersSource for referrers an archive carries.
const sourceArchive = "archive"

// carriedImages are the archive's images Carried requires an attestation
// of: every one, or those of platform.
func carriedImages(a *oci.Archive, platform string) ([]*oci.Image, error) {
	var out []*oci.Image
	var have []string
	for i := range a.Images {
		img := &a.Images[i]
		have = append(have, orUnknown(img.Platform.String()))
		if platform == "" {
			out = append(out, img)
			continue
		}
		if p, err := oci.ParsePlatform(platform); err == nil && p.Matches(img.Platform) {
			out = append(out, img)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: the archive holds no image of platform %s (it holds %s)", ErrNoPlatform, platform, strings.Join(have, ", "))
	}
	return out, nil
}

// imageKey is how the report names an archive's image: its manifest
// digest, else (an archive that stores no manifest) its image ID.
func imageKey(img *oci.Image) string {
	if img.ManifestDigest != "" {
		return img.ManifestDigest.String()
	}
	return img.ImageID.String()
}

// carried checks the referrers an archive carries.
type carried struct {
	opts   Options
	pol    certPolicy
	local  *localArchive
	images []*oci.Image
}

// check verifies one referrer of the archive; a non-empty reason when it is
// not an oci attestation (another artifact type, another predicate type).
func (c carried) check(ctx context.Context, r oci.Referrer) (Attestation, string) {
	a := Attestation{
		Digest: r.Descriptor.Digest.String(), Source: "archive:" + r.Via,
		Created: r.Descriptor.Annotations[ocispec.AnnotationCreated], Subject: r.Subject.Digest.String(),
	}
	if r.ArtifactType != registry.BundleMediaType {
		return a, fmt.Sprintf("artifact type %q is not a Sigstore bundle", r.ArtifactType)
	}
	// A referrer of a platform's own manifest is that platform's, verified
	// or not (one of an index is attributed once its statement verifies).
	for _, img := range c.images {
		if img.ManifestDigest == r.Subject.Digest {
			a.PlatformDigest = imageKey(img)
		}
	}
	raw, problem := CarriedBundle(r)
	if problem != "" {
		a.Error = problem
		return a, ""
	}
	var named []string
	var p *attest.Predicate
	why := checkBundle(ctx, raw, &a, bundleCheck{
		opts: c.opts, pol: c.pol, subject: r.Subject.Digest.String(),
		annotatedType: r.Descriptor.Annotations[registry.AnnotationPredicateType], named: &named, predicate: &p,
	})
	if why != "" || !a.Verified {
		return a, why
	}
	c.attribute(&a, r, named, p)
	return a, ""
}

// CarriedBundle is the Sigstore bundle a referrer an archive carries
// holds, to verify: the bytes of its one layer, of the bundle media type.
// When it holds none, problem says why (the referrer has other layers, or
// the archive lacks the bundle's bytes) and raw is nil.
func CarriedBundle(r oci.Referrer) (raw []byte, problem string) {
	if len(r.Layers) != 1 || r.Layers[0].MediaType != registry.BundleMediaType {
		return nil, fmt.Sprintf("the referrer has %d layer(s), not one Sigstore bundle", len(r.Layers))
	}
	if r.Layers[0].Data == nil {
		return nil, fmt.Sprintf("the archive does not hold the bundle %s (or holds other bytes)", r.Layers[0].Digest)
	}
	return r.Layers[0].Data, ""
}

// attribute finds the archive image a verified attestation is of — the
// subject itself, or the platform manifest of an index subject that the
// statement names — and compares its predicate's image with it.
func (c carried) attribute(a *Attestation, r oci.Referrer, named []string, p *attest.Predicate) {
	var img *oci.Image
	for _, i := range c.images {
		d := i.ManifestDigest.String()
		if d == r.Subject.Digest.String() || (i.ImageIndex != nil && i.ImageIndex.Digest == r.Subject.Digest && slices.Contains(named, d)) {
			img = i
			break
		}
	}
	if img == nil {
		a.Archive = &ArchiveComparison{Differences: []Difference{{Field: "image", Attested: strings.Join(named, ", "), Local: "no selected image of the archive"}}}
		return
	}
	if img.Platform.String() != "" {
		a.Platform = img.Platform.String()
	}
	a.PlatformDigest = imageKey(img)
	a.Archive = c.local.compareImage(p, img)
}

// compareImage compares predicate want with image img of the archive: the
// image ID and diffIDs only (the file, its tags and its manifest.json are
// those of the archive that was attested; the statement naming the
// manifest digest binds the image).
func (l *localArchive) compareImage(want *attest.Predicate, img *oci.Image) *ArchiveComparison {
	c := &ArchiveComparison{Matches: true, SameImage: true}
	for _, d := range attest.Diff(want, attest.NewPredicate(l.a, img)) {
		if d.Field == "imageid" || strings.HasPrefix(d.Field, "diffids") {
			c.Matches, c.SameImage = false, false
			c.Differences = append(c.Differences, Difference{Field: d.Field, Attested: d.Want, Local: d.Got})
		}
	}
	return c
}
