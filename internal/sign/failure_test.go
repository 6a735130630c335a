package sign_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oci-attest/oci-attest/internal/sign"
	"github.com/oci-attest/oci-attest/internal/testenv"
)

// TestSignSourcesAndFailures runs token sources, key signing with the
// stack's services and every failure against one real stack, in order: the
// last subtests stop its services.
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
		check(t, res, err, sign.ErrNoToken, "SIGSTORE_ID_TOKEN", "none was given")
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
		{"token endpoint answers a value that is no JWT", func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte(`{"value":"eyJh.eyJi.c2ln\n::error::forged"}`))
		}, []string{"is not a JWT"}},
		{"token endpoint not JSON", func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte(`<html>`))
		}, []string{"not JSON"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A real server that misbehaves on purpose: the fault a real
			// token service cannot be made to produce.
			bad := httptest.NewServer(tc.handler)
			defer bad.Close()
			opts := sign.WithRetries(customOptions(s), 1) // the 500 is retried once
			opts.Getenv = s.ActionsEnv(map[string]string{"ACTIONS_ID_TOKEN_REQUEST_URL": bad.URL + "/token?api-version=2.0"})
			res, err := sign.Sign(ctx, st, opts)
			check(t, res, err, sign.ErrTokenRequest, tc.words...)
		})
	}

	t.Run("token endpoint unreachable", func(t *testing.T) {
		opts := sign.WithRetries(customOptions(s), 1)
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

	t.Run("custom services disagree with the trusted root", func(t *testing.T) {
		// Fulcio and TSA but no Rekor, with a root that lists the Rekor
		// log: this signed without a log entry and then refused its own
		// bundle ("not enough verified log entries"). Now Check decides up
		// front, naming the option, and nothing is contacted.
		noRekor := customOptions(s)
		noRekor.RekorURL = ""
		withoutTSA := customOptions(s)
		withoutTSA.TrustedRootPath = rootWithout(t, s.TrustedRootPath, "timestampAuthorities")
		withoutLog := customOptions(s)
		withoutLog.TrustedRootPath = rootWithout(t, s.TrustedRootPath, "tlogs")
		for _, tc := range []struct {
			name  string
			opts  sign.Options
			field string
		}{
			{"root lists a log, no Rekor URL", noRekor, "RekorURL"},
			{"TSA URL, root lists no TSA", withoutTSA, "TSAURL"},
			{"Rekor URL, root lists no log", withoutLog, "RekorURL"},
		} {
			before := s.Issuer.TokenRequests()
			res, err := sign.Sign(ctx, st, tc.opts)
			var oe *sign.OptionError
			if res != nil || !errors.As(err, &oe) || oe.Field != tc.field || !errors.Is(err, sign.ErrOptions) {
				t.Errorf("%s: Sign() = %v, %v; want an OptionError for %s", tc.name, res, err, tc.field)
			}
			if err := sign.Check(tc.opts); !errors.As(err, &oe) || oe.Field != tc.field {
				t.Errorf("%s: Check() = %v, want an OptionError for %s", tc.name, err, tc.field)
			}
			if s.Issuer.TokenRequests() != before {
				t.Errorf("%s: Sign() requested a token before refusing the options", tc.name)
			}
		}
		// Without a log in the root, Fulcio and the TSA alone are a complete
		// instance (GitHub's shape): it signs and verifies.
		tsaOnly := customOptions(s)
		tsaOnly.RekorURL = ""
		tsaOnly.TrustedRootPath = rootWithout(t, s.TrustedRootPath, "tlogs")
		if res, err := sign.Sign(ctx, st, tsaOnly); err != nil || res.LogIndex != -1 || len(res.Timestamps) == 0 {
			t.Errorf("Sign(Fulcio + TSA, root without a log) = %+v, %v; want a bundle with a timestamp and no log entry", res, err)
		}
	})

	t.Run("fail closed: bundle does not verify against the trusted root", func(t *testing.T) {
		// This stack's root with another stack's certificate authority: it
		// lists the same kinds of service, so the options pass Check, but the
		// fresh bundle's certificate chains to nothing it trusts.
		other := testenv.StartSigstore(t, testenv.SigstoreOptions{Rekor: true})
		opts := customOptions(s)
		opts.TrustedRootPath = mixedRoot(t, s.TrustedRootPath, other.TrustedRootPath)
		res, err := sign.Sign(ctx, st, opts)
		check(t, res, err, sign.ErrVerify, "refusing to use it")
	})

	t.Run("Rekor down", func(t *testing.T) {
		s.StopRekor(t)
		res, err := sign.Sign(ctx, st, sign.WithRetries(customOptions(s), 1))
		check(t, res, err, sign.ErrService, "Rekor", s.RekorURL)
	})

	t.Run("TSA down", func(t *testing.T) {
		s.StopTSA(t)
		res, err := sign.Sign(ctx, st, sign.WithRetries(customOptions(s), 1))
		check(t, res, err, sign.ErrService, "timestamp authority", s.TSAURL)
	})

	t.Run("Fulcio down", func(t *testing.T) {
		s.StopFulcio(t)
		res, err := sign.Sign(ctx, st, sign.WithRetries(customOptions(s), 1))
		check(t, res, err, sign.ErrService, "Fulcio", s.FulcioURL, "connection refused")
	})
}

// mixedRoot writes the trusted root at base with the certificate authorities
// of the root at cas.
func mixedRoot(t *testing.T, base, cas string) string {
	t.Helper()
	var b, c map[string]json.RawMessage
	for p, m := range map[string]*map[string]json.RawMessage{base: &b, cas: &c} {
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, m); err != nil {
			t.Fatal(err)
		}
	}
	b["certificateAuthorities"] = c["certificateAuthorities"]
	out, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "mixed_root.json")
	if err := os.WriteFile(p, out, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// rootWithout writes the trusted root at p without its key field.
func rootWithout(t *testing.T, p, field string) string {
	t.Helper()
	raw, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	delete(m, field)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	q := filepath.Join(t.TempDir(), "root_without_"+field+".json")
	if err := os.WriteFile(q, out, 0o600); err != nil {
		t.Fatal(err)
	}
	return q
}
