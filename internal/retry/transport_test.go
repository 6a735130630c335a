package retry

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// script serves answers[i] to the i-th request (the last one from then on);
// an answer of 0 hangs until the client goes away, -1 resets the connection.
func script(t *testing.T, answers ...int) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := int(n.Add(1)) - 1
		_, _ = io.Copy(io.Discard, r.Body)
		code := answers[min(i, len(answers)-1)]
		switch code {
		case 0:
			<-r.Context().Done()
			return
		case -1:
			c, _, _ := w.(http.Hijacker).Hijack()
			c.(*net.TCPConn).SetLinger(0)
			c.Close()
			return
		case http.StatusTooManyRequests:
			w.Header().Set("Retry-After", "1")
		}
		w.WriteHeader(code)
		_, _ = io.WriteString(w, "body")
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func post(t *testing.T, tr *Transport, url string) (*http.Response, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, url, bytes.NewReader([]byte("payload")))
	if err != nil {
		t.Fatal(err)
	}
	return (&http.Client{Transport: tr}).Do(req)
}

func TestTransientFailuresAreRetried(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		answers []int
		minWait time.Duration
	}{
		{"two 503s", []int{503, 503, 200}, 0},
		{"429 with Retry-After 1", []int{429, 200}, time.Second},
		{"connection reset", []int{-1, 200}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, n := script(t, tc.answers...)
			start := time.Now()
			resp, err := post(t, &Transport{Service: "Fulcio"}, srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || string(b) != "body" || n.Load() != int64(len(tc.answers)) {
				t.Fatalf("status %d body %q after %d requests, want 200 after %d", resp.StatusCode, b, n.Load(), len(tc.answers))
			}
			if el := time.Since(start); el < tc.minWait {
				t.Fatalf("answered after %v, before the %v the server asked for", el, tc.minWait)
			}
		})
	}
}

func TestServiceDownFailsWithinTheBound(t *testing.T) {
	t.Parallel()
	srv, n := script(t, 503)
	tr := &Transport{Service: "Fulcio", FailOnStatus: true, Policy: Policy{Retries: 3}}
	_, err := post(t, tr, srv.URL+"/api/v2/signingCert?secret=1")
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v, want *Error", err)
	}
	if n.Load() != 4 || e.Attempts != 4 || e.Status != 503 {
		t.Fatalf("%d requests, error %+v; want 4 attempts ending in 503", n.Load(), e)
	}
	msg := err.Error()
	for _, want := range []string{"Fulcio", srv.Listener.Addr().String(), "/api/v2/signingCert", "503", "4 attempts"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not name %q", msg, want)
		}
	}
	if e.URL != srv.URL+"/api/v2/signingCert" {
		t.Errorf("Error.URL = %q, want it without the query", e.URL)
	}
	// A 5xx that is final at once (501) is an *Error too, after one attempt;
	// a 4xx other than 429 is the answer.
	srv501, n501 := script(t, 501)
	if _, err := post(t, tr, srv501.URL); !errors.As(err, &e) || e.Status != 501 || e.Attempts != 1 || n501.Load() != 1 {
		t.Errorf("501: err = %v after %d requests, want an *Error after 1", err, n501.Load())
	}
	srv404, _ := script(t, 404)
	if resp, err := post(t, tr, srv404.URL); err != nil || resp.StatusCode != 404 {
		t.Errorf("404: got %v, %v; want the answer", resp, err)
	} else {
		resp.Body.Close()
	}
	// Without FailOnStatus the last answer itself is returned.
	resp, err := post(t, &Transport{Policy: Policy{Retries: 1}}, srv.URL)
	if err != nil || resp.StatusCode != 503 {
		t.Fatalf("got %v, %v; want the 503 answer", resp, err)
	}
	resp.Body.Close()
}

