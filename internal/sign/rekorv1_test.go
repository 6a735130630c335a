package sign_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/oci-attest/oci-attest/internal/retry"
	"github.com/oci-attest/oci-attest/internal/sign"
	"github.com/oci-attest/oci-attest/internal/testenv"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
)

// v1Entries are the paths of Rekor v1's entries API.
var (
	v1Create = regexp.MustCompile(`^/api/v1/log/entries$`)
	v1Entry  = regexp.MustCompile(`^/api/v1/log/entries/[0-9a-f]+$`)
)

// v1Options signs with a custom instance named by a signing config: the
// stack's Fulcio (keyless; "" for key signing), the Rekor v1 log at rekor,
// and the stack's TSA when withTSA.
func v1Options(t *testing.T, s *testenv.Sigstore, fulcio, rekor string, withTSA bool) sign.Options {
	t.Helper()
	svc := testenv.SigningServices{Fulcio: fulcio, RekorV1: rekor}
	if withTSA {
		svc.TSA = s.TSAURL
	}
	return sign.Options{
		Instance:          sign.InstanceCustom,
		SigningConfigPath: testenv.WriteSigningConfig(t, svc),
		TrustedRootPath:   s.TrustedRootPath,
		Getenv:            s.ActionsEnv(nil),
	}
}

// checkV1Bundle checks what a bundle signed through Rekor v1 carries and
// has cosign verify it, with the flags cosignFlags derives from res.
func checkV1Bundle(t *testing.T, s *testenv.Sigstore, res *sign.Result, digest string, withTSA bool) {
	t.Helper()
	var b struct {
		VerificationMaterial struct {
			TlogEntries []struct {
				LogID struct {
					KeyID []byte `json:"keyId"`
				} `json:"logId"`
				KindVersion      struct{ Kind, Version string } `json:"kindVersion"`
				InclusionPromise *struct {
					SignedEntryTimestamp []byte `json:"signedEntryTimestamp"`
				} `json:"inclusionPromise"`
				InclusionProof *struct {
					Checkpoint struct{ Envelope string } `json:"checkpoint"`
				} `json:"inclusionProof"`
			} `json:"tlogEntries"`
		} `json:"verificationMaterial"`
	}
	if err := json.Unmarshal(res.Bundle, &b); err != nil {
		t.Fatal(err)
	}
	entries := b.VerificationMaterial.TlogEntries
	if len(entries) != 1 || string(entries[0].LogID.KeyID) != string(s.RekorV1.LogID) || entries[0].KindVersion.Kind != "dsse" ||
		entries[0].InclusionPromise == nil || entries[0].InclusionProof == nil {
		t.Fatalf("tlog entries = %+v, want one dsse entry of the Rekor v1 log with a signed entry timestamp and an inclusion proof", entries)
	}
	wantSigned := 0
	if withTSA {
		wantSigned = 1
	}
	if res.LogIndex < 0 || len(res.LogTimes) != 1 || len(res.SignedTimestamps) != wantSigned || len(res.Timestamps) != 1+wantSigned {
		t.Errorf("Sign() = log index %d, log times %v, signed timestamps %v; want an entry, its integrated time and %d RFC 3161 timestamps",
			res.LogIndex, res.LogTimes, res.SignedTimestamps, wantSigned)
	}
	if res.KeyHint != "" {
		if out, err := cosignVerifyKey(t, s.TrustedRootPath, res, digest); err != nil {
			t.Fatalf("cosign verify-blob-attestation --key %q = %v\n%s", cosignFlags(res), err, out)
		}
		return
	}
	args := append([]string{"--certificate-identity", s.Identity(), "--certificate-oidc-issuer", s.IssuerURL}, cosignFlags(res)...)
	if out, err := cosignVerify(t, s, res.Bundle, digest, args...); err != nil {
		t.Fatalf("cosign verify-blob-attestation %q = %v\n%s", cosignFlags(res), err, out)
	}
}

