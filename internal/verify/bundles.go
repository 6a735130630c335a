package verify

import (
	"context"
	"fmt"
	"os"

	"github.com/oci-attest/oci-attest/internal/ref"
)

// maxBundleSize bounds a bundle file read by Bundles (bundles are a
// few KiB; the registry path bounds them the same way).
const maxBundleSize = 64 << 20

// Bundles answers, with no registry, "is this archive the image these
// bundles attest?": it reads the archive at opts.SubjectPath once, verifies
// every bundle file against the trusted material and the policy (the
// signature, the signer, the certificate's repository and workflow, the oci
// attestor predicate type), and compares each verified predicate with the
// archive, field by field — the tardigest subject included, so another file
// differs rather than failing to verify. It returns the Report with
// ErrNoneVerified or ErrArchiveDiffers when the outcome is not a success;
// other errors (an unreadable archive or bundle file, the options) return a
// nil Report. It contacts nothing: the trusted material is the caller's.
func Bundles(ctx context.Context, bundles []string, opts Options) (*Report, error) {
	if err := opts.Check(); err != nil {
		return nil, fmt.Errorf("verifying bundles: %w", err)
	}
	if opts.Policy.PublicKey == nil && opts.TrustedMaterial == nil {
		return nil, fmt.Errorf("verifying bundles: no trusted root: keyless bundles are verified against their Sigstore instance's trusted root")
	}
	if opts.SubjectPath == "" {
		return nil, fmt.Errorf("verifying bundles: no archive to compare them with")
	}
	if len(bundles) == 0 {
		return nil, fmt.Errorf("verifying bundles: no bundle given")
	}
	pol, err := newCertPolicy(opts.Repository, opts.Workflow)
	if err != nil {
		return nil, err
	}
	raws := make([][]byte, len(bundles))
	for i, p := range bundles {
		if raws[i], err = ReadBundle(p, maxBundleSize); err != nil {
			return nil, err
		}
	}
	local, err := scanArchive(ctx, opts.SubjectPath)
	if err != nil {
		return nil, err
	}
	rep := &Report{
		TarDigest:    local.a.TarDigest.String(),
		Attestations: []Attestation{},
		Ignored:      []Ignored{},
		SubjectPath:  opts.SubjectPath,
		Required:     requirements(opts, pol),
	}
	for i, raw := range raws {
		a := Attestation{Source: "file:" + bundles[i]}
		checkBundle(ctx, raw, &a, bundleCheck{opts: opts, pol: pol, local: local, image: ref.Reference{}})
		if a.Verified {
			rep.Verified++
		}
		rep.Attestations = append(rep.Attestations, a)
	}
	return rep, outcome(rep)
}

// ReadBundle reads the bundle file at p, refusing one of more than max
// bytes (ErrBundleTooLarge) before reading it: Bundles bounds them by
// maxBundleSize, attach by what a referrer may carry.
func ReadBundle(p string, max int64) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("reading bundle: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("reading bundle: %w", err)
	}
	if st.Size() > max {
		return nil, fmt.Errorf("reading bundle %s: %w: %d bytes, more than %d", p, ErrBundleTooLarge, st.Size(), max)
	}
	b := make([]byte, st.Size())
	if _, err := f.ReadAt(b, 0); err != nil {
		return nil, fmt.Errorf("reading bundle %s: %w", p, err)
	}
	return b, nil
}
