package sign

import (
	"net/http"
	"time"

	"github.com/oci-attest/oci-attest/internal/retry"
)

// Instance names accepted in Options.Instance (ARCHITECTURE.md, "Signing and trust").
const (
	// InstanceAuto picks like actions/attest: a public repository signs with
	// public-good, anything else with github. Outside GitHub Actions (no
	// GITHUB_EVENT_PATH) it picks public-good, the only instance that certifies
	// identities other than GitHub Actions workflows.
	InstanceAuto = "auto"
	// InstancePublicGood is Sigstore's public-good instance: trusted root and
	// signing config from Sigstore's TUF repository.
	InstancePublicGood = "public-good"
	// InstanceGitHub is GitHub's Sigstore instance: Fulcio and a timestamp
	// authority at fulcio.<host> / timestamp.<host> (githubapp.com for
	// github.com), no transparency log, trusted root from GitHub's TUF
	// repository.
	InstanceGitHub = "github"
	// InstanceCustom uses Options.FulcioURL, RekorURL, TSAURL (or a signing
	// config) and the trusted root at Options.TrustedRootPath.
	InstanceCustom = "custom"
)

// SigningKeyEphemeral as Options.SigningKey signs with a fresh ECDSA P-256 key
// that is thrown away afterwards (the bundle then verifies only with the
// public key it reports in Result.PublicKeyPEM).
const SigningKeyEphemeral = "ephemeral"

// Options configure Sign (and Check, which holds them to the rules Sign
// applies). The zero value signs keylessly with the "auto" instance, reading
// nothing from the environment. Where a verifier's trusted root comes from
// is TrustOptions.
type Options struct {
	// Instance is "auto" (default, also for ""), "public-good", "github" or
	// "custom".
	Instance string

	// FulcioURL, RekorURL and TSAURL are the custom instance's services
	// (base URLs; a TSA URL without a path gets /api/v1/timestamp). RekorURL
	// is a Rekor v2 log (rekor-tiles), which needs the TSA for a signed
	// time; a Rekor v1 log is named in a signing config.
	FulcioURL, RekorURL, TSAURL string
	// SigningConfigPath is a custom instance's signing config instead of
	// the URL fields (never with them): the standard SigningConfig
	// (application/vnd.dev.sigstore.signingconfig.v0.2+json, what `cosign
	// signing-config create` writes and cosign's --signing-config reads).
	// It chooses the Fulcio, the Rekor logs — v1 or v2 by their
	// majorApiVersion — and the timestamp authorities as sigstore-go's
	// service selection does; a Rekor v1 log without a timestamp authority
	// is a complete instance (the log's integrated time is the signed time).
	// Every URL in it must be https, or plain http to a loopback host.
	SigningConfigPath string
	// TrustedRootPath is a trusted_root.json. Required for custom; for the
	// other instances it replaces the root fetched from TUF (air-gapped
	// verification, GitHub Enterprise hosts other than github.com).
	TrustedRootPath string
	// TUFCachePath is where TUF metadata is cached (default
	// $HOME/.sigstore/root, or a temp directory when HOME is unset).
	TUFCachePath string

	// SigningKey is "" for keyless signing, "ephemeral" or the path of a PEM
	// ECDSA private key (PKCS#8 or SEC 1) for key signing. Key-signed bundles
	// carry a public-key hint, not a certificate: they are not keyless. Key
	// signing contacts no service unless Instance is custom with a Rekor
	// and/or a TSA (URLs or signing config; then TrustedRootPath too); other
	// instances are ignored.
	SigningKey string

	// IdentityToken is an explicit OIDC token (the caller was given one).
	// An explicit token wins over the ambient ones: the user asked for it.
	IdentityToken string

	// Getenv reads ACTIONS_ID_TOKEN_REQUEST_URL, ACTIONS_ID_TOKEN_REQUEST_TOKEN,
	// SIGSTORE_ID_TOKEN, GITHUB_ACTIONS, GITHUB_EVENT_PATH and
	// GITHUB_SERVER_URL. nil means an empty environment.
	Getenv func(string) string

	// Mask is called with every secret (the ID token and the Actions request
	// token) before it is used. nil does nothing.
	Mask func(secret string)

	// HTTPClient is used for the token request and TUF, its Transport also
	// for Fulcio, Rekor and the timestamp authority; every request still
	// goes through retry.NewClient's plain-HTTP guard (loopback only) and
	// retry policy (ARCHITECTURE.md, "Retries and deadlines"), above this
	// Transport. nil: http.DefaultTransport.
	HTTPClient *http.Client

	// RequestTimeout is how long one request to a Sigstore service, a TUF
	// repository or the token endpoint may go without progress (the
	// request-timeout input). Zero: retry.DefaultTimeout.
	RequestTimeout time.Duration

	// retries is the retry policy's Retries (0: the default; tests set it
	// through export_test.go so that a service that stays down fails fast).
	retries int

	// Now is the clock used to select services from a signing config. nil
	// means time.Now.
	Now func() time.Time
}

// Result is a signed, verified bundle and what it proves.
type Result struct {
	// Bundle is the protojson bundle, media type
	// application/vnd.dev.sigstore.bundle.v0.3+json.
	Bundle []byte
	// Instance is the instance actually used ("public-good", "github",
	// "custom"; "key" for key signing without services).
	Instance string
	// Identity and Issuer are the certificate's SAN and OIDC issuer (keyless);
	// empty for key signing.
	Identity, Issuer string
	// KeyHint is the public-key hint (key signing only).
	KeyHint string
	// PublicKeyPEM is the signing public key (key signing only).
	PublicKeyPEM string
	// LogIndex is the transparency log index, -1 without a log entry (the
	// bundle has one exactly when LogIndex >= 0).
	LogIndex int64
	// Timestamps are the verified RFC 3161 timestamps and log integrated
	// times: SignedTimestamps and LogTimes, in the order sigstore-go
	// verified them.
	Timestamps []time.Time
	// SignedTimestamps are the bundle's RFC 3161 timestamps, from timestamp
	// authorities. A verifier told to rely on them (cosign
	// --use-signed-timestamps) refuses a bundle without one.
	SignedTimestamps []time.Time
	// LogTimes are the integrated times of the bundle's Rekor v1 entries,
	// vouched for by their signed entry timestamps (Rekor v2 entries carry
	// none): the signed time of a bundle without RFC 3161 timestamps.
	LogTimes []time.Time
}

func (o Options) getenv(k string) string {
	if o.Getenv == nil {
		return ""
	}
	return o.Getenv(k)
}

func (o Options) mask(s string) {
	if o.Mask != nil && s != "" {
		o.Mask(s)
	}
}

// policy is the retry policy of every request of a signing run.
func (o Options) policy() retry.Policy { return policy(o.RequestTimeout, o.retries) }

func (o Options) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

func (o Options) transport() http.RoundTripper {
	if o.HTTPClient != nil {
		return o.HTTPClient.Transport
	}
	return nil
}
