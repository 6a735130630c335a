package sign

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
	"time"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/signature"
)

// PayloadType is the DSSE payload type of every bundle Sign makes.
const PayloadType = "application/vnd.in-toto+json"

// Policy is what a bundle must prove. Keyless bundles need an identity: SAN
// (Identity or IdentityRegexp) and issuer (Issuer or IssuerRegexp); key-signed
// bundles need PublicKey. The statement must name Digest as a subject unless
// SkipArtifact says the caller checks the subjects itself.
type Policy struct {
	// Identity is the certificate SAN, e.g.
	// https://github.com/OWNER/REPO/.github/workflows/FILE@REF;
	// IdentityRegexp matches it instead (Go regexp syntax, unanchored).
	Identity, IdentityRegexp string
	// Issuer is the OIDC issuer, e.g. https://token.actions.githubusercontent.com;
	// IssuerRegexp matches it instead.
	Issuer, IssuerRegexp string
	// PublicKey verifies key-signed bundles (Options.SigningKey).
	PublicKey crypto.PublicKey
	// Digest is a subject digest the statement must carry, as
	// "sha256:<hex>".
	Digest string
	// SkipArtifact skips the subject check (the caller checks the statement's
	// subjects itself, or has just signed it).
	SkipArtifact bool
	// Instance names the Sigstore instance the trusted material belongs to
	// and picks what a keyless bundle must carry, as `gh attestation verify`
	// does: "public-good" needs an SCT, a transparency log entry and an
	// observer timestamp; "github" needs an RFC 3161 timestamp. Empty (or
	// "custom") derives it from the trusted material: an observer timestamp,
	// plus a log entry when it lists Rekor logs and an SCT when it lists CT
	// logs.
	Instance string
}

// Check reports whether the policy can decide anything: either a public key,
// or a certificate identity (exact or a regexp, not both) and an OIDC issuer
// (likewise), with regexps that compile. Errors are *OptionError naming the
// field at fault. Verify applies it first.
func (p Policy) Check() error {
	identity := p.Identity != "" || p.IdentityRegexp != "" || p.Issuer != "" || p.IssuerRegexp != ""
	switch {
	case p.PublicKey != nil && identity:
		return optionError("PublicKey", "a public key verifies key-signed bundles and a certificate identity keyless ones: give one or the other")
	case p.PublicKey != nil:
		return nil
	case p.Identity != "" && p.IdentityRegexp != "":
		return optionError("IdentityRegexp", "give the certificate identity or a regexp for it, not both")
	case p.Issuer != "" && p.IssuerRegexp != "":
		return optionError("IssuerRegexp", "give the OIDC issuer or a regexp for it, not both")
	case p.Identity == "" && p.IdentityRegexp == "":
		return optionError("Identity", "say who must have signed: the certificate identity (or a regexp for it) and the OIDC issuer, or a public key for key-signed bundles")
	case p.Issuer == "" && p.IssuerRegexp == "":
		return optionError("Issuer", "the OIDC issuer (or a regexp for it) is needed with a certificate identity")
	}
	for _, r := range []struct{ field, expr string }{{"IdentityRegexp", p.IdentityRegexp}, {"IssuerRegexp", p.IssuerRegexp}} {
		if _, err := regexp.Compile(r.expr); err != nil {
			return optionError(r.field, "%q is not a Go regexp: %v", r.expr, err)
		}
	}
	return nil
}

