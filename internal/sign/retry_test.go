package sign_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/oci-attest/oci-attest/internal/retry"
	"github.com/oci-attest/oci-attest/internal/sign"
	"github.com/oci-attest/oci-attest/internal/testenv"
)

// proxied is a local stack with a fault proxy in front of each of its
// services and of the Actions token endpoint.
type proxied struct {
	s                           *testenv.Sigstore
	fulcio, rekor, tsa, token   *testenv.FaultProxy
	fulcioURL, rekorURL, tsaURL string
	tokenURL                    string
}

// behind starts a fault proxy in front of u and returns it with u's URL
// through it (same path and query).
func behind(t *testing.T, u string) (*testenv.FaultProxy, string) {
	t.Helper()
	pu, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	p := testenv.StartFaultProxy(t, pu.Scheme+"://"+pu.Host)
	pu.Host = p.Host
	return p, pu.String()
}

func startProxied(t *testing.T) *proxied {
	t.Helper()
	s := testenv.StartSigstore(t, testenv.SigstoreOptions{Rekor: true, TSA: true})
	p := &proxied{s: s}
	p.fulcio, p.fulcioURL = behind(t, s.FulcioURL)
	p.rekor, p.rekorURL = behind(t, s.RekorURL)
	p.tsa, p.tsaURL = behind(t, s.TSAURL)
	p.token, p.tokenURL = behind(t, s.ActionsTokenURL)
	return p
}

// options signs through the proxies.
func (p *proxied) options() sign.Options {
	o := customOptions(p.s)
	o.FulcioURL, o.RekorURL, o.TSAURL = p.fulcioURL, p.rekorURL, p.tsaURL
	o.Getenv = p.s.ActionsEnv(map[string]string{"ACTIONS_ID_TOKEN_REQUEST_URL": p.tokenURL})
	return o
}

func (p *proxied) clear() {
	for _, f := range []*testenv.FaultProxy{p.fulcio, p.rekor, p.tsa, p.token} {
		f.Clear()
	}
}

// TestSignSurvivesBlips: two 503s, a 429 with Retry-After: 1 and a
// connection reset at Fulcio, Rekor v2, the timestamp authority and the
// Actions token endpoint, each before the service answers: Sign succeeds,
// the faults were met (the requests were retried), and cosign verifies the
// bundle. Without the retry policy under sigstore-go's clients every case
// but the token endpoint's fails (issue 18).
func TestSignSurvivesBlips(t *testing.T) {
	t.Parallel()
	p := startProxied(t)
	type target struct {
		name   string
		proxy  *testenv.FaultProxy
		method string
		path   string
	}
	targets := []target{
		{"Fulcio", p.fulcio, http.MethodPost, "/api/v2/signingCert"},
		{"Rekor v2", p.rekor, http.MethodPost, "/api/v2/log/entries"},
		{"timestamp authority", p.tsa, http.MethodPost, "/api/v1/timestamp"},
		{"token endpoint", p.token, http.MethodGet, ""},
	}
	faults := []struct {
		name    string
		fault   testenv.Fault
		atLeast time.Duration
	}{
		{"two 503s", testenv.Fault{Kind: testenv.Fault503, Times: 2}, 0},
		{"429 Retry-After 1", testenv.Fault{Kind: testenv.Fault429, Times: 1, RetryAfter: "1"}, time.Second},
		{"connection reset", testenv.Fault{Kind: testenv.FaultReset, Times: 1}, 0},
	}
	id := []string{"--certificate-identity", p.s.Identity(), "--certificate-oidc-issuer", p.s.IssuerURL}
	for _, tg := range targets {
		for _, f := range faults {
			t.Run(tg.name+"/"+f.name, func(t *testing.T) {
				p.clear()
				rule := f.fault
				rule.Method = tg.method
				if tg.path != "" {
					rule.Path = regexp.MustCompile("^" + regexp.QuoteMeta(tg.path) + "$")
				}
				tg.proxy.Add(rule)
				st, digest := testStatement(t, tg.name+f.name)
				begin := time.Now()
				res, err := sign.Sign(context.Background(), st, p.options())
				took := time.Since(begin)
				if err != nil {
					t.Fatalf("Sign() with %s at %s = %v", f.name, tg.name, err)
				}
				if got := tg.proxy.Injected(f.fault.Kind); got != f.fault.Times {
					t.Errorf("%s got %d injected faults, want %d (the request was not retried?)", tg.name, got, f.fault.Times)
				}
				if took < f.atLeast {
					t.Errorf("Sign() took %v, want at least %v (Retry-After not honoured)", took, f.atLeast)
				}
				t.Logf("Sign() took %v", took)
				if res.LogIndex < 0 || len(res.Timestamps) != 1 {
					t.Errorf("Sign() = log index %d, %d timestamps; want an entry and a timestamp", res.LogIndex, len(res.Timestamps))
				}
				if out, err := cosignVerify(t, p.s, res.Bundle, digest, append(id, cosignFlags(res)...)...); err != nil {
					t.Fatalf("cosign verify-blob-attestation = %v\n%s", err, out)
				}
			})
		}
	}
}

