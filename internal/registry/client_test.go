package registry

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	"github.com/oci-attest/oci-attest/internal/oci"
	"github.com/oci-attest/oci-attest/internal/ref"
	"github.com/oci-attest/oci-attest/internal/retry"
	"github.com/oci-attest/oci-attest/internal/testenv"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/registry/remote/auth"
)

const (
	testUser = "oci-user"
	testPass = "s3cret-pass"
)

// authRegistry is a real registry (ggcr) behind Basic auth whose blob GETs
// redirect to a storage server on another port of the same host, the way
// registries hand blobs to object storage. The storage server records the
// Authorization headers it receives.
type authRegistry struct {
	host    string
	mu      sync.Mutex
	leaked  []string // Authorization headers seen by storage
	storage string
}

func startAuthRegistry(t *testing.T) *authRegistry {
	t.Helper()
	inner := httptest.NewServer(ggcrregistry.New(ggcrregistry.Logger(discardLogger())))
	t.Cleanup(inner.Close)
	ar := &authRegistry{}
	storage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ar.mu.Lock()
		ar.leaked = append(ar.leaked, r.Header.Get("Authorization"))
		ar.mu.Unlock()
		// Serve the blob from the registry's storage (the inner registry).
		resp, err := http.Get(inner.URL + strings.TrimPrefix(r.URL.Path, "/storage"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	}))
	t.Cleanup(storage.Close)
	ar.storage = storage.URL
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != testUser || p != testPass {
			w.Header().Set("WWW-Authenticate", `Basic realm="oci-attest-test"`)
			http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, http.StatusUnauthorized)
			return
		}
		if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/sha256:") {
			http.Redirect(w, r, storage.URL+"/storage"+r.URL.Path, http.StatusTemporaryRedirect)
			return
		}
		req, _ := http.NewRequestWithContext(r.Context(), r.Method, inner.URL+r.URL.RequestURI(), r.Body)
		req.Header = r.Header.Clone()
		req.ContentLength = r.ContentLength
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, v := range resp.Header {
			if k == "Location" && strings.HasPrefix(v[0], inner.URL) {
				v = []string{strings.TrimPrefix(v[0], inner.URL)}
			}
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	}))
	t.Cleanup(front.Close)
	ar.host = testenv.HostOf(t, front.URL)
	return ar
}

// dockerConfig writes a config.json with auths for host and returns its dir.
func dockerConfig(t *testing.T, body string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

func basicAuthConfig(t *testing.T, host string) string {
	auth := base64.StdEncoding.EncodeToString([]byte(testUser + ":" + testPass))
	return dockerConfig(t, fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, host, auth))
}

// TestCredentialsAndRedirect: credentials come from the Docker config; a
// blob redirect to another origin (here another port of 127.0.0.1, which
// net/http alone would send the header to) gets no Authorization.
func TestCredentialsAndRedirect(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ar := startAuthRegistry(t)
	repository := ar.host + "/secret/app"

	// Anonymous: a clear error that says what to do.
	anon := newTestClient(t, Options{})
	if _, _, err := anon.FetchManifest(ctx, testenv.Ref(t, repository), "v1"); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("anonymous FetchManifest() = %v, want ErrUnauthorized (the command layer adds the login advice)", err)
	}

	c := newTestClient(t, Options{DockerConfig: basicAuthConfig(t, ar.host)})
	bundle := testBundle(42)
	desc := ocispec.Descriptor{MediaType: BundleMediaType, Digest: digestFromBytes(bundle), Size: int64(len(bundle))}
	at := testenv.Ref(t, repository)
	pctx, rp := c.repository(ctx, at, auth.ActionPull, auth.ActionPush)
	if err := rp.pushBlob(pctx, desc, bundle); err != nil {
		t.Fatalf("pushBlob() with Docker config credentials = %v", err)
	}
	got, err := c.FetchBlob(ctx, testenv.Ref(t, repository), desc)
	if err != nil || string(got) != string(bundle) {
		t.Fatalf("FetchBlob() through the redirect = %q, %v", got, err)
	}
	ar.mu.Lock()
	leaked := append([]string(nil), ar.leaked...)
	ar.mu.Unlock()
	if len(leaked) == 0 {
		t.Fatalf("the blob GET was not redirected to storage")
	}
	for _, h := range leaked {
		if h != "" {
			t.Errorf("storage on another origin received Authorization %q", h)
		}
	}

	// The control: net/http's own redirect policy forwards the header to
	// another port of the same host, which retry.NewClient's redirect rule prevents.
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+ar.host+"/v2/secret/app/blobs/"+desc.Digest.String(), nil)
	req.SetBasicAuth(testUser, testPass)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	ar.mu.Lock()
	last := ar.leaked[len(ar.leaked)-1]
	ar.mu.Unlock()
	if last == "" {
		t.Logf("net/http did not forward Authorization across ports either")
	}
}

