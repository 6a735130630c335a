package github_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
	sgsign "github.com/sigstore/sigstore-go/pkg/sign"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/oci-attest/oci-attest/internal/github"
	"github.com/oci-attest/oci-attest/internal/testenv"
)

// statement is a small in-toto statement naming one image digest.
const statement = `{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"127.0.0.1/app","digest":{"sha256":"` +
	"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" +
	`"}}],"predicateType":"https://aflock.ai/attestations/oci/v0.1","predicate":{"imagetags":["127.0.0.1/app:v1"]}}`

// testCA certifies ephemeral keys the way Fulcio does for a GitHub
// workflow of oci-attest/demo: the SAN and the source repository (owner)
// extensions, which is all the stand-in reads from a certificate.
type testCA struct {
	key  *ecdsa.PrivateKey
	cert *x509.Certificate
}

func newTestCA(t *testing.T) testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{Organization: []string{"oci-attest test"}, CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return testCA{key: key, cert: cert}
}

// GetCertificate implements sigstore-go's sign.CertificateProvider.
func (ca testCA) GetCertificate(_ context.Context, kp sgsign.Keypair, _ *sgsign.CertificateProviderOptions) ([]byte, error) {
	ext := func(oid asn1.ObjectIdentifier, v string) pkix.Extension {
		b, err := asn1.MarshalWithParams(v, "utf8")
		if err != nil {
			panic(err)
		}
		return pkix.Extension{Id: oid, Value: b}
	}
	san, _ := url.Parse("https://github.com/oci-attest/demo/.github/workflows/release.yml@refs/heads/main")
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(10 * time.Minute),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		URIs: []*url.URL{san},
		ExtraExtensions: []pkix.Extension{
			ext(certificate.OIDSourceRepositoryURI, "https://github.com/oci-attest/demo"),
			ext(certificate.OIDSourceRepositoryOwnerURI, "https://github.com/oci-attest"),
		},
	}
	return x509.CreateCertificate(rand.Reader, tmpl, ca.cert, kp.GetPublicKey(), ca.key)
}

