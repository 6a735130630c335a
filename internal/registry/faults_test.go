package registry

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oci-attest/oci-attest/internal/retry"
	"github.com/oci-attest/oci-attest/internal/testenv"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// TestFaultsTransient puts a misbehaving proxy in front of each real
// registry: a 429 with Retry-After on the manifest PUT, a 503 on the first
// blob upload, a connection reset in the middle of the bundle upload and of
// the fallback-tag write. Attach survives all of them.
func TestFaultsTransient(t *testing.T) {
	t.Parallel()
	for _, reg := range testenv.InProcessRegistries(t) {
		t.Run(reg.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			proxy := testenv.StartFaultProxy(t, "http://"+reg.Host)
			c := newTestClient(t, Options{})
			s := resolvedSubject(t, c, proxy.Host+"/transient")
			proxy.Add(testenv.Fault{Method: "POST", Path: regexp.MustCompile(`/blobs/uploads/$`), Kind: testenv.Fault503, Times: 1})
			proxy.Add(testenv.Fault{Method: "POST", Path: regexp.MustCompile(`/blobs/uploads/$`), Kind: testenv.FaultReset, Times: 1})
			proxy.Add(testenv.Fault{Method: "PUT", Path: regexp.MustCompile(`/manifests/sha256:`), Kind: testenv.Fault429, Times: 1, RetryAfter: "1"})
			proxy.Add(testenv.Fault{Method: "PUT", Path: regexp.MustCompile(`/manifests/sha256-`), Kind: testenv.FaultReset, Times: 1})
			res, err := c.Attach(ctx, s, testBundle(3), AttachOptions{Mode: ModeTag, Settle: testSettle})
			if err != nil {
				t.Fatalf("Attach() through transient faults = %v", err)
			}
			for _, k := range []testenv.FaultKind{testenv.Fault503, testenv.Fault429, testenv.FaultReset} {
				if proxy.Injected(k) == 0 {
					t.Errorf("fault %v was never injected", k)
				}
			}
			if got := proxy.Injected(testenv.FaultReset); got != 2 {
				t.Errorf("%d resets injected, want 2", got)
			}
			// Retry-After: 1 was honoured.
			ev := proxy.Events()
			for i, e := range ev {
				if e.Injected != testenv.Fault429 {
					continue
				}
				for _, next := range ev[i+1:] {
					if next.Method == e.Method && next.Path == e.Path {
						if d := next.At.Sub(e.At); d < 900*time.Millisecond {
							t.Errorf("retried %s %s after %v, Retry-After was 1s", e.Method, e.Path, d)
						}
						break
					}
				}
			}
			got, raw := fallbackEntries(t, c, s)
			if !got[res.Artifact.Digest] || len(got) != 1 {
				t.Errorf("fallback index %s, want our entry", raw)
			}
		})
	}
}