// TestSignRekorV1 signs through the test binary's real Rekor v1 log
// (rekor-server v1.5.3 on Trillian v1.7.3), keylessly with and without a
// timestamp authority and with a key, and has cosign and Verify check the
// bundles: without a TSA the log's integrated time is the signed time.
func TestSignRekorV1(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := testenv.StartSigstore(t, testenv.SigstoreOptions{RekorV1: testenv.SharedRekorV1(t), TSA: true})
	tm, err := sign.TrustedMaterial(ctx, sign.TrustOptions{Instance: sign.InstanceCustom, TrustedRootPath: s.TrustedRootPath})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name         string
		key, withTSA bool
	}{
		{"keyless, Rekor v1, no TSA", false, false},
		{"keyless, Rekor v1 and a TSA", false, true},
		{"key, Rekor v1, no TSA", true, false},
		{"key, Rekor v1 and a TSA", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			opts := v1Options(t, s, s.FulcioURL, s.RekorV1URL, tc.withTSA)
			if tc.key {
				opts = v1Options(t, s, "", s.RekorV1URL, tc.withTSA)
				opts.SigningKey, opts.Getenv = sign.SigningKeyEphemeral, nil
			}
			st, digest := testStatement(t, tc.name)
			res, err := sign.Sign(ctx, st, opts)
			if err != nil {
				t.Fatalf("Sign() = %v", err)
			}
			if res.Instance != sign.InstanceCustom {
				t.Errorf("Sign() instance = %q, want custom", res.Instance)
			}
			checkV1Bundle(t, s, res, digest, tc.withTSA)
			// verify --key and verify with an identity: the log's time is
			// the observer time.
			p := sign.Policy{Identity: s.Identity(), Issuer: s.IssuerURL, Digest: digest}
			if tc.key {
				pub, err := cryptoutils.UnmarshalPEMToPublicKey([]byte(res.PublicKeyPEM))
				if err != nil {
					t.Fatal(err)
				}
				p = sign.Policy{PublicKey: pub, Digest: digest}
			}
			vr, err := sign.Verify(ctx, res.Bundle, tm, p)
			if err != nil {
				t.Fatalf("Verify() = %v", err)
			}
			if len(vr.VerifiedTimestamps) != 1+len(res.SignedTimestamps) {
				t.Errorf("Verify() verified timestamps %+v, want the log's and the TSA's", vr.VerifiedTimestamps)
			}
		})
	}
}

// TestSignRekorV1Faults puts the fault proxy in front of the shared Rekor
// v1 log for what it does not do on demand: blips are retried and the
// bundle verifies; a refused entry kind, a connection refused and a
// corrupted signed entry timestamp fail the run, naming the log, and
// nothing is returned.
func TestSignRekorV1Faults(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	log := testenv.SharedRekorV1(t)
	s := testenv.StartSigstore(t, testenv.SigstoreOptions{RekorV1: log})
	posts := func(p *testenv.FaultProxy) []int {
		var st []int
		for _, e := range p.Events() {
			if e.Method == http.MethodPost {
				st = append(st, e.Status)
			}
		}
		return st
	}
	failed := func(t *testing.T, res *sign.Result, err error, want error, words ...string) {
		t.Helper()
		t.Logf("Sign() = %v", err)
		if res != nil || !errors.Is(err, want) {
			t.Fatalf("Sign() = %v, %v; want no bundle and %v", res, err, want)
		}
		for _, w := range words {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("Sign() = %q, want it to say %q", err, w)
			}
		}
	}

	for _, tc := range []struct {
		name  string
		fault testenv.Fault
		posts int
	}{
		{"two 503s", testenv.Fault{Kind: testenv.Fault503, Times: 2}, 3},
		{"connection dropped", testenv.Fault{Kind: testenv.FaultReset, Times: 1}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			proxy, url := behind(t, log.URL)
			rule := tc.fault
			rule.Method, rule.Path = http.MethodPost, v1Create
			proxy.Add(rule)
			st, digest := testStatement(t, tc.name)
			res, err := sign.Sign(ctx, st, v1Options(t, s, s.FulcioURL, url, false))
			if err != nil {
				t.Fatalf("Sign() = %v", err)
			}
			if got := posts(proxy); len(got) != tc.posts || got[len(got)-1] != http.StatusCreated {
				t.Errorf("Rekor answered POSTs %v, want %d, the last 201", got, tc.posts)
			}
			checkV1Bundle(t, s, res, digest, false)
		})
	}

	t.Run("entry kind the log does not accept", func(t *testing.T) {
		t.Parallel()
		proxy, url := behind(t, log.StartFrontend(t, "--enabled_entry_types=hashedrekord"))
		st, _ := testStatement(t, "kind")
		res, err := sign.Sign(ctx, st, v1Options(t, s, s.FulcioURL, url, false))
		failed(t, res, err, sign.ErrService, "adding the signature to the transparency log", url, "HTTP 400", "dsse")
		if got := posts(proxy); len(got) != 1 || got[0] != http.StatusBadRequest {
			t.Errorf("Rekor answered POSTs %v, want one 400 (a refusal is not retried)", got)
		}
	})

	t.Run("connection refused", func(t *testing.T) {
		t.Parallel()
		url := "http://" + testenv.Addr(testenv.FreePort(t))
		st, _ := testStatement(t, "refused")
		res, err := sign.Sign(ctx, st, sign.WithRetries(v1Options(t, s, s.FulcioURL, url, false), 1))
		failed(t, res, err, sign.ErrService, "Rekor", url, "connection refused", "2 attempts")
	})

	t.Run("corrupted signed entry timestamp", func(t *testing.T) {
		t.Parallel()
		proxy, url := behind(t, log.URL)
		proxy.Add(testenv.Fault{Kind: testenv.FaultRewrite, Method: http.MethodPost, Path: v1Create, Times: -1, Rewrite: corruptSET(t)})
		st, _ := testStatement(t, "corrupted SET")
		res, err := sign.Sign(ctx, st, v1Options(t, s, s.FulcioURL, url, false))
		failed(t, res, err, sign.ErrVerify, "refusing to use it")
		if got := posts(proxy); len(got) != 1 || proxy.Injected(testenv.FaultRewrite) != 1 {
			t.Errorf("Rekor answered POSTs %v, want one, rewritten", got)
		}
	})
}

