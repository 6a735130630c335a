package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestValidateNamesTheInput(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	archive := filepath.Join(testdataDir, "archives", "docker25.tar")
	tests := []struct {
		name  string
		args  []string
		input string // the input the error must name
	}{
		{"missing subject-path", []string{"--dry-run"}, "subject-path"},
		{"subject-path does not exist", []string{"--subject-path", filepath.Join(dir, "nope.tar")}, "subject-path"},
		{"subject-path is a directory", []string{"--subject-path", dir}, "subject-path"},
		{"bad boolean", []string{"--subject-path", archive, "--dry-run=yes"}, "dry-run"},
		{"bad request-timeout", []string{"--subject-path", archive, "--request-timeout", "soon"}, "request-timeout"},
		{"request-timeout of zero", []string{"--subject-path", archive, "--request-timeout", "0s"}, "request-timeout"},
		{"bad referrers-mode", []string{"--subject-path", archive, "--referrers-mode", "both"}, "referrers-mode"},
		{"fallback-settle not a duration", []string{"--subject-path", archive, "--fallback-settle", "3 seconds"}, "fallback-settle"},
		{"fallback-settle too short", []string{"--subject-path", archive, "--fallback-settle", "10ms"}, "fallback-settle"},
		{"fallback-settle negative", []string{"--subject-path", archive, "--fallback-settle", "-3s"}, "fallback-settle"},
		{"bad sigstore", []string{"--subject-path", archive, "--sigstore", "staging"}, "sigstore"},
		{"custom without urls", []string{"--subject-path", archive, "--sigstore", "custom"}, "sigstore"},
		{"custom rekor without tsa", []string{"--subject-path", archive, "--sigstore", "custom", "--fulcio-url", "http://127.0.0.1:1", "--rekor-url", "http://127.0.0.1:2", "--trusted-root", archive}, "tsa-url"},
		{"custom key signing with tsa, no trusted-root", []string{"--subject-path", archive, "--sigstore", "custom", "--signing-key", "ephemeral", "--tsa-url", "http://127.0.0.1:2"}, "trusted-root"},
		{"bad fulcio-url", []string{"--subject-path", archive, "--fulcio-url", "fulcio:5555"}, "fulcio-url"},
		{"tsa-url without sigstore custom", []string{"--subject-path", archive, "--tsa-url", "http://127.0.0.1:2"}, "tsa-url"},
		{"fulcio-url with sigstore github", []string{"--subject-path", archive, "--sigstore", "github", "--fulcio-url", "https://fulcio.example"}, "fulcio-url"},
		{"bad subject-digest", []string{"--subject-path", archive, "--subject-digest", "sha256:abc"}, "subject-digest"},
		{"bad subject-name", []string{"--subject-path", archive, "--subject-name", "Bad Ref"}, "subject-name"},
		{"subject-name without tag or digest", []string{"--subject-path", archive, "--subject-name", "127.0.0.1:5001/me/app"}, "subject-name"},
		{"subject-digest contradicts subject-name", []string{"--subject-path", archive, "--subject-name", "127.0.0.1:5001/me/app@sha256:" + strings.Repeat("b", 64), "--subject-digest", "sha256:" + strings.Repeat("a", 64)}, "subject-digest"},
		{"push-image to a digest", []string{"--subject-path", archive, "--push-image", "--subject-name", "127.0.0.1:5001/me/app@sha256:" + strings.Repeat("b", 64)}, "subject-name"},
		{"public key as signing-key", []string{"--subject-path", archive, "--signing-key", pubKeyFile(t)}, "signing-key"},
		{"custom root lists a log, no rekor-url", []string{"--subject-path", archive, "--sigstore", "custom", "--fulcio-url", "http://127.0.0.1:1", "--tsa-url", "http://127.0.0.1:2", "--trusted-root", rootWithLog(t)}, "rekor-url"},
		{"xz-compressed archive", []string{"--subject-path", xzMagic(t, archive), "--dry-run"}, "subject-path"},
		{"missing signing-key file", []string{"--subject-path", archive, "--signing-key", filepath.Join(dir, "k.pem")}, "signing-key"},
		{"push-image without push", []string{"--subject-path", archive, "--push-image", "--push-to-registry=false"}, "push-image"},
		{"push-image with subject-digest", []string{"--subject-path", archive, "--push-image", "--subject-digest", "sha256:" + strings.Repeat("a", 64)}, "push-image"},
		{"bundle-path is a directory", []string{"--subject-path", archive, "--bundle-path", dir}, "bundle-path"},
		{"statement-path in a missing directory", []string{"--subject-path", archive, "--statement-path", filepath.Join(dir, "x", "s.json")}, "statement-path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, stderr, err := runCLI(t, env{}, tt.args...)
			if err == nil {
				t.Fatalf("run(%v) error = nil, want an error naming input %s", tt.args, tt.input)
			}
			if got := ExitCode(err); got != 2 {
				t.Errorf("ExitCode(%v) = %d, want 2", err, got)
			}
			if !strings.Contains(err.Error(), "input "+tt.input+":") {
				t.Errorf("run(%v) error = %q, want it to name input %s", tt.args, err, tt.input)
			}
			if !strings.Contains(stderr, err.Error()) {
				t.Errorf("stderr = %q, want the error printed", stderr)
			}
		})
	}
}

