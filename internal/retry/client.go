package retry

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"
)

// maxRedirects is how many redirects a client of NewClient follows.
const maxRedirects = 10

// ClientOptions configure NewClient. The zero value is a client for HTTPS
// remotes (plain HTTP only to loopback) under the product's policy over
// http.DefaultTransport.
type ClientOptions struct {
	// Service names the remote in errors ("registry", "Fulcio", …). Empty:
	// "server".
	Service string
	// Policy decides retries and deadlines. The zero value is the product's.
	Policy Policy
	// Decide replaces Policy.Retry's decision (Transport.Decide). Nil:
	// Policy.Retry.
	Decide func(attempt int, resp *http.Response, err error) (time.Duration, error)
	// Permanent reports a caller's errors that are never retried
	// (Transport.Permanent). Nil: none beyond Retryable's.
	Permanent func(error) bool
	// FailOnStatus turns a retryable status that outlasts the retries into
	// an *Error (Transport.FailOnStatus).
	FailOnStatus bool
	// AllowPlainHTTP allows plain HTTP to hosts that are not loopback (a
	// registry the user allowed). False: plain HTTP only to loopback
	// (127.0.0.0/8, ::1, localhost), every other request refused with a
	// *PlainHTTPError before it is sent.
	AllowPlainHTTP bool
	// PlainHTTPSentinel is the caller's sentinel a refused request also
	// matches (registry.ErrInsecure, github.ErrInsecure). Nil: ErrPlainHTTP
	// alone.
	PlainHTTPSentinel error
	// Context, when set, ends every request when it ends, whatever context
	// the client library gave the request: none (http.NewRequest, as
	// sigstore-go's Fulcio and timestamp clients and go-tuf's fetcher build
	// theirs), or only the deadline net/http derives from Background for a
	// Client.Timeout. Cancelling it also ends the waits between attempts.
	// Nil: requests keep their own context.
	Context context.Context
	// Base is the caller's client (tests, proxies): its Transport sends each
	// attempt (nil: http.DefaultTransport), its Timeout and Jar are kept,
	// and its CheckRedirect runs after the origin rule. Nil: none.
	Base *http.Client
}

// NewClient returns the http.Client of one remote. From the wire up:
// Base's transport; a guard that refuses plain HTTP to hosts that are not
// loopback (unless AllowPlainHTTP), below redirects so that a redirect
// cannot downgrade either; a Transport under Policy (retries, the watchdog
// of every attempt, the budget of the request); the binding to Context.
// Its CheckRedirect follows at most 10 redirects and drops Authorization
// and Cookie when a redirect leaves the origin (scheme, host and port) of
// the first request; net/http alone keeps them for another port of the
// same host and for subdomains.
//
// The client's Transport serves alone where a library builds its own
// client from a transport: the guard, the retries and the binding hold,
// and redirects follow the library's client.
func NewClient(o ClientOptions) *http.Client {
	c := &http.Client{}
	if o.Base != nil {
		*c = *o.Base
	}
	base := c.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	var rt http.RoundTripper = &Transport{
		Base:         guard{base: base, allowPlain: o.AllowPlainHTTP, sentinel: o.PlainHTTPSentinel},
		Policy:       o.Policy,
		Service:      o.Service,
		Decide:       o.Decide,
		Permanent:    o.Permanent,
		FailOnStatus: o.FailOnStatus,
	}
	if o.Context != nil && o.Context.Done() != nil {
		rt = &bound{ctx: o.Context, next: rt}
	}
	c.Transport = rt
	c.CheckRedirect = originRedirect(c.CheckRedirect)
	return c
}

// guard refuses plain-HTTP requests to hosts that are not loopback unless
// allowPlain (and then only http, no other scheme).
type guard struct {
	base       http.RoundTripper
	allowPlain bool
	sentinel   error
}

// RoundTrip implements http.RoundTripper.
func (g guard) RoundTrip(req *http.Request) (*http.Response, error) {
	u := req.URL
	allowed := u.Scheme == "https" || (g.allowPlain && u.Scheme == "http") || IsLoopback(u.Host)
	if !allowed {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, &PlainHTTPError{URL: u.Scheme + "://" + u.Host, Sentinel: g.sentinel}
	}
	return g.base.RoundTrip(req)
}

// IsLoopback reports whether host ("name" or "name:port") is localhost or a
// loopback address (127.0.0.0/8, ::1): the only hosts reached over plain
// HTTP without the caller's opt-in.
func IsLoopback(host string) bool {
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

// SameOrigin reports whether two URLs share scheme, host and port.
func SameOrigin(a, b *url.URL) bool {
	return a.Scheme == b.Scheme && a.Host == b.Host
}

// originRedirect follows at most maxRedirects redirects and drops
// credentials when a redirect leaves the origin of the first request; then
// it asks next, if any.
func originRedirect(next func(*http.Request, []*http.Request) error) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		if len(via) >= maxRedirects {
			return fmt.Errorf("following redirects from %s: stopped after %d", via[0].URL.Redacted(), maxRedirects)
		}
		if !SameOrigin(req.URL, via[0].URL) {
			req.Header.Del("Authorization")
			req.Header.Del("Cookie")
		}
		if next != nil {
			return next(req, via)
		}
		return nil
	}
}

// bound makes every request end when ctx does, whatever context the client
// library gave it.
type bound struct {
	ctx  context.Context
	next http.RoundTripper
}

// RoundTrip implements http.RoundTripper.
func (b *bound) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithCancelCause(req.Context())
	stop := context.AfterFunc(b.ctx, func() { cancel(context.Cause(b.ctx)) })
	release := func() { stop(); cancel(nil) }
	resp, err := b.next.RoundTrip(req.WithContext(ctx))
	if err != nil {
		release()
		return nil, err
	}
	resp.Body = &releasing{ReadCloser: resp.Body, release: release}
	return resp, nil
}

// releasing is an answer's body that releases its request's binding when
// closed.
type releasing struct {
	io.ReadCloser
	release func()
}

func (r *releasing) Close() error {
	err := r.ReadCloser.Close()
	r.release()
	return err
}
