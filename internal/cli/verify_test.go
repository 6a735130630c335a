package cli

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/oci-attest/oci-attest/internal/testenv"
)

// verifyKeyPair writes a P-256 key pair: the private key for --signing-key
// and the public key for verify --key.
func verifyKeyPair(t *testing.T) (priv, pub string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	priv = filepath.Join(dir, "key.pem")
	if err := os.WriteFile(priv, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	pder, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pub = filepath.Join(dir, "key.pub")
	if err := os.WriteFile(pub, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return priv, pub
}

// TestVerifyCommand attests with the CLI (push-image, key signing) and checks
// `oci-attest verify`'s output and exit codes in both referrers modes.
func TestVerifyCommand(t *testing.T) {
	t.Parallel()
	archive := filepath.Join(testdataDir, "archives", "docker25.tar")
	other := filepath.Join(testdataDir, "archives", "podman.tar")
	priv, pub := verifyKeyPair(t)
	_, wrongPub := verifyKeyPair(t)
	for _, reg := range testenv.InProcessRegistries(t) {
		host := reg.Host
		t.Run(reg.Name, func(t *testing.T) {
			t.Parallel()
			image := host + "/verify/app:v1"
			if _, stderr, err := runCLI(t, env{}, "--subject-path", archive, "--subject-name", image, "--push-image",
				"--signing-key", priv, "--bundle-path", filepath.Join(t.TempDir(), "b.json")); err != nil {
				t.Fatalf("attest: %v\n%s", err, stderr)
			}
			// An image without attestations, pushed by another client.
			bare := host + "/verify/bare:v1"
			img, err := tarball.ImageFromPath(other, nil)
			if err != nil {
				t.Fatal(err)
			}
			ref, err := name.ParseReference(bare, name.Insecure)
			if err != nil {
				t.Fatal(err)
			}
			if err := remote.Write(ref, img); err != nil {
				t.Fatal(err)
			}

			tests := []struct {
				name     string
				args     []string
				code     int
				contains []string
			}{
				{"verified and matching", []string{"verify", image, "--key", pub, "--subject-path", archive}, 0,
					[]string{"VERIFIED", archive + " matches", "layers 2", "result"}},
				{"flags first", []string{"verify", "--key", pub, image}, 0, []string{"VERIFIED"}},
				{"wrong key", []string{"verify", image, "--key", wrongPub}, 4, []string{"REJECTED", "reason", "signed by a different key (hint"}},
				{"archive differs", []string{"verify", image, "--key", pub, "--subject-path", other}, 5,
					[]string{"VERIFIED", "DIFFERS", "diffids[0] attested sha256:", "imageid attested"}},
				{"none found", []string{"verify", bare, "--key", pub}, 3, []string{"no oci attestation found"}},
				{"no policy", []string{"verify", image}, 2, nil},
				{"key and identity", []string{"verify", image, "--key", pub, "--certificate-identity", "x", "--certificate-oidc-issuer", "y"}, 2, nil},
				{"no image", []string{"verify", "--key", pub}, 2, nil},
				{"bad output", []string{"verify", image, "--key", pub, "--output", "yaml"}, 2, nil},
			}
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					stdout, stderr, err := runCLI(t, env{}, tc.args...)
					if got := ExitCode(err); got != tc.code {
						t.Fatalf("oci-attest %v: exit %d (%v), want %d\nstdout:\n%s\nstderr:\n%s", tc.args, got, err, tc.code, stdout, stderr)
					}
					words := strings.Join(strings.Fields(stdout), " ")
					for _, s := range tc.contains {
						if !strings.Contains(words, s) {
							t.Errorf("oci-attest %v output lacks %q:\n%s", tc.args, s, stdout)
						}
					}
					if tc.code != 0 && stderr == "" {
						t.Errorf("oci-attest %v: exit %d with nothing on stderr", tc.args, tc.code)
					}
				})
			}

			// A multi-platform OCI archive: every platform is attested; verify
			// on the tag checks each, comparing each with its image in the
			// archive (picked by image ID).
			t.Run("multi-platform archive", func(t *testing.T) {
				t.Parallel()
				multi := filepath.Join(testdataDir, "archives", "oci-multiplatform.tar")
				idx := host + "/verify/multi:v1"
				if _, stderr, err := runCLI(t, env{}, "--subject-path", multi, "--subject-name", idx, "--push-image",
					"--signing-key", priv, "--bundle-path", filepath.Join(t.TempDir(), "b.json")); err != nil {
					t.Fatalf("attest: %v\n%s", err, stderr)
				}
				stdout, stderr, err := runCLI(t, env{}, "verify", idx, "--key", pub, "--subject-path", multi, "--output", "json")
				if err != nil {
					t.Fatalf("verify %s: %v\n%s\n%s", idx, err, stdout, stderr)
				}
				var rep struct {
					Verified       int   `json:"verified"`
					Checked        int   `json:"checked"`
					ArchiveMatches *bool `json:"archiveMatches"`
					Platforms      []struct {
						Platform       string `json:"platform"`
						Verified       int    `json:"verified"`
						ArchiveMatches *bool  `json:"archiveMatches"`
					} `json:"platforms"`
				}
				if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
					t.Fatal(err)
				}
				// Each platform's bundle is a referrer of the index and of its
				// platform manifest: 4 referrers, all verified.
				if rep.Verified != 4 || rep.Checked != 4 || rep.ArchiveMatches == nil || !*rep.ArchiveMatches || len(rep.Platforms) != 2 {
					t.Fatalf("verify %s = %s, want 4 verified attestations of 2 platforms matching the archive", idx, stdout)
				}
				for i, want := range []string{"linux/amd64", "linux/arm64"} {
					if p := rep.Platforms[i]; p.Platform != want || p.Verified != 2 || p.ArchiveMatches == nil || !*p.ArchiveMatches {
						t.Errorf("platform %d = %+v, want %s with 2 verified attestations matching the archive", i, p, want)
					}
				}
				// The index's two referrers and arm64's own are checked.
				stdout, _, err = runCLI(t, env{}, "verify", idx, "--key", pub, "--platform", "linux/arm64")
				words := strings.Join(strings.Fields(stdout), " ")
				if err != nil || !strings.Contains(words, "platform linux/arm64") || strings.Contains(words, "platform linux/amd64") || !strings.Contains(words, "checked 3 Sigstore bundle referrer(s)") {
					t.Errorf("verify --platform linux/arm64 = %v:\n%s", err, stdout)
				}
				if _, _, err := runCLI(t, env{}, "verify", idx, "--key", pub, "--platform", "linux/s390x"); ExitCode(err) != 2 {
					t.Errorf("verify --platform linux/s390x = %v (exit %d), want exit 2", err, ExitCode(err))
				}
			})

			t.Run("json", func(t *testing.T) {
				t.Parallel()
				stdout, stderr, err := runCLI(t, env{}, "verify", image, "--key", pub, "--subject-path", archive, "--output", "json")
				if err != nil {
					t.Fatalf("verify --output json: %v\n%s", err, stderr)
				}
				var rep struct {
					Image           string `json:"image"`
					Digest          string `json:"digest"`
					ReferrersSource string `json:"referrersSource"`
					Verified        int    `json:"verified"`
					ArchiveMatches  *bool  `json:"archiveMatches"`
					Attestations    []struct {
						Verified  bool `json:"verified"`
						Predicate struct {
							Layers int `json:"layers"`
						} `json:"predicate"`
					} `json:"attestations"`
				}
				if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
					t.Fatalf("verify --output json is not JSON: %v\n%s", err, stdout)
				}
				wantSource := "api"
				if !reg.API {
					wantSource = "tag:sha256-" + strings.TrimPrefix(rep.Digest, "sha256:")
				}
				if rep.Image != image || rep.Verified != 1 || rep.ArchiveMatches == nil || !*rep.ArchiveMatches ||
					rep.ReferrersSource != wantSource || len(rep.Attestations) != 1 || rep.Attestations[0].Predicate.Layers != 2 {
					t.Errorf("verify --output json = %+v, want one verified attestation of 2 layers found via %s, archive matching", rep, wantSource)
				}
			})
		})
	}
}