// Verify checks a bundle against the trusted material and the policy
// (ARCHITECTURE.md, "Signing and trust") and returns sigstore-go's result. It requires a DSSE
// envelope with an in-toto statement. For keyless bundles it requires a
// certificate chaining to tm, an observer timestamp (RFC 3161 or a Rekor v1
// integrated time) within the certificate's validity, a transparency log
// entry when tm lists Rekor logs, and an SCT when tm lists CT logs. For
// key-signed bundles tm may be nil; the log entries, RFC 3161 timestamps
// and Rekor v1 integrated times the bundle carries must all verify (a
// bundle with a log entry or a timestamp needs tm). Every failure wraps
// ErrVerify (or ErrOptions for an unusable policy).
func Verify(_ context.Context, bundleJSON []byte, tm root.TrustedMaterial, p Policy) (*verify.VerificationResult, error) {
	b := &bundle.Bundle{Bundle: new(protobundle.Bundle)}
	if err := b.UnmarshalJSON(bundleJSON); err != nil {
		return nil, fmt.Errorf("%w: parsing the bundle: %w", ErrVerify, err)
	}
	env := b.GetDsseEnvelope()
	if env == nil {
		return nil, fmt.Errorf("%w: the bundle holds no DSSE envelope", ErrVerify)
	}
	if env.GetPayloadType() != PayloadType {
		return nil, fmt.Errorf("%w: DSSE payload type is %q, want %q", ErrVerify, env.GetPayloadType(), PayloadType)
	}

	if err := p.Check(); err != nil {
		return nil, err
	}
	artifact, err := artifactPolicy(p)
	if err != nil {
		return nil, err
	}
	var s verifierSetup
	if p.PublicKey != nil {
		s, err = keySetup(b.GetVerificationMaterial(), p.PublicKey, tm)
	} else {
		s, err = keylessSetup(b.GetVerificationMaterial(), p, tm)
	}
	if err != nil {
		return nil, err
	}
	v, err := verify.NewVerifier(s.material, s.verifier...)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrOptions, err)
	}
	res, err := v.Verify(b, verify.NewPolicy(artifact, s.policy...))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrVerify, err)
	}
	return res, nil
}

// verifierSetup is how a bundle is verified besides its subject: the
// material it must chain to, what the verifier requires of it, and whom
// the policy requires to have signed it.
type verifierSetup struct {
	material root.TrustedMaterial
	verifier []verify.VerifierOption
	policy   []verify.PolicyOption
}

// keySetup is the setup for a bundle signed by pub, whose verification
// material is vm: it must carry no certificate and no other key's hint;
// pub is trusted beside tm (which may be nil), and the log entries and
// timestamps the bundle carries are verified (keyRequirements).
func keySetup(vm *protobundle.VerificationMaterial, pub crypto.PublicKey, tm root.TrustedMaterial) (verifierSetup, error) {
	var s verifierSetup
	if vm.GetCertificate() != nil || len(vm.GetX509CertificateChain().GetCertificates()) > 0 {
		return s, fmt.Errorf("%w: the bundle is keyless (it carries a certificate), not signed by a key: verify it with a certificate identity", ErrVerify)
	}
	if got, want := vm.GetPublicKey().GetHint(), KeyHint(pub); got != "" && want != "" && got != want {
		return s, fmt.Errorf("%w: signed by a different key (hint %s, want %s)", ErrVerify, got, want)
	}
	km, err := keyMaterial(pub)
	if err != nil {
		return s, err
	}
	s.material = km
	if tm != nil {
		s.material = root.TrustedMaterialCollection{tm, km}
	}
	s.verifier = keyRequirements(vm)
	s.policy = append(s.policy, verify.WithKey())
	return s, nil
}

// keylessSetup is the setup for a keyless bundle, whose verification
// material is vm: it must carry a certificate chaining to tm, carry what
// p.Instance requires (keylessRequirements), and its certificate name p's
// identity and issuer. A key-signed bundle is ErrKeySigned.
func keylessSetup(vm *protobundle.VerificationMaterial, p Policy, tm root.TrustedMaterial) (verifierSetup, error) {
	if vm.GetPublicKey() != nil {
		return verifierSetup{}, fmt.Errorf("%w: %w (public key hint %s), not keyless: verify it with the signer's public key", ErrVerify, ErrKeySigned, vm.GetPublicKey().GetHint())
	}
	if tm == nil {
		return verifierSetup{}, &sentinelError{msg: "verifying a keyless bundle needs a trusted root", sentinel: ErrOptions}
	}
	id, err := verify.NewShortCertificateIdentity(p.Issuer, p.IssuerRegexp, p.Identity, p.IdentityRegexp)
	if err != nil {
		return verifierSetup{}, fmt.Errorf("%w: certificate identity policy: %w", ErrOptions, err)
	}
	return verifierSetup{
		material: tm,
		verifier: keylessRequirements(p.Instance, tm),
		policy:   []verify.PolicyOption{verify.WithCertificateIdentity(id)},
	}, nil
}