// signedBundles signs the statement with sigstore-go into a bundle whose
// certificate names the source repository https://github.com/oci-attest/demo
// (as the local Fulcio's do; the stand-in does not verify signatures, so the
// tests here need no Sigstore stack), and into a key-signed bundle.
func signedBundles(t *testing.T) (keyless, keySigned []byte) {
	t.Helper()
	bundle := func(opts sgsign.BundleOptions) []byte {
		kp, err := sgsign.NewEphemeralKeypair(nil)
		if err != nil {
			t.Fatal(err)
		}
		pb, err := sgsign.Bundle(&sgsign.DSSEData{Data: []byte(statement), PayloadType: "application/vnd.in-toto+json"}, kp, opts)
		if err != nil {
			t.Fatalf("signing: %v", err)
		}
		b, err := protojson.Marshal(pb)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	return bundle(sgsign.BundleOptions{CertificateProvider: newTestCA(t)}), bundle(sgsign.BundleOptions{})
}

var demo = github.Repository{Owner: "oci-attest", Name: "demo"}

func newClient(t *testing.T, api *testenv.GitHubAPI, opts github.Options) *github.Client {
	t.Helper()
	if opts.APIURL == "" {
		opts.APIURL = api.URL
	}
	if opts.Token == "" {
		opts.Token = api.Token
	}
	c, err := github.New(opts)
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	return c
}

// TestCreateAttestation stores bundles in the stand-in of GitHub's API and
// drives the client through every fault the stand-in can produce. (The
// action's own tests store bundles of the local Sigstore stack.)
func TestCreateAttestation(t *testing.T) {
	t.Parallel()
	keyless, keySigned := signedBundles(t)
	ctx := context.Background()

	t.Run("stored byte for byte, with GitHub's headers", func(t *testing.T) {
		t.Parallel()
		api := testenv.StartGitHubAPI(t, testenv.GitHubAPIOptions{})
		id, err := newClient(t, api, github.Options{UserAgent: "oci-attest/test"}).CreateAttestation(ctx, demo, keyless)
		if err != nil {
			t.Fatalf("CreateAttestation() = %v", err)
		}
		atts := api.Attestations()
		if len(atts) != 1 || atts[0].ID != id || !bytes.Equal(atts[0].Bundle, keyless) {
			t.Fatalf("stored %d attestation(s) (id %d), want the bundle's bytes under id %d", len(atts), atts[0].ID, id)
		}
		if atts[0].PredicateType != "https://aflock.ai/attestations/oci/v0.1" || atts[0].SourceRepositoryOwnerURI != "https://github.com/oci-attest" {
			t.Errorf("stored attestation = %+v", atts[0])
		}
		req := api.Requests()[0]
		for k, want := range map[string]string{
			"Authorization":        "Bearer " + api.Token,
			"Accept":               "application/vnd.github+json",
			"X-Github-Api-Version": "2022-11-28",
			"Content-Type":         "application/json",
			"User-Agent":           "oci-attest/test",
		} {
			if got := req.Header.Get(k); got != want {
				t.Errorf("request header %s = %q, want %q", k, got, want)
			}
		}
		if req.Path != "/repos/oci-attest/demo/attestations" || req.Method != http.MethodPost {
			t.Errorf("request = %s %s", req.Method, req.Path)
		}
	})

	t.Run("another repository's bundle is refused", func(t *testing.T) {
		t.Parallel()
		api := testenv.StartGitHubAPI(t, testenv.GitHubAPIOptions{})
		_, err := newClient(t, api, github.Options{}).CreateAttestation(ctx, github.Repository{Owner: "oci-attest", Name: "other"}, keyless)
		if !errors.Is(err, github.ErrInvalid) || !strings.Contains(err.Error(), "source repository") {
			t.Errorf("CreateAttestation(other repository) = %v, want ErrInvalid naming the source repository", err)
		}
		if n := len(api.Attestations()); n != 0 {
			t.Errorf("stored %d attestation(s), want none", n)
		}
	})

	t.Run("a key-signed bundle is refused", func(t *testing.T) {
		t.Parallel()
		api := testenv.StartGitHubAPI(t, testenv.GitHubAPIOptions{})
		_, err := newClient(t, api, github.Options{}).CreateAttestation(ctx, demo, keySigned)
		if !errors.Is(err, github.ErrInvalid) || !strings.Contains(err.Error(), "certificate") {
			t.Errorf("CreateAttestation(key-signed) = %v, want ErrInvalid about the certificate", err)
		}
	})

	t.Run("a wrong token", func(t *testing.T) {
		t.Parallel()
		api := testenv.StartGitHubAPI(t, testenv.GitHubAPIOptions{})
		_, err := newClient(t, api, github.Options{Token: "ghs_wrong"}).CreateAttestation(ctx, demo, keyless)
		if !errors.Is(err, github.ErrUnauthorized) || !strings.Contains(err.Error(), "Bad credentials") {
			t.Errorf("CreateAttestation(wrong token) = %v, want ErrUnauthorized with GitHub's message", err)
		}
	})

	faults := []struct {
		name     string
		fault    testenv.GitHubAPIFault
		requests int                           // requests the stand-in must see
		check    func(t *testing.T, err error) // nil: the attestation is stored
	}{
		{"403 is not retried", testenv.GitHubAPIFault{Kind: testenv.APIForbidden, Times: -1}, 1, func(t *testing.T, err error) {
			if !errors.Is(err, github.ErrForbidden) || !strings.Contains(err.Error(), "403 Forbidden: Resource not accessible by integration") {
				t.Errorf("err = %v, want ErrForbidden with GitHub's message", err)
			}
		}},
		{"422 is not retried", testenv.GitHubAPIFault{Kind: testenv.APIUnprocessable, Times: -1}, 1, func(t *testing.T, err error) {
			var ae *github.APIError
			if !errors.As(err, &ae) || !errors.Is(err, github.ErrInvalid) || ae.Message != "Validation Failed" || len(ae.Details) != 1 {
				t.Errorf("err = %v, want an *APIError 422 with the message and its detail", err)
			}
		}},
		{"429 honours Retry-After", testenv.GitHubAPIFault{Kind: testenv.APIRateLimited, Times: 1, RetryAfter: "1"}, 2, nil},
		{"429 asking for more than a minute fails at once", testenv.GitHubAPIFault{Kind: testenv.APIRateLimited, Times: -1, RetryAfter: "120"}, 1, func(t *testing.T, err error) {
			if !errors.Is(err, github.ErrRateLimited) || errors.Is(err, github.ErrForbidden) {
				t.Errorf("err = %v, want ErrRateLimited", err)
			}
		}},
		{"500 is retried", testenv.GitHubAPIFault{Kind: testenv.APIServerError, Times: 2}, 3, nil},
		{"500 until the retries run out", testenv.GitHubAPIFault{Kind: testenv.APIServerError, Times: -1}, 6, func(t *testing.T, err error) {
			if !strings.Contains(err.Error(), "500 Internal Server Error: Server Error") {
				t.Errorf("err = %v, want the last answer", err)
			}
		}},
		{"a reset is retried", testenv.GitHubAPIFault{Kind: testenv.APIReset, Times: 1}, 2, nil},
	}
	for _, tc := range faults {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			api := testenv.StartGitHubAPI(t, testenv.GitHubAPIOptions{})
			api.Fail(tc.fault)
			start := time.Now()
			id, err := newClient(t, api, github.Options{}).CreateAttestation(ctx, demo, keyless)
			if got := len(api.Requests()); got != tc.requests {
				t.Errorf("the stand-in saw %d request(s), want %d", got, tc.requests)
			}
			if tc.check != nil {
				if err == nil {
					t.Fatalf("CreateAttestation() stored id %d, want an error", id)
				}
				tc.check(t, err)
				return
			}
			if err != nil || len(api.Attestations()) != 1 {
				t.Fatalf("CreateAttestation() = %d, %v; stored %d, want it stored after the fault", id, err, len(api.Attestations()))
			}
			if tc.fault.RetryAfter != "" && time.Since(start) < 900*time.Millisecond {
				t.Errorf("retried after %v, want Retry-After (1 s) honoured", time.Since(start))
			}
		})
	}

	// The call's own bound ends it: only that deadline makes this error (the
	// attempt's request-timeout is the default 60 s). Not timed: the
	// stall never ends, so an unbounded call would never return.
	t.Run("a stall ends at the timeout", func(t *testing.T) {
		t.Parallel()
		api := testenv.StartGitHubAPI(t, testenv.GitHubAPIOptions{})
		api.Fail(testenv.GitHubAPIFault{Kind: testenv.APIStall, Times: -1})
		_, err := newClient(t, api, github.Options{Timeout: 300 * time.Millisecond}).CreateAttestation(ctx, demo, keyless)
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "did not answer within 300ms") {
			t.Errorf("CreateAttestation(stalled) = %v, want a timeout error", err)
		}
	})

	t.Run("a redirect to another origin loses the token", func(t *testing.T) {
		t.Parallel()
		api := testenv.StartGitHubAPI(t, testenv.GitHubAPIOptions{})
		redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, api.URL+r.URL.Path, http.StatusTemporaryRedirect)
		}))
		t.Cleanup(redirector.Close)
		_, err := newClient(t, api, github.Options{APIURL: redirector.URL}).CreateAttestation(ctx, demo, keyless)
		reqs := api.Requests()
		if len(reqs) != 1 || reqs[0].Header.Get("Authorization") != "" {
			t.Fatalf("the other origin saw %d request(s), Authorization %q; want one without the token", len(reqs), reqs[0].Header.Get("Authorization"))
		}
		if !errors.Is(err, github.ErrUnauthorized) {
			t.Errorf("CreateAttestation(redirected) = %v, want the other origin's 401", err)
		}
	})

	t.Run("a redirect cannot downgrade to plain HTTP", func(t *testing.T) {
		t.Parallel()
		redirector := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "http://api.example.invalid"+r.URL.Path, http.StatusTemporaryRedirect)
		}))
		t.Cleanup(redirector.Close)
		c, err := github.New(github.Options{APIURL: redirector.URL, Token: "ghs_x", HTTPClient: redirector.Client()})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.CreateAttestation(ctx, demo, keyless); !errors.Is(err, github.ErrInsecure) {
			t.Errorf("CreateAttestation(redirect to http) = %v, want ErrInsecure", err)
		}
	})
}