// TestVerifyCommandKeyless attests keylessly with the CLI against the local
// Sigstore stack and verifies with a trusted root file and a signer policy.
func TestVerifyCommandKeyless(t *testing.T) {
	t.Parallel()
	s := testenv.StartSigstore(t, testenv.SigstoreOptions{Rekor: true, TSA: true})
	archive := filepath.Join(testdataDir, "archives", "docker25.tar")
	host := testenv.StartOlareg(t).Host
	image := host + "/verify/keyless:v1"
	if _, stderr, err := runCLI(t, env{}, "--subject-path", archive, "--subject-name", image, "--push-image",
		"--sigstore", "custom", "--fulcio-url", s.FulcioURL, "--rekor-url", s.RekorURL, "--tsa-url", s.TSAURL,
		"--trusted-root", s.TrustedRootPath, "--identity-token", s.Token(t),
		"--bundle-path", filepath.Join(t.TempDir(), "b.json")); err != nil {
		t.Fatalf("attest: %v\n%s", err, stderr)
	}
	policy := []string{"--trusted-root", s.TrustedRootPath, "--certificate-oidc-issuer", s.IssuerURL}
	tests := []struct {
		name     string
		args     []string
		code     int
		contains []string
	}{
		{"identity, repository, workflow", []string{"--certificate-identity", s.Identity(), "--repository", testenv.DefaultRepository, "--workflow", "release.yml", "--subject-path", archive}, 0,
			[]string{"VERIFIED", "signer " + s.Identity(), "issuer " + s.IssuerURL, "log index", "(rfc3161)", archive + " matches",
				// What was required, in the deploy gates' terms (docs/gates.md).
				"requires predicate type https://aflock.ai/attestations/oci/v0.1", "requires identity " + s.Identity(),
				"requires issuer " + s.IssuerURL, "requires repository https://github.com/" + testenv.DefaultRepository,
				"requires workflow https://github.com/" + testenv.DefaultRepository + "/.github/workflows/release.yml"}},
		{"identity regexp required", []string{"--certificate-identity-regexp", "^https://github.com/oci-attest/"}, 0,
			[]string{"requires identity matching ^https://github.com/oci-attest/"}},
		{"identity regexp", []string{"--certificate-identity-regexp", "^https://github.com/oci-attest/"}, 0, []string{"VERIFIED"}},
		{"wrong identity", []string{"--certificate-identity", "https://github.com/evil/x/.github/workflows/a.yml@refs/heads/main"}, 4, []string{"REJECTED", "expected SAN value"}},
		{"wrong workflow", []string{"--certificate-identity", s.Identity(), "--workflow", testenv.DefaultRepository + "/.github/workflows/other.yml"}, 4, []string{"REJECTED", "signing workflow is"}},
		{"missing issuer", []string{"--certificate-identity", s.Identity(), "--certificate-oidc-issuer", ""}, 2, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			args := append(append([]string{"verify", image}, policy...), tc.args...)
			stdout, stderr, err := runCLI(t, env{}, args...)
			if got := ExitCode(err); got != tc.code {
				t.Fatalf("oci-attest %v: exit %d (%v), want %d\nstdout:\n%s\nstderr:\n%s", args, got, err, tc.code, stdout, stderr)
			}
			words := strings.Join(strings.Fields(stdout), " ")
			for _, w := range tc.contains {
				if !strings.Contains(words, w) {
					t.Errorf("oci-attest %v output lacks %q:\n%s", args, w, stdout)
				}
			}
		})
	}
}

