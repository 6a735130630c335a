package sign

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	prototrustroot "github.com/sigstore/protobuf-specs/gen/pb-go/trustroot/v1"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestResolveInstance(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	event := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name, instance, eventPath string
		want                      string
		wantErr                   string
	}{
		{"explicit public-good", "public-good", "", "public-good", ""},
		{"explicit github", "github", "", "github", ""},
		{"explicit custom", "custom", "", "custom", ""},
		{"unknown", "staging", "", "", `"staging" is not one of auto, public-good, github, custom`},
		{"auto outside Actions", "", "", "public-good", ""},
		{"auto public repo", "auto", event("public.json", `{"repository":{"visibility":"public","private":false}}`), "public-good", ""},
		{"auto private repo", "auto", event("private.json", `{"repository":{"visibility":"private","private":true}}`), "github", ""},
		{"auto internal repo", "", event("internal.json", `{"repository":{"visibility":"internal","private":true}}`), "github", ""},
		{"auto old payload, private=false", "", event("old.json", `{"repository":{"private":false}}`), "public-good", ""},
		{"auto old payload, private=true", "", event("old2.json", `{"repository":{"private":true}}`), "github", ""},
		{"auto payload without repository", "", event("norepo.json", `{"action":"x"}`), "github", ""},
		{"auto unreadable payload", "", filepath.Join(dir, "missing.json"), "", "GITHUB_EVENT_PATH"},
		{"auto broken payload", "", event("broken.json", `{`), "", "parsing the event payload"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := resolveInstance(Options{Instance: tc.instance, Getenv: envOf(map[string]string{"GITHUB_EVENT_PATH": tc.eventPath})})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("resolveInstance() = %q, %v; want error containing %q", got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("resolveInstance() = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestGitHubServices(t *testing.T) {
	t.Parallel()
	tests := []struct {
		server string
		want   services
	}{
		{"", services{Fulcio: "https://fulcio.githubapp.com", TSA: []string{"https://timestamp.githubapp.com/api/v1/timestamp"}}},
		{"https://github.com", services{Fulcio: "https://fulcio.githubapp.com", TSA: []string{"https://timestamp.githubapp.com/api/v1/timestamp"}}},
		{"https://octo.ghe.com", services{Fulcio: "https://fulcio.octo.ghe.com", TSA: []string{"https://timestamp.octo.ghe.com/api/v1/timestamp"}}},
	}
	for _, tc := range tests {
		got, err := githubServices(tc.server)
		if err != nil {
			t.Fatalf("githubServices(%q) = %v", tc.server, err)
		}
		if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(services{})); diff != "" {
			t.Errorf("githubServices(%q) mismatch (-want +got):\n%s", tc.server, diff)
		}
		if err := got.check(InstanceGitHub); err != nil {
			t.Errorf("githubServices(%q).check() = %v", tc.server, err)
		}
	}
	if _, err := githubServices("::not a url"); !errors.Is(err, ErrOptions) {
		t.Errorf("githubServices(bad) = %v, want ErrOptions", err)
	}
}

func TestCustomServices(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		opts    Options
		want    services
		wantErr string
	}{
		{"all, rekor v2 default, TSA path added",
			Options{FulcioURL: "https://fulcio.example/", RekorURL: "https://rekor.example", TSAURL: "https://tsa.example"},
			services{Fulcio: "https://fulcio.example", Rekor: []rekorService{{"https://rekor.example", 2}}, TSA: []string{"https://tsa.example/api/v1/timestamp"}}, ""},
		{"TSA with its own path",
			Options{FulcioURL: "https://f.example", TSAURL: "https://t.example/tsa"},
			services{Fulcio: "https://f.example", TSA: []string{"https://t.example/tsa"}}, ""},
		{"no fulcio", Options{TSAURL: "https://t.example"}, services{}, "no Fulcio URL"},
		{"no rekor, no tsa", Options{FulcioURL: "https://f.example"}, services{}, "neither a Rekor nor a timestamp authority"},
		{"rekor v2 without tsa", Options{FulcioURL: "https://f.example", RekorURL: "https://r.example"}, services{}, "Rekor v2 gives no integrated time"},
		{"not a URL", Options{FulcioURL: "fulcio.example"}, services{}, `FulcioURL: "fulcio.example" is not an http(s) URL`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := customServices(tc.opts, nil, time.Now())
			if err == nil {
				err = got.check(InstanceCustom)
			}
			if tc.wantErr != "" {
				if !errors.Is(err, ErrOptions) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("customServices() = %v; want ErrOptions containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("customServices() = %v", err)
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(rekorService{}, services{})); diff != "" {
				t.Errorf("customServices() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestSigningConfigServices checks the selection from a public-good-shaped
// signing config: the newest valid service of a supported API version.
func TestSigningConfigServices(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	old, recent, future := now.AddDate(-2, 0, 0), now.AddDate(0, -1, 0), now.AddDate(0, 1, 0)
	svc := func(url string, v uint32, start time.Time, end ...time.Time) root.Service {
		s := root.Service{URL: url, MajorAPIVersion: v, ValidityPeriodStart: start, Operator: "sigstore.dev"}
		if len(end) > 0 {
			s.ValidityPeriodEnd = end[0]
		}
		return s
	}
	tests := []struct {
		name    string
		rekors  []root.Service
		tsas    []root.Service
		fulcios []root.Service
		want    services
	}{
		{"rekor v2 preferred over v1, future service skipped",
			[]root.Service{svc("https://rekor.sigstore.dev", 1, old), svc("https://log2025-1.rekor.sigstore.dev", 2, recent), svc("https://log2027.rekor.sigstore.dev", 2, future)},
			[]root.Service{svc("https://timestamp.sigstore.dev/api/v1/timestamp", 1, recent)},
			[]root.Service{svc("https://fulcio.sigstore.dev", 1, old)},
			services{Fulcio: "https://fulcio.sigstore.dev", Rekor: []rekorService{{"https://log2025-1.rekor.sigstore.dev", 2}}, TSA: []string{"https://timestamp.sigstore.dev/api/v1/timestamp"}}},
		{"expired v2 falls back to v1",
			[]root.Service{svc("https://rekor.sigstore.dev", 1, old), svc("https://log2024.rekor.sigstore.dev", 2, old, recent)},
			nil,
			[]root.Service{svc("https://fulcio2.example", 2, recent), svc("https://fulcio.sigstore.dev", 1, old)},
			services{Fulcio: "https://fulcio.sigstore.dev", Rekor: []rekorService{{"https://rekor.sigstore.dev", 1}}}},
		{"no certificate authority: no Fulcio (key signing)",
			[]root.Service{svc("https://rekor.example", 1, old)}, nil, nil,
			services{Rekor: []rekorService{{"https://rekor.example", 1}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sc, err := root.NewSigningConfig(root.SigningConfigMediaType02, tc.fulcios, nil, tc.rekors,
				root.ServiceConfiguration{Selector: prototrustroot.ServiceSelector_ANY}, tc.tsas,
				root.ServiceConfiguration{Selector: prototrustroot.ServiceSelector_ANY})
			if err != nil {
				t.Fatal(err)
			}
			got, err := signingConfigServices(sc, now)
			if err != nil {
				t.Fatalf("signingConfigServices() = %v", err)
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(rekorService{}, services{})); diff != "" {
				t.Errorf("signingConfigServices() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTUFOptions(t *testing.T) {
	t.Parallel()
	pg, err := tufOptions(context.Background(), TrustOptions{TUFCachePath: "/cache"})
	if err != nil {
		t.Fatal(err)
	}
	if pg.RepositoryBaseURL != "https://tuf-repo-cdn.sigstore.dev" || pg.CachePath != "/cache" || string(pg.Root) == string(githubTUFRoot) {
		t.Errorf("public-good TUF options = %s %s, want Sigstore's repository and root", pg.RepositoryBaseURL, pg.CachePath)
	}
	gh, err := tufOptions(context.Background(), TrustOptions{Instance: InstanceGitHub, ServerURL: "https://github.com"})
	if err != nil {
		t.Fatal(err)
	}
	if gh.RepositoryBaseURL != githubTUFMirror || string(gh.Root) != string(githubTUFRoot) {
		t.Errorf("github TUF options = %s, want %s and the embedded GitHub root", gh.RepositoryBaseURL, githubTUFMirror)
	}
	var oe *OptionError
	if _, err := tufOptions(context.Background(), TrustOptions{Instance: InstanceGitHub, ServerURL: "https://octo.ghe.com"}); !errors.Is(err, ErrOptions) || !errors.As(err, &oe) || oe.Field != "TrustedRootPath" {
		t.Errorf("github TUF options for a GHE.com host = %v, want ErrOptions asking for TrustedRootPath", err)
	}
	if _, err := TrustedMaterial(t.Context(), TrustOptions{Instance: InstanceCustom}); !errors.Is(err, ErrOptions) || !errors.As(err, &oe) || oe.Field != "TrustedRootPath" {
		t.Errorf("TrustedMaterial(custom without root) = %v, want ErrOptions asking for TrustedRootPath", err)
	}
}

// TestGitHubTUFRoot checks that the embedded GitHub TUF root is intact: it
// parses, and its own root keys sign it to threshold.
func TestGitHubTUFRoot(t *testing.T) {
	t.Parallel()
	r, err := metadata.Root().FromBytes(githubTUFRoot)
	if err != nil {
		t.Fatalf("parsing the embedded GitHub TUF root: %v", err)
	}
	if err := r.VerifyDelegate(metadata.ROOT, r); err != nil {
		t.Errorf("the embedded GitHub TUF root does not verify itself: %v", err)
	}
	if r.Signed.Version != 3 {
		t.Errorf("embedded GitHub TUF root version = %d, want 3", r.Signed.Version)
	}
}

func TestExpectedIdentity(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		claims tokenClaims
		want   Policy
	}{
		{"github actions", tokenClaims{Issuer: "https://token.actions.githubusercontent.com", JobWorkflowRef: "o/r/.github/workflows/a.yml@refs/heads/main"},
			Policy{Issuer: "https://token.actions.githubusercontent.com", IdentityRegexp: `^https://[^/]+/o/r/\.github/workflows/a\.yml@refs/heads/main$`}},
		{"email", tokenClaims{Issuer: "https://accounts.google.com", Email: "a@example.com"},
			Policy{Issuer: "https://accounts.google.com", Identity: "a@example.com"}},
		{"federated", tokenClaims{Issuer: "https://oauth2.sigstore.dev/auth", Email: "a@example.com", Federated: []byte(`{"connector_id":"https://github.com/login/oauth"}`)},
			Policy{IssuerRegexp: `^https?://`, Identity: "a@example.com"}},
		{"other", tokenClaims{Issuer: "https://gitlab.com", Subject: "project_path:g/p"},
			Policy{Issuer: "https://gitlab.com", IdentityRegexp: `.`}},
	}
	for _, tc := range tests {
		got, err := expectedIdentity(tc.claims)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("expectedIdentity(%s) mismatch (-want +got):\n%s", tc.name, diff)
		}
	}
}

func TestParseClaims(t *testing.T) {
	t.Parallel()
	for _, tok := range []string{"", "a.b", "a.!!!.c", "a.bm90IGpzb24.c", "a.e30.c"} {
		if _, err := parseClaims(tok); !errors.Is(err, ErrOptions) || strings.Contains(err.Error(), tok+".") && tok != "" {
			t.Errorf("parseClaims(%q) = %v, want ErrOptions", tok, err)
		}
	}
}