// corruptSET flips a byte of the signed entry timestamp in Rekor v1's
// answer to a new entry.
func corruptSET(t *testing.T) func(http.Header, []byte) []byte {
	return func(_ http.Header, body []byte) []byte {
		var answer map[string]map[string]any
		if err := json.Unmarshal(body, &answer); err != nil {
			t.Errorf("Rekor's answer is not an entry: %v: %s", err, body)
			return body
		}
		for _, e := range answer {
			v, _ := e["verification"].(map[string]any)
			set, _ := v["signedEntryTimestamp"].(string)
			raw, err := base64.StdEncoding.DecodeString(set)
			if err != nil || len(raw) == 0 {
				t.Errorf("no signed entry timestamp in %s", body)
				return body
			}
			raw[len(raw)/2] ^= 0xff
			v["signedEntryTimestamp"] = base64.StdEncoding.EncodeToString(raw)
		}
		out, err := json.Marshal(answer)
		if err != nil {
			t.Error(err)
			return body
		}
		return out
	}
}

// TestSignRekorV1Stalls runs what a slow or broken log does to a log of
// the test's own, in order, counting its entries: an answer lost after the
// entry landed (409, then the entry is fetched), a signer paused past
// request-timeout and resumed (409, the entry fetched once integrated), a
// signer paused past the budget (the run fails; the entry appears in the
// log later, orphaned), and Trillian down (Rekor's 500, with its message).
func TestSignRekorV1Stalls(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	log := testenv.StartRekorV1(t)
	s := testenv.StartSigstore(t, testenv.SigstoreOptions{RekorV1: log})
	proxy, url := behind(t, log.URL)
	opts := v1Options(t, s, s.FulcioURL, url, false)
	opts.RequestTimeout = time.Second
	// answers are the statuses of the proxy's requests of method on path
	// since the mark.
	mark := 0
	answers := func(method string, path *regexp.Regexp) []int {
		var st []int
		for _, e := range proxy.Events()[mark:] {
			if e.Method == method && path.MatchString(e.Path) {
				st = append(st, e.Status)
			}
		}
		return st
	}
	begin := func() int64 { proxy.Clear(); mark = len(proxy.Events()); return log.TreeSize(t) }
	// landedOnce checks a run whose first POST's answer was lost: the retry
	// was answered 409, the entry it named was fetched (gets says how), and
	// the log holds one entry more.
	landedOnce := func(t *testing.T, size int64, gets func([]int) bool, want string) {
		t.Helper()
		if got := answers(http.MethodPost, v1Create); len(got) != 2 || got[1] != http.StatusConflict {
			t.Errorf("Rekor answered POSTs %v, want one whose answer was lost and a 409", got)
		}
		if got := answers(http.MethodGet, v1Entry); !gets(got) {
			t.Errorf("Rekor answered GETs of the entry %v, want %s", got, want)
		}
		if n := log.TreeSize(t) - size; n != 1 {
			t.Errorf("the log grew by %d entries, want 1", n)
		}
	}

	t.Run("lost answer", func(t *testing.T) {
		size := begin()
		proxy.Add(testenv.Fault{Kind: testenv.FaultSlow, Method: http.MethodPost, Path: v1Create, Times: 1, Delay: 3 * time.Second})
		st, digest := testStatement(t, "lost answer")
		res, err := sign.Sign(ctx, st, opts)
		if err != nil {
			t.Fatalf("Sign() = %v", err)
		}
		landedOnce(t, size, func(gets []int) bool { return len(gets) == 1 && gets[0] == http.StatusOK }, "one 200")
		checkV1Bundle(t, s, res, digest, false)
	})

	t.Run("signer paused past request-timeout", func(t *testing.T) {
		size := begin()
		log.PauseSigner(t)
		resumed := make(chan struct{})
		go func() {
			defer close(resumed)
			// Resume once Rekor has said it holds the entry (409) and has
			// not integrated it (404).
			if !waitFor(proxy, mark, func(e testenv.FaultEvent) bool { return v1Entry.MatchString(e.Path) && e.Status == http.StatusNotFound }) {
				t.Error("Rekor never answered 404 for the entry it holds")
			}
			log.ResumeSigner(t)
		}()
		st, digest := testStatement(t, "paused signer")
		res, err := sign.Sign(ctx, st, opts)
		<-resumed
		if err != nil {
			t.Fatalf("Sign() = %v", err)
		}
		landedOnce(t, size, func(gets []int) bool {
			return len(gets) >= 2 && gets[0] == http.StatusNotFound && gets[len(gets)-1] == http.StatusOK
		}, "404s, then 200")
		checkV1Bundle(t, s, res, digest, false)
	})

	t.Run("signer paused past the budget", func(t *testing.T) {
		size := begin()
		log.PauseSigner(t)
		st, _ := testStatement(t, "stopped signer")
		res, err := sign.Sign(ctx, st, opts)
		if res != nil || !errors.Is(err, sign.ErrService) {
			t.Fatalf("Sign() = %v, %v; want no bundle and ErrService", res, err)
		}
		for _, w := range []string{"adding the signature to the transparency log", url, "409", "still 404", "signer"} {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("Sign() = %q, want it to say %q", err, w)
			}
		}
		gets := answers(http.MethodGet, v1Entry)
		if len(gets) < 2 || gets[len(gets)-1] != http.StatusNotFound {
			t.Errorf("Rekor answered GETs of the entry %v, want 404s to the end", gets)
		}
		// What the failed run leaves behind: the entry Rekor queued is
		// integrated once the signer runs, and no bundle refers to it.
		log.ResumeSigner(t)
		for range 300 {
			if log.TreeSize(t) > size {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if n := log.TreeSize(t) - size; n != 1 {
			t.Errorf("the log grew by %d entries, want the orphaned one", n)
		}
	})

	t.Run("Trillian down", func(t *testing.T) {
		begin()
		log.StopLogServer(t)
		st, _ := testStatement(t, "trillian down")
		res, err := sign.Sign(ctx, st, sign.WithRetries(opts, 1))
		if res != nil || !errors.Is(err, sign.ErrService) {
			t.Fatalf("Sign() = %v, %v; want no bundle and ErrService", res, err)
		}
		var re *retry.Error
		if !errors.As(err, &re) || re.Status != http.StatusInternalServerError || re.Attempts != 2 {
			t.Errorf("Sign() = %v, want a *retry.Error: 500 after 2 attempts", err)
		}
		// Rekor's own words follow the status.
		if msg := err.Error(); !regexp.MustCompile(`answered HTTP 500 Internal Server Error \(2 attempts in [^)]*\): "[^"]+"$`).MatchString(msg) {
			t.Errorf("Sign() = %q, want Rekor's message after the status", msg)
		}
		t.Logf("Sign() = %v", err)
	})
}

// waitFor waits until the proxy has seen an event since its from-th that
// ok accepts (false: not within a minute).
func waitFor(p *testenv.FaultProxy, from int, ok func(testenv.FaultEvent) bool) bool {
	for range 1200 {
		for _, e := range p.Events()[from:] {
			if ok(e) {
				return true
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}