func TestScheme(t *testing.T) {
	t.Parallel()
	cases := []struct {
		registry string
		insecure bool
		want     string
	}{
		{"ghcr.io", false, "https"},
		{"localhost:5000", false, "http"},
		{"localhost", false, "http"},
		{"127.0.0.1:5000", false, "http"},
		{"127.3.2.1:80", false, "http"},
		{"[::1]:5000", false, "http"},
		{"10.0.0.5:5000", false, "https"},
		{"localhost.example.com:5000", false, "https"},
		{"registry.internal:5000", true, "http"},
	}
	for _, tc := range cases {
		r := repo{c: &Client{allowInsecure: tc.insecure}}
		r.ref = ref.Reference{Registry: tc.registry, Repository: "app"}
		if got := r.scheme(); got != tc.want {
			t.Errorf("scheme(%q, insecure=%v) = %q, want %q", tc.registry, tc.insecure, got, tc.want)
		}
	}
}

// TestPlainHTTPRefused: a loopback registry redirecting to plain HTTP on
// another host is refused before any connection is made.
func TestPlainHTTPRefused(t *testing.T) {
	t.Parallel()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://192.0.2.1/v2/app/manifests/v1", http.StatusTemporaryRedirect)
	}))
	t.Cleanup(ts.Close)
	c := newTestClient(t, Options{})
	_, _, err := c.FetchManifest(context.Background(), testenv.Ref(t, testenv.HostOf(t, ts.URL)+"/app"), "v1")
	// The refusal names the host; the input that allows it is the command
	// layer's to name.
	if !errors.Is(err, ErrInsecure) || !errors.Is(err, retry.ErrPlainHTTP) || !strings.Contains(err.Error(), "refusing http://192.0.2.1") || strings.Contains(err.Error(), "allow-insecure-registry") {
		t.Errorf("FetchManifest(redirect to plain HTTP) = %v, want ErrInsecure naming the host and no input", err)
	}
}

func TestRetryPolicy(t *testing.T) {
	t.Parallel()
	now := time.Now()
	resp := func(code int, retryAfter string) *http.Response {
		h := http.Header{}
		if retryAfter != "" {
			h.Set("Retry-After", retryAfter)
		}
		return &http.Response{StatusCode: code, Header: h}
	}
	cases := []struct {
		name     string
		attempt  int
		resp     *http.Response
		err      error
		min, max time.Duration // max < 0: not retried
	}{
		{"429 seconds", 0, resp(429, "2"), nil, 2 * time.Second, 2 * time.Second},
		// 30 s ahead (whole seconds): 29–30 s at once, above 20 s however
		// slowly this test reaches the case.
		{"429 date", 0, resp(429, now.Add(30*time.Second).UTC().Format(http.TimeFormat)), nil, 20 * time.Second, 30 * time.Second},
		{"429 too long", 0, resp(429, "3600"), nil, 0, -1},
		{"429 no header", 0, resp(429, ""), nil, 150 * time.Millisecond, 250 * time.Millisecond},
		{"503", 1, resp(503, ""), nil, 300 * time.Millisecond, 500 * time.Millisecond},
		{"500", 0, resp(500, ""), nil, 150 * time.Millisecond, 250 * time.Millisecond},
		{"501", 0, resp(501, ""), nil, 0, -1},
		{"404", 0, resp(404, ""), nil, 0, -1},
		{"reset", 0, nil, &os.SyscallError{Syscall: "read", Err: syscall.ECONNRESET}, 150 * time.Millisecond, 250 * time.Millisecond},
		{"eof", 0, nil, io.ErrUnexpectedEOF, 150 * time.Millisecond, 250 * time.Millisecond},
		{"canceled", 0, nil, context.Canceled, 0, -1},
		{"exhausted", retry.DefaultRetries, resp(503, ""), nil, 0, -1},
	}
	for _, tc := range cases {
		d, err := retry.Policy{}.Retry(tc.attempt, tc.resp, tc.err)
		if err != nil {
			t.Errorf("%s: Retry() error = %v", tc.name, err)
		}
		if tc.max < 0 {
			if d >= 0 {
				t.Errorf("%s: Retry() = %v, want no retry", tc.name, d)
			}
			continue
		}
		if d < tc.min || d > tc.max {
			t.Errorf("%s: Retry() = %v, want %v..%v", tc.name, d, tc.min, tc.max)
		}
	}
	// The registry's own sentinels are never retried, by the transport or
	// by the fallback tag's rounds.
	for _, err := range []error{ErrInsecure, fmt.Errorf("x: %w", oci.ErrDigestMismatch)} {
		if ok, _ := transient(err); ok || !permanent(err) {
			t.Errorf("%v: transient = %v, permanent = %v; want never retried", err, ok, permanent(err))
		}
	}
}

