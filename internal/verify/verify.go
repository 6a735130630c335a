// Package verify finds the oci attestations of a registry image, verifies
// them against a trusted root and a signer policy, and re-checks a local image
// archive against what was attested (ARCHITECTURE.md, "Verification").
//
// The package is silent: everything it finds is in the Report.
package verify

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/sigstore/sigstore-go/pkg/root"

	"github.com/oci-attest/oci-attest/internal/oci"
	"github.com/oci-attest/oci-attest/internal/ref"
	"github.com/oci-attest/oci-attest/internal/registry"
	"github.com/oci-attest/oci-attest/internal/sign"
)

// maxCandidates bounds how many Sigstore bundle referrers one Verify
// fetches and verifies, those of an index and of its platforms together:
// far more than an image carries (one per attest run and platform), so that
// pushing referrers cannot crowd the real attestation out before this many
// are pushed (README "Verify").
const maxCandidates = 1024

// checkWorkers is how many referrers are fetched and verified at once.
const checkWorkers = 8

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
	// Platform, for an image that is an index, is the one platform
	// ("os/architecture[/variant]") whose attestation is required. Empty:
	// every platform's.
	Platform string
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
	if o.Platform != "" {
		if _, err := oci.ParsePlatform(o.Platform); err != nil {
			return &sign.OptionError{Field: "Platform", Msg: err.Error()}
		}
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
	raw, subject, err := reg.resolve(ctx, image)
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
	plats, err := platforms(raw, subject, opts.Platform)
	if err != nil {
		return nil, fmt.Errorf("verifying %s: %w", image, err)
	}
	var local *localArchive
	if opts.SubjectPath != "" {
		if local, err = scanArchive(ctx, opts.SubjectPath); err != nil {
			return nil, err
		}
	}
	// The referrers of the image (the index) and, for an index, of each
	// platform manifest: attest attaches to both (ARCHITECTURE.md,
	// "Multi-platform and multi-image").
	type candidate struct {
		d      ocispec.Descriptor
		source string
		c      checker
		plat   int // index into plats; -1: a referrer of subject itself
	}
	var candidates []candidate
	for _, pl := range plats {
		rep.Platforms = append(rep.Platforms, PlatformReport{Platform: pl.platform.String(), Digest: pl.desc.Digest.String()})
	}
	subjects := []ocispec.Descriptor{subject}
	for _, pl := range plats {
		subjects = append(subjects, pl.desc)
	}
	for i, s := range subjects {
		refs, source, err := reg.referrers(ctx, repository, s, "")
		if err != nil {
			return nil, err
		}
		if i == 0 {
			rep.ReferrersSource = source
		} else {
			rep.Platforms[i-1].ReferrersSource = source
		}
		c := checker{reg: reg, repository: repository, subject: s, opts: opts, pol: pol, local: local, image: image}
		seen := map[digest.Digest]bool{}
		for _, d := range refs {
			// A listing is remote data: an entry whose digest is no digest
			// would become a URL path; one listed twice is one referrer.
			if err := d.Digest.Validate(); err != nil {
				rep.Ignored = append(rep.Ignored, Ignored{Digest: string(d.Digest), ArtifactType: d.ArtifactType, Reason: fmt.Sprintf("not a valid digest: %v", err)})
				continue
			}
			if seen[d.Digest] {
				rep.Ignored = append(rep.Ignored, Ignored{Digest: d.Digest.String(), ArtifactType: d.ArtifactType, Reason: "listed again (the same referrer is checked once)"})
				continue
			}
			seen[d.Digest] = true
			if why := foreign(d); why != "" {
				rep.Ignored = append(rep.Ignored, Ignored{Digest: d.Digest.String(), ArtifactType: d.ArtifactType, Reason: why})
				continue
			}
			candidates = append(candidates, candidate{d: d, source: source, c: c, plat: i - 1})
		}
	}
	// Every candidate is checked, in the order the registry lists them (the
	// fallback tag: oldest first), up to maxCandidates: anyone who can push
	// to the repository can add referrers, and none of what a referrer says
	// about itself before verification is trusted to choose among them.
	if len(candidates) > maxCandidates {
		for _, x := range candidates[maxCandidates:] {
			rep.Ignored = append(rep.Ignored, Ignored{Digest: x.d.Digest.String(), ArtifactType: x.d.ArtifactType,
				Reason: fmt.Sprintf("not checked: more than %d Sigstore bundle referrers", maxCandidates)})
		}
		rep.Unchecked = len(candidates) - maxCandidates
		candidates = candidates[:maxCandidates]
	}
	results := make([]Attestation, len(candidates))
	whys := make([]string, len(candidates))
	named := make([][]string, len(candidates))
	work := make(chan int)
	var wg sync.WaitGroup
	for range min(checkWorkers, len(candidates)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				results[i], whys[i] = candidates[i].c.check(ctx, candidates[i].d, candidates[i].source, &named[i])
			}
		}()
	}
	for i := range candidates {
		work <- i
	}
	close(work)
	wg.Wait()
	rep.Checked = len(candidates)
	for i, a := range results {
		if whys[i] != "" {
			rep.Ignored = append(rep.Ignored, Ignored{Digest: a.Digest, ArtifactType: candidates[i].d.ArtifactType, Reason: whys[i]})
			continue
		}
		if len(plats) > 0 {
			a.Subject = subject.Digest.String()
		}
		if p := candidates[i].plat; p >= 0 {
			a.Subject = plats[p].desc.Digest.String()
			a.Platform, a.PlatformDigest = plats[p].platform.String(), a.Subject
		}
		for _, pl := range plats {
			if a.PlatformDigest == "" && slices.Contains(named[i], pl.desc.Digest.String()) {
				a.Platform, a.PlatformDigest = pl.platform.String(), pl.desc.Digest.String()
			}
		}
		if a.Verified {
			rep.Verified++
		}
		rep.Attestations = append(rep.Attestations, a)
	}
	return rep, outcome(rep)
}

