package verify

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/oci-attest/oci-attest/internal/sign"
)

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
		return noneVerified(rep, as, at)
	}
	return archiveOutcome(rep, as, at)
}

// noneVerified is the outcome of attestations none of which verified:
// ErrNoneVerified, or a plain error when some were never checked (the
// registry failed to serve them, or there were more than maxCandidates).
func noneVerified(rep *Report, as []Attestation, at string) error {
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
	if !slices.ContainsFunc(as, func(a Attestation) bool { return !a.KeySigned }) {
		// One reason for all: say it once.
		return fmt.Errorf("%w for %s: %d found, all key-signed (%w), and the policy names a certificate identity", ErrNoneVerified, at, len(as), sign.ErrKeySigned)
	}
	return fmt.Errorf("%w for %s: %d found, all rejected: %s", ErrNoneVerified, at, len(as), strings.Join(errs, "; "))
}

// archiveOutcome is the outcome of verified attestations with an archive
// to compare: ErrArchiveDiffers unless one of them matches it. It records
// the comparison in rep.ArchiveMatches, which stays false once one image
// (platform) did not match.
func archiveOutcome(rep *Report, as []Attestation, at string) error {
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
	return worstFirst(errs, len(rep.Platforms))
}

// worstFirst joins the platforms' failures into one error that wraps the
// worst of them — a plain error (the registry failed) first, then the
// sentinels in order, so that the exit code says the worst that is known —
// and names the others; nil when there are none.
func worstFirst(errs []error, platforms int) error {
	if len(errs) == 0 {
		return nil
	}
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
	return fmt.Errorf("%w; and %d more of %d platforms fail: %s", worst, len(others), platforms, strings.Join(others, "; "))
}
