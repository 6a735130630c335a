package attach

import "errors"

// Sentinel errors. Check them with errors.Is. Run returns its Report
// alongside each refusal; nothing is pushed when any bundle is refused.
var (
	// ErrRefused wraps every refusal of a bundle: one of the errors below,
	// registry.ErrBundleTooLarge, or a bundle that does not verify.
	ErrRefused = errors.New("bundle refused")

	// ErrNotVerified is a bundle that does not verify against the trusted
	// material and the policy (another signer, tampered, not a Sigstore
	// bundle, another predicate type).
	ErrNotVerified = errors.New("the bundle does not verify")

	// ErrOtherImage is a bundle whose verified statement names neither the
	// image's digest nor one of its platform manifests', or an archive's
	// referrer whose verified statement does not name its subject.
	ErrOtherImage = errors.New("the bundle attests another image")

	// ErrNotInRepository is a referrer an archive carries whose subject the
	// repository does not hold (the image was not copied with its digests).
	ErrNotInRepository = errors.New("the repository does not hold the image the bundle attests")

	// ErrNotBundle is a file that is neither a Sigstore bundle (JSON) nor an
	// image archive.
	ErrNotBundle = errors.New("neither a Sigstore bundle nor an image archive")

	// ErrNothing is an input that holds no bundle to attach (an archive
	// that carries no Sigstore bundle referrer).
	ErrNothing = errors.New("no bundle to attach")
)
