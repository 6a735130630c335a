package testenv

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// SigstoreOptions choose the shape of the local Sigstore stack. Fulcio and
// the OIDC issuer always run.
type SigstoreOptions struct {
	// Rekor starts a Rekor v2 log (rekor-tiles v2.3.0, POSIX storage).
	Rekor bool
	// TSA starts an RFC 3161 timestamp authority (timestamp-authority
	// v1.2.9, built with its metrics on a free loopback port instead of the
	// release's fixed :2112 — see GoTools — so that any number run at once).
	TSA bool
	// RekorV1 adds a Rekor v1 log to the stack: the test binary's
	// (SharedRekorV1) or a test's own (StartRekorV1). Its lifetime is its
	// own: the stack does not stop it.
	RekorV1 *RekorV1
}

// Sigstore is a local Sigstore stack on 127.0.0.1 (ARCHITECTURE.md, "Testing"): our OIDC
// issuer, Fulcio v1.8.8 with an ephemeral CA and no CT log, and optionally
// Rekor v2 and a timestamp authority, with a trusted root for them. Every
// process is killed when the test ends.
type Sigstore struct {
	// FulcioURL, RekorURL (Rekor v2; empty without it), RekorV1URL (empty
	// without Rekor v1) and TSAURL (the full timestamp endpoint,
	// .../api/v1/timestamp; empty without TSA).
	FulcioURL, RekorURL, RekorV1URL, TSAURL string
	// TrustedRootPath is a trusted_root.json for this stack: Fulcio's CA, the
	// Rekor v2 key (base URL http://localhost:PORT, the log's origin), the
	// Rekor v1 key (log ID: the SHA-256 of its DER), the TSA's chain. No CT
	// logs: certificates carry no SCT.
	TrustedRootPath string
	// SigningConfigPath is a signing_config.json (v0.2) naming the stack's
	// services, for clients that take one (cosign --signing-config). With
	// both Rekors it names both, and a client picks v2 (the higher API
	// version).
	SigningConfigPath string
	// IssuerURL is the OIDC issuer (the certificates' issuer).
	IssuerURL string
	// ActionsTokenURL and ActionsRequestToken implement
	// ACTIONS_ID_TOKEN_REQUEST_URL / ACTIONS_ID_TOKEN_REQUEST_TOKEN.
	ActionsTokenURL, ActionsRequestToken string
	// Issuer is the OIDC issuer itself (tokens with other claims).
	Issuer *OIDCIssuer
	// Dir holds the stack's files.
	Dir string
	// Fulcio, Rekor (v2) and TSA are the processes (nil when not started).
	Fulcio, Rekor, TSA *Proc
	// RekorV1 is SigstoreOptions.RekorV1.
	RekorV1 *RekorV1
	// StartupTime is how long StartSigstore took.
	StartupTime time.Duration
}

// Token mints a GitHub-shaped ID token (audience sigstore) from the stack's
// issuer; see OIDCIssuer.Token.
func (s *Sigstore) Token(t testing.TB, overrides ...map[string]any) string {
	t.Helper()
	return s.Issuer.Token(t, overrides...)
}

// Identity is the SAN of certificates for default tokens:
// https://github.com/oci-attest/demo/.github/workflows/release.yml@refs/heads/main.
func (s *Sigstore) Identity() string { return s.Issuer.Identity() }

// ActionsEnv returns a getenv with what a GitHub Actions job with
// "permissions: id-token: write" sees (GITHUB_ACTIONS, the token request
// variables, GITHUB_SERVER_URL, GITHUB_REPOSITORY), plus extra.
func (s *Sigstore) ActionsEnv(extra map[string]string) func(string) string {
	env := map[string]string{
		"GITHUB_ACTIONS":                 "true",
		"ACTIONS_ID_TOKEN_REQUEST_URL":   s.ActionsTokenURL,
		"ACTIONS_ID_TOKEN_REQUEST_TOKEN": s.ActionsRequestToken,
		"GITHUB_SERVER_URL":              "https://github.com",
		"GITHUB_REPOSITORY":              DefaultRepository,
	}
	for k, v := range extra {
		env[k] = v
	}
	return func(k string) string { return env[k] }
}