// outcome maps a report to Verify's sentinel errors: for an index, every
// platform (or the one selected) needs a verified attestation of its own,
// and with an archive, one that matches it.
func outcome(rep *Report) error {
	at := rep.Repository + "@" + rep.Digest
	if rep.Repository == "" {
		at = "the archive " + rep.TarDigest
	}
	if len(rep.Platforms) > 0 {
		return platformsOutcome(rep, at)
	}
	return attestationsOutcome(rep, rep.Attestations, at)
}

// attestationsOutcome is the outcome of one image's attestations.
func attestationsOutcome(rep *Report, as []Attestation, at string) error {
	verified := 0
	for _, a := range as {
		if a.Verified {
			verified++
		}
	}
	switch {
	case len(as) == 0:
		return fmt.Errorf("%w for %s (%d other referrer(s) ignored): attest the image first, or check the image name and digest", ErrNoneFound, at, len(rep.Ignored))
	case verified == 0:
		var errs []string
		unreadable := 0
		for _, a := range as {
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
			return fmt.Errorf("reading attestations of %s: the registry failed to serve %d of %d; none of the others verifies: %s", at, unreadable, len(as), strings.Join(errs, "; "))
		}
		if rep.Unchecked > 0 {
			return fmt.Errorf("verifying %s: none of the %d checked verifies, and %d more Sigstore bundle referrers were not checked (at most %d are): %s", at, len(as), rep.Unchecked, maxCandidates, strings.Join(errs, "; "))
		}
		return fmt.Errorf("%w for %s: %d found, all rejected: %s", ErrNoneVerified, at, len(as), strings.Join(errs, "; "))
	}
	if rep.SubjectPath == "" {
		return nil
	}
	m, same := false, false
	for _, a := range as {
		if a.Archive != nil && a.Archive.Matches {
			m = true
		}
		if a.Archive != nil && a.Archive.SameImage {
			same = true
		}
	}
	if rep.ArchiveMatches == nil || *rep.ArchiveMatches {
		rep.ArchiveMatches = &m
	}
	switch {
	case !m && same:
		return fmt.Errorf("%w: %s holds the attested image (image ID and layers match) but is not the attested archive file of %s", ErrArchiveDiffers, rep.SubjectPath, at)
	case !m:
		return fmt.Errorf("%w: %s does not match any verified attestation of %s", ErrArchiveDiffers, rep.SubjectPath, at)
	}
	return nil
}

// platformsOutcome is the outcome of an index: each platform's, the first
// failure of the worst kind winning (none found, then none verified, then
// the archive differs), every failing platform named.
func platformsOutcome(rep *Report, at string) error {
	var errs []error
	for i := range rep.Platforms {
		pr := &rep.Platforms[i]
		var as []Attestation
		for _, a := range rep.Attestations {
			if a.PlatformDigest == pr.Digest {
				as = append(as, a)
				if a.Verified {
					pr.Verified++
				}
			}
		}
		pr.Attestations = len(as)
		err := attestationsOutcome(rep, as, fmt.Sprintf("platform %s (%s@%s) of %s", orUnknown(pr.Platform), rep.Repository, pr.Digest, at))
		if rep.SubjectPath != "" && pr.Verified > 0 {
			m := !errors.Is(err, ErrArchiveDiffers)
			pr.ArchiveMatches = &m
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) == 0 {
		return nil
	}
	// A plain error (the registry failed) first, then the sentinels in
	// order: the exit code says the worst that is known.
	rank := func(err error) int {
		for i, s := range []error{ErrNoneFound, ErrNoneVerified, ErrArchiveDiffers} {
			if errors.Is(err, s) {
				return i + 1
			}
		}
		return 0
	}
	w := 0
	for i, err := range errs {
		if rank(err) < rank(errs[w]) {
			w = i
		}
	}
	worst := errs[w]
	if len(errs) == 1 {
		return worst
	}
	var others []string
	for i, err := range errs {
		if i != w {
			others = append(others, err.Error())
		}
	}
	return fmt.Errorf("%w; and %d more of %d platforms fail: %s", worst, len(others), len(rep.Platforms), strings.Join(others, "; "))
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