// TestFaultsPersistent: a registry that keeps failing makes Attach fail
// with an error naming the remote, after a bounded number of requests
// (counted: at most the policy's attempts in each of the fallback tag's
// rounds), and the fallback index keeps every entry it had.
func TestFaultsPersistent(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		fault testenv.Fault
		want  string
	}{
		{"503 on tag write", testenv.Fault{Method: "PUT", Path: regexp.MustCompile(`/manifests/sha256-`), Kind: testenv.Fault503, Times: -1}, "503"},
		{"reset on tag write", testenv.Fault{Method: "PUT", Path: regexp.MustCompile(`/manifests/sha256-`), Kind: testenv.FaultReset, Times: -1}, "sha256-"},
		{"429 on tag read", testenv.Fault{Method: "GET", Path: regexp.MustCompile(`/manifests/sha256-`), Kind: testenv.Fault429, Times: -1, RetryAfter: "0"}, "429"},
		{"retry-after too long", testenv.Fault{Method: "PUT", Path: regexp.MustCompile(`/manifests/sha256:`), Kind: testenv.Fault429, Times: -1, RetryAfter: "3600"}, "429"},
		{"reset on every upload", testenv.Fault{Method: "POST", Path: regexp.MustCompile(`/blobs/uploads/$`), Kind: testenv.FaultReset, Times: -1}, "blob"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			reg := testenv.StartGGCR(t)
			proxy := testenv.StartFaultProxy(t, "http://"+reg.Host)
			c := newTestClient(t, Options{})
			s := resolvedSubject(t, c, proxy.Host+"/persistent")
			var had []string
			for i := range 2 {
				res, err := c.Attach(ctx, s, testBundle(10+i), AttachOptions{Mode: ModeTag, Settle: testSettle})
				if err != nil {
					t.Fatalf("seeding Attach() = %v", err)
				}
				had = append(had, res.Artifact.Digest.String())
			}
			proxy.Add(tc.fault)
			_, err := c.Attach(ctx, s, testBundle(99), AttachOptions{Mode: ModeTag, Settle: testSettle})
			if err == nil {
				t.Fatalf("Attach() through a persistent %s = nil error", tc.name)
			}
			if !strings.Contains(err.Error(), proxy.Host) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Attach() error %q does not name the registry %s and %q", err, proxy.Host, tc.want)
			}
			if n, limit := proxy.Injected(tc.fault.Kind), (retry.DefaultRetries+1)*fallbackAttempts; n == 0 || n > limit {
				t.Errorf("the fault was injected %d times, want 1 to %d (the policy's attempts in each round)", n, limit)
			}
			proxy.Clear()
			got, raw := fallbackEntries(t, c, s)
			for _, d := range had {
				if !got[digestOf(d)] {
					t.Errorf("fallback index %s lost %s", raw, d)
				}
			}
			t.Logf("error: %v", err)
		})
	}
}

