package testenv

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"
)

// FaultKind is a misbehaviour FaultProxy injects.
type FaultKind int

// Faults a real registry cannot be made to produce on demand.
const (
	// Fault429 answers 429 Too Many Requests with Retry-After.
	Fault429 FaultKind = iota + 1
	// Fault503 answers 503 Service Unavailable.
	Fault503
	// FaultReset reads part of the request body, then resets the TCP
	// connection (SO_LINGER 0) without answering: a reset mid-upload.
	FaultReset
	// Fault412 answers 412 Precondition Failed, as a registry that honours
	// If-Match does when another writer got there first.
	Fault412
	// FaultSubjectHeader forwards a manifest PUT and adds OCI-Subject with
	// the manifest's subject digest to the answer, like registries that send
	// the header without serving the referrers API.
	FaultSubjectHeader
	// FaultSlow forwards the request at once (the registry answers from
	// its state at arrival, and finishes the request even if the client
	// gives up meanwhile) and holds the answer back for Delay: a slow
	// response, or a response delayed on the network.
	FaultSlow
	// FaultSwallow reads the request and answers 201 Created without
	// forwarding it: an upload the registry acknowledged but does not know
	// (yet), as when concurrent uploads of one blob race in the registry.
	FaultSwallow
	// FaultRewrite forwards the request and hands the registry's answer
	// (its header, which may be changed in place, and its body) to Rewrite,
	// whose body is sent instead: a registry, or something in front of it,
	// that serves what it should not.
	FaultRewrite
	// FaultHang reads the request and never answers (until the client gives
	// up or the test ends): a remote that accepts the connection and hangs.
	FaultHang
)

// Fault is one injection rule: requests whose method equals Method (any when
// empty) and whose path matches Path get Kind, Times times (forever when
// Times < 0).
type Fault struct {
	Method     string
	Path       *regexp.Regexp
	Kind       FaultKind
	Times      int
	RetryAfter string        // Fault429's Retry-After value; "1" when empty
	Delay      time.Duration // FaultSlow's delay
	// Rewrite is FaultRewrite's change to the answer.
	Rewrite func(h http.Header, body []byte) []byte
	// Release ends FaultHold's hold when it is closed.
	Release <-chan struct{}
	// Then runs after the registry answered a request FaultHold or
	// FaultIfMatch forwarded, before the answer is relayed.
	Then func()
}

// FaultEvent records one request the proxy saw.
type FaultEvent struct {
	At       time.Time
	Method   string
	Path     string
	Injected FaultKind // 0 when forwarded
	IfMatch  string    // the request's If-Match header
	// Status is the status the proxy answered (the remote's, when
	// forwarded); 0 while unanswered, or when the connection was reset.
	Status int
}

// FaultProxy is a real HTTP reverse proxy in front of a real registry that
// misbehaves on purpose, for the fault paths of registry clients.
type FaultProxy struct {
	// Host is the proxy's 127.0.0.1:port.
	Host string

	mu     sync.Mutex
	faults []*Fault
	events []FaultEvent
}

