// Package verify finds the oci attestations of a registry image, verifies
// them against a trusted root and a signer policy, and re-checks a local image
// archive against what was attested (ARCHITECTURE.md, "Verification").
//
// The package is silent: everything it finds is in the Report.
package verify

import (
	"context"
	"fmt"
	"slices"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/sigstore/sigstore-go/pkg/root"

	"github.com/oci-attest/oci-attest/internal/ref"
	"github.com/oci-attest/oci-attest/internal/registry"
	"github.com/oci-attest/oci-attest/internal/sign"
)

// maxCandidates bounds how many Sigstore bundle referrers Verify fetches
// and verifies.
const maxCandidates = 64

// Options configure Verify. A keyless policy needs TrustedMaterial and an
// identity and issuer; a key policy needs Policy.PublicKey.
type Options struct {
	// Client reads the registry. Nil: registry.New(registry.Options{}) (anonymous,
	// plus the Docker config in $HOME/.docker).
	Client *registry.Client
	// TrustedMaterial is the trusted root keyless bundles must chain to
	// (sign.TrustedMaterial). Nil: only key-signed bundles can verify.
	TrustedMaterial root.TrustedMaterial
	// Policy is who must have signed. Its Digest and SkipArtifact fields are
	// ignored: every statement must name the image digest as a subject.
	Policy sign.Policy
	// Repository, when set, must equal the certificate's Source Repository
	// URI: "owner/repo" (meaning https://github.com/owner/repo) or a full URL.
	// Empty: not checked.
	Repository string
	// Workflow, when set, must equal the certificate's Build Signer URI
	// without its "@ref": a full URL, "owner/repo/.github/workflows/f.yml",
	// or — with Repository — ".github/workflows/f.yml" or "f.yml". Empty: not
	// checked.
	Workflow string
	// SubjectPath is a local image archive to compare, field by field, with
	// the verified predicates. Empty: no comparison.
	SubjectPath string
}

// Verify resolves image (its digest, else its tag),
// lists its referrers (referrers API, else the sha256-<hex> fallback tag),
// keeps the Sigstore bundles whose predicate type is attest.PredicateType
// and verifies each one. It returns the Report together with ErrNoneFound,
// ErrNoneVerified or ErrArchiveDiffers when the outcome is not a success,
// and with a plain error when none verified and the registry failed to serve
// some of them (they were never checked); other errors (the registry, the
// archive, the options) return a nil Report.
func Verify(ctx context.Context, image ref.Reference, opts Options) (*Report, error) {
	client := opts.Client
	if client == nil {
		c, err := registry.New(registry.Options{})
		if err != nil {
			return nil, err
		}
		client = c
	}
	return verifyWith(ctx, clientSource{client}, image, opts)
}

// Check reports whether the options can decide anything, before any network
// access: the signer policy (sign.Policy.Check), and the repository and
// workflow, which only keyless bundles carry. Errors about the policy are
// *sign.OptionError. (Verify also needs TrustedMaterial for keyless
// bundles.)
func (o Options) Check() error {
	if err := o.Policy.Check(); err != nil {
		return err
	}
	if _, err := newCertPolicy(o.Repository, o.Workflow); err != nil {
		return err
	}
	if o.Policy.PublicKey != nil && (o.Repository != "" || o.Workflow != "") {
		return &sign.OptionError{Field: "PublicKey", Msg: "a public key verifies key-signed bundles, which carry no certificate to check a repository or workflow against: give the key, or the certificate identity with the repository and workflow"}
	}
	return nil
}

