package retry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// onceKey marks a context whose requests are sent once.
type onceKey struct{}

// Once returns a context whose requests a Transport sends only once (still
// with the attempt deadline): for callers that retry at their own level,
// from fresh state (the fallback tag's read–merge–write).
func Once(ctx context.Context) context.Context {
	return context.WithValue(ctx, onceKey{}, true)
}

func isOnce(ctx context.Context) bool {
	v, _ := ctx.Value(onceKey{}).(bool)
	return v
}

// Transport sends requests through Base under Policy: every attempt has a
// progress deadline, retryable answers and errors are retried after the
// policy's wait while the request's total budget allows, and a request
// whose body cannot be replayed (no GetBody) is sent once. It is an
// http.RoundTripper, so it serves any client library that takes a transport.
type Transport struct {
	// Base sends each attempt. Nil: http.DefaultTransport.
	Base http.RoundTripper
	// Policy decides retries and deadlines. The zero value is the product's.
	Policy Policy
	// Service names the remote in errors ("registry", "Fulcio", …). Empty:
	// "server".
	Service string
	// Decide replaces Policy.Retry's decision (tests that must not wait).
	// Deadlines and the budget stay Policy's. Nil: Policy.Retry.
	Decide func(attempt int, resp *http.Response, err error) (time.Duration, error)
	// Permanent reports errors not worth retrying beyond those Retryable
	// already refuses (ErrPlainHTTP among them): a package's own sentinels,
	// even where Decide would retry them. Nil: none.
	Permanent func(error) bool
	// FailOnStatus turns a retryable status still answered by the last
	// attempt (5xx, 429, …), and any 5xx or 429 that is final at once (501,
	// a Retry-After beyond RetryAfterCap), into an *Error instead of
	// returning the answer: for client code that mishandles such answers
	// (sigstore-go v1.3.0's Fulcio and timestamp clients close the body of
	// every 5xx and 429 and then read it, reporting "http: read on closed
	// response body").
	FailOnStatus bool

	// now is the clock the budget and Error.Elapsed are measured on (tests
	// of the budget; attempt deadlines and waits stay real). Nil: time.Now.
	now func() time.Time
}

// clock returns the time on t's clock.
func (t *Transport) clock() time.Time {
	if t.now != nil {
		return t.now()
	}
	return time.Now()
}

// Error is a request that failed after its attempts: it timed out, ended
// in a transport error, or (FailOnStatus) kept answering a retryable status.
type Error struct {
	Service  string
	Method   string
	URL      string // without query or credentials
	Attempts int
	Elapsed  time.Duration
	// Timeout is the attempt deadline when the last attempt timed out.
	Timeout time.Duration
	// Status is the last answer's status code when it was a retryable status.
	Status int
	// Err is the last attempt's error (ErrTimeout for a timeout), nil for a
	// status.
	Err error
}

func (e *Error) Error() string {
	// The method and URL are not repeated: net/http's url.Error around
	// every client error already starts with them.
	where := e.Service + " " + host(e.URL)
	n := "1 attempt"
	if e.Attempts != 1 {
		n = fmt.Sprintf("%d attempts", e.Attempts)
	}
	switch {
	case e.Timeout > 0:
		return fmt.Sprintf("%s did not answer within %v (%s in %v)", where, e.Timeout, n, e.Elapsed.Round(time.Millisecond))
	case e.Err == nil:
		return fmt.Sprintf("%s answered HTTP %d %s (%s in %v)", where, e.Status, http.StatusText(e.Status), n, e.Elapsed.Round(time.Millisecond))
	}
	return fmt.Sprintf("%s: %v (%s in %v)", where, e.Err, n, e.Elapsed.Round(time.Millisecond))
}

func (e *Error) Unwrap() error { return e.Err }

// host is the host of a URL string, or the string.
func host(s string) string {
	if u, err := url.Parse(s); err == nil && u.Host != "" {
		return u.Host
	}
	return s
}

