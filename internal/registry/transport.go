package registry

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/oci-attest/oci-attest/internal/oci"
	"github.com/oci-attest/oci-attest/internal/retry"
)

// permanent reports the registry client's own errors that no retry can
// cure: refused plain HTTP, and an archive that changed since it was scanned
// (reading a blob's bytes to upload them found other bytes: they will not
// change back). Everything else is retry.Policy's to decide.
func permanent(err error) bool {
	return errors.Is(err, ErrInsecure) || errors.Is(err, oci.ErrDigestMismatch)
}

// transient reports whether an error from a registry request is worth a
// later retry (a retryable status or connection error), and how long the
// registry asked us to wait: retry.Policy's rules for a caller that retries
// at its own level.
func transient(err error) (bool, time.Duration) {
	var se *statusErr
	if errors.As(err, &se) {
		return retry.Status(se.code, se.retryAfter)
	}
	return err != nil && retry.Retryable(err) && !permanent(err), 0
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
	if !retry.SameOrigin(req.URL, first.URL) {
		resp.Header.Del("WWW-Authenticate")
	}
	return resp, nil
}
