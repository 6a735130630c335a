package sign

import (
	"context"
	"fmt"

	"github.com/sigstore/sigstore-go/pkg/root"
	sgsign "github.com/sigstore/sigstore-go/pkg/sign"
)

// Sign signs the in-toto statement (ARCHITECTURE.md, "Signing and trust") and returns the verified
// bundle. Keyless (the default): an OIDC token (Options.IdentityToken, GitHub
// Actions' token endpoint, SIGSTORE_ID_TOKEN), an ephemeral ECDSA P-256 key, a
// Fulcio certificate, RFC 3161 timestamps and/or Rekor entries from the
// resolved instance. With Options.SigningKey: that key, no certificate, and
// the custom instance's Rekor/TSA if given. Before returning, the bundle is
// verified against the trusted root and — keyless — the identity the token
// presented (SAN and issuer); a bundle that fails is never returned
// (ErrVerify).
func Sign(ctx context.Context, statement []byte, opts Options) (*Result, error) {
	if len(statement) == 0 {
		return nil, &sentinelError{msg: "nothing to sign: the statement is empty", sentinel: ErrOptions}
	}
	if err := Check(opts); err != nil {
		return nil, err
	}
	if opts.SigningKey != "" {
		return signWithKey(ctx, statement, opts)
	}
	instance, err := resolveInstance(opts)
	if err != nil {
		return nil, err
	}
	token, source, err := identityToken(ctx, opts)
	if err != nil {
		return nil, err
	}
	claims, err := parseClaims(token)
	if err != nil {
		return nil, fmt.Errorf("reading the identity token from %s: %w", source, err)
	}
	want, err := expectedIdentity(claims)
	if err != nil {
		return nil, err
	}
	tr, sc, err := instanceRoot(ctx, opts.trust(instance), true)
	if err != nil {
		return nil, err
	}
	if instance == InstanceCustom {
		if sc, err = customSigningConfig(opts); err != nil {
			return nil, err
		}
	}
	svc, err := instanceServices(opts, instance, sc)
	if err != nil {
		return nil, err
	}
	if err := svc.check(instance); err != nil {
		return nil, err
	}
	kp, err := sgsign.NewEphemeralKeypair(&sgsign.EphemeralKeypairOptions{})
	if err != nil {
		return nil, fmt.Errorf("generating an ephemeral key: %w", err)
	}
	rem := opts.remotes(ctx)
	pb, err := bundleWith(ctx, statement, kp, svc, rem.fulcio(svc.Fulcio), token, rem)
	if err != nil {
		return nil, err
	}
	return finish(ctx, pb, tr, instance, want)
}

// instanceServices are the endpoints an instance signs with.
func instanceServices(opts Options, instance string, sc *root.SigningConfig) (services, error) {
	switch instance {
	case InstancePublicGood:
		if sc == nil {
			return services{}, fmt.Errorf("%w: public-good has no signing config", ErrService)
		}
		s, err := signingConfigServices(sc, opts.now())
		if err != nil {
			return services{}, fmt.Errorf("%w: %w", ErrService, err)
		}
		return s, nil
	case InstanceGitHub:
		return githubServices(opts.getenv("GITHUB_SERVER_URL"))
	default:
		return customServices(opts, sc, opts.now())
	}
}
