package sign

import "errors"

// Sentinel errors. Check them with errors.Is.
var (
	// ErrNoToken is returned by Check and Sign when keyless signing has no OIDC
	// identity token: inside GitHub Actions the job lacks the id-token
	// permission, elsewhere neither SIGSTORE_ID_TOKEN nor an explicit token
	// was given.
	ErrNoToken = errors.New("no OIDC identity token")

	// ErrTokenRequest is returned by Sign when the GitHub Actions ID token
	// endpoint (ACTIONS_ID_TOKEN_REQUEST_URL) fails or answers with something
	// other than a token. The message carries the HTTP status, never a token.
	ErrTokenRequest = errors.New("requesting the GitHub Actions ID token")

	// ErrVerify is returned by Sign when the freshly signed bundle does not
	// verify against the trusted root and the signer's identity (fail closed),
	// and by Verify when a bundle does not satisfy the policy.
	ErrVerify = errors.New("verifying the sigstore bundle")

	// ErrKeySigned is returned by Verify, with ErrVerify, when a policy of
	// a certificate identity meets a key-signed bundle (one that carries a
	// public key hint instead of a certificate): it verifies only with the
	// signer's public key.
	ErrKeySigned = errors.New("the bundle is key-signed")

	// ErrOptions is returned by Sign, TrustedMaterial and Verify for invalid
	// options: an unknown instance, a custom instance without URLs or trusted
	// root, an unreadable signing key, a policy without identity or key.
	ErrOptions = errors.New("invalid signing options")

	// ErrService is returned by Sign when a Sigstore service (Fulcio, Rekor, a
	// timestamp authority, a TUF repository) fails.
	ErrService = errors.New("sigstore service failed")
)

// sentinelError is an error with its own message that still matches a
// sentinel with errors.Is.
type sentinelError struct {
	msg      string
	sentinel error
}

func (e *sentinelError) Error() string { return e.msg }
func (e *sentinelError) Unwrap() error { return e.sentinel }

// serviceError is a failure of a Sigstore service: it matches ErrService and
// the underlying error.
type serviceError struct {
	msg string
	err error
}

func (e *serviceError) Error() string   { return e.msg }
func (e *serviceError) Unwrap() []error { return []error{ErrService, e.err} }