// TestFallbackIfMatch: against distribution (which serves an ETag and
// ignores If-Match) the first tag write of an update carries the If-Match
// probe, later ones the ETag of the read they merged. Here the proxy
// answers 412 twice: to the probe (so the registry looks as if it honoured
// If-Match) and to the write with the ETag that follows it, which sends the
// writer back to a fresh read; the entry lands.
func TestFallbackIfMatch(t *testing.T) {
	if testing.Short() {
		t.Skip("runs distribution")
	}
	t.Parallel()
	ctx := context.Background()
	reg := testenv.StartDistribution(t)
	proxy := testenv.StartFaultProxy(t, "http://"+reg.Host)
	c := newTestClient(t, Options{})
	s := resolvedSubject(t, c, proxy.Host+"/ifmatch")
	first, err := c.Attach(ctx, s, testBundle(1), AttachOptions{Mode: ModeTag, Settle: traceSettle})
	if err != nil {
		t.Fatal(err)
	}
	proxy.Add(testenv.Fault{Method: "PUT", Path: regexp.MustCompile(`/manifests/sha256-`), Kind: testenv.Fault412, Times: 2})
	second, err := c.Attach(ctx, s, testBundle(2), AttachOptions{Mode: ModeTag, Settle: traceSettle})
	if err != nil {
		t.Fatalf("Attach() after a 412 = %v", err)
	}
	var puts []testenv.FaultEvent
	for _, e := range proxy.Events() {
		if e.Method == "PUT" && strings.Contains(e.Path, "/manifests/sha256-") {
			puts = append(puts, e)
		}
	}
	if len(puts) != 4 || puts[1].Injected != testenv.Fault412 || puts[2].Injected != testenv.Fault412 || puts[3].Injected != 0 {
		t.Fatalf("tag writes %+v, want the seed write, the probe (412), a write with the ETag (412) and a retried write", puts)
	}
	if puts[0].IfMatch != "" || puts[1].IfMatch != ifMatchProbe {
		t.Errorf("tag writes sent If-Match %q and %q, want none (the tag was absent) and the probe", puts[0].IfMatch, puts[1].IfMatch)
	}
	for _, e := range puts[2:] {
		if !strings.HasPrefix(e.IfMatch, `"sha256:`) {
			t.Errorf("tag write sent If-Match %q, want the ETag distribution served", e.IfMatch)
		}
	}
	if !second.TagIfMatch || second.TagRounds != 2 || second.TagReads != defaultVerifyReads {
		t.Errorf("second update: If-Match honoured %v in %d rounds with %d verification reads, want true in 2 with %d", second.TagIfMatch, second.TagRounds, second.TagReads, defaultVerifyReads)
	}
	// Round 2's write came after no refused probe (distribution ignores
	// If-Match; the 412s were the proxy's): it is not taken for a
	// compare-and-swap and is verified with both reads.
	reads := 0
	for _, e := range proxy.Events() {
		if e.At.After(puts[3].At) && e.Method == "GET" && strings.Contains(e.Path, "/manifests/sha256-") {
			reads++
		}
	}
	if reads != defaultVerifyReads {
		t.Errorf("%d verification reads after the last write, want %d", reads, defaultVerifyReads)
	}
	if first.TagIfMatch || first.TagIfMatchIgnored || second.TagIfMatchIgnored {
		t.Errorf("If-Match ignored: first update (a new tag, no probe) %v, second (probe refused) %v; want false, false", first.TagIfMatchIgnored, second.TagIfMatchIgnored)
	}
	// Without the proxy's 412s, distribution's own answer to the probe
	// shows that it ignores If-Match.
	third, err := c.Attach(ctx, s, testBundle(3), AttachOptions{Mode: ModeTag, Settle: traceSettle})
	if err != nil {
		t.Fatal(err)
	}
	if third.TagIfMatch || !third.TagIfMatchIgnored || third.TagReads != defaultVerifyReads {
		t.Errorf("third update: If-Match honoured %v, ignored %v, %d verification reads; want false, true, %d", third.TagIfMatch, third.TagIfMatchIgnored, third.TagReads, defaultVerifyReads)
	}
	got, raw := fallbackEntries(t, c, s)
	if !got[first.Artifact.Digest] || !got[second.Artifact.Digest] || !got[third.Artifact.Digest] || len(got) != 3 {
		t.Errorf("fallback index %s, want all three entries", raw)
	}
}

// TestSubjectHeaderWithoutAPI: a registry that answers OCI-Subject but does
// not serve the referrers API (404) still gets the fallback tag, within the
// request budget.
func TestSubjectHeaderWithoutAPI(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	reg := testenv.StartGGCR(t)
	proxy := testenv.StartFaultProxy(t, "http://"+reg.Host)
	c := newTestClient(t, Options{})
	s := resolvedSubject(t, c, proxy.Host+"/header-only")
	proxy.Add(testenv.Fault{Method: "PUT", Path: regexp.MustCompile(`/manifests/sha256:`), Kind: testenv.FaultSubjectHeader, Times: -1})
	res, err := c.Attach(ctx, s, testBundle(1), AttachOptions{Settle: testSettle})
	if err != nil {
		t.Fatalf("Attach() = %v", err)
	}
	if proxy.Injected(testenv.FaultSubjectHeader) != 1 {
		t.Fatalf("OCI-Subject was added %d times, want 1", proxy.Injected(testenv.FaultSubjectHeader))
	}
	if res.API || res.ReferrersTag == "" || !strings.Contains(res.Reason, "referrers API answered 404") {
		t.Errorf("Attach() = API %v tag %q reason %q, want the fallback tag because the API answered 404", res.API, res.ReferrersTag, res.Reason)
	}
	if budget := requestBudget(res); res.Requests > budget {
		t.Errorf("Attach() made %d requests in %d tag round(s), budget %d", res.Requests, res.TagRounds, budget)
	}
	t.Logf("requests=%d reason: %s", res.Requests, res.Reason)
	if got, raw := fallbackEntries(t, c, s); !got[res.Artifact.Digest] {
		t.Errorf("fallback index %s lacks %s", raw, res.Artifact.Digest)
	}
}

