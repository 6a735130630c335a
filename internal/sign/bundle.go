package sign

import (
	"context"
	"errors"
	"fmt"
	"regexp"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	"github.com/sigstore/sigstore-go/pkg/root"
	sgsign "github.com/sigstore/sigstore-go/pkg/sign"
	"google.golang.org/protobuf/encoding/protojson"
)

// stage names the step sign.Bundle was at when it failed, so that the error
// says which remote to look at.
type stage struct {
	name string // "getting a signing certificate from Fulcio"
	what string // "getting a signing certificate", for errors that name the service themselves
	url  string
	said *lastAnswer // the remote's last error answer, when kept
}

// assembling is the stage outside any remote.
var assembling = stage{name: "signing the statement", what: "signing the statement"}

// certProvider annotates Fulcio's errors and records the stage. It keeps
// the certificate: a second signature with the same key (after a Rekor v2
// conflict) reuses it instead of asking Fulcio again.
type certProvider struct {
	inner sgsign.CertificateProvider
	url   string
	next  stage // the stage after the certificate
	at    *stage
	cert  []byte
}

var _ sgsign.CertificateProvider = (*certProvider)(nil)

func (c *certProvider) GetCertificate(ctx context.Context, kp sgsign.Keypair, o *sgsign.CertificateProviderOptions) ([]byte, error) {
	if c.cert != nil {
		*c.at = c.next
		return c.cert, nil
	}
	*c.at = stage{name: "getting a signing certificate from Fulcio", what: "getting a signing certificate", url: c.url}
	cert, err := c.inner.GetCertificate(ctx, kp, o)
	if err != nil {
		return nil, err
	}
	*c.at, c.cert = c.next, cert
	return cert, nil
}

// tlog annotates a Rekor's errors and records the stage.
type tlog struct {
	inner sgsign.Transparency
	url   string
	at    *stage
	said  *lastAnswer
}

var _ sgsign.Transparency = (*tlog)(nil)

func (t *tlog) GetTransparencyLogEntry(ctx context.Context, pem []byte, b *protobundle.Bundle) error {
	*t.at = stage{"adding the signature to the transparency log Rekor", "adding the signature to the transparency log", t.url, t.said}
	if err := t.inner.GetTransparencyLogEntry(ctx, pem, b); err != nil {
		return err
	}
	*t.at = assembling
	return nil
}

// signings bounds how often bundleWith signs one statement: a Rekor v2
// conflict (errLogConflict) costs one more signature.
const signings = 2

// bundleWith signs the statement as DSSE and collects the certificate (when
// fulcio is non-nil), timestamps and log entries of svc, every request under
// the retry policy of rem. It does not verify.
//
// Retried requests are safe (ARCHITECTURE.md, "Retries and deadlines"): a
// repeated certificate request only certifies the same ephemeral key again,
// a repeated timestamp request only yields another timestamp over the same
// signature, and a repeated Rekor v1 POST answers 409 with the existing
// entry's location, which sigstore-go fetches (again while the log answers
// 404 for it: queued, not yet integrated; rekorV1). A repeated Rekor v2 POST
// whose first attempt landed answers 409 with no entry to put in the bundle
// (sigstore-go v1.3.0 does not handle it, see its getRekorV2TLE): the
// statement is then signed once more, which makes a different signature
// (ECDSA signatures are randomized) and so a different entry; the first
// entry stays in the log, a true record of a signature nobody will see.
func bundleWith(ctx context.Context, statement []byte, kp sgsign.Keypair, svc services, fulcio sgsign.CertificateProvider, token string, rem remotes) (*protobundle.Bundle, error) {
	at := &stage{}
	// sigstore-go takes timestamp authorities as a concrete type, so they
	// cannot be annotated one by one: the stage after the certificate names
	// the first (a *retry.Error names the one that failed).
	first := assembling
	if len(svc.TSA) > 0 {
		first = stage{name: "getting an RFC 3161 timestamp from the timestamp authority", what: "getting an RFC 3161 timestamp", url: svc.TSA[0]}
	}
	opts := sgsign.BundleOptions{Context: ctx}
	if fulcio != nil {
		opts.CertificateProvider = &certProvider{inner: fulcio, url: svc.Fulcio, next: first, at: at}
		opts.CertificateProviderOptions = &sgsign.CertificateProviderOptions{IDToken: token}
	}
	for _, u := range svc.TSA {
		opts.TimestampAuthorities = append(opts.TimestampAuthorities, rem.tsa(u))
	}
	for _, r := range svc.Rekor {
		log, said, err := rem.rekor(r)
		if err != nil {
			return nil, err
		}
		opts.TransparencyLogs = append(opts.TransparencyLogs, &tlog{inner: log, url: r.URL, at: at, said: said})
	}
	for n := 1; ; n++ {
		*at = first
		if fulcio != nil {
			*at = assembling // the signature comes first, then the certificate
		}
		pb, err := sgsign.Bundle(&sgsign.DSSEData{Data: statement, PayloadType: PayloadType}, kp, opts)
		switch {
		case err == nil:
			return pb, nil
		case ctx.Err() != nil:
			return nil, fmt.Errorf("%s: %w", at.name, ctx.Err())
		case errors.Is(err, errLogConflict) && n < signings:
			continue
		}
		if re, ok := retryError(err); ok {
			// It names the service, its host, the last status and the
			// attempts; the request it failed is said once, before it.
			msg := at.what + " (" + re.Method + " " + re.URL + "): " + re.Error()
			if m := at.said.message(); re.Status != 0 && m != "" {
				msg += ": " + m // the remote's own words
			}
			return nil, &serviceError{msg: msg, err: err}
		}
		where := at.name
		if at.url != "" {
			where += " at " + at.url
		}
		return nil, &serviceError{msg: where + ": " + err.Error(), err: err}
	}
}

