package retry

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestIsLoopback(t *testing.T) {
	t.Parallel()
	for host, want := range map[string]bool{
		"localhost": true, "LOCALHOST:5000": true, "127.0.0.1": true, "127.3.2.1:80": true,
		"[::1]:5000": true, "::1": true, "[::1]": true,
		"10.0.0.5:5000": false, "localhost.example.com": false, "example.com:443": false,
		"[::2]:1": false, "0.0.0.0": false, "": false,
	} {
		if got := IsLoopback(host); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", host, got, want)
		}
	}
}

// anyHost is a client base whose connections all reach srv, whatever host
// the URL names: a real server behind a name that is not loopback.
func anyHost(srv *httptest.Server) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, srv.Listener.Addr().String())
	}
	return &http.Client{Transport: tr}
}

// TestGuard: plain HTTP reaches a host that is not loopback only with
// AllowPlainHTTP; loopback always; a refusal is never sent, never retried,
// and matches ErrPlainHTTP and the caller's sentinel.
func TestGuard(t *testing.T) {
	t.Parallel()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { n.Add(1) }))
	t.Cleanup(srv.Close)
	mine := errors.New("plain HTTP is only used for loopback things")
	get := func(o ClientOptions, url string) error {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
		resp, err := NewClient(o).Do(req)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}

	err := get(ClientOptions{Base: anyHost(srv), PlainHTTPSentinel: mine}, "http://registry.example:5000/v2/")
	var pe *PlainHTTPError
	if !errors.Is(err, ErrPlainHTTP) || !errors.Is(err, mine) || !errors.As(err, &pe) || pe.URL != "http://registry.example:5000" {
		t.Errorf("plain HTTP to a name = %v, want a *PlainHTTPError matching ErrPlainHTTP and the caller's sentinel", err)
	}
	if !strings.Contains(err.Error(), mine.Error()+": refusing http://registry.example:5000") {
		t.Errorf("refusal %q does not lead with the caller's sentinel and name the URL", err)
	}
	if n.Load() != 0 {
		t.Errorf("the refused request reached the server (%d requests)", n.Load())
	}
	if err := get(ClientOptions{Base: anyHost(srv)}, "http://10.0.0.5/"); !errors.Is(err, ErrPlainHTTP) || errors.Is(err, mine) {
		t.Errorf("plain HTTP to an address = %v, want ErrPlainHTTP alone", err)
	}
	if Retryable(err) {
		t.Error("a refused plain-HTTP request is retryable")
	}
	if err := get(ClientOptions{}, srv.URL); err != nil || n.Load() != 1 {
		t.Errorf("plain HTTP to loopback = %v after %d requests, want it sent once", err, n.Load())
	}
	if err := get(ClientOptions{Base: anyHost(srv), AllowPlainHTTP: true}, "http://registry.example:5000/v2/"); err != nil || n.Load() != 2 {
		t.Errorf("plain HTTP allowed = %v after %d requests, want it sent", err, n.Load())
	}
	// Decide would retry anything: the refusal is still sent once, not at all.
	always := func(int, *http.Response, error) (time.Duration, error) { return 0, nil }
	if err := get(ClientOptions{Base: anyHost(srv), Decide: always}, "http://registry.example/"); !errors.Is(err, ErrPlainHTTP) || n.Load() != 2 {
		t.Errorf("with a Decide that retries everything: %v after %d requests, want the refusal and none sent", err, n.Load())
	}
}

