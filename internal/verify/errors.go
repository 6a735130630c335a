package verify

import "errors"

// Sentinel errors. Check them with errors.Is. Verify returns its Report
// alongside each of them, so callers can still show what was found.
var (
	// ErrNoneFound is returned by Verify when the image has no Sigstore
	// bundle referrer whose predicate type is attest.PredicateType (through
	// the referrers API or the sha256-<hex> fallback tag).
	ErrNoneFound = errors.New("no oci attestation found")

	// ErrNoneVerified is returned by Verify when attestations were found but
	// none of them verifies against the trusted material and the policy.
	ErrNoneVerified = errors.New("no oci attestation verified")

	// ErrArchiveDiffers is returned by Verify when Options.SubjectPath is set
	// and the predicate recomputed from that archive matches no verified
	// attestation.
	ErrArchiveDiffers = errors.New("the local archive differs from the attested one")

	// ErrBundleTooLarge is returned by ReadBundle for a file larger than
	// its bound, before it is read.
	ErrBundleTooLarge = errors.New("the file is too large for a bundle")
)

// errRegistry marks a referrer the registry failed to serve (not a 404).
var errRegistry = errors.New("the registry failed to serve the referrer")
