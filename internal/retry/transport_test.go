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

func TestNoAnswerTimesOut(t *testing.T) {
	srv, n := script(t, 0)
	tr := &Transport{Service: "registry", Policy: Policy{Timeout: 200 * time.Millisecond, Budget: time.Second}}
	start := time.Now()
	_, err := post(t, tr, srv.URL+"/v2/")
	el := time.Since(start)
	var e *Error
	if !errors.As(err, &e) || !errors.Is(err, ErrTimeout) || e.Timeout != 200*time.Millisecond {
		t.Fatalf("err = %v, want a timeout *Error", err)
	}
	// It names the remote and the deadline; the input behind the deadline
	// is the caller's to name.
	if !strings.Contains(err.Error(), "registry") || !strings.Contains(err.Error(), "within 200ms") || strings.Contains(err.Error(), "request-timeout") {
		t.Errorf("error %q does not name the remote and the deadline, or names an input", err)
	}
	// Attempts are retried within the budget, and no attempt starts after it.
	if n.Load() < 2 || el > 2*time.Second {
		t.Fatalf("%d attempts in %v; want ≥2 within the 1s budget plus one timeout", n.Load(), el)
	}
}

// A body that keeps moving is not cut off, however long it takes in all;
// one that stops is.
func TestDeadlineIsOnProgress(t *testing.T) {
	stall := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(200)
		for range 8 {
			_, _ = io.WriteString(w, "x")
			w.(http.Flusher).Flush()
			time.Sleep(100 * time.Millisecond)
		}
		if r.URL.Path == "/stall" {
			<-stall
		}
	}))
	t.Cleanup(func() { close(stall); srv.Close() })
	tr := &Transport{Policy: Policy{Timeout: 300 * time.Millisecond}}
	get := func(path string) ([]byte, error) {
		resp, err := (&http.Client{Transport: tr}).Get(srv.URL + path)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		return io.ReadAll(resp.Body)
	}
	if b, err := get("/"); err != nil || len(b) != 8 {
		t.Fatalf("moving body: %q, %v; want 8 bytes over ~800ms with a 300ms deadline", b, err)
	}
	b, err := get("/stall")
	if !errors.Is(err, ErrTimeout) || len(b) != 8 {
		t.Fatalf("stalled body: %q, %v; want 8 bytes then a timeout", b, err)
	}
}

func TestOnceAndUnreplayableBodiesAreSentOnce(t *testing.T) {
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
// next attempt ends at once, and the error still names the remote.
func TestCancelBetweenAttempts(t *testing.T) {
	srv, _ := script(t, 429) // Retry-After: 1
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	start := time.Now()
	_, err := (&http.Client{Transport: &Transport{Service: "Rekor"}}).Do(req)
	if el := time.Since(start); el > 900*time.Millisecond {
		t.Fatalf("returned after %v, want at the cancel (200ms), not after the 1s wait", el)
	}
	var e *Error
	if !errors.As(err, &e) || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "Rekor") {
		t.Fatalf("err = %v, want a *retry.Error naming Rekor that is the deadline", err)
	}
}

// TestStatus: the status rules for callers that retry at their own level
// are Retry's, without GitHub's rate-limited 403s.
func TestStatus(t *testing.T) {
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
