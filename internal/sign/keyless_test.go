package sign_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/oci-attest/oci-attest/internal/sign"
	"github.com/oci-attest/oci-attest/internal/testenv"
)

// customOptions signs against a local stack through the Actions token
// endpoint, as the action does in a job with id-token: write.
func customOptions(s *testenv.Sigstore) sign.Options {
	return sign.Options{
		Instance:        sign.InstanceCustom,
		FulcioURL:       s.FulcioURL,
		RekorURL:        s.RekorURL,
		TSAURL:          s.TSAURL,
		TrustedRootPath: s.TrustedRootPath,
		Getenv:          s.ActionsEnv(nil),
	}
}

func TestSignKeyless(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts testenv.SigstoreOptions
	}{
		{"fulcio+rekor v2+tsa", testenv.SigstoreOptions{Rekor: true, TSA: true}},
		{"fulcio+tsa (github shape)", testenv.SigstoreOptions{TSA: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s := testenv.StartSigstore(t, tc.opts)
			t.Logf("stack started in %v", s.StartupTime)
			st, digest := testStatement(t, tc.name)
			var masked []string
			opts := customOptions(s)
			opts.Mask = func(v string) { masked = append(masked, v) }
			begin := time.Now()
			res, err := sign.Sign(ctx, st, opts)
			if err != nil {
				t.Fatalf("Sign() = %v", err)
			}
			t.Logf("Sign() took %v", time.Since(begin))
			if res.Identity != s.Identity() || res.Issuer != s.IssuerURL || res.Instance != sign.InstanceCustom {
				t.Errorf("Sign() identity = %q %q %q, want %q %q custom", res.Identity, res.Issuer, res.Instance, s.Identity(), s.IssuerURL)
			}
			if tc.opts.Rekor != (res.LogIndex >= 0) || len(res.Timestamps) == 0 {
				t.Errorf("Sign() log index = %d, timestamps = %v", res.LogIndex, res.Timestamps)
			}
			if len(masked) != 2 || masked[0] != s.ActionsRequestToken || strings.Count(masked[1], ".") != 2 {
				t.Errorf("masked %d secrets, want the request token then the ID token", len(masked))
			}
			if strings.Contains(string(res.Bundle), masked[1]) {
				t.Error("the bundle contains the ID token")
			}
			got := parseBundle(t, res.Bundle)
			if got.VerificationMaterial.Certificate == nil || got.VerificationMaterial.PublicKey != nil {
				t.Error("keyless bundle has no certificate (or has a key hint)")
			}
			if n := len(got.VerificationMaterial.TlogEntries); (n == 1) != tc.opts.Rekor {
				t.Errorf("tlog entries = %d, want Rekor=%v", n, tc.opts.Rekor)
			}

			tm, err := sign.TrustedMaterial(ctx, sign.TrustOptions{Instance: sign.InstanceCustom, TrustedRootPath: opts.TrustedRootPath})
			if err != nil {
				t.Fatal(err)
			}
			vr, err := sign.Verify(ctx, res.Bundle, tm, sign.Policy{Identity: s.Identity(), Issuer: s.IssuerURL, Digest: digest})
			if err != nil {
				t.Fatalf("Verify(policy) = %v", err)
			}
			// Fulcio's github-workflow templates found every claim they read.
			ext := vr.Signature.Certificate.Extensions
			wantExt := map[string]string{
				"SourceRepositoryURI":                 "https://github.com/" + testenv.DefaultRepository,
				"BuildSignerURI":                      s.Identity(),
				"RunInvocationURI":                    "https://github.com/" + testenv.DefaultRepository + "/actions/runs/4242/attempts/1",
				"SourceRepositoryVisibilityAtSigning": "public",
				"GithubWorkflowTrigger":               "push",
				"SourceRepositoryRef":                 testenv.DefaultRef,
			}
			gotExt := map[string]string{
				"SourceRepositoryURI":                 ext.SourceRepositoryURI,
				"BuildSignerURI":                      ext.BuildSignerURI,
				"RunInvocationURI":                    ext.RunInvocationURI,
				"SourceRepositoryVisibilityAtSigning": ext.SourceRepositoryVisibilityAtSigning,
				"GithubWorkflowTrigger":               ext.GithubWorkflowTrigger,
				"SourceRepositoryRef":                 ext.SourceRepositoryRef,
			}
			if diff := cmp.Diff(wantExt, gotExt); diff != "" {
				t.Errorf("certificate extensions mismatch (-want +got):\n%s", diff)
			}
			// Wrong identity, wrong issuer.
			for _, p := range []sign.Policy{
				{Identity: "https://github.com/evil/repo/.github/workflows/x.yml@refs/heads/main", Issuer: s.IssuerURL, Digest: digest},
				{Identity: s.Identity(), Issuer: "https://token.actions.githubusercontent.com", Digest: digest},
			} {
				if _, err := sign.Verify(ctx, res.Bundle, tm, p); !errors.Is(err, sign.ErrVerify) {
					t.Errorf("Verify(%+v) = %v, want ErrVerify", p, err)
				}
			}
			// Tampered payload.
			tampered := strings.Replace(string(res.Bundle), `"payload":"`, `"payload":"IC`, 1)
			if _, err := sign.Verify(ctx, []byte(tampered), tm, sign.Policy{Identity: s.Identity(), Issuer: s.IssuerURL, SkipArtifact: true}); !errors.Is(err, sign.ErrVerify) {
				t.Errorf("Verify(tampered) = %v, want ErrVerify", err)
			}
		})
	}
}

// TestVerifyInstanceRequirements checks the per-instance requirements: a
// bundle without a log entry fails the public-good policy (which needs an
// SCT and a log entry too) and passes the github policy (an RFC 3161
// timestamp).
func TestVerifyInstanceRequirements(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := testenv.StartSigstore(t, testenv.SigstoreOptions{TSA: true})
	st, digest := testStatement(t, "instances")
	res, err := sign.Sign(ctx, st, customOptions(s))
	if err != nil {
		t.Fatalf("Sign() = %v", err)
	}
	tm, err := sign.TrustedMaterial(ctx, sign.TrustOptions{Instance: sign.InstanceCustom, TrustedRootPath: s.TrustedRootPath})
	if err != nil {
		t.Fatal(err)
	}
	p := sign.Policy{Identity: s.Identity(), Issuer: s.IssuerURL, Digest: digest}
	for _, tc := range []struct {
		instance string
		ok       bool
	}{{"", true}, {sign.InstanceCustom, true}, {sign.InstanceGitHub, true}, {sign.InstancePublicGood, false}} {
		p.Instance = tc.instance
		_, err := sign.Verify(ctx, res.Bundle, tm, p)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, sign.ErrVerify)) {
			t.Errorf("Verify(instance %q) = %v, want ok=%v", tc.instance, err, tc.ok)
		}
	}
}
