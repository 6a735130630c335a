package cli

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/oci-attest/oci-attest/internal/testenv"
)

// TestVerifyBundleOffline: `verify --bundle FILE --subject-path ARCHIVE`
// answers "is this archive the attested image?" with no registry — key
// signed and keyless (the local Sigstore stack, a trusted root file) — with
// the exit codes of verify IMAGE.
func TestVerifyBundleOffline(t *testing.T) {
	t.Parallel()
	archive := filepath.Join(testdataDir, "archives", "docker25.tar")
	other := filepath.Join(testdataDir, "archives", "podman.tar")
	dir := t.TempDir()
	priv, pub := verifyKeyPair(t)
	_, wrongPub := verifyKeyPair(t)
	keyBundle := filepath.Join(dir, "key.sigstore.json")
	if _, stderr, err := runCLI(t, env{}, "--subject-path", archive, "--signing-key", priv, "--push-to-registry=false", "--bundle-path", keyBundle); err != nil {
		t.Fatalf("attest (key): %v\n%s", err, stderr)
	}
	s := testenv.StartSigstore(t, testenv.SigstoreOptions{Rekor: true, TSA: true})
	keylessBundle := filepath.Join(dir, "keyless.sigstore.json")
	if _, stderr, err := runCLI(t, env{}, "--subject-path", archive, "--push-to-registry=false", "--bundle-path", keylessBundle,
		"--sigstore", "custom", "--fulcio-url", s.FulcioURL, "--rekor-url", s.RekorURL, "--tsa-url", s.TSAURL,
		"--trusted-root", s.TrustedRootPath, "--identity-token", s.Token(t)); err != nil {
		t.Fatalf("attest (keyless): %v\n%s", err, stderr)
	}
	tampered := filepath.Join(dir, "tampered.sigstore.json")
	b, err := os.ReadFile(keyBundle)
	if err != nil {
		t.Fatal(err)
	}
	// Flip one base64 character of the DSSE payload: the signature no
	// longer covers it.
	i := bytes.Index(b, []byte(`"payload":"`)) + len(`"payload":"`) + 40
	b[i] ^= 'A' ^ 'B'
	if err := os.WriteFile(tampered, b, 0o600); err != nil {
		t.Fatal(err)
	}
	bundlesDir := filepath.Join(dir, "both")
	if err := os.MkdirAll(bundlesDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{keyBundle, tampered} {
		raw, _ := os.ReadFile(p)
		if err := os.WriteFile(filepath.Join(bundlesDir, filepath.Base(p)), raw, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	keyless := []string{"--trusted-root", s.TrustedRootPath, "--certificate-identity", s.Identity(), "--certificate-oidc-issuer", s.IssuerURL}
	for _, tc := range []struct {
		name     string
		args     []string
		code     int
		contains []string
	}{
		{"key, matching", []string{"--bundle", keyBundle, "--subject-path", archive, "--key", pub}, 0, []string{"VERIFIED", archive + " matches", "1 of 1 bundle(s) verified"}},
		{"key, another archive", []string{"--bundle", keyBundle, "--subject-path", other, "--key", pub}, 5, []string{"VERIFIED", "DIFFERS", "tardigest", "imageid"}},
		{"another key", []string{"--bundle", keyBundle, "--subject-path", archive, "--key", wrongPub}, 4, []string{"REJECTED", "signed by a different key"}},
		{"tampered bundle", []string{"--bundle", tampered, "--subject-path", archive, "--key", pub}, 4, []string{"REJECTED"}},
		{"a directory: one good, one tampered", []string{"--bundle", bundlesDir, "--subject-path", archive, "--key", pub}, 0, []string{"1 of 2 bundle(s) verified", "REJECTED", "VERIFIED"}},
		{"keyless, matching", append([]string{"--bundle", keylessBundle, "--subject-path", archive}, keyless...), 0, []string{"VERIFIED", "signer " + s.Identity(), "trusted root file " + s.TrustedRootPath, archive + " matches"}},
		{"keyless, wrong identity", []string{"--bundle", keylessBundle, "--subject-path", archive, "--trusted-root", s.TrustedRootPath,
			"--certificate-identity", "https://github.com/evil/x/.github/workflows/a.yml@refs/heads/main", "--certificate-oidc-issuer", s.IssuerURL}, 4, []string{"REJECTED", "expected SAN value"}},
		{"keyless, another archive", append([]string{"--bundle", keylessBundle, "--subject-path", other}, keyless...), 5, []string{"DIFFERS"}},
		{"json", []string{"--bundle", keyBundle, "--subject-path", archive, "--key", pub, "--output", "json"}, 0, []string{`"source": "file:` + keyBundle, `"archiveMatches": true`, `"tarDigest": "sha256:`}},
		{"bundle without subject-path", []string{"--bundle", keyBundle, "--key", pub}, 2, nil},
		{"bundle and image", []string{"127.0.0.1:1/a:v1", "--bundle", keyBundle, "--subject-path", archive, "--key", pub}, 2, nil},
		{"empty directory", []string{"--bundle", t.TempDir(), "--subject-path", archive, "--key", pub}, 2, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			stdout, stderr, err := runCLI(t, env{}, append([]string{"verify"}, tc.args...)...)
			if got := ExitCode(err); got != tc.code {
				t.Fatalf("verify %v: exit %d (%v), want %d\n%s%s", tc.args, got, err, tc.code, stdout, stderr)
			}
			words := strings.Join(strings.Fields(stdout), " ")
			for _, w := range tc.contains {
				if !strings.Contains(words, w) && !strings.Contains(stdout, w) {
					t.Errorf("verify %v output lacks %q:\n%s", tc.args, w, stdout)
				}
			}
		})
	}
}

// TestVerifyBundleContactsNothing runs the binary with every proxy variable
// pointing at a listener that counts connections: verifying bundle files
// against a trusted root file opens none; asking for public-good's root from
// TUF with no network and no cache opens some, fails (exit 1) and says to
// pass --trusted-root. (Go does not proxy loopback addresses, and nothing on
// this path needs one.)
func TestVerifyBundleContactsNothing(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	var conns atomic.Int64
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			c.Close()
		}
	}()
	archive, err := filepath.Abs(filepath.Join(testdataDir, "archives", "docker25.tar"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	priv, pub := verifyKeyPair(t)
	bundle := filepath.Join(dir, "b.sigstore.json")
	if _, stderr, err := runCLI(t, env{}, "--subject-path", archive, "--signing-key", priv, "--push-to-registry=false", "--bundle-path", bundle); err != nil {
		t.Fatalf("attest: %v\n%s", err, stderr)
	}
	root := testenv.OfflineTrustedRoot(t, true, false)
	run := func(args ...string) (string, int) {
		cmd := exec.Command(bin, append([]string{"verify"}, args...)...)
		proxy := "http://" + l.Addr().String()
		cmd.Env = []string{"HOME=" + t.TempDir(), "PATH=" + os.Getenv("PATH"),
			"HTTPS_PROXY=" + proxy, "HTTP_PROXY=" + proxy, "https_proxy=" + proxy, "http_proxy=" + proxy, "NO_PROXY=", "no_proxy="}
		out, _ := cmd.CombinedOutput()
		return string(out), cmd.ProcessState.ExitCode()
	}
	// A key and a trusted root file: no connection at all.
	if out, code := run("--bundle", bundle, "--subject-path", archive, "--key", pub, "--trusted-root", root); code != 0 || conns.Load() != 0 {
		t.Fatalf("verify --bundle --trusted-root: exit %d, %d connection(s), want 0 and none\n%s", code, conns.Load(), out)
	}
	out, code := run("--bundle", bundle, "--subject-path", archive, "--sigstore", "public-good",
		"--certificate-identity", "x", "--certificate-oidc-issuer", "y")
	if code != 1 || !strings.Contains(out, "--trusted-root") || conns.Load() == 0 {
		t.Errorf("verify --sigstore public-good offline: exit %d after %d connection(s), want 1 naming --trusted-root\n%s", code, conns.Load(), out)
	}
}
