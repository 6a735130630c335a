package github

import (
	"fmt"
	"net/http"
	"time"

	"github.com/oci-attest/oci-attest/internal/ref"
)

// Policy decides whether a request is sent again, and after how long (a
// negative duration: not again): the method set of retry.Policy, the
// product's one policy, which serves when Options.Retry is nil.
type Policy interface {
	Retry(attempt int, resp *http.Response, err error) (time.Duration, error)
}

// schemeGuard refuses plain-HTTP requests to hosts that are not loopback. It
// sits below redirects, so a redirect cannot downgrade the API to plain HTTP.
type schemeGuard struct{ base http.RoundTripper }

// RoundTrip implements http.RoundTripper.
func (g schemeGuard) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "https" && !ref.IsLoopback(req.URL.Host) {
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