// TestFallbackWriteDeadlineFromRead: the fallback-tag PUT must land within
// Settle/2 of the moment the registry answered the read it merged, not of
// the moment the answer arrived: a read answered slowly (here held back for
// longer than Settle/2) must not lead to a write based on it. Checked on
// the order of the requests, not their times: no PUT follows the slow read
// without a fresh read between them.
func TestFallbackWriteDeadlineFromRead(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// Settle is generous so that an ordinary round on a loaded machine
	// stays well within Settle/2.
	const settle = time.Second
	reg := testenv.StartGGCR(t)
	proxy := testenv.StartFaultProxy(t, "http://"+reg.Host)
	c := newTestClient(t, Options{})
	s := resolvedSubject(t, c, proxy.Host+"/slowread")
	proxy.Add(testenv.Fault{Method: "GET", Path: regexp.MustCompile(`/manifests/sha256-`), Kind: testenv.FaultSlow, Times: 1, Delay: settle * 3 / 4})
	res, err := c.Attach(ctx, s, testBundle(5), AttachOptions{Mode: ModeTag, Settle: settle})
	if err != nil {
		t.Fatalf("Attach() = %v", err)
	}
	if proxy.Injected(testenv.FaultSlow) != 1 {
		t.Fatalf("the slow read was not injected")
	}
	var lastRead testenv.FaultEvent
	puts := 0
	for _, e := range proxy.Events() {
		if !strings.Contains(e.Path, "/manifests/sha256-") {
			continue
		}
		switch e.Method {
		case "GET":
			lastRead = e
		case "PUT":
			puts++
			if lastRead.Injected == testenv.FaultSlow {
				t.Errorf("a fallback PUT followed the read answered after Settle/2 without a fresh read")
			}
		}
	}
	if puts == 0 {
		t.Errorf("no fallback PUT reached the registry")
	}
	got, raw := fallbackEntries(t, c, s)
	if !got[res.Artifact.Digest] {
		t.Errorf("fallback index %s, want our entry", raw)
	}
}

