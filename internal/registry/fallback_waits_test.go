package registry

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oci-attest/oci-attest/internal/testenv"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// tagPath matches the fallback tag's manifest path.
var tagPath = regexp.MustCompile(`/manifests/sha256-`)

// tagEvents returns the proxy's requests to the fallback tag.
func tagEvents(p *testenv.FaultProxy) []testenv.FaultEvent {
	var out []testenv.FaultEvent
	for _, e := range p.Events() {
		if tagPath.MatchString(e.Path) {
			out = append(out, e)
		}
	}
	return out
}

// pushedReferrers pushes n referrers of s without touching the fallback tag
// and returns their descriptors.
func pushedReferrers(t *testing.T, c *Client, s *Subject, first, n int) []ocispec.Descriptor {
	t.Helper()
	var out []ocispec.Descriptor
	for i := range n {
		res, err := c.Attach(context.Background(), s, testBundle(first+i), AttachOptions{Mode: ModeAPI})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, res.Artifact)
	}
	return out
}

// heldWriter is writer B of the held-write tests: it reaches the registry
// of s through its own fault proxy, which holds B's first tag write until
// release is closed (the test closes it once our write has landed) and
// closes landed once the registry has taken it.
type heldWriter struct {
	release, landed chan struct{}
	done            <-chan error // B's result
}

// startHeldWriter starts writer B's update of s's fallback tag with entry,
// through a proxy of its own in front of reg (so that only our requests
// reach ours), and returns once B's first write is held there.
func startHeldWriter(t *testing.T, reg string, s *Subject, entry ocispec.Descriptor, settle time.Duration, more ...testenv.Fault) *heldWriter {
	t.Helper()
	b := &heldWriter{release: make(chan struct{}), landed: make(chan struct{})}
	proxy := testenv.StartFaultProxy(t, "http://"+reg)
	proxy.Add(testenv.Fault{Method: "PUT", Path: tagPath, Kind: testenv.FaultHold, Times: 1, Release: b.release, Then: func() { close(b.landed) }})
	for _, f := range more {
		proxy.Add(f)
	}
	bs := *s
	bs.Repository.Registry = proxy.Host
	bctx, rb := newTestClient(t, Options{}).repository(context.Background(), bs.Repository, "pull", "push")
	done := make(chan error, 1)
	go func() {
		_, err := rb.updateFallback(bctx, fallbackTag(s.Descriptor.Digest.String()), entry, settle, 0)
		done <- err
	}()
	b.done = done
	// Untimed: B's write either reaches the proxy or B ends without it.
	for proxy.Injected(testenv.FaultHold) == 0 {
		select {
		case err := <-done:
			t.Fatalf("writer B ended (%v) before its tag write was held", err)
		case <-time.After(5 * time.Millisecond):
		}
	}
	return b
}

// landAfterOurs returns a FaultRewrite rule for our proxy: after our first
// tag write has landed, B's held write lands too, before our write is
// answered; so it lands after ours and before any verification read of ours,
// however loaded the machine.
func (b *heldWriter) landAfterOurs() testenv.Fault {
	var once sync.Once
	return testenv.Fault{Method: "PUT", Path: tagPath, Kind: testenv.FaultRewrite, Times: -1, Rewrite: func(_ http.Header, body []byte) []byte {
		once.Do(b.landNow)
		return body
	}}
}

// landNow releases B's held write and waits for the registry to take it.
func (b *heldWriter) landNow() {
	close(b.release)
	<-b.landed
}

// updateAndCheck runs our update of s's fallback tag with entry, waits for
// writer B (bDone) and checks that the tag holds our entry and others.
func updateAndCheck(t *testing.T, c *Client, s *Subject, entry ocispec.Descriptor, settle time.Duration, bDone <-chan error, others ...digest.Digest) fallbackStats {
	t.Helper()
	ctx, rp := c.repository(context.Background(), s.Repository, "pull", "push")
	st, err := rp.updateFallback(ctx, fallbackTag(s.Descriptor.Digest.String()), entry, settle, 0)
	if err != nil {
		t.Fatalf("our update: %v", err)
	}
	if err := <-bDone; err != nil {
		t.Fatalf("writer B: %v", err)
	}
	got, raw := fallbackEntries(t, c, s)
	for _, d := range append([]digest.Digest{entry.Digest}, others...) {
		if !got[d] {
			t.Errorf("fallback index lacks %s: %s", d, raw)
		}
	}
	return st
}

