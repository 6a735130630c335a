package sign

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
)

// TestTrustedMaterialOffline: without network access the resolver does not
// know the TUF repository's host; the root's download fails at once (one
// request, no retries), the cache is read without asking the repository
// again, and the error says so once and briefly.
func TestTrustedMaterialOffline(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	offline := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		calls.Add(1)
		return nil, &net.DNSError{Err: "no such host", Name: r.URL.Hostname(), IsNotFound: true}
	})}
	_, _, err := TrustedMaterialFrom(context.Background(), TrustOptions{Instance: InstancePublicGood, HTTPClient: offline, TUFCachePath: t.TempDir()})
	if !errors.Is(err, ErrService) || calls.Load() != 1 {
		t.Fatalf("TrustedMaterialFrom(offline) = %v after %d request(s), want ErrService after one", err, calls.Load())
	}
	msg := err.Error()
	if strings.Count(msg, "no such host") != 1 || !strings.Contains(msg, "no TUF cache at") || len(msg) > 300 {
		t.Errorf("error %q: want \"no such host\" once, the missing cache, under 300 characters", msg)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