func verifyWith(ctx context.Context, reg source, image ref.Reference, opts Options) (*Report, error) {
	if err := opts.Check(); err != nil {
		return nil, fmt.Errorf("verifying %s: %w", image, err)
	}
	if opts.Policy.PublicKey == nil && opts.TrustedMaterial == nil {
		return nil, fmt.Errorf("verifying %s: %w: no trusted root: keyless bundles are verified against their Sigstore instance's trusted root", image, sign.ErrOptions)
	}
	pol, err := newCertPolicy(opts.Repository, opts.Workflow)
	if err != nil {
		return nil, err
	}
	repository := image.Repo()
	subject, err := reg.resolve(ctx, image)
	if err != nil {
		return nil, err
	}
	rep := &Report{
		Image:        image.String(),
		Repository:   repository.Name(),
		Digest:       subject.Digest.String(),
		MediaType:    subject.MediaType,
		Attestations: []Attestation{},
		Ignored:      []Ignored{},
		SubjectPath:  opts.SubjectPath,
	}
	refs, source, err := reg.referrers(ctx, repository, subject, "")
	if err != nil {
		return nil, err
	}
	rep.ReferrersSource = source

	var local *localArchive
	if opts.SubjectPath != "" {
		if local, err = scanArchive(ctx, opts.SubjectPath); err != nil {
			return nil, err
		}
	}
	c := checker{reg: reg, repository: repository, subject: subject, opts: opts, pol: pol, local: local, image: image}
	var candidates []ocispec.Descriptor
	for _, d := range refs {
		if why := foreign(d); why != "" {
			rep.Ignored = append(rep.Ignored, Ignored{Digest: d.Digest.String(), ArtifactType: d.ArtifactType, Reason: why})
			continue
		}
		candidates = append(candidates, d)
	}
	// Newest first (by the created annotation, RFC 3339 in UTC); anyone who
	// can push to the repository can add referrers, so only so many are
	// fetched.
	slices.SortStableFunc(candidates, func(x, y ocispec.Descriptor) int {
		return strings.Compare(y.Annotations[ocispec.AnnotationCreated], x.Annotations[ocispec.AnnotationCreated])
	})
	for i, d := range candidates {
		if i >= maxCandidates {
			rep.Ignored = append(rep.Ignored, Ignored{Digest: d.Digest.String(), ArtifactType: d.ArtifactType,
				Reason: fmt.Sprintf("not checked: only the newest %d Sigstore bundle referrers are", maxCandidates)})
			continue
		}
		a, why := c.check(ctx, d, source)
		if why != "" {
			rep.Ignored = append(rep.Ignored, Ignored{Digest: d.Digest.String(), ArtifactType: d.ArtifactType, Reason: why})
			continue
		}
		if a.Verified {
			rep.Verified++
		}
		rep.Attestations = append(rep.Attestations, a)
	}
	return rep, outcome(rep)
}

// outcome maps a report to Verify's sentinel errors.
func outcome(rep *Report) error {
	at := rep.Repository + "@" + rep.Digest
	if rep.Repository == "" {
		at = "the archive " + rep.TarDigest
	}
	switch {
	case len(rep.Attestations) == 0:
		return fmt.Errorf("%w for %s (%d other referrer(s) ignored): attest the image first, or check the image name and digest", ErrNoneFound, at, len(rep.Ignored))
	case rep.Verified == 0:
		var errs []string
		unreadable := 0
		for _, a := range rep.Attestations {
			id := a.Digest
			if id == "" {
				id = a.Source
			}
			errs = append(errs, fmt.Sprintf("%s: %s", id, a.Error))
			if a.Unreadable {
				unreadable++
			}
		}
		if unreadable > 0 {
			// Not "none verifies": some were never checked. A plain error
			// (exit 1) says to retry rather than that the image is bad.
			return fmt.Errorf("reading attestations of %s: the registry failed to serve %d of %d; none of the others verifies: %s", at, unreadable, len(rep.Attestations), strings.Join(errs, "; "))
		}
		return fmt.Errorf("%w for %s: %d found, all rejected: %s", ErrNoneVerified, at, len(rep.Attestations), strings.Join(errs, "; "))
	}
	if rep.SubjectPath == "" {
		return nil
	}
	m, same := false, false
	for _, a := range rep.Attestations {
		if a.Archive != nil && a.Archive.Matches {
			m = true
		}
		if a.Archive != nil && a.Archive.SameImage {
			same = true
		}
	}
	rep.ArchiveMatches = &m
	switch {
	case !m && same:
		return fmt.Errorf("%w: %s holds the attested image (image ID and layers match) but is not the attested archive file of %s", ErrArchiveDiffers, rep.SubjectPath, at)
	case !m:
		return fmt.Errorf("%w: %s does not match any verified attestation of %s", ErrArchiveDiffers, rep.SubjectPath, at)
	}
	return nil
}

// foreign says why a referrer descriptor is not an oci attestation, judging
// by what the index entry says; "" when it may be one.
func foreign(d ocispec.Descriptor) string {
	if d.ArtifactType != registry.BundleMediaType {
		return fmt.Sprintf("artifact type %q is not a Sigstore bundle", d.ArtifactType)
	}
	if pt, ok := d.Annotations[registry.AnnotationPredicateType]; ok && pt != predicateType {
		return fmt.Sprintf("predicate type %q is not ours", pt)
	}
	return ""
}
