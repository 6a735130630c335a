package sign_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oci-attest/oci-attest/internal/sign"
	"github.com/oci-attest/oci-attest/internal/testenv"
)

// cosignVerify runs cosign v3.1.3 verify-blob-attestation on a bundle, the
// independent client check (ARCHITECTURE.md, "Testing").
func cosignVerify(t *testing.T, s *testenv.Sigstore, bundle []byte, digest string, extra ...string) (string, error) {
	t.Helper()
	cosign := testenv.Tool(t, "cosign")
	p := filepath.Join(t.TempDir(), "bundle.sigstore.json")
	if err := os.WriteFile(p, bundle, 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"verify-blob-attestation",
		"--bundle", p,
		"--trusted-root", s.TrustedRootPath,
		"--type", predicateType,
		"--digest", strings.TrimPrefix(digest, "sha256:"), "--digestAlg", "sha256",
		// The local Fulcio has no CT log: its certificates carry no SCT.
		"--insecure-ignore-sct",
		"--use-signed-timestamps",
	}
	args = append(args, extra...)
	cmd := exec.Command(cosign, args...)
	cmd.Env = append(os.Environ(), "TUF_ROOT="+t.TempDir(), "SIGSTORE_NO_CACHE=true")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestCosignVerifiesKeylessBundle(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		opts  testenv.SigstoreOptions
		extra []string
	}{
		{"fulcio+rekor v2+tsa", testenv.SigstoreOptions{Rekor: true, TSA: true}, nil},
		{"fulcio+tsa (github shape)", testenv.SigstoreOptions{TSA: true}, []string{"--insecure-ignore-tlog"}},
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
			id := []string{"--certificate-identity", s.Identity(), "--certificate-oidc-issuer", s.IssuerURL}
			if out, err := cosignVerify(t, s, res.Bundle, digest, append(id, tc.extra...)...); err != nil {
				t.Fatalf("cosign verify-blob-attestation = %v\n%s", err, out)
			}

			wrongID := []string{"--certificate-identity", "https://github.com/evil/repo/.github/workflows/x.yml@refs/heads/main", "--certificate-oidc-issuer", s.IssuerURL}
			if out, err := cosignVerify(t, s, res.Bundle, digest, append(wrongID, tc.extra...)...); err == nil || !strings.Contains(out, "expected SAN value") {
				t.Errorf("cosign with the wrong identity = %v, want a SAN mismatch:\n%s", err, out)
			}
			_, other := testStatement(t, "not signed")
			if out, err := cosignVerify(t, s, res.Bundle, other, append(id, tc.extra...)...); err == nil || !strings.Contains(out, "does not match any digest") {
				t.Errorf("cosign with a digest the statement does not name = %v, want a digest mismatch:\n%s", err, out)
			}
			tampered := []byte(strings.Replace(string(res.Bundle), `"payload":"`, `"payload":"IC`, 1))
			if out, err := cosignVerify(t, s, tampered, digest, append(id, tc.extra...)...); err == nil {
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
	dir := t.TempDir()
	pub := filepath.Join(dir, "key.pub")
	bundle := filepath.Join(dir, "bundle.sigstore.json")
	if err := os.WriteFile(pub, []byte(res.PublicKeyPEM), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bundle, res.Bundle, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(testenv.Tool(t, "cosign"), "verify-blob-attestation",
		"--bundle", bundle, "--key", pub, "--insecure-ignore-tlog",
		"--type", predicateType,
		"--digest", strings.TrimPrefix(digest, "sha256:"), "--digestAlg", "sha256")
	cmd.Env = append(os.Environ(), "TUF_ROOT="+t.TempDir())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cosign verify-blob-attestation --key = %v\n%s", err, out)
	}
}
