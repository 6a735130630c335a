// Package attach is the attach use case (issue 26): it verifies existing
// Sigstore bundles — files, or the referrers an archive carries — against a
// signer policy, checks that each attests the image (or the platform) it is
// to be attached to, and pushes each as an OCI 1.1 referrer through the
// same registry code as the attest pipeline (registry.Client.AttachAll: the
// referrers API, else the sha256-<hex> fallback tag), signing nothing.
// Nothing is pushed when any bundle is refused.
//
// The package is silent: what it did is in the Report; its errors wrap the
// sentinels of errors.go and name no flag.
package attach

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-attest/oci-attest/internal/attest"
	"github.com/oci-attest/oci-attest/internal/ref"
	"github.com/oci-attest/oci-attest/internal/registry"
	"github.com/oci-attest/oci-attest/internal/verify"
)

// Options configure Run. The zero value needs only a policy in Verify.
type Options struct {
	// Client reads and writes the registry. Nil: registry.New with its
	// zero options.
	Client *registry.Client
	// Verify is the trusted material and the signer policy every bundle
	// must verify with (verify.Options.Check); its SubjectPath and
	// Platform are ignored.
	Verify verify.Options
	// Attach is how referrers are pushed (Mode, Settle); PredicateType and
	// Now are Run's: the predicate type of the oci attestor, and the
	// bundle's earliest verified time (else the Unix epoch), so that the
	// same bundle always makes the same referrer manifest.
	Attach registry.AttachOptions
}

// Run attaches bundles to image, an image reference with a tag or digest,
// or — when every bundle is an archive's referrer — a bare repository,
// where each is attached to its own subject: a bundle file to every digest
// of the image and its platform manifests that its verified statement
// names; an archive's referrer to its subject, which must be the image or
// one of its platforms when image names one, and must be in the
// repository. A bundle already attached to a subject (a referrer holding
// the same bundle bytes) is not attached again. It returns the Report and,
// when a bundle was refused, an error wrapping ErrRefused, having pushed
// nothing; other errors (the registry, the options) may come with a
// partial Report.
func Run(ctx context.Context, image ref.Reference, bundles []Bundle, opts Options) (*Report, error) {
	if len(bundles) == 0 {
		return nil, ErrNothing
	}
	client := opts.Client
	if client == nil {
		c, err := registry.New(registry.Options{})
		if err != nil {
			return nil, err
		}
		client = c
	}
	repo := image.Repo()
	rep := &Report{Image: image.String(), Repository: repo.Name(), Attached: []Attached{}, Refused: []Refused{}}
	var allowed []ocispec.Descriptor // the image and its platforms; none for a bare repository
	if image.Tag != "" || image.Digest != "" {
		res, err := verify.Resolve(ctx, client, image)
		if err != nil {
			return nil, err
		}
		rep.Digest = res.Descriptor.Digest.String()
		allowed = append([]ocispec.Descriptor{res.Descriptor}, res.Platforms...)
	}
	p := planner{client: client, repo: repo, allowed: allowed, opts: opts.Verify, bare: allowed == nil}
	var todo []planned
	var refusals []error
	for _, b := range bundles {
		pl, err := p.plan(ctx, b)
		switch {
		case errors.Is(err, ErrRefused):
			rep.Refused = append(rep.Refused, Refused{Source: b.Source, Error: err.Error()})
			refusals = append(refusals, err)
		case err != nil:
			return rep, err
		default:
			todo = append(todo, pl...)
		}
	}
	if len(refusals) > 0 {
		return rep, errors.Join(refusals...)
	}
	return rep, push(ctx, client, repo, todo, opts.Attach, rep)
}

// planned is one referrer to push: a verified bundle and one subject.
type planned struct {
	bundle  Bundle
	subject ocispec.Descriptor
	att     verify.Attestation
	created time.Time
}

// planner decides, for each bundle, whether it verifies and what it is
// attached to.
type planner struct {
	client  *registry.Client
	repo    ref.Reference
	allowed []ocispec.Descriptor
	bare    bool
	opts    verify.Options
}