// TestVerifyUsageErrors: everything the user must fix in the arguments is a
// usage error (exit 2) found before any network access — no registry or
// trusted root is reachable here, so a network attempt would exit 1.
func TestVerifyUsageErrors(t *testing.T) {
	t.Parallel()
	_, pub := verifyKeyPair(t)
	dir := t.TempDir()
	id := []string{"--certificate-identity", "https://github.com/o/r/.github/workflows/w.yml@refs/heads/main", "--certificate-oidc-issuer", "https://token.actions.githubusercontent.com"}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"not a reference", append([]string{"Bad Ref"}, id...), "IMAGE"},
		{"no tag, no digest", append([]string{"127.0.0.1:1/me/app"}, id...), "names no tag and no digest"},
		{"subject-path is a directory", append([]string{"127.0.0.1:1/me/app:v1", "--subject-path", dir}, id...), "--subject-path"},
		{"subject-path missing", append([]string{"127.0.0.1:1/me/app:v1", "--subject-path", filepath.Join(dir, "x.tar")}, id...), "--subject-path"},
		{"key with repository", []string{"127.0.0.1:1/me/app:v1", "--key", pub, "--repository", "o/r"}, "--key"},
		{"key and identity", append([]string{"127.0.0.1:1/me/app:v1", "--key", pub}, id...), "--key"},
		{"identity and regexp", append([]string{"127.0.0.1:1/me/app:v1", "--certificate-identity-regexp", "x"}, id...), "--certificate-identity-regexp"},
		{"bad regexp", []string{"127.0.0.1:1/me/app:v1", "--certificate-identity-regexp", "(", "--certificate-oidc-issuer", "x"}, "--certificate-identity-regexp"},
		{"no signer", []string{"127.0.0.1:1/me/app:v1"}, "--certificate-identity"},
		{"public key that is not one", []string{"127.0.0.1:1/me/app:v1", "--key", filepath.Join(testdataDir, "archives", "docker25.tar")}, "--key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, stderr, err := runCLI(t, env{}, append([]string{"verify"}, tc.args...)...)
			if got := ExitCode(err); got != 2 || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("verify %v = exit %d, %v; want exit 2 naming %s\n%s", tc.args, got, err, tc.want, stderr)
			}
		})
	}
}