// TestFallbackWeakETag: a registry behind a proxy that weakens ETags (nginx
// does when it compresses a response) and that honours If-Match with the
// strong comparison RFC 9110 requires answers 412 to every If-Match carrying
// the weak ETag. The tag write must not send it (and falls back to the
// timing protocol) rather than fail every round.
func TestFallbackWeakETag(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	reg := testenv.StartGGCR(t)
	target, err := url.Parse("http://" + reg.Host)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	var mu sync.Mutex
	var ifMatch []string
	rp.ModifyResponse = func(resp *http.Response) error {
		if resp.Request.Method == http.MethodGet && strings.Contains(resp.Request.URL.Path, "/manifests/sha256-") && resp.StatusCode == http.StatusOK {
			resp.Header.Set("ETag", `W/"weak-1"`)
		}
		return nil
	}
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if im := r.Header.Get("If-Match"); im != "" {
			mu.Lock()
			ifMatch = append(ifMatch, im)
			mu.Unlock()
			if strings.HasPrefix(im, "W/") { // strong comparison: a weak tag never matches
				http.Error(w, `{"errors":[{"code":"PRECONDITION_FAILED"}]}`, http.StatusPreconditionFailed)
				return
			}
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	c := newTestClient(t, Options{})
	s := resolvedSubject(t, c, testenv.HostOf(t, front.URL)+"/weaketag")
	opts := AttachOptions{Mode: ModeTag, Settle: testSettle}
	first, err := c.Attach(ctx, s, testBundle(1), opts)
	if err != nil {
		t.Fatal(err)
	}
	second, err := c.Attach(ctx, s, testBundle(2), opts) // reads the tag: a weak ETag
	if err != nil {
		t.Fatalf("Attach() against a weak ETag = %v", err)
	}
	mu.Lock()
	for _, im := range ifMatch {
		t.Errorf("tag write sent If-Match %q, a weak ETag", im)
	}
	mu.Unlock()
	got, raw := fallbackEntries(t, c, s)
	if !got[first.Artifact.Digest] || !got[second.Artifact.Digest] || len(got) != 2 {
		t.Errorf("fallback index %s, want both entries", raw)
	}
}

// TestFallbackLateWriteRestoresSeenEntries: a tag write the client gave up
// on (its deadline passed while the registry was still busy with it) can
// still land later, carrying the stale index it was merged from. Here it
// lands after the writer's next round merged another writer's entry B and
// before its verification: the index then lacks B, an entry the writer
// itself read. The writer must notice and put B back rather than report
// success over an index that lost it.
func TestFallbackLateWriteRestoresSeenEntries(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const settle = time.Second
	reg := testenv.StartGGCR(t)
	c := newTestClient(t, Options{})
	s := resolvedSubject(t, c, reg.Host+"/latewrite")
	seed, err := c.Attach(ctx, s, testBundle(1), AttachOptions{Mode: ModeTag, Settle: testSettle})
	if err != nil {
		t.Fatal(err)
	}
	at := s.Repository
	rctx, rp := c.repository(ctx, at, "pull", "push")
	tag := fallbackTag(s.Descriptor.Digest.String())
	// Writer B's referrer is pushed; its tag entry comes later.
	b, err := c.Attach(ctx, s, testBundle(3), AttachOptions{Mode: ModeAPI})
	if err != nil {
		t.Fatal(err)
	}
	other := b.Artifact

	var once sync.Once
	late := make(chan struct{})
	stuck := make(chan *http.Request, 1)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		held := false
		if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/sha256-") {
			once.Do(func() {
				held = true
				// Writer B gets in while this write is stuck.
				idx, _, err := rp.readFallback(rctx, tag)
				if err == nil {
					var raw []byte
					if raw, err = idx.with(other); err == nil {
						_, err = rp.putManifest(rctx, tag, ocispec.MediaTypeImageIndex, raw, nil)
					}
				}
				if err != nil {
					t.Errorf("writer B: %v", err)
				}
			})
		}
		req, _ := http.NewRequestWithContext(context.Background(), r.Method, "http://"+reg.Host+r.URL.RequestURI(), bytes.NewReader(body))
		req.Header = r.Header.Clone()
		if held {
			// The registry commits the stuck write long after the
			// client stopped waiting for it (at D = Settle/2): after the
			// writer's next write, before that write is answered (so
			// before any verification read of the writer's), however
			// loaded the machine.
			stuck <- req
			<-r.Context().Done()
			return
		}
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err == nil && r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/sha256-") {
			select {
			case old := <-stuck:
				if resp, err := http.DefaultTransport.RoundTrip(old); err == nil {
					resp.Body.Close()
				}
				close(late)
			default:
			}
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	}))
	t.Cleanup(front.Close)

	fs := *s
	fs.Repository = testenv.Ref(t, testenv.HostOf(t, front.URL)+"/latewrite")
	res, err := c.Attach(ctx, &fs, testBundle(2), AttachOptions{Mode: ModeTag, Settle: settle})
	if err != nil {
		t.Fatalf("Attach() = %v", err)
	}
	select {
	case <-late:
	default:
		t.Fatalf("the stuck write had not landed when Attach returned")
	}
	got, raw := fallbackEntries(t, c, s)
	for _, d := range []digest.Digest{seed.Artifact.Digest, other.Digest, res.Artifact.Digest} {
		if !got[d] {
			t.Errorf("fallback index lacks %s: %s", d, raw)
		}
	}
}
