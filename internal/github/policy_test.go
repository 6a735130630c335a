package github

import (
	"errors"
	"net/http"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/oci-attest/oci-attest/internal/retry"
)

// TestPolicy holds the retry decisions of the shared policy (internal/retry) the stand-in cannot show: GitHub's
// rate-limited 403s (secondary limits with Retry-After, the primary limit
// with x-ratelimit-reset) against a plain 403.
func TestPolicy(t *testing.T) {
	t.Parallel()
	resp := func(code int, h ...string) *http.Response {
		r := &http.Response{StatusCode: code, Header: http.Header{}}
		for i := 0; i+1 < len(h); i += 2 {
			r.Header.Set(h[i], h[i+1])
		}
		return r
	}
	// The reset is 30 s ahead, so the wait is 29–30 s when computed at
	// once and stays above 20 s however slowly this test reaches it.
	reset := strconv.FormatInt(time.Now().Add(30*time.Second).Unix(), 10)
	for _, tc := range []struct {
		name     string
		attempt  int
		resp     *http.Response
		err      error
		min, max time.Duration // max < 0: not retried
	}{
		{"403 without a rate limit", 0, resp(403), nil, 0, -1},
		{"403 with Retry-After", 0, resp(403, "Retry-After", "2"), nil, 2 * time.Second, 2 * time.Second},
		{"403 at the primary limit", 0, resp(403, "X-Ratelimit-Remaining", "0", "X-Ratelimit-Reset", reset), nil, 20 * time.Second, 30 * time.Second},
		{"403 at the primary limit, no reset", 0, resp(403, "X-Ratelimit-Remaining", "0"), nil, 0, -1},
		{"429 without Retry-After backs off", 1, resp(429), nil, 320 * time.Millisecond, 480 * time.Millisecond},
		{"429 asking for too long", 0, resp(429, "Retry-After", "61"), nil, 0, -1},
		{"500", 0, resp(500), nil, 160 * time.Millisecond, 240 * time.Millisecond},
		{"501 is final", 0, resp(501), nil, 0, -1},
		{"422 is final", 0, resp(422), nil, 0, -1},
		{"a reset", 2, nil, syscall.ECONNRESET, 640 * time.Millisecond, 960 * time.Millisecond},
		{"the last attempt", retry.DefaultRetries, resp(500), nil, 0, -1},
	} {
		d, err := retry.Policy{}.Retry(tc.attempt, tc.resp, tc.err)
		switch {
		case err != nil:
			t.Errorf("%s: Retry() error = %v", tc.name, err)
		case tc.max < 0 && d >= 0:
			t.Errorf("%s: retried after %v, want no retry", tc.name, d)
		case tc.max >= 0 && (d < tc.min || d > tc.max):
			t.Errorf("%s: retry after %v, want %v to %v", tc.name, d, tc.min, tc.max)
		}
	}
	if !errors.Is(&APIError{StatusCode: 403, RateLimited: true}, ErrRateLimited) || errors.Is(&APIError{StatusCode: 403, RateLimited: true}, ErrForbidden) {
		t.Error("a rate-limited 403 must be ErrRateLimited, not ErrForbidden")
	}
}