// TestEphemeralKeyVerifies: with signing-key: ephemeral the public key is
// written beside the bundle (and named by public-key-path), and an
// independent client verifies the bundle with it.
func TestEphemeralKeyVerifies(t *testing.T) {
	t.Parallel()
	archive := filepath.Join(testdataDir, "archives", "docker25.tar")
	bundle := filepath.Join(t.TempDir(), "b.sigstore.json")
	stdout, stderr, err := runCLI(t, env{}, "--subject-path", archive, "--signing-key", "ephemeral",
		"--push-to-registry=false", "--bundle-path", bundle, "--output", "json")
	if err != nil {
		t.Fatalf("attest: %v\n%s", err, stderr)
	}
	var outs map[string]any // attestations is an array
	if err := json.Unmarshal([]byte(stdout), &outs); err != nil {
		t.Fatal(err)
	}
	if outs["public-key-path"] != bundle+".pub" {
		t.Fatalf("public-key-path = %q, want %s.pub", outs["public-key-path"], bundle)
	}
	raw, err := os.ReadFile(archive)
	if err != nil {
		t.Fatal(err)
	}
	tarDigest := sha256.Sum256(raw)
	cmd := exec.Command(testenv.Tool(t, "cosign"), "verify-blob-attestation", "--bundle", bundle,
		"--key", bundle+".pub", "--type", "https://aflock.ai/attestations/oci/v0.1",
		"--digest", hex.EncodeToString(tarDigest[:]), "--digestAlg", "sha256", "--insecure-ignore-tlog")
	cmd.Env = append(os.Environ(), "TUF_ROOT="+t.TempDir(), "SIGSTORE_NO_CACHE=true")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cosign verify-blob-attestation --key %s = %v\n%s", bundle+".pub", err, out)
	}
	// Another key is told apart by its hint.
	_, other := verifyKeyPair(t)
	cmd = exec.Command(testenv.Tool(t, "cosign"), "verify-blob-attestation", "--bundle", bundle,
		"--key", other, "--type", "https://aflock.ai/attestations/oci/v0.1",
		"--digest", hex.EncodeToString(tarDigest[:]), "--digestAlg", "sha256", "--insecure-ignore-tlog")
	cmd.Env = append(os.Environ(), "TUF_ROOT="+t.TempDir(), "SIGSTORE_NO_CACHE=true")
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Errorf("cosign verify-blob-attestation with another key succeeded:\n%s", out)
	}
}
