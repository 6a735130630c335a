package sign

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/oci-attest/oci-attest/internal/retry"
)

// audience is the audience Fulcio expects in the ID token.
const audience = "sigstore"

// Token sources, reported in errors.
const (
	sourceFlag    = "the explicit identity token"
	sourceActions = "ACTIONS_ID_TOKEN_REQUEST_URL"
	sourceEnv     = "SIGSTORE_ID_TOKEN"
)

// identityToken returns the OIDC token to present to Fulcio and where it
// came from. Order: the explicit Options.IdentityToken (the user asked for
// it), then GitHub Actions' token endpoint, then SIGSTORE_ID_TOKEN. Every
// token is passed to Options.Mask before it is returned.
func identityToken(ctx context.Context, opts Options) (string, string, error) {
	if t := strings.TrimSpace(opts.IdentityToken); t != "" {
		opts.mask(t)
		return t, sourceFlag, nil
	}
	if reqURL := opts.getenv("ACTIONS_ID_TOKEN_REQUEST_URL"); reqURL != "" {
		t, err := actionsToken(ctx, opts, reqURL, opts.getenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN"))
		if err != nil {
			return "", "", err
		}
		return t, sourceActions, nil
	}
	if t := strings.TrimSpace(opts.getenv("SIGSTORE_ID_TOKEN")); t != "" {
		opts.mask(t)
		return t, sourceEnv, nil
	}
	return "", "", noToken(opts)
}

// noToken is the error of keyless signing with no token source: in GitHub
// Actions, the job lacks the id-token permission (the runner sets no token
// endpoint); elsewhere nothing gave a token.
func noToken(opts Options) error {
	if opts.getenv("GITHUB_ACTIONS") == "true" {
		return &sentinelError{
			msg:      `missing id-token permission: add "permissions: id-token: write" to the job`,
			sentinel: ErrNoToken,
		}
	}
	return &sentinelError{
		msg:      "no OIDC identity token: none was given and SIGSTORE_ID_TOKEN is empty",
		sentinel: ErrNoToken,
	}
}

// actionsToken asks the GitHub Actions token service for an ID token with
// the sigstore audience.
func actionsToken(ctx context.Context, opts Options, reqURL, bearer string) (string, error) {
	opts.mask(bearer)
	u, err := tokenEndpoint(reqURL)
	if err != nil {
		return "", err
	}
	if bearer == "" {
		return "", &sentinelError{
			msg:      `requesting the GitHub Actions ID token: ACTIONS_ID_TOKEN_REQUEST_TOKEN is empty: add "permissions: id-token: write" to the job`,
			sentinel: ErrTokenRequest,
		}
	}
	q := u.Query()
	q.Set("audience", audience)
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", fmt.Errorf("%w from %s: %w", ErrTokenRequest, u.Host, err)
	}
	req.Header.Set("Authorization", "Bearer "+bearer)
	req.Header.Set("Accept", "application/json; api-version=2.0")
	// The retry policy's transport retries 5xx, 429, resets and timeouts
	// (a GET: repeating it only mints another token) and fails with a
	// *retry.Error naming the endpoint, the last status and the attempts.
	resp, err := client(ctx, opts.HTTPClient, opts.policy(), serviceToken).Do(req)
	if err != nil {
		if re, ok := retryError(err); ok {
			// It names the endpoint's host, the last status or error and
			// the attempts; re.URL has no query. No secret: the bearer is a
			// header.
			return "", fmt.Errorf("%w (%s %s): %w", ErrTokenRequest, re.Method, re.URL, re)
		}
		// url.Error carries the URL; it has no secret (the bearer is a header).
		return "", fmt.Errorf("%w from %s: %w", ErrTokenRequest, u.Host, unwrapURLError(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", fmt.Errorf("%w from %s: reading the response: %w", ErrTokenRequest, u.Host, err)
	}
	if resp.StatusCode != http.StatusOK {
		hint := ""
		if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
			hint = `: check that the job has "permissions: id-token: write"`
		}
		// The body is not echoed: it is the service's, and may carry anything.
		return "", fmt.Errorf("%w from %s: HTTP %d %s%s", ErrTokenRequest, u.Host, resp.StatusCode, http.StatusText(resp.StatusCode), hint)
	}
	var v struct {
		Value string `json:"value"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return "", fmt.Errorf("%w from %s: the response is not JSON with a \"value\"", ErrTokenRequest, u.Host)
	}
	if v.Value == "" {
		return "", fmt.Errorf("%w from %s: the response has no token in \"value\"", ErrTokenRequest, u.Host)
	}
	opts.mask(v.Value)
	if !jwtShaped(v.Value) {
		// Not echoed: it is a secret, or the service's anything.
		return "", fmt.Errorf("%w from %s: the token in \"value\" is not a JWT (three base64url parts separated by dots)", ErrTokenRequest, u.Host)
	}
	return v.Value, nil
}

// tokenEndpoint parses ACTIONS_ID_TOKEN_REQUEST_URL: a URL with a host,
// plain HTTP only to loopback (no opt-in: the request carries the job's
// bearer token and its answer is an identity token). It is an
// ErrTokenRequest, not an OptionError: the runner sets it, not the user.
func tokenEndpoint(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	switch {
	case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
		return nil, &sentinelError{msg: "requesting the GitHub Actions ID token: ACTIONS_ID_TOKEN_REQUEST_URL is not an http(s) URL", sentinel: ErrTokenRequest}
	case u.Scheme == "http" && !retry.IsLoopback(u.Host):
		return nil, fmt.Errorf("%w: refusing plain HTTP to %s (ACTIONS_ID_TOKEN_REQUEST_URL): only a loopback endpoint is reached without TLS", ErrTokenRequest, u.Host)
	}
	return u, nil
}

// jwtShaped reports whether t has the shape of a compact JWS: three
// non-empty base64url parts (padding tolerated) separated by dots. It keeps
// a service's odd answer (line breaks, markup) from travelling on as a
// token; Fulcio verifies the token itself.
func jwtShaped(t string) bool {
	parts := strings.Split(t, ".")
	if len(parts) != 3 {
		return false
	}
	for _, p := range parts {
		if _, err := decodeSegment(p); p == "" || err != nil {
			return false
		}
	}
	return true
}

// decodeSegment decodes one part of a compact JWS: base64url, unpadded
// (padding is tolerated).
func decodeSegment(p string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(p, "="))
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// tokenClaims are the unverified claims of an ID token that Sign uses to
// predict the certificate identity. Fulcio verifies the token; these claims
// only serve to check that the certificate is for the identity we presented.
type tokenClaims struct {
	Issuer         string          `json:"iss"`
	Subject        string          `json:"sub"`
	Email          string          `json:"email"`
	JobWorkflowRef string          `json:"job_workflow_ref"`
	Federated      json.RawMessage `json:"federated_claims"`
}

// parseClaims decodes the payload of a JWT without verifying it.
func parseClaims(token string) (tokenClaims, error) {
	var c tokenClaims
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return c, &sentinelError{msg: "the OIDC identity token is not a JWT (want header.payload.signature)", sentinel: ErrOptions}
	}
	payload, err := decodeSegment(parts[1])
	if err != nil {
		return c, &sentinelError{msg: "the OIDC identity token's payload is not base64url", sentinel: ErrOptions}
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return c, &sentinelError{msg: "the OIDC identity token's payload is not a JSON object", sentinel: ErrOptions}
	}
	if c.Issuer == "" {
		return c, &sentinelError{msg: "the OIDC identity token has no issuer (iss) claim", sentinel: ErrOptions}
	}
	return c, nil
}
