// Package verify finds the oci attestations of a registry image, verifies
// them against a trusted root and a signer policy, and re-checks a local image
// archive against what was attested (ARCHITECTURE.md, "Verification").
//
// The package is silent: everything it finds is in the Report.
package verify

import (
	"context"
	"fmt"

	"github.com/sigstore/sigstore-go/pkg/root"

	"github.com/oci-attest/oci-attest/internal/oci"
	"github.com/oci-attest/oci-attest/internal/ref"
	"github.com/oci-attest/oci-attest/internal/registry"
	"github.com/oci-attest/oci-attest/internal/sign"
)

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
	// Workflow, when set, is the workflow that must have signed: a full URL,
	// "owner/repo/.github/workflows/f.yml", or — with Repository —
	// ".github/workflows/f.yml" or "f.yml"; an "@ref" after it must be a ref
	// (refs/…) and is not compared. The certificate's Build Signer URI must
	// be it, "@" and a ref (refs/…). Empty: not checked.
	Workflow string
	// SubjectPath is a local image archive to compare, field by field, with
	// the verified predicates. Empty: no comparison.
	SubjectPath string
	// Platform, for an image that is an index, is the one platform
	// ("os/architecture[/variant]") whose attestations are required: those
	// of the entries containerd and go-containerregistry read for it,
	// compared as each compares platforms (containerd normalised,
	// go-containerregistry as spelt and normalised). Empty: those of every
	// entry a runtime reads for some platform.
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

// verifyWith is Verify reading the registry through reg: it checks the
// options, resolves the image and its platforms, scans the archive, lists
// the candidates, checks them and records what each one proved.
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
		Required:     requirements(opts, pol),
	}
	plats, err := platforms(ctx, reg, repository, raw, subject, opts.Platform)
	if err != nil {
		return nil, fmt.Errorf("verifying %s: %w", image, err)
	}
	for _, pl := range plats {
		rep.Platforms = append(rep.Platforms, PlatformReport{Platform: pl.platform.String(), Digest: pl.desc.Digest.String(),
			SelectedBy: pl.by, Through: pl.through, unusual: pl.unusual})
	}
	var local *localArchive
	if opts.SubjectPath != "" {
		if local, err = scanArchive(ctx, opts.SubjectPath); err != nil {
			return nil, err
		}
	}
	base := checker{reg: reg, repository: repository, opts: opts, pol: pol, local: local, image: image}
	cands, err := candidates(ctx, base, subject, plats, rep)
	if err != nil {
		return nil, err
	}
	cands = capCandidates(rep, cands)
	checkAll(ctx, cands)
	rep.Checked = len(cands)
	record(rep, subject, plats, cands)
	gateWarnings(rep)
	return rep, outcome(rep)
}