// TestSignServiceStaysDown: a service that answers 503 forever, or never
// answers, fails the run after the bounded retries with an error naming the
// service, its URL, the last status (or the attempt deadline) and the
// attempts.
func TestSignServiceStaysDown(t *testing.T) {
	t.Parallel()
	p := startProxied(t)
	st, _ := testStatement(t, "down")
	for _, tc := range []struct {
		service string
		proxy   *testenv.FaultProxy
		url     string // the request's URL, as the error names it
	}{
		{"Fulcio", p.fulcio, p.fulcioURL + "/api/v2/signingCert"},
		{"Rekor", p.rekor, p.rekorURL + "/api/v2/log/entries"},
		{"timestamp authority", p.tsa, p.tsaURL},
		{"GitHub Actions ID token endpoint", p.token, strings.Split(p.tokenURL, "?")[0]},
	} {
		t.Run(tc.service+" 503 forever", func(t *testing.T) {
			p.clear()
			tc.proxy.Add(testenv.Fault{Kind: testenv.Fault503, Times: -1})
			begin := time.Now()
			res, err := sign.Sign(context.Background(), st, sign.WithRetries(p.options(), 2))
			took := time.Since(begin)
			t.Logf("Sign() = %v after %v", err, took)
			if res != nil || err == nil {
				t.Fatalf("Sign() = %v, %v; want a failure", res, err)
			}
			var re *retry.Error
			if !errors.As(err, &re) || re.Service != tc.service || re.Status != http.StatusServiceUnavailable || re.Attempts != 3 {
				t.Errorf("Sign() = %#v, want a *retry.Error for %s, 503, 3 attempts", err, tc.service)
			}
			for _, w := range []string{tc.service, tc.url, "HTTP 503", "3 attempts"} {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Sign() = %q, want it to name %q", err, w)
				}
			}
			if strings.Count(err.Error(), tc.url) != 1 {
				t.Errorf("Sign() = %q names the URL more than once", err)
			}
			if want := sign.ErrService; tc.proxy == p.token {
				if !errors.Is(err, sign.ErrTokenRequest) {
					t.Errorf("Sign() = %v, want ErrTokenRequest", err)
				}
			} else if !errors.Is(err, want) {
				t.Errorf("Sign() = %v, want ErrService", err)
			}
			// The bound is counted, not timed: three attempts (two retries)
			// reached the service, and the error says so.
			if n := tc.proxy.Injected(testenv.Fault503); n != 3 {
				t.Errorf("%s saw %d requests, want 3", tc.service, n)
			}
		})
	}

	for _, tc := range []struct {
		service string
		proxy   *testenv.FaultProxy
	}{
		{"Fulcio", p.fulcio},
		{"timestamp authority", p.tsa},
		{"Rekor", p.rekor},
	} {
		t.Run(tc.service+" hangs", func(t *testing.T) {
			p.clear()
			tc.proxy.Add(testenv.Fault{Kind: testenv.FaultHang, Method: http.MethodPost, Times: -1})
			opts := sign.WithRetries(p.options(), 1)
			opts.RequestTimeout = time.Second
			begin := time.Now()
			_, err := sign.Sign(context.Background(), st, opts)
			took := time.Since(begin)
			t.Logf("Sign() = %v after %v", err, took)
			var re *retry.Error
			if !errors.As(err, &re) || re.Service != tc.service || re.Attempts != 2 || !errors.Is(err, retry.ErrTimeout) || re.Timeout != time.Second {
				t.Fatalf("Sign() = %v, want a timeout of %s after 2 attempts of request-timeout 1s (the policy's deadline, not a library's)", err, tc.service)
			}
			// The deadline, not the input behind it: the command layer
			// names request-timeout.
			for _, w := range []string{tc.service, "within 1s", "2 attempts"} {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Sign() = %q, want it to name %q", err, w)
				}
			}
			// Two attempts of 1 s each: a lower bound (an upper one would
			// fail on a loaded machine; the attempts are counted above).
			if took < 2*time.Second {
				t.Errorf("Sign() took %v, less than the two attempts of 1 s", took)
			}
		})
	}
}

