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
// a caller can name the setting behind it. It matches ErrOptions.
type OptionError struct {
	Field string
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
// URLs, plain HTTP only to loopback (also a custom signing config's
// services, and the Actions token endpoint keyless signing would ask);
// keyless signing has a token source (ErrNoToken otherwise); URLs are
// only given for the custom instance; a keyless custom instance
// has a Fulcio URL, a trusted root and a timestamp source (a timestamp
// authority, and a Rekor only with one, since Rekor v2 entries carry no
// signed time); the trusted root lists exactly the kinds of service the URLs
// name — a root that lists a transparency log would make every verifier
// (cosign, sigstore-go, oci-attest verify) require an entry in it, and a log
// or timestamp authority the root does not list could not be verified; a
// signing key file holds an ECDSA private key.
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
			// Ignoring it would sign with another instance than the one
			// meant, perhaps publishing to the public transparency log.
			return optionError(u.field, "%s is only used by the custom Sigstore instance (the instance is %s): choose the custom instance, or remove it", u.what, instanceName(opts.Instance))
		}
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
	if err := checkSigningConfig(opts.SigningConfigPath); err != nil {
		return err
	}
	services := opts.RekorURL != "" || opts.TSAURL != ""
	switch {
	case keyless && !services && opts.FulcioURL == "" && opts.TrustedRootPath == "" && opts.SigningConfigPath == "":
		return optionError("Instance", "the custom Sigstore instance needs its services' URLs (Fulcio, a timestamp authority, optionally Rekor) and its trusted_root.json")
	case keyless && opts.FulcioURL == "" && opts.SigningConfigPath == "":
		return optionError("FulcioURL", "the custom Sigstore instance needs its Fulcio URL for keyless signing")
	case keyless && !services && opts.SigningConfigPath == "":
		return optionError("TSAURL", "the custom Sigstore instance needs a timestamp authority URL (and optionally a Rekor URL): a short-lived certificate needs a signed time")
	case opts.RekorURL != "" && opts.TSAURL == "" && opts.RekorVersion != 1:
		return optionError("TSAURL", "required with a Rekor URL: a custom Rekor is taken to be Rekor v2 (rekor-tiles), whose entries carry no signed time, so the timestamp comes from the timestamp authority")
	case (keyless || services) && opts.TrustedRootPath == "":
		return optionError("TrustedRootPath", "the custom Sigstore instance needs its trusted_root.json: the bundle is verified against it before it is published")
	case !keyless && !services:
		return nil // key signing without services: no trusted root involved
	}
	tr, err := root.NewTrustedRootFromPath(opts.TrustedRootPath)
	if err != nil {
		return optionError("TrustedRootPath", "reading %s (a trusted_root.json, e.g. from `cosign trusted-root create`): %v", opts.TrustedRootPath, err)
	}
	return checkRoot(opts, tr)
}

// checkRoot holds a custom instance's URLs to the services its trusted root
// lists (see Check).
func checkRoot(opts Options, tr *root.TrustedRoot) error {
	logs, tsas := len(tr.RekorLogs()) > 0, len(tr.TimestampingAuthorities()) > 0
	switch {
	case opts.RekorURL != "" && !logs:
		return optionError("RekorURL", "the trusted root %s lists no transparency log, so an entry in this Rekor could not be verified: remove the Rekor URL, or use the instance's full trusted root", opts.TrustedRootPath)
	case opts.RekorURL == "" && logs && opts.SigningConfigPath == "":
		return optionError("RekorURL", "the trusted root %s lists a transparency log, and verifiers require an entry in it from bundles checked against that root: give the log's Rekor URL, or a trusted root without it", opts.TrustedRootPath)
	case opts.TSAURL != "" && !tsas:
		return optionError("TSAURL", "the trusted root %s lists no timestamp authority, so this one's timestamps could not be verified: use the instance's full trusted root", opts.TrustedRootPath)
	case opts.SigningKey == "" && opts.FulcioURL != "" && len(tr.FulcioCertificateAuthorities()) == 0:
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

// checkSigningConfig holds every service a custom signing config lists to
// serviceURL's rules (plain HTTP only to loopback).
func checkSigningConfig(path string) error {
	if path == "" {
		return nil
	}
	sc, err := root.NewSigningConfigFromPath(path)
	if err != nil {
		return optionError("SigningConfigPath", "reading %s (a signing_config.json): %v", path, err)
	}
	var all []root.Service
	all = append(all, sc.FulcioCertificateAuthorityURLs()...)
	all = append(all, sc.RekorLogURLs()...)
	all = append(all, sc.TimestampAuthorityURLs()...)
	for _, s := range all {
		if _, err := serviceURL("SigningConfigPath", s.URL); err != nil {
			return err
		}
	}
	return nil
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
