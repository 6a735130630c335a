// Package retry is the one place that builds an HTTP client for a remote
// (registries, the Sigstore services — Fulcio, Rekor v1 and v2, timestamp
// authorities, TUF repositories —, GitHub's OIDC token endpoint and GitHub's
// API), and the one retry and deadline policy of every request it sends
// (ARCHITECTURE.md, "Retries and deadlines").
//
// NewClient builds a client: a guard that refuses plain HTTP to hosts that
// are not loopback (below redirects, so a redirect cannot downgrade),
// redirects that drop credentials when they leave the first request's
// origin, the retry Transport, and the binding of requests to a run's
// context. Callers add only what is theirs: the registry its auth, GitHub
// its headers.
//
// A Policy says which answers are worth another attempt and how long to wait
// before it; a Transport applies it below any HTTP client, with a deadline on
// the progress of every attempt and a bound on the total time of one
// request. Client libraries' own retry loops are switched off where this
// transport is used: one policy, one place, one error shape. The package
// names no inputs: an *Error says which remote did not answer within which
// deadline, and the caller says what to change.
package retry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"
)

// Defaults of a zero Policy.
const (
	// DefaultTimeout is request-timeout's default: how long one attempt may
	// go without progress.
	DefaultTimeout = 60 * time.Second
	// DefaultRetries is how many times a request is sent again at most.
	DefaultRetries = 5
	// minBudget is the least total time one request may take with its
	// retries (a short request-timeout still leaves room for a few attempts).
	minBudget = 30 * time.Second
	// budgetTimeouts is the total time of one request in request-timeouts.
	budgetTimeouts = 3
	base           = 200 * time.Millisecond
	maxWait        = 10 * time.Second
	// RetryAfterCap is the longest Retry-After (or rate-limit reset) waited
	// for; an answer asking for longer is final.
	RetryAfterCap = 60 * time.Second
)

// Policy decides whether a request is sent again and after how long. Its
// Retry method has the signature of oras-go's retry.Policy. The zero value
// is the product's policy: 5 retries, jittered exponential backoff from
// 200 ms capped at 10 s, Retry-After honoured up to 60 s, a 60 s deadline on
// each attempt and at most 3 deadlines (at least 30 s) for one request.
type Policy struct {
	// Timeout is how long one attempt may go without progress: until the
	// answer's headers arrive, and between two reads of the request's or the
	// answer's body (a slow but moving upload is never cut off). Zero:
	// DefaultTimeout.
	Timeout time.Duration
	// Retries is how many times a request is sent again at most. Zero:
	// DefaultRetries; negative: never.
	Retries int
	// Budget bounds the total time of one request, retries and waits
	// included: no attempt is started that would begin after it. Zero: three
	// Timeouts, at least 30 s.
	Budget time.Duration
}

// timeout is p.Timeout or its default.
func (p Policy) timeout() time.Duration {
	if p.Timeout > 0 {
		return p.Timeout
	}
	return DefaultTimeout
}

// retries is p.Retries or its default.
func (p Policy) retries() int {
	switch {
	case p.Retries < 0:
		return 0
	case p.Retries == 0:
		return DefaultRetries
	}
	return p.Retries
}

// Total is the longest one request may take with its retries: its budget
// plus the deadline of the last attempt it may start.
func (p Policy) Total() time.Duration { return p.budget() + p.timeout() }

// budget is p.Budget or its default.
func (p Policy) budget() time.Duration {
	if p.Budget > 0 {
		return p.Budget
	}
	return max(budgetTimeouts*p.timeout(), minBudget)
}

// Retry reports how long to wait before sending a request again after
// attempt (0 for the first) ended with resp or err; a negative duration
// means not again. Retried: connection errors and timeouts (not
// cancellation or certificate problems), 408, 429, 5xx except 501, and
// GitHub's rate-limited 403s, honouring Retry-After and x-ratelimit-reset up
// to RetryAfterCap. It never returns an error; the signature is oras-go's.
func (p Policy) Retry(attempt int, resp *http.Response, err error) (time.Duration, error) {
	if attempt >= p.retries() {
		return -1, nil
	}
	if err != nil {
		if !Retryable(err) {
			return -1, nil
		}
		return Backoff(attempt), nil
	}
	again, d, named := verdict(resp.StatusCode, resp.Header, true, time.Now())
	switch {
	case !again:
		return -1, nil
	case named:
		return d, nil
	}
	return Backoff(attempt), nil
}