func TestCredentialFunc(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := dockerConfig(t, fmt.Sprintf(`{"auths":{"registry.example":{"auth":%q}}}`, base64.StdEncoding.EncodeToString([]byte("u:p"))))
	for _, tc := range []struct {
		host, token, actor string
		want               auth.Credential
	}{
		{"registry.example", "tok", "", auth.Credential{Username: "u", Password: "p"}},
		{"ghcr.io", "tok", "octocat", auth.Credential{Username: "octocat", Password: "tok"}},
		{"ghcr.io", "tok", "", auth.Credential{Username: "oci-attest", Password: "tok"}},
		{"ghcr.io", "", "", auth.EmptyCredential},
		{"other.example", "tok", "", auth.EmptyCredential},
	} {
		c, err := New(Options{DockerConfig: dir, GitHubToken: tc.token, Getenv: func(k string) string {
			if k == "GITHUB_ACTOR" {
				return tc.actor
			}
			return ""
		}})
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.auth.Credential(ctx, tc.host)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("credential(%s, token %q) (-want +got):\n%s", tc.host, tc.token, diff)
		}
	}
	// The Docker config ghcr.io entry wins over the token.
	dir = dockerConfig(t, fmt.Sprintf(`{"auths":{"ghcr.io":{"auth":%q}}}`, base64.StdEncoding.EncodeToString([]byte("cfg:pw"))))
	c, _ := New(Options{DockerConfig: dir, GitHubToken: "tok"})
	if got, _ := c.auth.Credential(ctx, "ghcr.io"); got.Username != "cfg" {
		t.Errorf("credential(ghcr.io) = %q, want the Docker config entry", got.Username)
	}
	// DOCKER_CONFIG through Getenv.
	c, _ = New(Options{Getenv: func(k string) string {
		if k == "DOCKER_CONFIG" {
			return dir
		}
		return ""
	}})
	if got, _ := c.auth.Credential(ctx, "ghcr.io"); got.Username != "cfg" {
		t.Errorf("credential(ghcr.io) with DOCKER_CONFIG = %q, want the Docker config entry", got.Username)
	}
	// A credsStore whose helper is not installed (the action's image has
	// none): ghcr.io falls back to the token; other hosts get the error.
	dir = dockerConfig(t, `{"credsStore":"oci-attest-no-such-helper"}`)
	c, _ = New(Options{DockerConfig: dir, GitHubToken: "tok"})
	if got, err := c.auth.Credential(ctx, "ghcr.io"); err != nil || got.Password != "tok" {
		t.Errorf("credential(ghcr.io, missing helper) = %+v, %v; want the GitHub token", got, err)
	}
	if _, err := c.auth.Credential(ctx, "registry.example"); err == nil || !strings.Contains(err.Error(), "docker config") {
		t.Errorf("credential(registry.example, missing helper) error = %v, want it to name the docker config", err)
	}
	if _, err := New(Options{DockerConfig: dockerConfig(t, "{not json")}); err == nil || !strings.Contains(err.Error(), "config.json") {
		t.Errorf("New(malformed config.json) = %v, want an error naming it", err)
	}
}