// artifactPolicy is what the bundle's statement must name as a subject:
// p.Digest, or nothing when p.SkipArtifact says the caller checks it.
func artifactPolicy(p Policy) (verify.ArtifactPolicyOption, error) {
	if p.Digest == "" {
		if !p.SkipArtifact {
			return nil, &sentinelError{msg: "the verification policy names no subject digest (Digest) and does not skip the subject check", sentinel: ErrOptions}
		}
		return verify.WithoutArtifactUnsafe(), nil
	}
	alg, hexd, ok := strings.Cut(p.Digest, ":")
	d, err := hex.DecodeString(hexd)
	if !ok || alg != "sha256" || err != nil || len(d) != 32 {
		return nil, &sentinelError{msg: fmt.Sprintf("subject digest %q is not sha256:<64 hex digits>", p.Digest), sentinel: ErrOptions}
	}
	return verify.WithArtifactDigest(alg, d), nil
}

// KeyHint is the hint a bundle signed by pub carries: the base64 sha256 of
// its PKIX encoding, as sigstore-go and this package compute it; "" when pub
// cannot be encoded.
func KeyHint(pub crypto.PublicKey) string {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(der)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// keyMaterial trusts one public key, whatever the bundle's hint says.
func keyMaterial(pub crypto.PublicKey) (root.TrustedMaterial, error) {
	hash := crypto.SHA256
	if ec, ok := pub.(*ecdsa.PublicKey); ok {
		switch ec.Curve {
		case elliptic.P384():
			hash = crypto.SHA384
		case elliptic.P521():
			hash = crypto.SHA512
		}
	}
	sv, err := signature.LoadVerifier(pub, hash)
	if err != nil {
		return nil, fmt.Errorf("%w: loading the public key: %w", ErrOptions, err)
	}
	key := root.NewExpiringKey(sv, time.Time{}, time.Time{})
	return root.NewTrustedPublicKeyMaterial(func(string) (root.TimeConstrainedVerifier, error) { return key, nil }), nil
}

// Types of sigstore-go's verified timestamps (verify.TimestampVerificationResult.Type).
const (
	timestampRFC3161 = "TimestampAuthority"
	timestampLog     = "Tlog"
)

// keyRequirements are the verifier options for a key-signed bundle: every
// log entry, RFC 3161 timestamp and Rekor v1 integrated time it carries
// must verify. A key has no validity period to hold a time to, so a bundle
// may carry none; a Rekor v1 entry's integrated time (its signed entry
// timestamp) is the observer time of a bundle without RFC 3161 timestamps.
func keyRequirements(vm *protobundle.VerificationMaterial) []verify.VerifierOption {
	var opts []verify.VerifierOption
	entries := vm.GetTlogEntries()
	if n := len(entries); n > 0 {
		opts = append(opts, verify.WithTransparencyLog(n))
	}
	if n := len(vm.GetTimestampVerificationData().GetRfc3161Timestamps()); n > 0 {
		opts = append(opts, verify.WithSignedTimestamps(n))
	}
	// sigstore-go counts one integrated time per log.
	promised := map[string]bool{}
	for _, e := range entries {
		if e.GetInclusionPromise() != nil {
			promised[string(e.GetLogId().GetKeyId())] = true
		}
	}
	if n := len(promised); n > 0 {
		opts = append(opts, verify.WithIntegratedTimestamps(n))
	}
	if len(opts) == 0 {
		opts = append(opts, verify.WithNoObserverTimestamps())
	}
	return opts
}

// keylessRequirements are the verifier options for a keyless bundle of an
// instance (see Policy.Instance).
func keylessRequirements(instance string, tm root.TrustedMaterial) []verify.VerifierOption {
	switch instance {
	case InstancePublicGood:
		return []verify.VerifierOption{verify.WithSignedCertificateTimestamps(1), verify.WithTransparencyLog(1), verify.WithObserverTimestamps(1)}
	case InstanceGitHub:
		return []verify.VerifierOption{verify.WithSignedTimestamps(1)}
	}
	opts := []verify.VerifierOption{verify.WithObserverTimestamps(1)}
	if len(tm.RekorLogs()) > 0 {
		opts = append(opts, verify.WithTransparencyLog(1))
	}
	if len(tm.CTLogs()) > 0 {
		opts = append(opts, verify.WithSignedCertificateTimestamps(1))
	}
	return opts
}
