package registry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"oras.land/oras-go/v2/registry/remote/retry"

	"github.com/oci-attest/oci-attest/internal/oci"
)

// Retry parameters of every registry request (429, 408, 5xx except 501,
// connection errors).
const (
	retryMax      = 5
	retryBase     = 200 * time.Millisecond
	retryMaxWait  = 10 * time.Second
	retryAfterCap = 60 * time.Second // longer Retry-After values are not waited for
)

// retryPolicy is the retry.Policy of our transport. oras-go's DefaultPolicy
// retries neither connection resets nor HTTP-date Retry-After values and
// caps Retry-After at 3 s; this one does all three.
type retryPolicy struct{}

var _ retry.Policy = retryPolicy{}

// Retry implements retry.Policy.
func (retryPolicy) Retry(attempt int, resp *http.Response, err error) (time.Duration, error) {
	if attempt >= retryMax {
		return -1, nil
	}
	if err != nil {
		if !retryableError(err) {
			return -1, nil
		}
		return backoff(attempt), nil
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode == http.StatusServiceUnavailable:
		if d, ok := retryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
			if d > retryAfterCap {
				return -1, nil
			}
			return d, nil
		}
		return backoff(attempt), nil
	case resp.StatusCode == http.StatusRequestTimeout,
		resp.StatusCode >= 500 && resp.StatusCode != http.StatusNotImplemented:
		return backoff(attempt), nil
	}
	return -1, nil
}

// retryableError reports whether a transport error is worth retrying:
// everything but cancellation, certificate problems, refused plain HTTP and
// an archive that changed since it was scanned (reading a blob's bytes to
// upload them found other bytes: they will not change back).
func retryableError(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrInsecure) || errors.Is(err, oci.ErrDigestMismatch) {
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
	return jitter(d, 0.2)
}

// jitter returns d scaled by a random factor in [1-f, 1+f].
func jitter(d time.Duration, f float64) time.Duration {
	return time.Duration(float64(d) * (1 - f + 2*f*rand.Float64())) //nolint:gosec // jitter, not security
}

// retryAfter parses a Retry-After value: delay-seconds or an HTTP-date.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s < 0 {
			return 0, false
		}
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		d := t.Sub(now)
		if d < 0 {
			d = 0
		}
		return d, true
	}
	return 0, false
}

// schemeGuard refuses plain-HTTP requests to hosts that are not loopback
// unless insecure registries are allowed. It sits below redirects, so a
// redirect cannot downgrade a registry to plain HTTP either.
type schemeGuard struct {
	base          http.RoundTripper
	allowInsecure bool
}

// RoundTrip implements http.RoundTripper.
func (g schemeGuard) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme == "http" && !g.allowInsecure && !isLoopback(req.URL.Host) {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, fmt.Errorf("%w: refusing http://%s (set allow-insecure-registry: true to allow it)", ErrInsecure, req.URL.Host)
	}
	return g.base.RoundTrip(req)
}

// noRetryKey marks a request context whose requests must not be retried
// by the transport (the fallback-tag write retries at the protocol level,
// from a fresh read).
type noRetryKey struct{}

// withoutRetry returns a context whose requests are sent once.
func withoutRetry(ctx context.Context) context.Context {
	return context.WithValue(ctx, noRetryKey{}, true)
}

// retrying sends requests through retry unless their context says
// otherwise.
type retrying struct {
	retry *retry.Transport
	once  http.RoundTripper
}

// RoundTrip implements http.RoundTripper.
func (r retrying) RoundTrip(req *http.Request) (*http.Response, error) {
	if v, _ := req.Context().Value(noRetryKey{}).(bool); v {
		return r.once.RoundTrip(req)
	}
	return r.retry.RoundTrip(req)
}

// transient reports whether an error from a registry request is worth a
// later retry (a retryable status or connection error), and how long the
// registry asked us to wait.
func transient(err error) (bool, time.Duration) {
	var se *statusErr
	if errors.As(err, &se) {
		switch {
		case se.code == http.StatusTooManyRequests, se.code == http.StatusServiceUnavailable:
			d, _ := retryAfter(se.retryAfter, time.Now())
			return d <= retryAfterCap, d
		case se.code == http.StatusRequestTimeout, se.code >= 500 && se.code != http.StatusNotImplemented:
			return true, 0
		}
		return false, 0
	}
	return err != nil && retryableError(err), 0
}

// counterKey carries a *atomic.Int64 that counting increments per request.
type counterKey struct{}

// withCounter returns a context whose registry requests are counted in n.
func withCounter(ctx context.Context, n *atomic.Int64) context.Context {
	return context.WithValue(ctx, counterKey{}, n)
}

// sentAtKey carries a *atomic.Int64 that counting sets to the time (Unix
// nanoseconds) each request is handed to the wire.
type sentAtKey struct{}

// withSentAt returns a context whose registry requests record in t when the
// last of them (retries and token requests included) was sent.
func withSentAt(ctx context.Context, t *atomic.Int64) context.Context {
	return context.WithValue(ctx, sentAtKey{}, t)
}

// counting counts every request that reaches the wire (retries included) in
// the counter its context carries, and records when it was sent.
type counting struct{ base http.RoundTripper }

// RoundTrip implements http.RoundTripper.
func (c counting) RoundTrip(req *http.Request) (*http.Response, error) {
	if n, ok := req.Context().Value(counterKey{}).(*atomic.Int64); ok {
		n.Add(1)
	}
	if t, ok := req.Context().Value(sentAtKey{}).(*atomic.Int64); ok {
		t.Store(time.Now().UnixNano())
	}
	return c.base.RoundTrip(req)
}

// sameOrigin reports whether two URLs share scheme, host and port.
func sameOrigin(a, b *http.Request) bool {
	return a.URL.Scheme == b.URL.Scheme && a.URL.Host == b.URL.Host
}

// foreignChallenge drops the WWW-Authenticate challenge of a 401 answered
// by a redirect target on another origin than the request's first hop.
// oras-go's auth.Client answers a challenge with the credentials of the host
// it sent the request to, wherever the challenge came from: a storage server
// a registry redirects blobs to could otherwise name a token realm of its
// own and receive the registry's credentials there.
type foreignChallenge struct{ base http.RoundTripper }

// RoundTrip implements http.RoundTripper.
func (f foreignChallenge) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := f.base.RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusUnauthorized || req.Response == nil {
		return resp, err
	}
	first := req
	for first.Response != nil && first.Response.Request != nil {
		first = first.Response.Request
	}
	if !sameOrigin(req, first) {
		resp.Header.Del("WWW-Authenticate")
	}
	return resp, nil
}

// checkRedirect follows at most 10 redirects and drops credentials when a
// redirect leaves the origin of the original request. net/http alone keeps
// Authorization for another port of the same host and for subdomains.
func checkRedirect(next func(*http.Request, []*http.Request) error) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		if len(via) >= 10 {
			return fmt.Errorf("following redirects from %s: stopped after 10", via[0].URL.Redacted())
		}
		if !sameOrigin(req, via[0]) {
			req.Header.Del("Authorization")
			req.Header.Del("Cookie")
		}
		if next != nil {
			return next(req, via)
		}
		return nil
	}
}