// TestRedirectCannotDowngrade: an HTTPS remote redirecting to plain HTTP on
// another host is refused before anything is sent there.
func TestRedirectCannotDowngrade(t *testing.T) {
	t.Parallel()
	var plain atomic.Int64
	target := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { plain.Add(1) }))
	t.Cleanup(target.Close)
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://fulcio.example"+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	t.Cleanup(tlsSrv.Close)
	// TLS to the redirector, and every other connection to the plain server.
	base := tlsSrv.Client()
	tr := base.Transport.(*http.Transport).Clone()
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if addr == tlsSrv.Listener.Addr().String() {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		}
		return (&net.Dialer{}).DialContext(ctx, network, target.Listener.Addr().String())
	}
	base.Transport = tr
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, tlsSrv.URL+"/api/v2/signingCert", strings.NewReader("csr"))
	req.Header.Set("Authorization", "Bearer token")
	_, err := NewClient(ClientOptions{Service: "Fulcio", Base: base}).Do(req)
	if !errors.Is(err, ErrPlainHTTP) || !strings.Contains(err.Error(), "http://fulcio.example") {
		t.Errorf("redirect to plain HTTP = %v, want ErrPlainHTTP naming http://fulcio.example", err)
	}
	if plain.Load() != 0 {
		t.Errorf("the plain-HTTP target received %d requests", plain.Load())
	}
}

// seen records the credentials each request arrived with.
type seen struct {
	mu   sync.Mutex
	auth []string
}

func (s *seen) add(r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.auth = append(s.auth, r.Header.Get("Authorization")+"|"+r.Header.Get("Cookie"))
}

func (s *seen) last() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.auth[len(s.auth)-1]
}

// TestRedirectsKeepCredentialsInTheirOrigin: a redirect within the first
// request's origin keeps Authorization and Cookie, one to another origin
// (another port of the same host) drops both, and the caller's own
// CheckRedirect still runs; the eleventh redirect is not followed.
func TestRedirectsKeepCredentialsInTheirOrigin(t *testing.T) {
	t.Parallel()
	var other, home seen
	otherSrv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { other.add(r) }))
	t.Cleanup(otherSrv.Close)
	var homeURL string
	homeSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/cross":
			http.Redirect(w, r, otherSrv.URL+"/landing", http.StatusFound)
		case "/same":
			http.Redirect(w, r, homeURL+"/landing", http.StatusFound)
		case "/loop":
			http.Redirect(w, r, "/loop", http.StatusFound)
		default:
			home.add(r)
		}
	}))
	t.Cleanup(homeSrv.Close)
	homeURL = homeSrv.URL
	var asked atomic.Int64
	c := NewClient(ClientOptions{Base: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error {
		asked.Add(1)
		return nil
	}}})
	get := func(path string) error {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, homeSrv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer secret")
		req.Header.Set("Cookie", "session=secret")
		resp, err := c.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	if err := get("/same"); err != nil || home.last() != "Bearer secret|session=secret" {
		t.Errorf("same-origin redirect: %v, credentials %q; want both kept", err, home.last())
	}
	if err := get("/cross"); err != nil || other.last() != "|" {
		t.Errorf("cross-origin redirect: %v, credentials %q; want none", err, other.last())
	}
	if asked.Load() != 2 {
		t.Errorf("the caller's CheckRedirect ran %d times, want 2", asked.Load())
	}
	if err := get("/loop"); err == nil || !strings.Contains(err.Error(), "stopped after 10") {
		t.Errorf("redirect loop: %v, want stopped after 10", err)
	}
}

// TestContextBindsRequestsWithoutOne: a request built without a context
// (http.NewRequest, as sigstore-go's clients do) ends when the client's
// Context does, with the context's error.
func TestContextBindsRequestsWithoutOne(t *testing.T) {
	t.Parallel()
	srv, _ := script(t, 0) // hangs until the client goes away
	ctx, cancel := context.WithCancel(context.Background())
	// One attempt with a 10s deadline: without the binding, Do ends in
	// ErrTimeout, not the cancellation.
	c := NewClient(ClientOptions{Service: "timestamp authority", Context: ctx, Policy: Policy{Timeout: 10 * time.Second, Retries: -1}})
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil) //nolint:noctx // the point: a library's request without one
	done := make(chan error, 1)
	go func() {
		resp, err := c.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	time.Sleep(100 * time.Millisecond)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Do() after the run's cancel = %v, want context.Canceled", err)
	}
}