// TestNoAnswerTimesOut: an attempt that gets no answer ends at its
// deadline, is retried, and the last one's timeout is the error, naming the
// remote and the input.
func TestNoAnswerTimesOut(t *testing.T) {
	t.Parallel()
	srv, _ := script(t, 0)
	tr := &Transport{Service: "registry", Policy: Policy{Timeout: 200 * time.Millisecond, Retries: 1, Budget: time.Hour}}
	_, err := post(t, tr, srv.URL+"/v2/")
	var e *Error
	if !errors.As(err, &e) || !errors.Is(err, ErrTimeout) || e.Timeout != 200*time.Millisecond || e.Attempts != 2 {
		t.Fatalf("err = %v, want a timeout *Error after 2 attempts", err)
	}
	// It names the remote and the deadline; the input behind the deadline
	// is the caller's to name.
	if !strings.Contains(err.Error(), "registry") || !strings.Contains(err.Error(), "within 200ms") || strings.Contains(err.Error(), "request-timeout") {
		t.Errorf("error %q does not name the remote and the deadline, or names an input", err)
	}
}

// fakeClock is a clock that moves only when told to.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// TestNoAttemptStartsAfterTheBudget, on an injected clock: every attempt
// of a service that keeps answering 503 takes 300 ms, the waits none, the
// budget is 1 s. Attempts start at 0, 0.3, 0.6 and 0.9 s; a fifth would
// start at 1.2 s, after the budget, so the request fails after four.
func TestNoAttemptStartsAfterTheBudget(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{now: time.Unix(0, 0)}
	var starts []time.Duration
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		starts = append(starts, clock.Now().Sub(time.Unix(0, 0)))
		mu.Unlock()
		clock.advance(300 * time.Millisecond)
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(srv.Close)
	tr := &Transport{
		Service: "Fulcio", FailOnStatus: true, Policy: Policy{Retries: 100, Budget: time.Second}, now: clock.Now,
		Decide: func(int, *http.Response, error) (time.Duration, error) { return 0, nil },
	}
	_, err := post(t, tr, srv.URL)
	var e *Error
	if !errors.As(err, &e) || e.Status != http.StatusServiceUnavailable || e.Attempts != 4 || e.Elapsed != 1200*time.Millisecond {
		t.Fatalf("err = %v, want an *Error after 4 attempts in 1.2s (on the injected clock)", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(starts) != 4 || starts[3] != 900*time.Millisecond {
		t.Errorf("attempts started at %v, want 0s 300ms 600ms 900ms", starts)
	}
}

// A body that keeps moving is not cut off, however long it takes in all;
// one that stops is. The body moves every 100 ms under a deadline of 1 s,
// so only a pause of 900 ms on a loaded machine could cut it off.
func TestDeadlineIsOnProgress(t *testing.T) {
	t.Parallel()
	stall := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(200)
		for range 12 {
			_, _ = io.WriteString(w, "x")
			w.(http.Flusher).Flush()
			time.Sleep(100 * time.Millisecond)
		}
		if r.URL.Path == "/stall" {
			<-stall
		}
	}))
	t.Cleanup(func() { close(stall); srv.Close() })
	tr := &Transport{Policy: Policy{Timeout: time.Second}}
	get := func(path string) ([]byte, error) {
		resp, err := (&http.Client{Transport: tr}).Get(srv.URL + path)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		return io.ReadAll(resp.Body)
	}
	if b, err := get("/"); err != nil || len(b) != 12 {
		t.Fatalf("moving body: %q, %v; want 12 bytes over ~1.2s with a 1s deadline", b, err)
	}
	b, err := get("/stall")
	if !errors.Is(err, ErrTimeout) || len(b) != 12 {
		t.Fatalf("stalled body: %q, %v; want 12 bytes then a timeout", b, err)
	}
}

func TestOnceAndUnreplayableBodiesAreSentOnce(t *testing.T) {
	t.Parallel()
	srv, n := script(t, 503, 200)
	req, _ := http.NewRequestWithContext(Once(context.Background()), http.MethodGet, srv.URL, nil)
	resp, err := (&http.Client{Transport: &Transport{}}).Do(req)
	if err != nil || resp.StatusCode != 503 || n.Load() != 1 {
		t.Fatalf("Once: %v %v after %d requests; want the 503 after 1", resp, err, n.Load())
	}
	resp.Body.Close()
	n.Store(0)
	req, _ = http.NewRequestWithContext(context.Background(), http.MethodPost, srv.URL, io.MultiReader(strings.NewReader("x")))
	resp, err = (&http.Client{Transport: &Transport{}}).Do(req)
	if err != nil || resp.StatusCode != 503 || n.Load() != 1 {
		t.Fatalf("unreplayable body: %v %v after %d requests; want the 503 after 1", resp, err, n.Load())
	}
	resp.Body.Close()
}

