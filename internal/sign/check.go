package sign

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/sigstore/sigstore-go/pkg/root"
)

// OptionError is returned by Check — and by Sign and TrustedMaterial, which
// apply the same rules — when the options cannot produce a bundle that
// verifies. Field names the Options field at fault (e.g. "TSAURL"), so that
// a caller can name the setting behind it; With names the other field of
// two that exclude each other (a URL field and SigningConfigPath), "" for
// a fault of Field alone. It matches ErrOptions.
type OptionError struct {
	Field string
	With  string
	Msg   string
}

func (e *OptionError) Error() string { return e.Field + ": " + e.Msg }
func (e *OptionError) Unwrap() error { return ErrOptions }

func optionError(field, format string, args ...any) error {
	return &OptionError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// Check decides, without contacting any service, whether opts describe a
// signature that can be made and that verifies against the trusted root it
// will be checked with: the instance is known; service URLs are http(s)
// URLs, plain HTTP only to loopback (in the URL options, a signing
// config, and the Actions token endpoint keyless signing would ask);
// keyless signing has a token source (ErrNoToken otherwise); a signing
// config or service URLs are only given for the custom instance, never
// both; a keyless custom instance has a Fulcio, a trusted root and a
// signed time (a timestamp authority, or a Rekor v1 log, whose integrated
// time is one; a Rekor v2 entry carries none, and a RekorURL is Rekor v2);
// the trusted root lists exactly the kinds of service used — a root that
// lists a transparency log would make every verifier (cosign, sigstore-go,
// oci-attest verify) require an entry in it, and a log or timestamp
// authority the root does not list could not be verified; a signing key
// file holds an ECDSA private key.
//
// Sign calls Check first, and verifies the bundle it made against exactly
// what Check accepted.
func Check(opts Options) error {
	if err := checkOptions(opts); err != nil {
		return err
	}
	// Last: a token is the environment's, and an option's error says more.
	return checkTokenEndpoint(opts)
}

// checkOptions is Check but for the token source.
func checkOptions(opts Options) error {
	switch opts.Instance {
	case "", InstanceAuto, InstancePublicGood, InstanceGitHub, InstanceCustom:
	default:
		return optionError("Instance", "%q is not one of auto, public-good, github, custom", opts.Instance)
	}
	if err := checkSources(opts); err != nil {
		return err
	}
	if opts.SigningKey != "" {
		if err := checkKey(opts.SigningKey); err != nil {
			return err
		}
	}
	keyless := opts.SigningKey == ""
	if keyless && opts.Instance != InstanceCustom {
		instance, err := resolveInstance(opts)
		if err != nil {
			return err
		}
		if instance == InstanceGitHub && opts.TrustedRootPath == "" {
			if _, err := tufOptions(context.Background(), opts.trust(InstanceGitHub)); err != nil {
				return err
			}
		}
	}
	if opts.Instance != InstanceCustom {
		return nil
	}
	return checkCustom(opts)
}

// checkSources checks where the services come from: URL options that are
// http(s) URLs, or a signing config, for the custom instance only (ignoring
// them would sign with another instance than the one meant, perhaps
// publishing to the public transparency log), and not both (which one
// would win is a guess).
func checkSources(opts Options) error {
	urls := []struct{ field, what, val string }{
		{"FulcioURL", "a Fulcio URL", opts.FulcioURL},
		{"RekorURL", "a Rekor URL", opts.RekorURL},
		{"TSAURL", "a timestamp authority URL", opts.TSAURL},
	}
	for _, u := range urls {
		if u.val == "" {
			continue
		}
		if _, err := serviceURL(u.field, u.val); err != nil {
			return err
		}
		if opts.Instance != InstanceCustom {
			return optionError(u.field, "%s is only used by the custom Sigstore instance (the instance is %s): choose the custom instance, or remove it", u.what, instanceName(opts.Instance))
		}
		if opts.SigningConfigPath != "" {
			return &OptionError{Field: u.field, With: "SigningConfigPath",
				Msg: u.what + " and a signing config were both given: the signing config chooses every service of the custom instance; give one or the other"}
		}
	}
	if opts.SigningConfigPath != "" && opts.Instance != InstanceCustom {
		return optionError("SigningConfigPath", "a signing config is only used by the custom Sigstore instance (the instance is %s): choose the custom instance, or remove it", instanceName(opts.Instance))
	}
	return nil
}

// checkCustom holds the custom instance's services to what its bundles
// need and to its trusted root (see Check).
func checkCustom(opts Options) error {
	keyless := opts.SigningKey == ""
	sc, err := customSigningConfig(opts)
	if err != nil {
		return err
	}
	if sc == nil {
		if err := checkURLOptions(opts); err != nil {
			return err
		}
	}
	svc, err := customServices(opts, sc, opts.now())
	if err != nil {
		return err
	}
	if keyless {
		err = svc.check(InstanceCustom)
	} else {
		err = svc.checkRekorV2(InstanceCustom)
	}
	if err != nil {
		return err
	}
	logged := len(svc.Rekor) > 0 || len(svc.TSA) > 0
	switch {
	case (keyless || logged) && opts.TrustedRootPath == "":
		return optionError("TrustedRootPath", "the custom Sigstore instance needs its trusted_root.json: the bundle is verified against it before it is published")
	case !keyless && !logged:
		return nil // key signing without services: no trusted root involved
	}
	tr, err := root.NewTrustedRootFromPath(opts.TrustedRootPath)
	if err != nil {
		return optionError("TrustedRootPath", "reading %s (a trusted_root.json, e.g. from `cosign trusted-root create`): %v", opts.TrustedRootPath, err)
	}
	return checkRoot(opts, svc, tr)
}

// checkURLOptions says which URL option a custom instance without a
// signing config lacks.
func checkURLOptions(opts Options) error {
	keyless := opts.SigningKey == ""
	services := opts.RekorURL != "" || opts.TSAURL != ""
	switch {
	case keyless && !services && opts.FulcioURL == "" && opts.TrustedRootPath == "":
		return optionError("Instance", "the custom Sigstore instance needs its services — a signing config, or their URLs (Fulcio, a timestamp authority, optionally Rekor v2) — and its trusted_root.json")
	case keyless && opts.FulcioURL == "":
		return optionError("FulcioURL", "the custom Sigstore instance needs its Fulcio URL for keyless signing")
	case keyless && !services:
		return optionError("TSAURL", "the custom Sigstore instance needs a timestamp authority URL (and optionally a Rekor URL): a short-lived certificate needs a signed time")
	case opts.RekorURL != "" && opts.TSAURL == "":
		return optionError("TSAURL", "required with a Rekor URL: a Rekor URL is taken to be Rekor v2 (rekor-tiles), whose entries carry no signed time, so the timestamp comes from the timestamp authority (a Rekor v1 log, whose integrated time is one, is named in a signing config)")
	}
	return nil
}

// checkRoot holds a custom instance's services to those its trusted root
// lists (see Check).
func checkRoot(opts Options, svc services, tr *root.TrustedRoot) error {
	logs, tsas := len(tr.RekorLogs()) > 0, len(tr.TimestampingAuthorities()) > 0
	switch {
	case len(svc.Rekor) > 0 && !logs:
		return optionError(svc.field("RekorURL"), "the trusted root %s lists no transparency log, so an entry in this Rekor could not be verified: remove the Rekor, or use the instance's full trusted root", opts.TrustedRootPath)
	case len(svc.Rekor) == 0 && logs:
		return optionError(svc.field("RekorURL"), "the trusted root %s lists a transparency log, and verifiers require an entry in it from bundles checked against that root: give the log's Rekor, or a trusted root without it", opts.TrustedRootPath)
	case len(svc.TSA) > 0 && !tsas:
		return optionError(svc.field("TSAURL"), "the trusted root %s lists no timestamp authority, so this one's timestamps could not be verified: use the instance's full trusted root", opts.TrustedRootPath)
	case opts.SigningKey == "" && svc.Fulcio != "" && len(tr.FulcioCertificateAuthorities()) == 0:
		return optionError("TrustedRootPath", "the trusted root %s lists no certificate authority, so a Fulcio certificate could not be verified", opts.TrustedRootPath)
	}
	return nil
}

// checkTokenEndpoint checks that keyless signing has a token source (an
// explicit token, the GitHub Actions token endpoint, SIGSTORE_ID_TOKEN) —
// ErrNoToken otherwise, found before any work — and holds the Actions token
// endpoint, when keyless signing would ask it, to tokenEndpoint's rules.
func checkTokenEndpoint(opts Options) error {
	raw := opts.getenv("ACTIONS_ID_TOKEN_REQUEST_URL")
	switch {
	case opts.SigningKey != "" || strings.TrimSpace(opts.IdentityToken) != "":
		return nil
	case raw == "" && strings.TrimSpace(opts.getenv("SIGSTORE_ID_TOKEN")) == "":
		return noToken(opts)
	case raw == "":
		return nil
	}
	_, err := tokenEndpoint(raw)
	return err
}

// checkKey checks that a signing key is "ephemeral" or a readable ECDSA
// private key.
func checkKey(spec string) error {
	if spec == SigningKeyEphemeral {
		return nil
	}
	b, err := os.ReadFile(spec)
	if err != nil {
		return optionError("SigningKey", "reading %s: %v: give a PEM ECDSA private key file, or %q", spec, err, SigningKeyEphemeral)
	}
	priv, err := parseECDSAKey(b)
	if err != nil {
		return optionError("SigningKey", "%s: %v", spec, err)
	}
	if _, err := newECDSAKeypair(priv); err != nil {
		return optionError("SigningKey", "%s: %v", spec, err)
	}
	return nil
}

func instanceName(i string) string {
	if i == "" {
		return InstanceAuto
	}
	return i
}
