package testenv_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
	"testing"

	"github.com/oci-attest/oci-attest/internal/testenv"
	"github.com/sigstore/sigstore-go/pkg/root"
)

func TestStartSigstore(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts testenv.SigstoreOptions
	}{
		{"fulcio+rekor+tsa", testenv.SigstoreOptions{Rekor: true, TSA: true}},
		{"fulcio+tsa", testenv.SigstoreOptions{TSA: true}},
		{"fulcio+rekor", testenv.SigstoreOptions{Rekor: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := testenv.StartSigstore(t, tc.opts)
			t.Logf("%s: stack started in %v", tc.name, s.StartupTime)
			tr, err := root.NewTrustedRootFromPath(s.TrustedRootPath)
			if err != nil {
				t.Fatalf("trusted root: %v", err)
			}
			if got, want := len(tr.FulcioCertificateAuthorities()), 1; got != want {
				t.Errorf("Fulcio CAs = %d, want %d", got, want)
			}
			if got, want := len(tr.RekorLogs()) == 1, tc.opts.Rekor; got != want {
				t.Errorf("has Rekor log = %v, want %v", got, want)
			}
			if got, want := len(tr.TimestampingAuthorities()) == 1, tc.opts.TSA; got != want {
				t.Errorf("has TSA = %v, want %v", got, want)
			}
			if (s.RekorURL != "") != tc.opts.Rekor || (s.TSAURL != "") != tc.opts.TSA {
				t.Errorf("URLs rekor=%q tsa=%q, want set = %v/%v", s.RekorURL, s.TSAURL, tc.opts.Rekor, tc.opts.TSA)
			}
			if _, err := os.Stat(s.SigningConfigPath); err != nil {
				t.Errorf("signing config: %v", err)
			}
		})
	}
}

func TestOIDCIssuerActionsEndpoint(t *testing.T) {
	t.Parallel()
	o := testenv.StartOIDCIssuer(t)
	get := func(bearer string) (int, map[string]any) {
		req, _ := http.NewRequest(http.MethodGet, o.ActionsTokenURL+"&audience=sigstore", nil)
		req.Header.Set("Authorization", "Bearer "+bearer)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var v map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&v)
		return resp.StatusCode, v
	}
	if code, _ := get("wrong"); code != http.StatusUnauthorized {
		t.Errorf("wrong bearer: HTTP %d, want 401", code)
	}
	code, v := get(o.ActionsRequestToken)
	if code != http.StatusOK || v["value"] == "" {
		t.Errorf("right bearer: HTTP %d %v, want 200 with a value", code, v)
	}
	if got := o.TokenRequests(); got != 1 {
		t.Errorf("TokenRequests() = %d, want 1", got)
	}
}

// TestRekorV1 starts the shared Rekor v1 log and one of a test's own: each
// serves the key the stack's trusted root lists under the log ID
// sigstore-go looks entries up by, and a log of one's own starts empty.
func TestRekorV1(t *testing.T) {
	t.Parallel()
	shared := testenv.SharedRekorV1(t)
	if again := testenv.SharedRekorV1(t); again != shared {
		t.Error("SharedRekorV1 started a second log")
	}
	own := testenv.StartRekorV1(t)
	if own.URL == shared.URL || bytes.Equal(own.LogID, shared.LogID) || own.TreeID == shared.TreeID {
		t.Errorf("the test's own log shares the URL, key or tree of the shared one")
	}
	if n := own.TreeSize(t); n != 0 {
		t.Errorf("a new log holds %d entries", n)
	}
	s := testenv.StartSigstore(t, testenv.SigstoreOptions{RekorV1: own, TSA: true})
	tr, err := root.NewTrustedRootFromPath(s.TrustedRootPath)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(own.PublicKeyDER)
	log, ok := tr.RekorLogs()[hex.EncodeToString(sum[:])]
	if !ok || len(tr.RekorLogs()) != 1 || log.BaseURL != own.URL || !bytes.Equal(own.LogID, sum[:]) {
		t.Errorf("trusted root logs = %v, want the Rekor v1 log under the SHA-256 of its key", tr.RekorLogs())
	}
	sc, err := root.NewSigningConfigFromPath(s.SigningConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	if logs := sc.RekorLogURLs(); len(logs) != 1 || logs[0].URL != own.URL || logs[0].MajorAPIVersion != 1 {
		t.Errorf("signing config logs = %+v, want the Rekor v1 log", logs)
	}
}