// TestFallbackVerifyWaits: each verification read comes at least D =
// Settle/2 after the answer before it (the write's, then the first read's):
// a lower bound, seen by the proxy. The waits decided are D plus at most
// D/10 of jitter, well below the old minimum of a whole settle: checked on
// the decided waits, not timed (the machine may add any delay to them).
func TestFallbackVerifyWaits(t *testing.T) {
	t.Parallel()
	const settle = traceSettle
	reg := testenv.StartGGCR(t)
	proxy := testenv.StartFaultProxy(t, "http://"+reg.Host)
	c := newTestClient(t, Options{})
	s := resolvedSubject(t, c, proxy.Host+"/waits")
	entry := pushedReferrers(t, c, s, 1, 1)[0]
	ctx, rp := c.repository(context.Background(), s.Repository, "pull", "push")
	st, err := rp.updateFallback(ctx, fallbackTag(s.Descriptor.Digest.String()), entry, settle, 0)
	if err != nil {
		t.Fatal(err)
	}
	ev := tagEvents(proxy)
	var kinds []string
	for _, e := range ev {
		kinds = append(kinds, e.Method)
	}
	if got := strings.Join(kinds, " "); got != "GET PUT GET GET" || st.rounds != 1 {
		t.Fatalf("tag requests %q in %d rounds, want GET PUT GET GET in one", got, st.rounds)
	}
	for i := 2; i < 4; i++ {
		// The proxy sees each request after the client sent it and the
		// previous answer before the client got it: the gap it sees is a
		// lower bound of the client's wait.
		if gap := ev[i].At.Sub(ev[i-1].At); gap < settle/2 {
			t.Errorf("verification read %d came %v after the previous request, want ≥ D = %v", i-1, gap, settle/2)
		}
	}
	d := settle / 2
	if len(st.waits) != 2 {
		t.Fatalf("decided %d verification waits (%v), want 2", len(st.waits), st.waits)
	}
	for i, w := range st.waits {
		if w < d || w > d+d/10 {
			t.Errorf("verification wait %d is %v, want D = %v plus at most D/10", i+1, w, d)
		}
	}
	if got, raw := fallbackEntries(t, c, s); !got[entry.Digest] {
		t.Errorf("fallback index %s lacks our entry", raw)
	}
}

// TestFallbackWriteHeldUpToD: another writer B read the tag before our
// write, and its write, held since, lands after ours, dropping our entry.
// Our first verification read, D after our write, must see that, and our
// entry be put back. B's write lands when our write has landed, before our
// write is answered (an event, not a delay: on a loaded machine a delay
// would reorder the scenario); that the reads wait D, which covers any
// write landing within D of its read, is TestFallbackVerifyWaits's.
func TestFallbackWriteHeldUpToD(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const settle = time.Second
	reg := testenv.StartGGCR(t)
	proxy := testenv.StartFaultProxy(t, "http://"+reg.Host)
	c := newTestClient(t, Options{})
	s := resolvedSubject(t, c, proxy.Host+"/held")
	seed, err := c.Attach(ctx, s, testBundle(1), AttachOptions{Mode: ModeTag, Settle: testSettle})
	if err != nil {
		t.Fatal(err)
	}
	refs := pushedReferrers(t, c, s, 2, 2)
	b, a := refs[0], refs[1]

	bw := startHeldWriter(t, reg.Host, s, b, settle)
	proxy.Add(bw.landAfterOurs())
	st := updateAndCheck(t, c, s, a, settle, bw.done, seed.Artifact.Digest, b.Digest)
	if st.rounds < 2 {
		t.Errorf("our update took %d round(s): our verification missed B's write, which landed after ours and dropped our entry", st.rounds)
	}
}

// TestFallbackIfMatchHonoured: behind a proxy that makes the registry
// honour If-Match (FaultIfMatch: no registry the tests run does), the
// first write of an update after a read with an ETag carries the probe,
// which is refused (412); the same index is written with the real ETag and
// one verification read follows, D after it. A write after a 404 has no
// ETag to send and takes the two verification reads of the timing protocol.
func TestFallbackIfMatchHonoured(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const settle = traceSettle
	reg := testenv.StartGGCR(t)
	proxy := testenv.StartFaultProxy(t, "http://"+reg.Host)
	proxy.Add(testenv.Fault{Path: tagPath, Kind: testenv.FaultIfMatch, Times: -1})
	c := newTestClient(t, Options{})
	s := resolvedSubject(t, c, proxy.Host+"/honoured")
	first, err := c.Attach(ctx, s, testBundle(1), AttachOptions{Mode: ModeTag, Settle: settle})
	if err != nil {
		t.Fatal(err)
	}
	if first.TagIfMatch || first.TagIfMatchIgnored {
		t.Errorf("the first write (after a 404) reported the If-Match probe answered")
	}
	n := len(tagEvents(proxy))
	second, err := c.Attach(ctx, s, testBundle(2), AttachOptions{Mode: ModeTag, Settle: settle})
	if err != nil {
		t.Fatal(err)
	}
	ev := tagEvents(proxy)
	var seq []string
	for _, e := range ev {
		seq = append(seq, e.Method+" "+e.IfMatch)
	}
	if got := strings.Join(seq[:n], ", "); got != "GET , PUT , GET , GET " {
		t.Errorf("first update %q, want an unconditional write and two verification reads", got)
	}
	ev = ev[n:]
	if len(ev) != 4 || ev[0].Method != "GET" || ev[1].Method != "PUT" || ev[1].IfMatch != ifMatchProbe ||
		ev[2].Method != "PUT" || !strings.HasPrefix(ev[2].IfMatch, `"sha256:`) || ev[3].Method != "GET" {
		t.Fatalf("second update %q, want GET, PUT with the probe, PUT with the ETag, one GET", seq[n:])
	}
	if gap := ev[3].At.Sub(ev[2].At); gap < settle/2 {
		t.Errorf("the verification read came %v after the conditional write, want ≥ D = %v", gap, settle/2)
	}
	if !second.TagIfMatch || second.TagIfMatchIgnored || second.TagRounds != 1 || second.TagReads != 1 {
		t.Errorf("second update: If-Match honoured %v in %d rounds with %d verification reads, want true in 1 with 1", second.TagIfMatch, second.TagRounds, second.TagReads)
	}
	if budget := requestBudget(second); second.Requests > budget {
		t.Errorf("Attach() made %d requests, budget %d", second.Requests, budget)
	}
	got, raw := fallbackEntries(t, c, s)
	if !got[first.Artifact.Digest] || !got[second.Artifact.Digest] || len(got) != 2 {
		t.Errorf("fallback index %s, want both entries", raw)
	}
}

