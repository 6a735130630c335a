package github

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Policy decides whether a request is sent again, and after how long (a
// negative duration: not again). It has the method set of oras-go's
// retry.Policy, which the registry client's policy implements, so one policy
// can serve registries and the API.
//
// TODO(issue18): the registry client's retry policy moves into a shared
// package (internal/retry); use it here and drop defaultPolicy's copy of it.
type Policy interface {
	Retry(attempt int, resp *http.Response, err error) (time.Duration, error)
}

// Retry parameters of defaultPolicy: those of the registry client
// (ARCHITECTURE.md, "Registry: resolve, bind, push").
const (
	retryMax      = 5
	retryBase     = 200 * time.Millisecond
	retryMaxWait  = 10 * time.Second
	retryAfterCap = 60 * time.Second // longer waits are not waited for
)

// defaultPolicy retries 408, 429, 5xx except 501, rate-limited 403s and
// connection errors with jittered exponential backoff, honouring Retry-After
// (and GitHub's x-ratelimit-reset) up to retryAfterCap.
type defaultPolicy struct{}

// Retry implements Policy.
func (defaultPolicy) Retry(attempt int, resp *http.Response, err error) (time.Duration, error) {
	if attempt >= retryMax {
		return -1, nil
	}
	if err != nil {
		if !retryableError(err) {
			return -1, nil
		}
		return backoff(attempt), nil
	}
	code := resp.StatusCode
	switch {
	case code == http.StatusTooManyRequests, code == http.StatusServiceUnavailable,
		code == http.StatusForbidden && rateLimited(resp):
		d, ok := waitFor(resp, time.Now())
		switch {
		case !ok && code == http.StatusForbidden:
			return -1, nil // a rate limit that names no time: retrying early only extends it
		case !ok:
			return backoff(attempt), nil
		case d > retryAfterCap:
			return -1, nil
		}
		return d, nil
	case code == http.StatusRequestTimeout, code >= 500 && code != http.StatusNotImplemented:
		return backoff(attempt), nil
	}
	return -1, nil
}

// rateLimited reports whether an answer is one of GitHub's rate limits: 429,
// or a 403 with Retry-After (secondary rate limits) or with
// x-ratelimit-remaining: 0 (the primary limit).
func rateLimited(resp *http.Response) bool {
	switch resp.StatusCode {
	case http.StatusTooManyRequests:
		return true
	case http.StatusForbidden:
		return resp.Header.Get("Retry-After") != "" || resp.Header.Get("X-Ratelimit-Remaining") == "0"
	}
	return false
}

// waitFor is how long an answer asks the client to wait: Retry-After in
// seconds or as an HTTP date, else x-ratelimit-reset (Unix seconds) when
// x-ratelimit-remaining is 0.
func waitFor(resp *http.Response, now time.Time) (time.Duration, bool) {
	if v := resp.Header.Get("Retry-After"); v != "" {
		if s, err := strconv.ParseInt(v, 10, 64); err == nil && s >= 0 {
			return time.Duration(s) * time.Second, true
		}
		if t, err := http.ParseTime(v); err == nil {
			return max(t.Sub(now), 0), true
		}
		return 0, false
	}
	if resp.Header.Get("X-Ratelimit-Remaining") == "0" {
		if s, err := strconv.ParseInt(resp.Header.Get("X-Ratelimit-Reset"), 10, 64); err == nil {
			return max(time.Unix(s, 0).Sub(now), 0), true
		}
	}
	return 0, false
}

// retryableError reports whether a transport error is worth retrying:
// everything but cancellation, certificate problems and refused plain HTTP.
// retryableError, backoff and isLoopback are copies of the registry
// client's (TODO(issue18): one shared copy in internal/retry).
func retryableError(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrInsecure) {
		return false
	}
	var (
		unknownAuthority x509.UnknownAuthorityError
		hostname         x509.HostnameError
		invalid          x509.CertificateInvalidError
		verify           *tls.CertificateVerificationError
		recordHeader     tls.RecordHeaderError
	)
	return !errors.As(err, &unknownAuthority) && !errors.As(err, &hostname) &&
		!errors.As(err, &invalid) && !errors.As(err, &verify) && !errors.As(err, &recordHeader)
}

// backoff is exponential with ±20 % jitter, capped at retryMaxWait.
func backoff(attempt int) time.Duration {
	d := retryBase << attempt
	if d > retryMaxWait || d <= 0 {
		d = retryMaxWait
	}
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64())) //nolint:gosec // jitter, not security
}

// isLoopback reports whether host (with or without port) is a loopback name
// or address.
func isLoopback(host string) bool {
	h := host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		h = hh
	}
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	if strings.EqualFold(h, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(h)
	return err == nil && a.IsLoopback()
}

// schemeGuard refuses plain-HTTP requests to hosts that are not loopback. It
// sits below redirects, so a redirect cannot downgrade the API to plain HTTP.
type schemeGuard struct{ base http.RoundTripper }

// RoundTrip implements http.RoundTripper.
func (g schemeGuard) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "https" && !isLoopback(req.URL.Host) {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, fmt.Errorf("%w: refusing %s://%s", ErrInsecure, req.URL.Scheme, req.URL.Host)
	}
	return g.base.RoundTrip(req)
}

// checkRedirect follows at most 10 redirects and drops Authorization when a
// redirect leaves the origin (scheme, host and port) of the first request.
// net/http alone keeps it for another port of the same host and for
// subdomains.
func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return fmt.Errorf("following redirects from %s: stopped after 10", via[0].URL.Redacted())
	}
	if req.URL.Scheme != via[0].URL.Scheme || req.URL.Host != via[0].URL.Host {
		req.Header.Del("Authorization")
		req.Header.Del("Cookie")
	}
	return nil
}