// TestCreateStorageRecord posts the fields actions/attest sends, and an
// owner that is not an organisation has no storage records.
func TestCreateStorageRecord(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	api := testenv.StartGitHubAPI(t, testenv.GitHubAPIOptions{Organizations: []string{"oci-attest"}})
	c := newClient(t, api, github.Options{})
	rec := github.StorageRecord{Name: "ghcr.io/oci-attest/demo", Digest: "sha256:" + strings.Repeat("ab", 32), Version: "v1", RegistryURL: "https://ghcr.io"}
	ids, err := c.CreateStorageRecord(ctx, "oci-attest", rec)
	if err != nil || len(ids) != 1 {
		t.Fatalf("CreateStorageRecord() = %v, %v", ids, err)
	}
	got := api.StorageRecords()
	want := map[string]string{"name": rec.Name, "digest": rec.Digest, "version": "v1", "registry_url": "https://ghcr.io"}
	if len(got) != 1 || got[0].ID != ids[0] || got[0].Org != "oci-attest" {
		t.Fatalf("stored %+v, want one record %d for oci-attest", got, ids[0])
	}
	if diff := cmp.Diff(want, got[0].Fields); diff != "" {
		t.Errorf("storage record fields (-want +got):\n%s", diff)
	}
	rec.Version = ""
	if _, err := c.CreateStorageRecord(ctx, "oci-attest", rec); err != nil {
		t.Fatal(err)
	}
	if _, ok := api.StorageRecords()[1].Fields["version"]; ok {
		t.Error("an empty version was sent; want it omitted")
	}
	if _, err := c.CreateStorageRecord(ctx, "octocat", rec); !errors.Is(err, github.ErrNotFound) {
		t.Errorf("CreateStorageRecord(user) = %v, want ErrNotFound", err)
	}
	api.Fail(testenv.GitHubAPIFault{Endpoint: "storage-record", Kind: testenv.APIForbidden, Times: 1})
	if _, err := c.CreateStorageRecord(ctx, "oci-attest", rec); !errors.Is(err, github.ErrForbidden) {
		t.Errorf("CreateStorageRecord(403) = %v, want ErrForbidden", err)
	}
}