// StopFulcio kills Fulcio and waits for it to exit (the "Fulcio down" case).
func (s *Sigstore) StopFulcio(t testing.TB) { t.Helper(); stop(t, s.Fulcio) }

// StopTSA kills the timestamp authority and waits for it to exit.
func (s *Sigstore) StopTSA(t testing.TB) { t.Helper(); stop(t, s.TSA) }

// StopRekor kills Rekor and waits for it to exit.
func (s *Sigstore) StopRekor(t testing.TB) { t.Helper(); stop(t, s.Rekor) }

func stop(t testing.TB, p *Proc) {
	t.Helper()
	if p == nil {
		t.Fatal("stopping a process that was not started")
		return
	}
	_ = syscall.Kill(-p.Cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
}

// StartSigstore starts the local Sigstore stack and writes its trusted root.
// Binaries come from Tool (installed on first use). Startup takes a few
// seconds; see Sigstore.StartupTime.
func StartSigstore(t testing.TB, opts SigstoreOptions) *Sigstore {
	t.Helper()
	start := time.Now()
	dir := t.TempDir()
	s := &Sigstore{Dir: dir}
	s.Issuer = StartOIDCIssuer(t)
	s.IssuerURL = s.Issuer.URL
	s.ActionsTokenURL, s.ActionsRequestToken = s.Issuer.ActionsTokenURL, s.Issuer.ActionsRequestToken

	// Start every process first, then wait for each: startups overlap.
	fulcioBin := Tool(t, "fulcio")
	cfg := filepath.Join(dir, "fulcio.yaml")
	writeFile(t, cfg, []byte(fulcioConfig(s.IssuerURL)))
	fport := FreePort(t)
	s.Fulcio = Start(t, dir, fulcioBin, "serve", "--ca=ephemeralca", "--ct-log-url=",
		"--config-path="+cfg, "--log_type=prod",
		"--host=127.0.0.1", "--port="+strconv.Itoa(fport),
		"--grpc-host=127.0.0.1", "--grpc-port="+strconv.Itoa(FreePort(t)),
		"--metrics-port="+strconv.Itoa(FreePort(t)),
		// The default legacy socket is one abstract name per machine.
		"--legacy-unix-domain-socket=@oci-attest-fulcio-"+randomHex(t, 8))
	s.FulcioURL = "http://" + Addr(fport)

	var rekorPub ed25519.PublicKey
	var rport int
	if opts.Rekor {
		bin := Tool(t, "posix")
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		rekorPub = pub
		der, err := x509.MarshalPKCS8PrivateKey(priv)
		if err != nil {
			t.Fatal(err)
		}
		keyPath := filepath.Join(dir, "rekor-ed25519.pem")
		writeFile(t, keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
		storage := filepath.Join(dir, "rekor-tiles")
		if err := os.MkdirAll(storage, 0o755); err != nil {
			t.Fatal(err)
		}
		rport = FreePort(t)
		s.Rekor = Start(t, dir, bin, "serve",
			"--hostname="+rekorOrigin, "--storage-dir="+storage, "--signer-filepath="+keyPath,
			"--http-address=127.0.0.1", "--http-port="+strconv.Itoa(rport),
			"--grpc-address=127.0.0.1", "--grpc-port="+strconv.Itoa(FreePort(t)),
			"--http-metrics-port="+strconv.Itoa(FreePort(t)),
			"--checkpoint-interval=200ms", "--batch-max-age=20ms", "--log-level=warn")
		s.RekorURL = "http://" + Addr(rport)
	}

	var tport int
	if opts.TSA {
		bin := Tool(t, "timestamp-server")
		tport = FreePort(t)
		s.TSA = Start(t, dir, bin, "serve", "--timestamp-signer=memory", "--disable-ntp-monitoring",
			"--host=127.0.0.1", "--port="+strconv.Itoa(tport), "--log-type=prod")
		s.TSAURL = "http://" + Addr(tport) + "/api/v1/timestamp"
	}

	WaitHTTP(t, s.Fulcio, s.FulcioURL+"/healthz")
	fulcioChain := fetchFulcioChain(t, s.FulcioURL)
	var tsaChain []*x509.Certificate
	if opts.TSA {
		WaitHTTP(t, s.TSA, "http://"+Addr(tport)+"/ping")
		tsaChain = fetchPEMChain(t, "http://"+Addr(tport)+"/api/v1/timestamp/certchain")
	}
	if opts.Rekor {
		WaitHTTP(t, s.Rekor, s.RekorURL+"/healthz")
	}

	tr := trustedRoot{
		fulcioURL: s.FulcioURL, fulcioChain: fulcioChain,
		tsaURL: s.TSAURL, tsaChain: tsaChain,
		rekorPub: rekorPub, rekorPort: rport,
		rekorV1: opts.RekorV1,
	}
	if opts.RekorV1 != nil {
		s.RekorV1, s.RekorV1URL = opts.RekorV1, opts.RekorV1.URL
	}
	s.TrustedRootPath = filepath.Join(dir, "trusted_root.json")
	writeFile(t, s.TrustedRootPath, tr.json(t))
	s.SigningConfigPath = WriteSigningConfig(t, SigningServices{
		Fulcio: s.FulcioURL, OIDC: s.IssuerURL, RekorV2: s.RekorURL, RekorV1: s.RekorV1URL, TSA: s.TSAURL,
	})
	s.StartupTime = time.Since(start)
	return s
}

// rekorOrigin is the Rekor v2 log's --hostname: its checkpoint origin. The
// trusted root's baseUrl must have this host, so it is http://localhost:PORT
// (Rekor itself listens on 127.0.0.1).
const rekorOrigin = "localhost"

func writeFile(t testing.TB, p string, b []byte) {
	t.Helper()
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func httpGet(t testing.TB, url string) []byte {
	t.Helper()
	b, err := fetch(url)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fetch GETs url and returns the body of its 200 answer (up to 1 MiB). No
// deadline: go test's -timeout catches a service that never answers.
func fetch(url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	switch {
	case err != nil:
		return nil, fmt.Errorf("GET %s: reading the answer: %w", url, err)
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("GET %s: HTTP %d: %s", url, resp.StatusCode, b)
	}
	return b, nil
}

// fetchFulcioChain reads the ephemeral CA from Fulcio's v2 trust bundle.
func fetchFulcioChain(t testing.TB, base string) []*x509.Certificate {
	t.Helper()
	var tb struct {
		Chains []struct {
			Certificates []string `json:"certificates"`
		} `json:"chains"`
	}
	b := httpGet(t, base+"/api/v2/trustBundle")
	if err := json.Unmarshal(b, &tb); err != nil || len(tb.Chains) == 0 {
		t.Fatalf("Fulcio trust bundle: %v: %s", err, b)
	}
	var pemBytes []byte
	for _, c := range tb.Chains[0].Certificates {
		pemBytes = append(pemBytes, c...)
	}
	return parsePEMCerts(t, pemBytes)
}

func fetchPEMChain(t testing.TB, url string) []*x509.Certificate {
	t.Helper()
	return parsePEMCerts(t, httpGet(t, url))
}

func parsePEMCerts(t testing.TB, b []byte) []*x509.Certificate {
	t.Helper()
	var out []*x509.Certificate
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			break
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatalf("parsing a certificate: %v", err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		t.Fatal(errors.New("no certificates in the chain"))
	}
	return out
}