// plan verifies b and returns a referrer to push for each subject it
// attests; an error wrapping ErrRefused when it cannot be attached.
func (p planner) plan(ctx context.Context, b Bundle) ([]planned, error) {
	refuse := func(err error, format string, args ...any) error {
		return fmt.Errorf("%w: %s: %w: %s", ErrRefused, b.Source, err, fmt.Sprintf(format, args...))
	}
	switch {
	case b.Problem != "":
		return nil, refuse(ErrNotVerified, "%s", b.Problem)
	case len(b.Raw) > registry.MaxBundleSize:
		return nil, refuse(registry.ErrBundleTooLarge, "%d bytes, more than %d", len(b.Raw), registry.MaxBundleSize)
	case b.Subject == "" && p.bare:
		return nil, fmt.Errorf("%s: %w: a bundle file is attached to the image it attests: name it with a tag or digest", b.Source, registry.ErrNoReference)
	}
	// The subject is checked here, from what the verified statement names:
	// an archive's referrer whose bundle attests another image is a bundle
	// of another image, not one that fails to verify.
	a, named, err := verify.One(ctx, b.Raw, p.opts)
	if err != nil {
		return nil, err
	}
	if !a.Verified {
		return nil, refuse(ErrNotVerified, "%s", a.Error)
	}
	var subjects []ocispec.Descriptor
	if b.Subject != "" {
		if !slices.Contains(named, b.Subject.String()) {
			return nil, refuse(ErrOtherImage, "it is carried as a referrer of %s but attests %s", b.Subject, first(named))
		}
		s, err := p.archiveSubject(ctx, b.Subject)
		if errors.Is(err, ErrOtherImage) || errors.Is(err, ErrNotInRepository) {
			return nil, refuse(err, "%s", subjectAdvice(b.Subject, p.repo))
		}
		if err != nil {
			return nil, err
		}
		subjects = append(subjects, s)
	} else {
		for _, d := range p.allowed {
			if slices.Contains(named, d.Digest.String()) {
				subjects = append(subjects, d)
			}
		}
		if len(subjects) == 0 {
			return nil, refuse(ErrOtherImage, "it attests %s, not %s nor one of its %d platform manifest(s)", first(named), p.allowed[0].Digest, len(p.allowed)-1)
		}
	}
	created := time.Unix(0, 0)
	if len(a.Timestamps) > 0 {
		created = a.Timestamps[0].Time
	}
	out := make([]planned, 0, len(subjects))
	for _, s := range subjects {
		out = append(out, planned{bundle: b, subject: s, att: a, created: created})
	}
	return out, nil
}

// archiveSubject is the descriptor of d, an archive referrer's subject:
// one of the image's digests when an image was named, else what the
// repository holds under d.
func (p planner) archiveSubject(ctx context.Context, d digest.Digest) (ocispec.Descriptor, error) {
	if !p.bare {
		for _, s := range p.allowed {
			if s.Digest == d {
				return s, nil
			}
		}
		return ocispec.Descriptor{}, ErrOtherImage
	}
	_, desc, err := p.client.FetchManifest(ctx, p.repo, d.String())
	if errors.Is(err, registry.ErrNotFound) {
		return ocispec.Descriptor{}, ErrNotInRepository
	}
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("reading %s@%s: %w", p.repo.Name(), d, err)
	}
	return desc, nil
}

// first is the first digest a statement names (the registry image's).
func first(named []string) string {
	if len(named) == 0 {
		return "no digest"
	}
	return named[0]
}

// subjectAdvice says which image an archive's referrer needs.
func subjectAdvice(d digest.Digest, repo ref.Reference) string {
	return fmt.Sprintf("it refers to %s, which %s must hold", d, repo.Name())
}

// predicateType is the annotation of every referrer Run pushes: a bundle
// that verified carries the oci attestor's statement.
const predicateType = attest.PredicateType