// TestAPIErrorIsClean: GitHub's text reaches the log only with control
// characters escaped (it could otherwise forge workflow commands or
// terminal escapes).
func TestAPIErrorIsClean(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusUnprocessableEntity)
		_ = json.NewEncoder(w).Encode(map[string]any{"message": "bad\n::error::forged\x1b[31m", "errors": []any{map[string]any{"message": "x\ry"}}})
	}))
	t.Cleanup(srv.Close)
	c, err := github.New(github.Options{APIURL: srv.URL, Token: "ghs_x"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.CreateAttestation(context.Background(), demo, []byte(`{"mediaType":"x"}`))
	if err == nil || strings.ContainsAny(err.Error(), "\n\r\x1b") || !strings.Contains(err.Error(), `bad\u000a::error::forged\u001b[31m (x\u000dy)`) {
		t.Errorf("error = %q, want GitHub's text with control characters escaped", err)
	}
}

func TestNewRefuses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		opts github.Options
		want error
	}{
		{github.Options{APIURL: "http://api.example.com", Token: "t"}, github.ErrInsecure},
		{github.Options{APIURL: "ftp://api.example.com", Token: "t"}, github.ErrAPIURL},
		{github.Options{APIURL: "https://api.example.com?x=1", Token: "t"}, github.ErrAPIURL},
		{github.Options{Token: ""}, github.ErrNoToken},
	} {
		if _, err := github.New(tc.opts); !errors.Is(err, tc.want) {
			t.Errorf("New(%+v) = %v, want %v", tc.opts, err, tc.want)
		}
	}
	for _, ok := range []string{"", "https://api.github.com", "https://ghes.example.com/api/v3/", "https://api.octo.ghe.com", "http://127.0.0.1:8080", "http://[::1]:1", "http://localhost:2"} {
		if _, err := github.ParseAPIURL(ok); err != nil {
			t.Errorf("ParseAPIURL(%q) = %v, want it accepted", ok, err)
		}
	}
}

func TestAttestationURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ server, want string }{
		{"", "https://github.com/oci-attest/demo/attestations/42"},
		{"https://github.com", "https://github.com/oci-attest/demo/attestations/42"},
		{"https://ghes.example.com/", "https://ghes.example.com/oci-attest/demo/attestations/42"},
		{"https://octo.ghe.com", "https://octo.ghe.com/oci-attest/demo/attestations/42"},
	} {
		if got := github.AttestationURL(tc.server, demo, 42); got != tc.want {
			t.Errorf("AttestationURL(%q) = %q, want %q", tc.server, got, tc.want)
		}
	}
}

func TestParseRepository(t *testing.T) {
	t.Parallel()
	if r, err := github.ParseRepository("Octo-Org/app.go"); err != nil || r != (github.Repository{Owner: "Octo-Org", Name: "app.go"}) {
		t.Errorf("ParseRepository(Octo-Org/app.go) = %+v, %v", r, err)
	}
	for _, bad := range []string{"", "owner", "owner/", "/repo", "a/b/c", "a/..", "own er/repo", "a/b\n"} {
		if _, err := github.ParseRepository(bad); !errors.Is(err, github.ErrRepository) {
			t.Errorf("ParseRepository(%q) = %v, want ErrRepository", bad, err)
		}
	}
}

func TestOwnerType(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, tc := range []struct{ name, payload, want string }{
		{"organisation", `{"repository":{"owner":{"login":"oci-attest","type":"Organization"}}}`, github.OwnerOrganization},
		{"user", `{"repository":{"owner":{"login":"octocat","type":"User"}}}`, github.OwnerUser},
		{"organization key only", `{"organization":{"login":"oci-attest"},"repository":{}}`, github.OwnerOrganization},
		{"silent payload", `{"schedule":"0 0 * * *"}`, ""},
	} {
		p := filepath.Join(dir, tc.name+".json")
		if err := os.WriteFile(p, []byte(tc.payload), 0o600); err != nil {
			t.Fatal(err)
		}
		if got, err := github.OwnerType(p); err != nil || got != tc.want {
			t.Errorf("OwnerType(%s) = %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
	bad := filepath.Join(dir, "bad.json")
	_ = os.WriteFile(bad, []byte("{"), 0o600)
	for _, p := range []string{bad, filepath.Join(dir, "missing.json")} {
		if _, err := github.OwnerType(p); err == nil {
			t.Errorf("OwnerType(%s) = nil error, want one", p)
		}
	}
}