// TestCredentialHelpers runs credHelpers and credsStore helpers for real: a
// child process (the credential store executes docker-credential-<name>
// from PATH, and tests never change their own environment) resolves an
// image behind Basic auth with credentials only the helper knows.
func TestCredentialHelpers(t *testing.T) {
	if os.Getenv("OCI_ATTEST_HELPER_CHILD") != "" {
		c, err := New(Options{DockerConfig: os.Getenv("OCI_ATTEST_HELPER_CONFIG")})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := c.FetchManifest(context.Background(), testenv.Ref(t, os.Getenv("OCI_ATTEST_HELPER_REPO")), "v1"); err != nil {
			t.Fatalf("FetchManifest() with helper credentials = %v", err)
		}
		fmt.Println("HELPER-OK")
		return
	}
	t.Parallel()
	ar := startAuthRegistry(t)
	repository := ar.host + "/helper/app"
	// Push the image with credentials from auths.
	c := newTestClient(t, Options{DockerConfig: basicAuthConfig(t, ar.host)})
	bundle := testBundle(1)
	at := testenv.Ref(t, repository)
	pctx, rp := c.repository(context.Background(), at, auth.ActionPull, auth.ActionPush)
	for _, b := range [][]byte{emptyJSON, bundle} {
		if err := rp.pushBlob(pctx, ocispec.Descriptor{Digest: digestFromBytes(b), Size: int64(len(b))}, b); err != nil {
			t.Fatal(err)
		}
	}
	art, _ := buildArtifact(ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digestFromBytes([]byte("x")), Size: 1}, bundle, "", fixedNow())
	if _, err := rp.putManifest(pctx, "v1", ocispec.MediaTypeImageManifest, art.raw, nil); err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	helper := fmt.Sprintf("#!/bin/sh\nread server\n[ \"$1\" = get ] || exit 1\nprintf '{\"ServerURL\":\"%%s\",\"Username\":\"%s\",\"Secret\":\"%s\"}' \"$server\"\n", testUser, testPass)
	if err := os.WriteFile(filepath.Join(bin, "docker-credential-ociattesttest"), []byte(helper), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, cfg := range []string{
		fmt.Sprintf(`{"credHelpers":{%q:"ociattesttest"}}`, ar.host),
		`{"credsStore":"ociattesttest"}`,
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCredentialHelpers$", "-test.v")
		cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"),
			"OCI_ATTEST_HELPER_CHILD=1", "OCI_ATTEST_HELPER_CONFIG="+dockerConfig(t, cfg), "OCI_ATTEST_HELPER_REPO="+repository)
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "HELPER-OK") {
			t.Errorf("child with %s: %v\n%s", cfg, err, out)
		}
		if strings.Contains(string(out), testPass) {
			t.Errorf("child output contains the password:\n%s", out)
		}
	}
}

// TestRedirectTargetCannotAskForCredentials: a blob redirect to another
// origin that answers 401 with a Bearer challenge must not make the client
// fetch a token with the registry's credentials from the realm that origin
// names (oras-go's auth.Client takes the challenge from the final response
// but the credentials of the original host).
func TestRedirectTargetCannotAskForCredentials(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var got []string // Authorization headers the foreign realm received
	var foreign *httptest.Server
	foreign = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/token" {
			mu.Lock()
			got = append(got, r.Header.Get("Authorization"))
			mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"token":"t"}`))
			return
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="`+foreign.URL+`/token",service="storage"`)
		http.Error(w, "unauthorized", http.StatusUnauthorized)
	}))
	t.Cleanup(foreign.Close)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != testUser || p != testPass {
			w.Header().Set("WWW-Authenticate", `Basic realm="oci-attest-test"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		if strings.Contains(r.URL.Path, "/manifests/") {
			http.Error(w, `{"errors":[{"code":"MANIFEST_UNKNOWN"}]}`, http.StatusNotFound)
			return
		}
		http.Redirect(w, r, foreign.URL+"/storage"+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	t.Cleanup(front.Close)
	host := testenv.HostOf(t, front.URL)

	c := newTestClient(t, Options{DockerConfig: basicAuthConfig(t, host)})
	// A first request settles on Basic auth for the registry, as any run's
	// earlier requests do; the blob GET then carries credentials.
	if _, _, err := c.FetchManifest(context.Background(), testenv.Ref(t, host+"/secret/app"), "v1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("FetchManifest() = %v, want ErrNotFound", err)
	}
	b := testBundle(7)
	_, err := c.FetchBlob(context.Background(), testenv.Ref(t, host+"/secret/app"),
		ocispec.Descriptor{MediaType: BundleMediaType, Digest: digestFromBytes(b), Size: int64(len(b))})
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("FetchBlob(redirected to an origin that answers 401) = %v, want a 401 error", err)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, h := range got {
		if h != "" {
			t.Errorf("the realm named by the redirect target received Authorization %q", h)
		}
	}
}