// TestActionsPathsOutsideTheContainer: in a docker action only the workspace
// and runner.temp are shared with the job, so a bundle or statement written
// elsewhere would be lost with the container; it is an input error, and a
// missing archive outside them says where to put it.
func TestActionsPathsOutsideTheContainer(t *testing.T) {
	t.Parallel()
	containerTemp, containerWS, elsewhere := t.TempDir(), t.TempDir(), t.TempDir()
	src, err := os.ReadFile(filepath.Join(testdataDir, "archives", "docker25.tar"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(containerTemp, "image.tar"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	base := env{
		"INPUT_SUBJECT-PATH": "/host/temp/image.tar",
		"INPUT_DRY-RUN":      "true",
		"INPUT_RUNNER-TEMP":  "/host/temp",
		"INPUT_WORKSPACE":    "/host/ws",
		"RUNNER_TEMP":        containerTemp,
		"GITHUB_WORKSPACE":   containerWS,
	}
	tests := []struct {
		name  string
		with  env
		input string // "" when valid
	}{
		{"under runner.temp", env{"INPUT_BUNDLE-PATH": "/host/temp/b.json", "INPUT_STATEMENT-PATH": "/host/ws/s.json"}, ""},
		{"relative", env{"INPUT_BUNDLE-PATH": "b.json"}, ""},
		{"bundle-path elsewhere", env{"INPUT_BUNDLE-PATH": filepath.Join(elsewhere, "b.json")}, "bundle-path"},
		{"statement-path elsewhere", env{"INPUT_STATEMENT-PATH": filepath.Join(elsewhere, "s.json")}, "statement-path"},
		{"subject-path elsewhere", env{"INPUT_SUBJECT-PATH": filepath.Join(elsewhere, "image.tar")}, "subject-path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := env{}
			for k, v := range base {
				e[k] = v
			}
			for k, v := range tt.with {
				e[k] = v
			}
			c, err := readActionsConfig(e.get)
			if err != nil {
				t.Fatalf("readActionsConfig() error = %v", err)
			}
			err = c.Validate()
			switch {
			case tt.input == "" && err != nil:
				t.Fatalf("Validate() error = %v, want nil", err)
			case tt.input == "":
			case err == nil:
				t.Fatalf("Validate() error = nil, want an error naming input %s", tt.input)
			case !strings.Contains(err.Error(), "input "+tt.input+":") || !strings.Contains(err.Error(), "runner.temp"):
				t.Errorf("Validate() error = %q, want it to name input %s and say where to write", err, tt.input)
			}
		})
	}
}

// TestValidateReadsTheGitHubEnvironment: the signing check sees the
// environment the run signs in. sigstore: github on a GitHub Enterprise
// host has no known TUF repository: exit 2 before anything is hashed or
// pushed, not a failure after the push.
func TestValidateReadsTheGitHubEnvironment(t *testing.T) {
	t.Parallel()
	archive := filepath.Join(testdataDir, "archives", "docker25.tar")
	_, _, err := runCLI(t, env{"GITHUB_SERVER_URL": "https://acme.ghe.com"}, "--subject-path", archive, "--sigstore", "github",
		"--subject-name", "127.0.0.1:1/never/contacted:v1", "--push-image")
	if err == nil || ExitCode(err) != 2 || !strings.Contains(err.Error(), "input ") {
		t.Fatalf("run on a GHE.com host with sigstore github = %v (exit %d), want exit 2 naming an input", err, ExitCode(err))
	}
	if strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("error %q mentions the registry: the check came after contacting it", err)
	}
	t.Logf("error: %v", err)
}

// TestUnknownFlagSuggests: a mistyped flag is one line with the flag it
// resembles (no 40 lines of usage), exit 2, for every command.
func TestUnknownFlagSuggests(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--subject-pth", "x.tar"}, "unknown flag --subject-pth: did you mean --subject-path?"},
		{[]string{"verify", "--outptu", "json"}, "unknown flag --outptu: did you mean --output?"},
		{[]string{"demo", "--kep"}, "unknown flag --kep: did you mean --keep?"},
		{[]string{"--zzzzzzzz"}, "unknown flag --zzzzzzzz (--help lists the flags)"},
	} {
		_, stderr, err := runCLI(t, env{}, tc.args...)
		if ExitCode(err) != 2 || !strings.Contains(stderr, tc.want) || strings.Count(stderr, "\n") > 1 {
			t.Errorf("run(%v) = exit %d, stderr %q; want exit 2 and one line with %q", tc.args, ExitCode(err), stderr, tc.want)
		}
	}
	// --help shows each default once, in the flag's own words.
	stdout, _, err := runCLI(t, env{}, "--help")
	if err != nil && ExitCode(err) != 0 || !strings.Contains(stdout, "--output FORMAT") || strings.Count(stdout, "(default text)") != 1 {
		t.Errorf("--help = %v:\n%s", err, stdout)
	}
}

