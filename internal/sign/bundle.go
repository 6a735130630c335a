package sign

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	"github.com/sigstore/sigstore-go/pkg/root"
	sgsign "github.com/sigstore/sigstore-go/pkg/sign"
	"google.golang.org/protobuf/encoding/protojson"
)

// stage names the service sign.Bundle was talking to when it failed, so that
// the error says which remote to look at.
type stage struct {
	name, url string
}

// certProvider annotates Fulcio's errors and records the stage.
type certProvider struct {
	inner sgsign.CertificateProvider
	url   string
	next  stage // the stage after the certificate
	at    *stage
}

var _ sgsign.CertificateProvider = (*certProvider)(nil)

func (c *certProvider) GetCertificate(ctx context.Context, kp sgsign.Keypair, o *sgsign.CertificateProviderOptions) ([]byte, error) {
	*c.at = stage{"getting a signing certificate from Fulcio", c.url}
	cert, err := c.inner.GetCertificate(ctx, kp, o)
	if err != nil {
		return nil, err
	}
	*c.at = c.next
	return cert, nil
}

// tlog annotates a Rekor's errors and records the stage.
type tlog struct {
	inner sgsign.Transparency
	url   string
	at    *stage
}

var _ sgsign.Transparency = (*tlog)(nil)

func (t *tlog) GetTransparencyLogEntry(ctx context.Context, pem []byte, b *protobundle.Bundle) error {
	*t.at = stage{"adding the signature to the transparency log Rekor", t.url}
	return t.inner.GetTransparencyLogEntry(ctx, pem, b)
}

// bundleWith signs the statement as DSSE and collects the certificate (when
// fulcio is non-nil), timestamps and log entries of svc. It does not verify.
func bundleWith(ctx context.Context, statement []byte, kp sgsign.Keypair, svc services, fulcio sgsign.CertificateProvider, token string, transport http.RoundTripper) (*protobundle.Bundle, error) {
	at := &stage{"signing the statement", ""}
	after := stage{"signing the statement", ""}
	if len(svc.TSA) > 0 {
		after = stage{"getting an RFC 3161 timestamp from the timestamp authority", svc.TSA[0]}
	}
	opts := sgsign.BundleOptions{Context: ctx}
	if fulcio != nil {
		opts.CertificateProvider = &certProvider{inner: fulcio, url: svc.Fulcio, next: after, at: at}
		opts.CertificateProviderOptions = &sgsign.CertificateProviderOptions{IDToken: token}
	} else {
		*at = after
	}
	for _, u := range svc.TSA {
		opts.TimestampAuthorities = append(opts.TimestampAuthorities, sgsign.NewTimestampAuthority(&sgsign.TimestampAuthorityOptions{URL: u, Retries: 1, Transport: transport}))
	}
	for _, r := range svc.Rekor {
		opts.TransparencyLogs = append(opts.TransparencyLogs, &tlog{
			inner: sgsign.NewRekor(&sgsign.RekorOptions{BaseURL: r.URL, Version: r.Version, Retries: 1}),
			url:   r.URL,
			at:    at,
		})
	}
	pb, err := sgsign.Bundle(&sgsign.DSSEData{Data: statement, PayloadType: PayloadType}, kp, opts)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%s: %w", at.name, ctx.Err())
		}
		where := at.name
		if at.url != "" {
			where += " at " + at.url
		}
		return nil, &serviceError{msg: where + ": " + err.Error(), err: err}
	}
	return pb, nil
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
// public-key hint. The custom instance's Rekor and TSA are used when given.
func signWithKey(ctx context.Context, statement []byte, opts Options) (*Result, error) {
	kp, err := loadKeypair(opts.SigningKey)
	if err != nil {
		return nil, err
	}
	var svc services
	var tm root.TrustedMaterial
	instance := "key"
	if opts.Instance == InstanceCustom && (opts.RekorURL != "" || opts.TSAURL != "") {
		tr, _, err := instanceRoot(ctx, opts.trust(InstanceCustom), "", false)
		if err != nil {
			return nil, err
		}
		tm = tr
		if svc, err = customServices(Options{RekorURL: opts.RekorURL, RekorVersion: opts.RekorVersion, TSAURL: opts.TSAURL}, nil, opts.now()); err != nil {
			return nil, err
		}
		instance = InstanceCustom
	}
	pb, err := bundleWith(ctx, statement, kp, svc, nil, "", opts.transport())
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