// finish verifies a fresh bundle (fail closed) and describes it.
func finish(ctx context.Context, pb *protobundle.Bundle, tm root.TrustedMaterial, instance string, p Policy) (*Result, error) {
	b, err := protojson.Marshal(pb)
	if err != nil {
		return nil, fmt.Errorf("encoding the bundle: %w", err)
	}
	p.SkipArtifact = true // we signed exactly this statement
	if p.PublicKey == nil {
		p.Instance = instance
	}
	vr, err := Verify(ctx, b, tm, p)
	if err != nil {
		if errors.Is(err, ErrVerify) {
			return nil, fmt.Errorf("the bundle just signed does not verify against the %s trusted root and the signer's identity, refusing to use it: %w", instance, err)
		}
		return nil, err
	}
	res := &Result{Bundle: b, Instance: instance, LogIndex: -1}
	if c := vr.Signature; c != nil && c.Certificate != nil {
		res.Identity = c.Certificate.SubjectAlternativeName
		res.Issuer = c.Certificate.Issuer
	}
	if entries := pb.GetVerificationMaterial().GetTlogEntries(); len(entries) > 0 {
		res.LogIndex = entries[0].GetLogIndex()
	}
	for _, ts := range vr.VerifiedTimestamps {
		res.Timestamps = append(res.Timestamps, ts.Timestamp)
		switch ts.Type {
		case timestampRFC3161:
			res.SignedTimestamps = append(res.SignedTimestamps, ts.Timestamp)
		case timestampLog:
			res.LogTimes = append(res.LogTimes, ts.Timestamp)
		}
	}
	return res, nil
}

// expectedIdentity is the policy a keyless certificate must satisfy for the
// token that requested it. Fulcio verified the token; the claims here are
// only compared with what Fulcio certified:
//   - issuer: the token's iss, except for Sigstore's federated issuer (dex),
//     whose certificates name the upstream issuer;
//   - SAN: for GitHub Actions tokens https://<server>/<job_workflow_ref>, for
//     email tokens the email; other token shapes (SPIFFE, GitLab, ...) are
//     checked for issuer only.
func expectedIdentity(c tokenClaims) (Policy, error) {
	p := Policy{Issuer: c.Issuer}
	if len(c.Federated) > 0 && string(c.Federated) != "null" {
		p.Issuer, p.IssuerRegexp = "", `^https?://`
	}
	switch {
	case c.JobWorkflowRef != "":
		p.IdentityRegexp = `^https://[^/]+/` + regexp.QuoteMeta(c.JobWorkflowRef) + `$`
	case c.Email != "":
		p.Identity = c.Email
	default:
		p.IdentityRegexp = `.`
	}
	return p, nil
}

// signWithKey signs with a long-lived or ephemeral key: no certificate, a
// public-key hint. The custom instance's Rekor logs and timestamp
// authorities are used when it has any.
func signWithKey(ctx context.Context, statement []byte, opts Options) (*Result, error) {
	kp, err := loadKeypair(opts.SigningKey)
	if err != nil {
		return nil, err
	}
	svc, tm, instance, err := keyServices(ctx, opts)
	if err != nil {
		return nil, err
	}
	pb, err := bundleWith(ctx, statement, kp, svc, nil, "", opts.remotes(ctx))
	if err != nil {
		return nil, err
	}
	res, err := finish(ctx, pb, tm, instance, Policy{PublicKey: kp.GetPublicKey()})
	if err != nil {
		return nil, err
	}
	res.KeyHint = string(kp.GetHint())
	if res.PublicKeyPEM, err = kp.GetPublicKeyPem(); err != nil {
		return nil, fmt.Errorf("encoding the public key: %w", err)
	}
	return res, nil
}

// keyServices are the services a key signs with, the trusted material its
// bundle is verified against and the instance it is signed with: the
// custom instance's logs and timestamp authorities (from its URL options or
// its signing config; never its Fulcio) and its trusted root, or nothing
// ("key").
func keyServices(ctx context.Context, opts Options) (services, root.TrustedMaterial, string, error) {
	if opts.Instance != InstanceCustom {
		return services{}, nil, "key", nil
	}
	sc, err := customSigningConfig(opts)
	if err != nil {
		return services{}, nil, "", err
	}
	svc, err := customServices(opts, sc, opts.now())
	if err != nil {
		return services{}, nil, "", err
	}
	if svc.Fulcio = ""; len(svc.Rekor) == 0 && len(svc.TSA) == 0 {
		return services{}, nil, "key", nil
	}
	tr, _, err := instanceRoot(ctx, opts.trust(InstanceCustom), false)
	if err != nil {
		return services{}, nil, "", err
	}
	return svc, tr, InstanceCustom, nil
}