func TestActionsInputs(t *testing.T) {
	t.Parallel()
	hostTemp, hostWS := t.TempDir(), t.TempDir()
	e := env{
		"INPUT_SUBJECT-PATH":   "/host/temp/image.tar",
		"INPUT_DRY-RUN":        "TRUE",
		"INPUT_BUNDLE-PATH":    "out/b.json",
		"INPUT_STATEMENT-PATH": "/host/ws/s.json",
		"INPUT_SIGNING-CONFIG": "/host/temp/signing_config.json",
		"INPUT_RUNNER-TEMP":    "/host/temp",
		"INPUT_WORKSPACE":      "/host/ws",
		"RUNNER_TEMP":          hostTemp,
		"GITHUB_WORKSPACE":     hostWS,
	}
	c, err := readActionsConfig(e.get)
	if err != nil {
		t.Fatalf("readActionsConfig() error = %v", err)
	}
	want := &Config{
		SubjectPath:    filepath.Join(hostTemp, "image.tar"),
		BundlePath:     "out/b.json",
		StatementPath:  filepath.Join(hostWS, "s.json"),
		SigningConfig:  filepath.Join(hostTemp, "signing_config.json"),
		DryRun:         true,
		PushToRegistry: true,
		ReferrersMode:  "auto",
		FallbackSettle: "3s",
		Sigstore:       "auto",
		ShowSummary:    true,
		Actions:        true,
		RequestTimeout: time.Minute,

		GitHubAttestations: "auto",
	}
	if diff := cmp.Diff(want, c, cmp.AllowUnexported(Config{}), cmp.FilterPath(func(p cmp.Path) bool {
		return p.Last().String() == ".paths" || p.Last().String() == ".getenv" // a func: compared by identity
	}, cmp.Ignore())); diff != "" {
		t.Errorf("readActionsConfig() mismatch (-want +got):\n%s", diff)
	}
	if got, want := c.paths.toHost(filepath.Join(hostTemp, "oci-attest", "x.json")), "/host/temp/oci-attest/x.json"; got != want {
		t.Errorf("toHost() = %q, want %q", got, want)
	}
	if got := c.paths.toHost("/elsewhere/x"); got != "/elsewhere/x" {
		t.Errorf("toHost(/elsewhere/x) = %q, want it unchanged", got)
	}
}