// redact drops credentials, query and fragment from a URL for errors (an
// upload location's query holds the registry's upload state).
func redact(u *url.URL) string {
	c := *u
	c.User, c.RawQuery, c.ForceQuery, c.Fragment, c.RawFragment = nil, "", false, "", ""
	return c.String()
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	start := t.clock()
	replayable := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
	once := isOnce(req.Context()) || !replayable
	for attempt := 0; ; attempt++ {
		r := req
		if attempt > 0 && req.Body != nil && req.Body != http.NoBody {
			body, err := req.GetBody()
			if err != nil {
				return nil, t.fail(req, attempt, start, nil, fmt.Errorf("rewinding the request body: %w", err))
			}
			r = req.Clone(req.Context())
			r.Body = body
		}
		resp, err := t.attempt(r)
		wait := time.Duration(-1)
		if !once && (err == nil || !t.permanent(err)) {
			decide := t.Policy.Retry
			if t.Decide != nil {
				decide = t.Decide
			}
			wait, _ = decide(attempt, resp, err)
		}
		if wait >= 0 && t.clock().Sub(start)+wait > t.Policy.budget() {
			wait = -1
		}
		if wait < 0 {
			if err != nil {
				if attempt == 0 && !errors.Is(err, ErrTimeout) {
					return nil, err // a single plain failure keeps its own words
				}
				return nil, t.fail(req, attempt+1, start, nil, err)
			}
			if t.FailOnStatus {
				// Every answer of the retryable kind fails here, a final one
				// too (501, a Retry-After beyond the cap).
				if again, _, _ := verdict(resp.StatusCode, resp.Header, true, time.Now()); again || resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
					drain(resp)
					return nil, t.fail(req, attempt+1, start, resp, nil)
				}
			}
			if b, ok := resp.Body.(*body); ok {
				b.attempts, b.start = attempt+1, start
			}
			return resp, nil
		}
		if resp != nil {
			drain(resp)
		}
		if err := Sleep(req.Context(), wait); err != nil {
			return nil, t.fail(req, attempt+1, start, nil, err) // cancelled between attempts: still say where
		}
	}
}

// fail builds the *Error of a request that ends after attempts.
func (t *Transport) fail(req *http.Request, attempts int, start time.Time, resp *http.Response, err error) error {
	e := &Error{Service: t.service(), Method: req.Method, URL: redact(req.URL), Attempts: attempts, Elapsed: t.clock().Sub(start), Err: err}
	if resp != nil {
		e.Status = resp.StatusCode
	}
	if errors.Is(err, ErrTimeout) {
		e.Timeout = t.Policy.timeout()
	}
	return e
}

// permanent reports an error no attempt can cure: a refused plain-HTTP
// request, or one of Permanent's.
func (t *Transport) permanent(err error) bool {
	return errors.Is(err, ErrPlainHTTP) || (t.Permanent != nil && t.Permanent(err))
}

func (t *Transport) service() string {
	if t.Service != "" {
		return t.Service
	}
	return "server"
}

// drain reads a little of an answer not used and closes it, so the
// connection can be reused.
func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}

// errDeadline is the cancellation cause of an attempt whose watchdog fired.
var errDeadline = errors.New("attempt deadline")

// attempt sends r once under a watchdog that cancels it when neither the
// request body is read, nor headers arrive, nor the answer's body is read
// for the policy's timeout.
func (t *Transport) attempt(r *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithCancelCause(r.Context())
	w := newWatchdog(t.Policy.timeout(), func() { cancel(errDeadline) })
	r = r.Clone(ctx)
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = &progress{ReadCloser: r.Body, w: w}
	}
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	resp, err := base.RoundTrip(r)
	if err != nil {
		w.stop()
		timedOut := errors.Is(context.Cause(ctx), errDeadline)
		cancel(nil)
		if timedOut {
			return nil, fmt.Errorf("%w: %w", ErrTimeout, err)
		}
		return nil, err
	}
	w.kick()
	resp.Body = &body{ReadCloser: resp.Body, w: w, ctx: ctx, cancel: cancel, t: t, req: r, attempts: 1, start: t.clock()}
	return resp, nil
}

// watchdog calls fire when kick has not been called for timeout.
type watchdog struct {
	mu      sync.Mutex
	timer   *time.Timer
	timeout time.Duration
	stopped bool
}

func newWatchdog(timeout time.Duration, fire func()) *watchdog {
	return &watchdog{timer: time.AfterFunc(timeout, fire), timeout: timeout}
}

// kick restarts the countdown.
func (w *watchdog) kick() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.stopped {
		w.timer.Reset(w.timeout)
	}
}

// stop ends the countdown for good.
func (w *watchdog) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopped = true
	w.timer.Stop()
}

// progress is a request body whose reads (the upload moving) kick the
// watchdog.
type progress struct {
	io.ReadCloser
	w *watchdog
}

func (p *progress) Read(b []byte) (int, error) {
	n, err := p.ReadCloser.Read(b)
	if n > 0 {
		p.w.kick()
	}
	return n, err
}

// body is an answer's body whose reads kick the watchdog; a read cut off by
// the watchdog fails with an *Error naming the timeout.
type body struct {
	io.ReadCloser
	w        *watchdog
	ctx      context.Context
	cancel   context.CancelCauseFunc
	t        *Transport
	req      *http.Request
	attempts int
	start    time.Time
}

func (b *body) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		b.w.kick()
	}
	switch {
	case errors.Is(err, io.EOF):
		b.w.stop()
	case err != nil && errors.Is(context.Cause(b.ctx), errDeadline):
		err = b.t.fail(b.req, b.attempts, b.start, nil, fmt.Errorf("%w: reading the answer: %w", ErrTimeout, err))
	}
	return n, err
}

func (b *body) Close() error {
	b.w.stop()
	err := b.ReadCloser.Close()
	b.cancel(nil)
	return err
}