// TestFallbackIfMatchConcurrent: writers that all start at once on a
// registry honouring If-Match (those that read a 404 write unconditionally,
// the others conditionally, skipping a verification read) keep every entry.
func TestFallbackIfMatchConcurrent(t *testing.T) {
	t.Parallel()
	reg := testenv.StartGGCR(t)
	proxy := testenv.StartFaultProxy(t, "http://"+reg.Host)
	proxy.Add(testenv.Fault{Path: tagPath, Kind: testenv.FaultIfMatch, Times: -1})
	c := newTestClient(t, Options{})
	s := resolvedSubject(t, c, proxy.Host+"/honoured-many")
	const n = 8
	var wg sync.WaitGroup
	res := make([]*AttachResult, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res[i], errs[i] = newTestClient(t, Options{}).Attach(context.Background(), s, testBundle(200+i), AttachOptions{Mode: ModeTag, Settle: 300 * time.Millisecond})
		}()
	}
	wg.Wait()
	got, raw := fallbackEntries(t, c, s)
	honoured := 0
	for i := range n {
		if errs[i] != nil {
			t.Errorf("writer %d: %v", i, errs[i])
			continue
		}
		if res[i].TagIfMatch {
			honoured++
		}
		if !got[res[i].Artifact.Digest] {
			t.Errorf("writer %d's entry %s is missing from %s", i, res[i].Artifact.Digest, raw)
		}
	}
	t.Logf("%d of %d writers found If-Match honoured", honoured, n)
}

// TestFallbackIfMatchAfter404Write: even where If-Match is honoured, a
// writer that read a 404 has no ETag and writes unconditionally, up to D
// after its read. Here writer B read the absent tag and its write is held
// until after another writer C created the tag and we wrote conditionally
// over C's index: B's write drops both. Our one verification read, D after
// our write, must see that and put both entries back; a writer that skipped
// verification after an honoured conditional write would lose them. B's
// write lands when our conditional write has landed, before it is answered
// (an event, not a delay).
func TestFallbackIfMatchAfter404Write(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const settle = time.Second
	reg := testenv.StartGGCR(t)
	proxy := testenv.StartFaultProxy(t, "http://"+reg.Host)
	c := newTestClient(t, Options{})
	s := resolvedSubject(t, c, proxy.Host+"/honoured-404")
	refs := pushedReferrers(t, c, s, 300, 3)
	a, b, cEntry := refs[0], refs[1], refs[2]
	tag := fallbackTag(s.Descriptor.Digest.String())

	bw := startHeldWriter(t, reg.Host, s, b, settle, testenv.Fault{Path: tagPath, Kind: testenv.FaultIfMatch, Times: -1})
	// C creates the tag (one plain write) while B's write is held.
	cctx, rc := c.repository(ctx, s.Repository, "pull", "push")
	raw, err := newFallbackIndex().with(cEntry)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rc.putManifest(cctx, tag, ocispec.MediaTypeImageIndex, raw, nil); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	proxy.Add(testenv.Fault{Path: tagPath, Kind: testenv.FaultIfMatch, Times: -1, Then: func() { once.Do(bw.landNow) }})
	st := updateAndCheck(t, c, s, a, settle, bw.done, b.Digest, cEntry.Digest)
	if !st.ifMatch || st.rounds < 2 {
		t.Errorf("our update: If-Match honoured %v in %d round(s), want true in ≥ 2 (B's held write should have dropped our conditional one)", st.ifMatch, st.rounds)
	}
}
