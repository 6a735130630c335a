package sign

import (
	"fmt"
	"time"

	"github.com/sigstore/sigstore-go/pkg/root"
)

// API major versions this package (sigstore-go v1.3.0) signs with; services
// in a signing config with other versions are skipped. Functions, not
// package variables, so nothing can change them.
func fulcioAPIVersions() []uint32 { return []uint32{1} }
func rekorAPIVersions() []uint32  { return []uint32{1, 2} }
func tsaAPIVersions() []uint32    { return []uint32{1} }

// customSigningConfig reads Options.SigningConfigPath (nil when unset): the
// standard SigningConfig (application/vnd.dev.sigstore.signingconfig.v0.2+json,
// what `cosign signing-config create` writes), whose every URL must pass
// guardedURL.
func customSigningConfig(opts Options) (*root.SigningConfig, error) {
	if opts.SigningConfigPath == "" {
		return nil, nil
	}
	sc, err := root.NewSigningConfigFromPath(opts.SigningConfigPath)
	if err != nil {
		return nil, optionError("SigningConfigPath", "reading %s (a signing_config.json v0.2, e.g. from `cosign signing-config create`): %v", opts.SigningConfigPath, err)
	}
	kinds := []struct {
		what string
		svcs []root.Service
	}{
		{"certificate authority", sc.FulcioCertificateAuthorityURLs()},
		{"OIDC provider", sc.OIDCProviderURLs()},
		{"transparency log", sc.RekorLogURLs()},
		{"timestamp authority", sc.TimestampAuthorityURLs()},
	}
	for _, k := range kinds {
		for _, s := range k.svcs {
			if _, err := guardedURL(s.URL); err != nil {
				return nil, optionError("SigningConfigPath", "%s: the %s URL %v", opts.SigningConfigPath, k.what, err)
			}
		}
	}
	return sc, nil
}

// signingConfigServices selects Fulcio, Rekor and TSA services from a
// signing config with sigstore-go's helpers (root.SelectService for the one
// Fulcio, root.SelectServices and the config's selectors for the logs and
// the timestamp authorities), for the API versions this package supports
// at now: the newest valid service of the highest supported version, a log
// of major API version 1 or 2 each signed to with its own protocol. A
// config without certificate authorities selects no Fulcio (key signing);
// Check decides whether what was selected is enough.
func signingConfigServices(sc *root.SigningConfig, now time.Time) (services, error) {
	var s services
	if len(sc.FulcioCertificateAuthorityURLs()) > 0 {
		fulcio, err := root.SelectService(sc.FulcioCertificateAuthorityURLs(), fulcioAPIVersions(), now)
		if err != nil {
			return services{}, fmt.Errorf("selecting a Fulcio from the signing config: %w", err)
		}
		s.Fulcio = fulcio.URL
	}
	if len(sc.RekorLogURLs()) > 0 {
		rekors, err := root.SelectServices(sc.RekorLogURLs(), sc.RekorLogURLsConfig(), rekorAPIVersions(), now)
		if err != nil {
			return services{}, fmt.Errorf("selecting Rekor logs from the signing config: %w", err)
		}
		for _, r := range rekors {
			s.Rekor = append(s.Rekor, rekorService{URL: r.URL, Version: r.MajorAPIVersion})
		}
	}
	if len(sc.TimestampAuthorityURLs()) > 0 {
		tsas, err := root.SelectServices(sc.TimestampAuthorityURLs(), sc.TimestampAuthorityURLsConfig(), tsaAPIVersions(), now)
		if err != nil {
			return services{}, fmt.Errorf("selecting timestamp authorities from the signing config: %w", err)
		}
		for _, t := range tsas {
			s.TSA = append(s.TSA, t.URL)
		}
	}
	return s, nil
}