// StartFaultProxy starts a proxy to target ("http://127.0.0.1:port"),
// closed when the test ends.
func StartFaultProxy(t testing.TB, target string) *FaultProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatalf("parsing proxy target %q: %v", target, err)
	}
	p := &FaultProxy{}
	hung := make(chan struct{}) // closed at cleanup: hanging handlers return
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ErrorLog = nil
	ts := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		f, event := p.match(r)
		w := &statusRecorder{ResponseWriter: rw}
		defer func() { p.answered(event, w.status) }()
		if f == nil {
			rp.ServeHTTP(w, r)
			return
		}
		switch f.Kind {
		case FaultSubjectHeader:
			body, _ := io.ReadAll(r.Body)
			var m struct {
				Subject struct {
					Digest string `json:"digest"`
				} `json:"subject"`
			}
			_ = json.Unmarshal(body, &m)
			r.Body = io.NopCloser(bytes.NewReader(body))
			if m.Subject.Digest != "" {
				w.Header().Set("OCI-Subject", m.Subject.Digest)
			}
			rp.ServeHTTP(w, r)
		case FaultSlow:
			rec := httptest.NewRecorder()
			rp.ServeHTTP(rec, r.WithContext(context.WithoutCancel(r.Context())))
			select {
			case <-time.After(f.Delay):
			case <-hung:
			}
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.Code)
			_, _ = w.Write(rec.Body.Bytes())
		case Fault429:
			ra := f.RetryAfter
			if ra == "" {
				ra = "1"
			}
			w.Header().Set("Retry-After", ra)
			http.Error(w, `{"errors":[{"code":"TOOMANYREQUESTS","message":"injected"}]}`, http.StatusTooManyRequests)
		case Fault503:
			http.Error(w, `{"errors":[{"code":"UNAVAILABLE","message":"injected"}]}`, http.StatusServiceUnavailable)
		case Fault412:
			http.Error(w, `{"errors":[{"code":"PRECONDITION_FAILED","message":"injected"}]}`, http.StatusPreconditionFailed)
		case FaultSwallow:
			_, _ = io.Copy(io.Discard, r.Body)
			w.WriteHeader(http.StatusCreated)
		case FaultReset:
			resetMidRequest(w, r)
		case FaultIfMatch:
			serveIfMatch(w, r, rp, u, f.Then)
		case FaultHold:
			serveHold(w, r, rp, f.Release, hung, f.Then)
		case FaultHang:
			_, _ = io.Copy(io.Discard, r.Body)
			select {
			case <-r.Context().Done():
			case <-hung:
			}
		case FaultRewrite:
			rec := httptest.NewRecorder()
			rp.ServeHTTP(rec, r)
			h := rec.Header().Clone()
			body := f.Rewrite(h, rec.Body.Bytes())
			for k, v := range h {
				w.Header()[k] = v
			}
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			w.WriteHeader(rec.Code)
			_, _ = w.Write(body)
		}
	}))
	t.Cleanup(ts.Close)
	t.Cleanup(func() { close(hung) }) // runs before ts.Close, which waits for handlers
	p.Host = ts.Listener.Addr().String()
	return p
}

// resetMidRequest reads half the request body (at least a byte), then resets
// the TCP connection (SO_LINGER 0) without answering: a reset mid-upload.
func resetMidRequest(w http.ResponseWriter, r *http.Request) {
	n := r.ContentLength / 2
	if n <= 0 {
		n = 1
	}
	_, _ = io.CopyN(io.Discard, r.Body, n)
	conn, _, err := http.NewResponseController(w).Hijack()
	if errors.Is(err, http.ErrNotSupported) {
		panic("testenv: response writer cannot be hijacked")
	}
	if err != nil {
		return
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

// Add installs a fault rule.
func (p *FaultProxy) Add(f Fault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults = append(p.faults, &f)
}

// Clear removes every fault rule.
func (p *FaultProxy) Clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults = nil
}

// Events returns the requests seen so far.
func (p *FaultProxy) Events() []FaultEvent {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]FaultEvent(nil), p.events...)
}

// Injected counts the requests that got kind (any fault when kind is 0).
func (p *FaultProxy) Injected(kind FaultKind) int {
	n := 0
	for _, e := range p.Events() {
		if e.Injected != 0 && (kind == 0 || e.Injected == kind) {
			n++
		}
	}
	return n
}

// match records the request and returns the fault it gets (nil: none) and
// the index of its event.
func (p *FaultProxy) match(r *http.Request) (*Fault, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	ev := FaultEvent{At: time.Now(), Method: r.Method, Path: r.URL.Path, IfMatch: r.Header.Get("If-Match")}
	var hit *Fault
	for _, f := range p.faults {
		if f.Times == 0 || (f.Method != "" && f.Method != r.Method) || (f.Path != nil && !f.Path.MatchString(r.URL.Path)) {
			continue
		}
		if f.Times > 0 {
			f.Times--
		}
		hit = f
		ev.Injected = f.Kind
		break
	}
	p.events = append(p.events, ev)
	return hit, len(p.events) - 1
}

// answered records the status event i was answered with.
func (p *FaultProxy) answered(i, status int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.events[i].Status = status
}

// statusRecorder is a ResponseWriter that remembers the status written.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController (ReverseProxy's flushes, the reset's
// hijack) reach the connection's writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// String names a fault kind.
func (k FaultKind) String() string {
	switch k {
	case Fault429:
		return "429"
	case Fault503:
		return "503"
	case FaultReset:
		return "reset"
	case Fault412:
		return "412"
	case FaultSubjectHeader:
		return "subject-header"
	case FaultSlow:
		return "slow"
	case FaultSwallow:
		return "swallow"
	case FaultRewrite:
		return "rewrite"
	case FaultIfMatch:
		return "if-match"
	case FaultHold:
		return "hold"
	case FaultHang:
		return "hang"
	}
	return "kind" + strconv.Itoa(int(k))
}
