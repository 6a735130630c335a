package testenv

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Defaults of the GitHub-shaped tokens the local issuer mints.
const (
	DefaultRepository   = "oci-attest/demo"
	DefaultWorkflowFile = ".github/workflows/release.yml"
	DefaultRef          = "refs/heads/main"
)

// OIDCIssuer is a local OpenID Connect issuer of GitHub-shaped ID tokens
// (ARCHITECTURE.md, "Testing"). It serves discovery and JWKS for Fulcio, and an
// ACTIONS_ID_TOKEN_REQUEST_URL-style endpoint for the signer. It is a real
// HTTP server on 127.0.0.1 (httptest), closed when the test ends.
type OIDCIssuer struct {
	// URL is the issuer URL (the tokens' iss), http://127.0.0.1:PORT.
	URL string
	// ActionsTokenURL and ActionsRequestToken implement the GitHub Actions
	// contract: GET ActionsTokenURL&audience=A with "Authorization: Bearer
	// ActionsRequestToken" answers {"value": <token with aud A>}; a wrong
	// bearer gets 401.
	ActionsTokenURL, ActionsRequestToken string

	rsaKey   *rsa.PrivateKey
	ecKey    *ecdsa.PrivateKey
	requests atomic.Int64
	srv      *httptest.Server
}

// StartOIDCIssuer starts the issuer.
func StartOIDCIssuer(t testing.TB) *OIDCIssuer {
	t.Helper()
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatalf("generating the issuer's RSA key: %v", err)
	}
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("generating the issuer's EC key: %v", err)
	}
	o := &OIDCIssuer{rsaKey: rk, ecKey: ek, ActionsRequestToken: randomHex(t, 20)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", o.discovery)
	mux.HandleFunc("GET /.well-known/jwks", o.jwks)
	mux.HandleFunc("GET /_apis/actions/token", o.actionsToken)
	o.srv = httptest.NewServer(mux)
	t.Cleanup(o.srv.Close)
	o.URL = o.srv.URL
	o.ActionsTokenURL = o.URL + "/_apis/actions/token?api-version=2.0"
	return o
}

// Identity is the certificate SAN Fulcio issues for a default token:
// https://github.com/<repo>/.github/workflows/<file>@<ref>.
func (o *OIDCIssuer) Identity() string {
	return "https://github.com/" + DefaultRepository + "/" + DefaultWorkflowFile + "@" + DefaultRef
}

// TokenRequests counts the requests the Actions endpoint answered with a
// token.
func (o *OIDCIssuer) TokenRequests() int64 { return o.requests.Load() }

// Claims are the claims of a default token: every claim Fulcio v1.8.8's
// github-workflow templates read, for DefaultRepository's release workflow on
// DefaultRef, audience "sigstore", valid for 10 minutes.
func (o *OIDCIssuer) Claims() map[string]any {
	now := time.Now()
	sha := strings.Repeat("a1", 20)
	wf := DefaultRepository + "/" + DefaultWorkflowFile + "@" + DefaultRef
	return map[string]any{
		"iss":                   o.URL,
		"aud":                   "sigstore",
		"sub":                   "repo:" + DefaultRepository + ":ref:" + DefaultRef,
		"iat":                   now.Unix(),
		"nbf":                   now.Add(-time.Minute).Unix(),
		"exp":                   now.Add(10 * time.Minute).Unix(),
		"jti":                   hex.EncodeToString(big.NewInt(now.UnixNano()).Bytes()),
		"actor":                 "octocat",
		"actor_id":              "583231",
		"base_ref":              "",
		"head_ref":              "",
		"environment":           "",
		"event_name":            "push",
		"job_workflow_ref":      wf,
		"job_workflow_sha":      sha,
		"ref":                   DefaultRef,
		"ref_type":              "branch",
		"repository":            DefaultRepository,
		"repository_id":         "100001",
		"repository_owner":      strings.Split(DefaultRepository, "/")[0],
		"repository_owner_id":   "100000",
		"repository_visibility": "public",
		"run_attempt":           "1",
		"run_id":                "4242",
		"run_number":            "7",
		"runner_environment":    "github-hosted",
		"sha":                   sha,
		"workflow":              "release",
		"workflow_ref":          wf,
		"workflow_sha":          sha,
	}
}

