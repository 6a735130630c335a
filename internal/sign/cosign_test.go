package sign_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/oci-attest/oci-attest/internal/sign"
	"github.com/oci-attest/oci-attest/internal/testenv"
)

// cosignVerify runs cosign v3.1.3 verify-blob-attestation on a keyless
// bundle, the independent client check (ARCHITECTURE.md, "Testing"), with
// extra flags: the certificate identity and cosignFlags.
func cosignVerify(t *testing.T, s *testenv.Sigstore, bundle []byte, digest string, extra ...string) (string, error) {
	t.Helper()
	args := []string{"--trusted-root", s.TrustedRootPath,
		// The local Fulcio has no CT log: its certificates carry no SCT.
		"--insecure-ignore-sct"}
	return cosignVerifyBlob(t, bundle, digest, append(args, extra...)...)
}

// cosignVerifyKey runs cosign verify-blob-attestation on a key-signed
// bundle, with the stack's trusted root when the bundle carries a log
// entry or a timestamp (trustedRoot "": none).
func cosignVerifyKey(t *testing.T, trustedRoot string, res *sign.Result, digest string) (string, error) {
	t.Helper()
	pub := filepath.Join(t.TempDir(), "key.pub")
	if err := os.WriteFile(pub, []byte(res.PublicKeyPEM), 0o600); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"--key", pub}, cosignFlags(res)...)
	if trustedRoot != "" {
		args = append(args, "--trusted-root", trustedRoot)
	}
	return cosignVerifyBlob(t, res.Bundle, digest, args...)
}

func cosignVerifyBlob(t *testing.T, bundle []byte, digest string, extra ...string) (string, error) {
	t.Helper()
	cosign := testenv.Tool(t, "cosign")
	p := filepath.Join(t.TempDir(), "bundle.sigstore.json")
	if err := os.WriteFile(p, bundle, 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"verify-blob-attestation",
		"--bundle", p,
		"--type", predicateType,
		"--digest", strings.TrimPrefix(digest, "sha256:"), "--digestAlg", "sha256",
	}
	cmd := exec.Command(cosign, append(args, extra...)...)
	cmd.Env = append(os.Environ(), "TUF_ROOT="+t.TempDir(), "SIGSTORE_NO_CACHE=true")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// cosignFlags are the flags cosign needs for what res's bundle carries, the
// rule the job summary's cosign command follows (internal/actions'
// cosignFlags, whose printed commands internal/cli runs on real bundles):
// --use-signed-timestamps only when it has an RFC 3161 timestamp (cosign
// then requires one), and --insecure-ignore-tlog only when it has no log
// entry (cosign otherwise requires one).
func cosignFlags(res *sign.Result) []string {
	var flags []string
	if len(res.SignedTimestamps) > 0 {
		flags = append(flags, "--use-signed-timestamps")
	}
	if res.LogIndex < 0 {
		flags = append(flags, "--insecure-ignore-tlog")
	}
	return flags
}

func TestCosignVerifiesKeylessBundle(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		opts  testenv.SigstoreOptions
		flags []string // cosignFlags
	}{
		{"fulcio+rekor v2+tsa", testenv.SigstoreOptions{Rekor: true, TSA: true}, []string{"--use-signed-timestamps"}},
		{"fulcio+tsa (github shape)", testenv.SigstoreOptions{TSA: true}, []string{"--use-signed-timestamps", "--insecure-ignore-tlog"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := testenv.StartSigstore(t, tc.opts)
			st, digest := testStatement(t, tc.name)
			res, err := sign.Sign(context.Background(), st, customOptions(s))
			if err != nil {
				t.Fatalf("Sign() = %v", err)
			}
			if got := cosignFlags(res); !slices.Equal(got, tc.flags) {
				t.Errorf("cosign flags = %q, want %q", got, tc.flags)
			}
			id := []string{"--certificate-identity", s.Identity(), "--certificate-oidc-issuer", s.IssuerURL}
			if out, err := cosignVerify(t, s, res.Bundle, digest, append(id, tc.flags...)...); err != nil {
				t.Fatalf("cosign verify-blob-attestation = %v\n%s", err, out)
			}

			wrongID := []string{"--certificate-identity", "https://github.com/evil/repo/.github/workflows/x.yml@refs/heads/main", "--certificate-oidc-issuer", s.IssuerURL}
			if out, err := cosignVerify(t, s, res.Bundle, digest, append(wrongID, tc.flags...)...); err == nil || !strings.Contains(out, "expected SAN value") {
				t.Errorf("cosign with the wrong identity = %v, want a SAN mismatch:\n%s", err, out)
			}
			_, other := testStatement(t, "not signed")
			if out, err := cosignVerify(t, s, res.Bundle, other, append(id, tc.flags...)...); err == nil || !strings.Contains(out, "does not match any digest") {
				t.Errorf("cosign with a digest the statement does not name = %v, want a digest mismatch:\n%s", err, out)
			}
			tampered := []byte(strings.Replace(string(res.Bundle), `"payload":"`, `"payload":"IC`, 1))
			if out, err := cosignVerify(t, s, tampered, digest, append(id, tc.flags...)...); err == nil {
				t.Errorf("cosign accepted a tampered payload:\n%s", out)
			}
		})
	}
}

func TestCosignVerifiesKeySignedBundle(t *testing.T) {
	t.Parallel()
	st, digest := testStatement(t, "key")
	res, err := sign.Sign(context.Background(), st, sign.Options{SigningKey: sign.SigningKeyEphemeral})
	if err != nil {
		t.Fatalf("Sign() = %v", err)
	}
	if out, err := cosignVerifyKey(t, "", res, digest); err != nil {
		t.Fatalf("cosign verify-blob-attestation --key = %v\n%s", err, out)
	}
}