func TestPolicy(t *testing.T) {
	t.Parallel()
	now := time.Now()
	h := func(kv ...string) *http.Response {
		r := &http.Response{Header: http.Header{}}
		for i := 0; i+1 < len(kv); i += 2 {
			r.Header.Set(kv[i], kv[i+1])
		}
		return r
	}
	for _, tc := range []struct {
		name  string
		code  int
		resp  *http.Response
		err   error
		retry bool
	}{
		{"500", 500, h(), nil, true},
		{"501", 501, h(), nil, false},
		{"404", 404, h(), nil, false},
		{"408", 408, h(), nil, true},
		{"429 long Retry-After", 429, h("Retry-After", "3600"), nil, false},
		{"429 date", 429, h("Retry-After", now.Add(2*time.Second).UTC().Format(http.TimeFormat)), nil, true},
		{"403 plain", 403, h(), nil, false},
		{"403 rate limit with reset", 403, h("X-Ratelimit-Remaining", "0", "X-Ratelimit-Reset", "1"), nil, true},
		{"403 rate limit without time", 403, h("X-Ratelimit-Remaining", "0"), nil, false},
		{"canceled", 0, nil, context.Canceled, false},
		{"timeout", 0, nil, ErrTimeout, true},
		{"reset", 0, nil, errors.New("connection reset by peer"), true},
	} {
		if tc.resp != nil {
			tc.resp.StatusCode = tc.code
		}
		d, _ := Policy{}.Retry(0, tc.resp, tc.err)
		if (d >= 0) != tc.retry {
			t.Errorf("%s: wait %v, want retry=%v", tc.name, d, tc.retry)
		}
	}
	if d, _ := (Policy{}).Retry(DefaultRetries, h(), errors.New("x")); d >= 0 {
		t.Errorf("retry after the last attempt: %v", d)
	}
}

// TestCancelBetweenAttempts: a request cancelled while it waits for its
// next attempt ends at once, and the error still names the remote. The
// request is cancelled when the policy decides to wait 30 s: counted, it
// ends after that one attempt (a wait that ignored the cancel would end in
// a second attempt, 30 s later).
func TestCancelBetweenAttempts(t *testing.T) {
	t.Parallel()
	srv, n := script(t, 429)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tr := &Transport{Service: "Rekor", Decide: func(int, *http.Response, error) (time.Duration, error) {
		cancel()
		return 30 * time.Second, nil
	}}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	_, err := (&http.Client{Transport: tr}).Do(req)
	var e *Error
	if !errors.As(err, &e) || !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "Rekor") || e.Attempts != 1 || n.Load() != 1 {
		t.Fatalf("err = %v after %d requests, want a *retry.Error naming Rekor that is the cancel, after 1 attempt", err, n.Load())
	}
}

// TestStatus: the status rules for callers that retry at their own level
// are Retry's, without GitHub's rate-limited 403s.
func TestStatus(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		code       int
		retryAfter string
		again      bool
		wait       time.Duration
	}{
		{429, "", true, 0},
		{429, "2", true, 2 * time.Second},
		{503, "soon", true, 0},
		{429, "3600", false, time.Hour},
		{500, "", true, 0},
		{501, "", false, 0},
		{408, "", true, 0},
		{403, "5", false, 0},
		{412, "", false, 0},
	} {
		again, wait := Status(tc.code, tc.retryAfter)
		if again != tc.again || wait != tc.wait {
			t.Errorf("Status(%d, %q) = %v, %v; want %v, %v", tc.code, tc.retryAfter, again, wait, tc.again, tc.wait)
		}
	}
}
