package sign

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oci-attest/oci-attest/internal/retry"
	"github.com/sigstore/rekor/pkg/generated/client/entries"
	"github.com/sigstore/rekor/pkg/generated/models"
	sgsign "github.com/sigstore/sigstore-go/pkg/sign"
)

// flaky is a server that answers 503 to the first fails requests, then
// calls ok; it records the request bodies.
type flaky struct {
	mu     sync.Mutex
	fails  int // negative: forever
	bodies []string
	ok     http.HandlerFunc
}

func (f *flaky) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.bodies = append(f.bodies, string(b))
	fail := f.fails != 0
	if f.fails > 0 {
		f.fails--
	}
	f.mu.Unlock()
	if fail {
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return
	}
	f.ok(w, r)
}

func (f *flaky) requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.bodies...)
}

// TestTUFFetcherRetries: the TUF fetcher (go-tuf's DefaultFetcher, one try
// of its own) goes through the retry policy: two 503s, then the file; a
// repository that stays down is a *retry.Error naming the TUF repository.
func TestTUFFetcherRetries(t *testing.T) {
	t.Parallel()
	f := &flaky{fails: 2, ok: func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(`{"signed":{}}`)) }}
	srv := httptest.NewServer(f)
	defer srv.Close()
	o, err := tufOptions(context.Background(), TrustOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := o.Fetcher.DownloadFile(srv.URL+"/2.root.json", 1<<20, 0)
	if err != nil || string(b) != `{"signed":{}}` || len(f.requests()) != 3 {
		t.Fatalf("DownloadFile() = %q, %v after %d requests; want the file after 3", b, err, len(f.requests()))
	}

	down := &flaky{fails: -1}
	srv2 := httptest.NewServer(down)
	defer srv2.Close()
	o, err = tufOptions(context.Background(), TrustOptions{retries: 2})
	if err != nil {
		t.Fatal(err)
	}
	_, err = o.Fetcher.DownloadFile(srv2.URL+"/2.root.json", 1<<20, 0)
	var re *retry.Error
	if !errors.As(err, &re) || re.Service != serviceTUF || re.Status != http.StatusServiceUnavailable || re.Attempts != 3 {
		t.Errorf("DownloadFile(down) = %v, want a *retry.Error of the TUF repository, 503, 3 attempts", err)
	}
}