// TestSignRekorV2LostAnswer: Rekor v2 takes the entry but its answer comes
// after request-timeout, so the POST is sent again and answered 409 (the
// entry exists). Sign signs once more, which logs a different signature,
// and the bundle verifies. request-timeout is 5 s and the answer 15 s late:
// margins a loaded machine does not eat (Rekor's own wait for the entry to
// be logged took over 1 s at a load of 30 on two cores).
func TestSignRekorV2LostAnswer(t *testing.T) {
	t.Parallel()
	p := startProxied(t)
	entries := regexp.MustCompile(`^/api/v2/log/entries$`)
	p.rekor.Add(testenv.Fault{Kind: testenv.FaultSlow, Method: http.MethodPost, Path: entries, Times: 1, Delay: 15 * time.Second})
	opts := p.options()
	opts.RequestTimeout = 5 * time.Second
	st, digest := testStatement(t, "lost answer")
	res, err := sign.Sign(context.Background(), st, opts)
	if err != nil {
		t.Fatalf("Sign() = %v", err)
	}
	var posts []int
	for _, e := range p.rekor.Events() {
		if e.Method == http.MethodPost {
			posts = append(posts, e.Status)
		}
	}
	// The slow POST (its entry lands), the retry (409), the second
	// signature's POST (201): a Rekor v2 cannot serve the entry it holds,
	// so sign signs again where Rekor v1's entry is fetched
	// (TestSignRekorV1Stalls).
	if len(posts) != 3 || posts[1] != http.StatusConflict || posts[2] != http.StatusCreated {
		t.Errorf("Rekor answered POSTs %v, want the slow one, the retried one 409 and the second signature's 201", posts)
	}
	for _, e := range p.rekor.Events() {
		if e.Method == http.MethodGet {
			t.Errorf("Rekor v2 was asked %s %s: nothing is fetched after its 409", e.Method, e.Path)
		}
	}
	if fulcio := len(p.fulcio.Events()); fulcio != 1 {
		t.Errorf("Fulcio saw %d requests, want 1 (the certificate is reused)", fulcio)
	}
	id := []string{"--certificate-identity", p.s.Identity(), "--certificate-oidc-issuer", p.s.IssuerURL}
	if out, err := cosignVerify(t, p.s, res.Bundle, digest, append(id, cosignFlags(res)...)...); err != nil {
		t.Fatalf("cosign verify-blob-attestation = %v\n%s", err, out)
	}
}
