package verify

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/oci-attest/oci-attest/internal/sign"
	"github.com/oci-attest/oci-attest/internal/testenv"
)

// TestVerifyKeyless signs with the local Sigstore stack (Fulcio, Rekor v2, a
// timestamp authority; GitHub-shaped tokens), attaches with push.Attach and
// verifies against the stack's trusted root and a signer policy, in both
// referrers modes.
func TestVerifyKeyless(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := testenv.StartSigstore(t, testenv.SigstoreOptions{Rekor: true, TSA: true})
	tm, err := sign.TrustedMaterial(ctx, sign.TrustOptions{Instance: sign.InstanceCustom, TrustedRootPath: s.TrustedRootPath})
	if err != nil {
		t.Fatal(err)
	}
	signOpts := sign.Options{
		Instance: sign.InstanceCustom, FulcioURL: s.FulcioURL, RekorURL: s.RekorURL, TSAURL: s.TSAURL,
		TrustedRootPath: s.TrustedRootPath, Getenv: s.ActionsEnv(nil),
	}
	good := sign.Policy{Identity: s.Identity(), Issuer: s.IssuerURL}
	repoURL := "https://github.com/" + testenv.DefaultRepository

	tests := []struct {
		name       string
		policy     sign.Policy
		repository string
		workflow   string
		reason     string // "" verifies
	}{
		{name: "identity and issuer", policy: good},
		{name: "regexps", policy: sign.Policy{IdentityRegexp: `^https://github\.com/oci-attest/demo/`, IssuerRegexp: `^http://127\.0\.0\.1:`}},
		{name: "repository and workflow", policy: good, repository: testenv.DefaultRepository, workflow: "release.yml"},
		{name: "full workflow path", policy: good, workflow: testenv.DefaultRepository + "/" + testenv.DefaultWorkflowFile},
		{name: "wrong identity", policy: sign.Policy{Identity: "https://github.com/evil/repo/.github/workflows/x.yml@refs/heads/main", Issuer: s.IssuerURL}, reason: "SAN"},
		{name: "wrong issuer", policy: sign.Policy{Identity: s.Identity(), Issuer: "https://token.actions.githubusercontent.com"}, reason: "issuer"},
		{name: "wrong repository", policy: good, repository: "evil/repo", reason: "source repository is " + repoURL},
		{name: "wrong workflow", policy: good, repository: testenv.DefaultRepository, workflow: "other.yml", reason: "signing workflow is " + repoURL + "/" + testenv.DefaultWorkflowFile},
	}
	for _, reg := range testenv.InProcessRegistries(t) {
		t.Run(reg.Name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, reg, "verify/keyless")
			res, err := sign.Sign(ctx, f.statement(t), signOpts)
			if err != nil {
				t.Fatalf("Sign() = %v", err)
			}
			art := f.attach(t, res.Bundle, predicateType)
			t.Run("cosign verify-attestation agrees", func(t *testing.T) {
				t.Parallel()
				id := []string{"--certificate-identity", s.Identity(), "--certificate-oidc-issuer", s.IssuerURL}
				out, err := cosignVerifyAttestation(t, s, f.image(), id...)
				if err != nil || !strings.Contains(out, "Verification for "+f.image()) {
					t.Errorf("cosign verify-attestation %s = %v\n%s", f.image(), err, out)
				}
				wrong := []string{"--certificate-identity", "https://github.com/evil/repo/.github/workflows/x.yml@refs/heads/main", "--certificate-oidc-issuer", s.IssuerURL}
				out, err = cosignVerifyAttestation(t, s, f.image(), wrong...)
				if err == nil || !strings.Contains(out, "expected SAN value") {
					t.Errorf("cosign verify-attestation with the wrong identity = %v, want a SAN mismatch:\n%s", err, out)
				}
			})
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					rep, err := Verify(ctx, testenv.Ref(t, f.image()), Options{
						Client: f.client, TrustedMaterial: tm, Policy: tc.policy,
						Repository: tc.repository, Workflow: tc.workflow, SubjectPath: f.archive,
					})
					if tc.reason != "" {
						if !errors.Is(err, ErrNoneVerified) {
							t.Fatalf("Verify() = %v, want ErrNoneVerified", err)
						}
						if got := rep.Attestations[0].Error; !strings.Contains(got, tc.reason) {
							t.Errorf("rejected with %q, want it to say %q", got, tc.reason)
						}
						return
					}
					if err != nil {
						t.Fatalf("Verify() = %v", err)
					}
					a := rep.Attestations[0]
					if a.Digest != art.String() || !a.Verified || !a.Archive.Matches {
						t.Errorf("Verify() attestation = %+v, want %s verified and matching", a, art)
					}
					wantSigner := Signer{
						Identity: s.Identity(), Issuer: s.IssuerURL, SourceRepository: repoURL,
						BuildSigner: s.Identity(), BuildConfig: s.Identity(),
					}
					if a.Signer == nil || *a.Signer != wantSigner {
						t.Errorf("Verify() signer = %+v, want %+v", a.Signer, wantSigner)
					}
					if a.LogIndex == nil || *a.LogIndex != res.LogIndex {
						t.Errorf("Verify() log index = %v, want %d", a.LogIndex, res.LogIndex)
					}
					if len(a.Timestamps) == 0 || a.Timestamps[0].Kind != "rfc3161" {
						t.Errorf("Verify() timestamps = %+v, want an rfc3161 timestamp", a.Timestamps)
					}
				})
			}
		})
	}
}

// cosignVerifyAttestation runs cosign v3.1.3 verify-attestation on a registry
// image, the README's cosign equivalent of `oci-attest verify`.
func cosignVerifyAttestation(t *testing.T, s *testenv.Sigstore, image string, extra ...string) (string, error) {
	t.Helper()
	args := []string{"verify-attestation",
		"--type", predicateType,
		"--trusted-root", s.TrustedRootPath,
		"--allow-http-registry",
		// The local Fulcio has no CT log: its certificates carry no SCT.
		"--insecure-ignore-sct",
		"--use-signed-timestamps",
	}
	args = append(append(args, extra...), image)
	cmd := exec.Command(testenv.Tool(t, "cosign"), args...)
	cmd.Env = append(os.Environ(), "TUF_ROOT="+t.TempDir(), "SIGSTORE_NO_CACHE=true", "DOCKER_CONFIG="+t.TempDir())
	out, err := cmd.CombinedOutput()
	return string(out), err
}