// TestRekorV1Retries: the Rekor v1 client (rekor's generated client without
// go-retryablehttp) goes through the retry policy and replays the POST's
// body; a log that stays down is a *retry.Error naming Rekor.
func TestRekorV1Retries(t *testing.T) {
	t.Parallel()
	created := func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("ETag", "abc")
		w.Header().Set("Location", "/api/v1/log/entries/abc")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"abc":{"body":"e30=","integratedTime":1,"logID":"00","logIndex":7}}`))
	}
	version := "0.0.1"
	entry := &models.Hashedrekord{APIVersion: &version, Spec: map[string]any{"x": 1}}
	send := func(f *flaky) (*entries.CreateLogEntryCreated, error) {
		srv := httptest.NewServer(f)
		t.Cleanup(srv.Close)
		rem := remotes{ctx: context.Background(), p: policy(0, 2)}
		hc := &http.Client{Transport: rem.transport(serviceRekor)}
		c, err := newRekorV1(srv.URL, hc, hc, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		params := entries.NewCreateLogEntryParamsWithContext(context.Background())
		params.SetProposedEntry(entry)
		return c.CreateLogEntry(params)
	}

	f := &flaky{fails: 2, ok: created}
	resp, err := send(f)
	if err != nil {
		t.Fatalf("CreateLogEntry() = %v", err)
	}
	if got := resp.Payload["abc"].LogIndex; got == nil || *got != 7 {
		t.Errorf("CreateLogEntry() = %+v, want log index 7", resp.Payload)
	}
	bodies := f.requests()
	if len(bodies) != 3 || bodies[0] == "" || bodies[1] != bodies[0] || bodies[2] != bodies[0] {
		t.Errorf("Rekor got bodies %q, want the same entry three times", bodies)
	}

	_, err = send(&flaky{fails: -1})
	var re *retry.Error
	if !errors.As(err, &re) || re.Service != serviceRekor || re.Status != http.StatusServiceUnavailable || re.Attempts != 3 {
		t.Errorf("CreateLogEntry(down) = %v, want a *retry.Error of Rekor, 503, 3 attempts", err)
	}
}

// TestCancelStopsFulcioAndTSA: cancelling the run stops sigstore-go's
// Fulcio and timestamp requests (built without a context) and the waits
// between their retries, instead of running out the policy. The run is
// cancelled while the service answers its first request (503): counted,
// the service must see no other (the policy would send 6).
func TestCancelStopsFulcioAndTSA(t *testing.T) {
	t.Parallel()
	claims := base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"someone","iss":"https://issuer.example","email":"a@example.com","email_verified":true}`))
	token := "e30." + claims + ".sig"
	kp, err := sgsign.NewEphemeralKeypair(nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, call := range map[string]func(ctx context.Context, r remotes, url string) error{
		"Fulcio": func(ctx context.Context, r remotes, url string) error {
			_, err := r.fulcio(url).GetCertificate(ctx, kp, &sgsign.CertificateProviderOptions{IDToken: token})
			return err
		},
		"timestamp authority": func(ctx context.Context, r remotes, url string) error {
			_, err := r.tsa(url+"/api/v1/timestamp").GetTimestamp(ctx, []byte("signature"))
			return err
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var requests atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				requests.Add(1)
				cancel()
				http.Error(w, "busy", http.StatusServiceUnavailable)
			}))
			t.Cleanup(srv.Close)
			err := call(ctx, Options{}.remotes(ctx), srv.URL)
			if !errors.Is(err, context.Canceled) {
				t.Errorf("error %v does not say the run was cancelled", err)
			}
			if n := requests.Load(); n != 1 {
				t.Errorf("the service saw %d requests, want 1: the cancel did not stop the retries", n)
			}
		})
	}
}

// TestRekorV1FetchesUntilIntegrated: the entry a 409 names is fetched again
// while Rekor answers 404 for it (queued, not yet integrated), within one
// request's budget; a 404 to the end is errLogNotIntegrated.
func TestRekorV1FetchesUntilIntegrated(t *testing.T) {
	t.Parallel()
	found := func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"abc":{"body":"e30=","integratedTime":1,"logID":"00","logIndex":7}}`))
	}
	fetch := func(notFound int) (*entries.GetLogEntryByUUIDOK, []string, error) {
		var mu sync.Mutex
		var got []string
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			got = append(got, r.Method+" "+r.URL.Path)
			n := len(got)
			mu.Unlock()
			if notFound < 0 || n <= notFound {
				http.Error(w, `{"code":404,"message":"not found"}`, http.StatusNotFound)
				return
			}
			found(w, r)
		}))
		t.Cleanup(srv.Close)
		rem := remotes{ctx: context.Background(), p: retry.Policy{Timeout: time.Second, Budget: 3 * time.Second}}
		c, err := rem.rekorV1Client(srv.URL, &lastAnswer{})
		if err != nil {
			t.Fatal(err)
		}
		params := entries.NewGetLogEntryByUUIDParamsWithContext(context.Background())
		params.SetEntryUUID("abc")
		resp, err := c.GetLogEntryByUUID(params)
		mu.Lock()
		defer mu.Unlock()
		return resp, got, err
	}

	resp, got, err := fetch(2)
	if err != nil || len(got) != 3 || resp.Payload["abc"].LogIndex == nil {
		t.Errorf("GetLogEntryByUUID() = %v after %q; want the entry after two 404s", err, got)
	}
	_, got, err = fetch(-1)
	if !errors.Is(err, errLogNotIntegrated) || len(got) < 3 || !strings.Contains(err.Error(), "still 404") {
		t.Errorf("GetLogEntryByUUID(404 forever) = %v after %d requests, want errLogNotIntegrated after several", err, len(got))
	}
}