// Token mints an RS256 token with the default claims, changed by overrides
// (applied in order; a nil value deletes the claim).
func (o *OIDCIssuer) Token(t testing.TB, overrides ...map[string]any) string {
	t.Helper()
	return o.mint(t, "RS256", overrides...)
}

// TokenES256 is Token signed with the issuer's P-256 key.
func (o *OIDCIssuer) TokenES256(t testing.TB, overrides ...map[string]any) string {
	t.Helper()
	return o.mint(t, "ES256", overrides...)
}

func (o *OIDCIssuer) mint(t testing.TB, alg string, overrides ...map[string]any) string {
	t.Helper()
	claims := o.Claims()
	for _, ov := range overrides {
		for k, v := range ov {
			if v == nil {
				delete(claims, k)
			} else {
				claims[k] = v
			}
		}
	}
	tok, err := o.sign(alg, claims)
	if err != nil {
		t.Fatalf("minting a token: %v", err)
	}
	return tok
}

func (o *OIDCIssuer) sign(alg string, claims map[string]any) (string, error) {
	header, err := json.Marshal(map[string]string{"alg": alg, "typ": "JWT", "kid": alg})
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	input := b64(header) + "." + b64(payload)
	sum := sha256.Sum256([]byte(input))
	var sig []byte
	switch alg {
	case "RS256":
		sig, err = rsa.SignPKCS1v15(rand.Reader, o.rsaKey, crypto.SHA256, sum[:])
	case "ES256":
		var r, s *big.Int
		r, s, err = ecdsa.Sign(rand.Reader, o.ecKey, sum[:])
		if err == nil {
			sig = make([]byte, 64)
			r.FillBytes(sig[:32])
			s.FillBytes(sig[32:])
		}
	}
	if err != nil {
		return "", err
	}
	return input + "." + b64(sig), nil
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func (o *OIDCIssuer) discovery(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                o.URL,
		"jwks_uri":                              o.URL + "/.well-known/jwks",
		"response_types_supported":              []string{"id_token"},
		"subject_types_supported":               []string{"public", "pairwise"},
		"id_token_signing_alg_values_supported": []string{"RS256", "ES256"},
		"claims_supported":                      []string{"sub", "aud", "exp", "iat", "iss", "jti", "nbf", "ref", "repository", "job_workflow_ref"},
	})
}

func (o *OIDCIssuer) jwks(w http.ResponseWriter, _ *http.Request) {
	ecx := make([]byte, 32)
	ecy := make([]byte, 32)
	o.ecKey.X.FillBytes(ecx)
	o.ecKey.Y.FillBytes(ecy)
	writeJSON(w, http.StatusOK, map[string]any{"keys": []map[string]string{
		{"kty": "RSA", "alg": "RS256", "use": "sig", "kid": "RS256",
			"n": b64(o.rsaKey.N.Bytes()), "e": b64(big.NewInt(int64(o.rsaKey.E)).Bytes())},
		{"kty": "EC", "alg": "ES256", "use": "sig", "kid": "ES256", "crv": "P-256",
			"x": b64(ecx), "y": b64(ecy)},
	}})
}

// actionsToken implements ACTIONS_ID_TOKEN_REQUEST_URL: the bearer must be
// ActionsRequestToken; the token's audience is the audience parameter.
func (o *OIDCIssuer) actionsToken(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+o.ActionsRequestToken {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "bad credentials"})
		return
	}
	aud := r.URL.Query().Get("audience")
	if aud == "" {
		aud = "https://github.com/" + strings.Split(DefaultRepository, "/")[0]
	}
	claims := o.Claims()
	claims["aud"] = aud
	tok, err := o.sign("RS256", claims)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"message": err.Error()})
		return
	}
	o.requests.Add(1)
	writeJSON(w, http.StatusOK, map[string]any{"count": 2000, "value": tok})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func randomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
