package sign_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/oci-attest/oci-attest/internal/sign"
	"github.com/oci-attest/oci-attest/internal/testenv"
)

// TestSignSourcesAndFailures runs token sources, key signing with the
// stack's services and every failure against one real stack (one TSA at a
// time), in order: the last subtests stop its services.
func TestSignSourcesAndFailures(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := testenv.StartSigstore(t, testenv.SigstoreOptions{Rekor: true, TSA: true})
	st, _ := testStatement(t, "failures")

	// check asserts a clean failure: no result, the sentinel, the words a
	// user needs, and no secret in the message.
	check := func(t *testing.T, res *sign.Result, err error, want error, words ...string) {
		t.Helper()
		if res != nil {
			t.Errorf("Sign() returned a bundle on failure")
		}
		if !errors.Is(err, want) {
			t.Fatalf("Sign() = %v, want %v", err, want)
		}
		for _, w := range words {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("Sign() = %q, want it to mention %q", err, w)
			}
		}
		if strings.Contains(err.Error(), s.ActionsRequestToken) || strings.Contains(err.Error(), "eyJ") {
			t.Errorf("Sign() error leaks a token: %q", err)
		}
	}

	t.Run("explicit token wins over the Actions endpoint", func(t *testing.T) {
		opts := customOptions(s)
		opts.Getenv = s.ActionsEnv(map[string]string{"ACTIONS_ID_TOKEN_REQUEST_TOKEN": "wrong"})
		opts.IdentityToken = s.Issuer.TokenES256(t)
		before := s.Issuer.TokenRequests()
		res, err := sign.Sign(ctx, st, opts)
		if err != nil {
			t.Fatalf("Sign(explicit ES256 token) = %v", err)
		}
		if res.Identity != s.Identity() || s.Issuer.TokenRequests() != before {
			t.Errorf("Sign() identity %q, token requests %d→%d; want %q and no request", res.Identity, before, s.Issuer.TokenRequests(), s.Identity())
		}
	})

	t.Run("SIGSTORE_ID_TOKEN", func(t *testing.T) {
		opts := customOptions(s)
		tok := s.Token(t)
		opts.Getenv = func(k string) string {
			if k == "SIGSTORE_ID_TOKEN" {
				return tok
			}
			return ""
		}
		if _, err := sign.Sign(ctx, st, opts); err != nil {
			t.Fatalf("Sign(SIGSTORE_ID_TOKEN) = %v", err)
		}
	})

	t.Run("Actions endpoint wins over SIGSTORE_ID_TOKEN", func(t *testing.T) {
		opts := customOptions(s)
		opts.Getenv = s.ActionsEnv(map[string]string{"SIGSTORE_ID_TOKEN": "not.a.token"})
		before := s.Issuer.TokenRequests()
		if _, err := sign.Sign(ctx, st, opts); err != nil {
			t.Fatalf("Sign() = %v", err)
		}
		if got := s.Issuer.TokenRequests() - before; got != 1 {
			t.Errorf("token requests = %d, want 1", got)
		}
	})

	t.Run("custom instance from a signing config", func(t *testing.T) {
		opts := sign.Options{
			Instance:          sign.InstanceCustom,
			SigningConfigPath: s.SigningConfigPath,
			TrustedRootPath:   s.TrustedRootPath,
			Getenv:            s.ActionsEnv(nil),
		}
		res, err := sign.Sign(ctx, st, opts)
		if err != nil {
			t.Fatalf("Sign(signing config) = %v", err)
		}
		if res.LogIndex < 0 || len(res.Timestamps) != 1 {
			t.Errorf("Sign(signing config) = log index %d, %d timestamps; want a Rekor v2 entry and a TSA timestamp", res.LogIndex, len(res.Timestamps))
		}
	})

	t.Run("key signing with the custom TSA and Rekor v2", func(t *testing.T) {
		opts := customOptions(s)
		opts.SigningKey = sign.SigningKeyEphemeral
		opts.Getenv = nil // no token needed
		res, err := sign.Sign(ctx, st, opts)
		if err != nil {
			t.Fatalf("Sign(key, TSA, Rekor) = %v", err)
		}
		got := parseBundle(t, res.Bundle)
		if res.Instance != sign.InstanceCustom || res.LogIndex < 0 || len(res.Timestamps) != 1 ||
			got.VerificationMaterial.PublicKey == nil || len(got.VerificationMaterial.TlogEntries) != 1 {
			t.Errorf("Sign(key, TSA, Rekor) = %+v, want a key hint, one log entry and one timestamp", res)
		}
	})

	t.Run("Actions without id-token permission", func(t *testing.T) {
		opts := customOptions(s)
		opts.Getenv = func(k string) string { return map[string]string{"GITHUB_ACTIONS": "true"}[k] }
		res, err := sign.Sign(ctx, st, opts)
		check(t, res, err, sign.ErrNoToken)
		if want := `missing id-token permission: add "permissions: id-token: write" to the job`; err.Error() != want {
			t.Errorf("Sign() = %q, want %q", err, want)
		}
	})

	t.Run("no token outside Actions", func(t *testing.T) {
		opts := customOptions(s)
		opts.Getenv = nil
		res, err := sign.Sign(ctx, st, opts)
		check(t, res, err, sign.ErrNoToken, "SIGSTORE_ID_TOKEN", "--identity-token")
	})

	t.Run("token endpoint 401", func(t *testing.T) {
		opts := customOptions(s)
		opts.Getenv = s.ActionsEnv(map[string]string{"ACTIONS_ID_TOKEN_REQUEST_TOKEN": "not-the-request-token"})
		res, err := sign.Sign(ctx, st, opts)
		check(t, res, err, sign.ErrTokenRequest, "HTTP 401", "id-token: write", "127.0.0.1")
		if strings.Contains(err.Error(), "not-the-request-token") {
			t.Errorf("Sign() error leaks the request token: %q", err)
		}
	})

	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc
		words   []string
	}{
		{"token endpoint 500", func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "internal error, token eyJsecret", http.StatusInternalServerError)
		}, []string{"HTTP 500"}},
		{"token endpoint without value", func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte(`{"count":1}`))
		}, []string{`no token in "value"`}},
		{"token endpoint not JSON", func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte(`<html>`))
		}, []string{"not JSON"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A real server that misbehaves on purpose: the fault a real
			// token service cannot be made to produce.
			bad := httptest.NewServer(tc.handler)
			defer bad.Close()
			opts := customOptions(s)
			opts.Getenv = s.ActionsEnv(map[string]string{"ACTIONS_ID_TOKEN_REQUEST_URL": bad.URL + "/token?api-version=2.0"})
			res, err := sign.Sign(ctx, st, opts)
			check(t, res, err, sign.ErrTokenRequest, tc.words...)
		})
	}

	t.Run("token endpoint unreachable", func(t *testing.T) {
		opts := customOptions(s)
		opts.Getenv = s.ActionsEnv(map[string]string{"ACTIONS_ID_TOKEN_REQUEST_URL": "http://" + testenv.Addr(testenv.FreePort(t)) + "/token?x=1"})
		res, err := sign.Sign(ctx, st, opts)
		check(t, res, err, sign.ErrTokenRequest, "connection refused")
	})

	t.Run("token from an issuer Fulcio does not trust", func(t *testing.T) {
		other := testenv.StartOIDCIssuer(t)
		opts := customOptions(s)
		opts.IdentityToken = other.Token(t)
		res, err := sign.Sign(ctx, st, opts)
		check(t, res, err, sign.ErrService, "Fulcio", s.FulcioURL)
	})

	t.Run("fail closed: bundle does not verify against the trusted root", func(t *testing.T) {
		// Another stack's root (no TSA, so no second TSA lock): the fresh
		// bundle's certificate and timestamp chain to nothing it trusts.
		other := testenv.StartSigstore(t, testenv.SigstoreOptions{Rekor: true})
		opts := customOptions(s)
		opts.TrustedRootPath = other.TrustedRootPath
		res, err := sign.Sign(ctx, st, opts)
		check(t, res, err, sign.ErrVerify, "refusing to use it")
	})

	t.Run("Rekor down", func(t *testing.T) {
		s.StopRekor(t)
		res, err := sign.Sign(ctx, st, customOptions(s))
		check(t, res, err, sign.ErrService, "Rekor", s.RekorURL)
	})

	t.Run("TSA down", func(t *testing.T) {
		s.StopTSA(t)
		res, err := sign.Sign(ctx, st, customOptions(s))
		check(t, res, err, sign.ErrService, "timestamp authority", s.TSAURL)
	})

	t.Run("Fulcio down", func(t *testing.T) {
		s.StopFulcio(t)
		res, err := sign.Sign(ctx, st, customOptions(s))
		check(t, res, err, sign.ErrService, "Fulcio", s.FulcioURL, "connection refused")
	})
}