// Status reports whether an answer with this status (and Retry-After value)
// is worth a later retry, and how long the server asked to wait: the status
// rules of Retry for callers that retry at their own level (the fallback
// tag's write, which is sent once and retried from a fresh read).
func Status(code int, retryAfter string) (bool, time.Duration) {
	h := http.Header{}
	if retryAfter != "" {
		h.Set("Retry-After", retryAfter)
	}
	again, d, _ := verdict(code, h, false, time.Now())
	return again, d
}

// verdict holds the status rules of Retry and Status: whether an answer is
// worth another attempt, and the wait it named (named false: it named none,
// so the caller backs off). 408, 429, 503 and 5xx except 501 are retried;
// with rateLimits also GitHub's rate-limited 403s (Status's callers have no
// such answers). A named wait beyond RetryAfterCap is final.
func verdict(code int, h http.Header, rateLimits bool, now time.Time) (again bool, d time.Duration, named bool) {
	switch {
	case code == http.StatusTooManyRequests, code == http.StatusServiceUnavailable,
		rateLimits && code == http.StatusForbidden && RateLimited(&http.Response{StatusCode: code, Header: h}):
		d, named := wait(h, now)
		switch {
		case !named:
			return code != http.StatusForbidden, 0, false // a rate limit that names no time: retrying early only extends it
		case d > RetryAfterCap:
			return false, d, true
		}
		return true, d, true
	case code == http.StatusRequestTimeout, code >= 500 && code != http.StatusNotImplemented:
		return true, 0, false
	}
	return false, 0, false
}

// RateLimited reports whether an answer is one of GitHub's rate limits: 429,
// or a 403 with Retry-After (secondary limits) or with
// x-ratelimit-remaining: 0 (the primary limit).
func RateLimited(resp *http.Response) bool {
	switch resp.StatusCode {
	case http.StatusTooManyRequests:
		return true
	case http.StatusForbidden:
		return resp.Header.Get("Retry-After") != "" || resp.Header.Get("X-Ratelimit-Remaining") == "0"
	}
	return false
}

// wait is how long an answer asks the client to wait: Retry-After, else
// x-ratelimit-reset (Unix seconds) when x-ratelimit-remaining is 0.
func wait(h http.Header, now time.Time) (time.Duration, bool) {
	if v := h.Get("Retry-After"); v != "" {
		return parseRetryAfter(v, now)
	}
	if h.Get("X-Ratelimit-Remaining") == "0" {
		if s, err := strconv.ParseInt(h.Get("X-Ratelimit-Reset"), 10, 64); err == nil {
			return max(time.Unix(s, 0).Sub(now), 0), true
		}
	}
	return 0, false
}

// parseRetryAfter parses a Retry-After value: delay-seconds or an HTTP-date.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s < 0 {
			return 0, false
		}
		if s > int64(RetryAfterCap/time.Second)*1000 {
			s = int64(RetryAfterCap/time.Second) * 1000 // no overflow; still above the cap
		}
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// Retryable reports whether a transport error is worth another attempt:
// everything but cancellation, an exhausted deadline of the caller's,
// certificate or TLS-record problems and a refused plain-HTTP request
// (ErrPlainHTTP): they will not go away. A timeout of one attempt
// (ErrTimeout) is retryable.
func Retryable(err error) bool {
	if errors.Is(err, ErrTimeout) {
		return true
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrPlainHTTP) {
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

// Backoff is the wait before retry attempt+1: 200 ms·2^attempt, capped at
// 10 s, with ±20 % jitter (writers that failed together do not retry
// together).
func Backoff(attempt int) time.Duration {
	d := base << attempt
	if d > maxWait || d <= 0 || attempt > 30 {
		d = maxWait
	}
	return Jitter(d, 0.2)
}

// Jitter returns d scaled by a random factor in [1-f, 1+f].
func Jitter(d time.Duration, f float64) time.Duration {
	return time.Duration(float64(d) * (1 - f + 2*f*rand.Float64())) //nolint:gosec // jitter, not security
}

// Sleep waits d or until ctx is done, whichever is first.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
