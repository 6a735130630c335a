package testenv

import (
	"io"
	"log"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"testing"

	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	"github.com/olareg/olareg"
	olaregconfig "github.com/olareg/olareg/config"

	"github.com/oci-attest/oci-attest/internal/ref"
)

// StartOlareg runs olareg v0.1.2 in memory: a registry with the referrers
// API and the OCI-Subject header. It stops when the test ends.
func StartOlareg(t testing.TB) Registry {
	t.Helper()
	s := olareg.New(olaregconfig.Config{
		Storage: olaregconfig.ConfigStorage{StoreType: olaregconfig.StoreMem},
		Log:     slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	ts := httptest.NewUnstartedServer(s)
	ts.Config.ErrorLog = log.New(io.Discard, "", 0) // olareg v0.1.2 writes a superfluous WriteHeader on single-POST uploads
	ts.Start()
	t.Cleanup(func() { ts.Close(); _ = s.Close() })
	return Registry{Name: "olareg", Host: HostOf(t, ts.URL), URL: ts.URL, API: true}
}

// StartGGCR runs go-containerregistry's pkg/registry: a registry without the
// referrers API (404), which needs the fallback tag. It stops when the test
// ends.
func StartGGCR(t testing.TB) Registry {
	t.Helper()
	ts := httptest.NewServer(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(ts.Close)
	return Registry{Name: "ggcr", Host: HostOf(t, ts.URL), URL: ts.URL, API: false}
}

// InProcessRegistries starts one registry of each mode (every
// push test runs against both): olareg with the referrers API, ggcr without.
func InProcessRegistries(t testing.TB) []Registry {
	t.Helper()
	return []Registry{StartOlareg(t), StartGGCR(t)}
}

// HostOf is the host:port of URL u.
func HostOf(t testing.TB, u string) string {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	return p.Host
}

// PutManifest PUTs raw as repo:reference with mediaType on the registry at
// host over plain HTTP, bypassing every client: tests use it to place
// manifests our code would never write (hand-made indexes, foreign tags).
func PutManifest(t testing.TB, host, repo, reference, mediaType string, raw []byte) {
	t.Helper()
	if err := putManifest(host, repo, reference, mediaType, raw); err != nil {
		t.Fatal(err)
	}
}

// Ref parses an image reference with the product's one parser, failing the
// test if it does not parse.
func Ref(t testing.TB, s string) ref.Reference {
	t.Helper()
	r, err := ref.Parse(s)
	if err != nil {
		t.Fatalf("ref.Parse(%q) = %v", s, err)
	}
	return r
}
