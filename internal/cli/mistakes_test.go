package cli

import (
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestMistakes: the last mistakes new users made, each with an error that
// says what to do and its exit code (issue "Adoptable on day one").
func TestMistakes(t *testing.T) {
	t.Parallel()
	archive := filepath.Join(testdataDir, "archives", "docker25.tar")
	for _, tc := range []struct {
		name string
		e    env
		args []string
		code int
		want []string
	}{
		{"a bool flag's value as its own word", env{}, []string{"--subject-path", archive, "--push-to-registry", "false"}, 2,
			[]string{"--push-to-registry takes no separate value: write --push-to-registry=false"}},
		{"a mistyped command", env{}, []string{"verfy", "ghcr.io/o/a:1"}, 2, []string{`unknown command "verfy": did you mean "verify"?`}},
		{"a swapped command", env{}, []string{"dmeo"}, 2, []string{`did you mean "demo"?`}},
		{"a URL for subject-name", env{}, []string{"--subject-path", archive, "--subject-name", "https://ghcr.io/org/app:1.0", "--dry-run"}, 2,
			[]string{"input subject-name:", `drop "https://" and write ghcr.io/org/app:1.0`}},
		{"a URL for verify's IMAGE", env{}, []string{"verify", "https://ghcr.io/org/app:1.0", "--key", "k.pem"}, 2,
			[]string{`drop "https://"`}},
		{"keyless without a token, outside Actions", env{}, []string{"--subject-path", archive, "--push-to-registry=false"}, 2,
			[]string{"no OIDC identity token", "pass --identity-token or set SIGSTORE_ID_TOKEN"}},
		{"keyless without a token, in Actions", env{"GITHUB_ACTIONS": "true"}, []string{"--subject-path", archive, "--push-to-registry=false"}, 2,
			[]string{`add "permissions: id-token: write" to the job`}},
		{"a dry run checks the inputs the real run checks", env{}, []string{"--subject-path", archive, "--dry-run", "--sigstore", "bogus"}, 2,
			[]string{"input sigstore:"}},
		{"a dry run checks the subject name as the real run does", env{}, []string{"--subject-path", archive, "--dry-run", "--subject-name", "ghcr.io/o/app"}, 2,
			[]string{"input subject-name:", "names no tag and no digest"}},
		{"a bare name is Docker Hub's", env{}, []string{"--subject-path", archive, "--signing-key", "ephemeral", "--subject-name", "app:1.0", "--push-image", "--request-timeout", "1s"}, 1,
			[]string{"subject-name app:1.0 names no registry, so it is Docker Hub's index.docker.io/library/app", "e.g. ghcr.io/ORG/app"}},
		{"a registry that is not running", env{}, []string{"--subject-path", archive, "--signing-key", "ephemeral", "--subject-name", "127.0.0.1:1/app:1", "--request-timeout", "1s"}, 1,
			[]string{"connection refused", "check that it runs and that this machine can reach it"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, stderr, err := runCLI(t, tc.e, tc.args...)
			if ExitCode(err) != tc.code {
				t.Fatalf("run(%v) = %v (exit %d), want exit %d\n%s", tc.args, err, ExitCode(err), tc.code, stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if strings.Count(err.Error(), "/v2/") > 1 || strings.HasPrefix(err.Error(), "input push-image") {
				t.Errorf("error %q repeats a URL, or blames push-image", err)
			}
			if tc.code == 2 && strings.Contains(stderr, "tar digest") {
				t.Errorf("the archive was read before the input error:\n%s", stderr)
			}
		})
	}
}

// TestDryRunWithoutToken: a dry run needs no token (the environment's), and
// prints one statement as an object and several as one JSON array.
func TestDryRunWithoutToken(t *testing.T) {
	t.Parallel()
	stdout, _, err := runCLI(t, env{}, "--subject-path", filepath.Join(testdataDir, "archives", "docker25.tar"), "--dry-run")
	var one map[string]any
	if err != nil || json.Unmarshal([]byte(stdout), &one) != nil || one["predicateType"] == nil {
		t.Fatalf("dry run of one image = %v, stdout %q; want one statement object", err, stdout)
	}
	stdout, _, err = runCLI(t, env{}, "--subject-path", filepath.Join(testdataDir, "archives", "multi-image.tar"), "--dry-run")
	var many []map[string]any
	if err != nil || json.Unmarshal([]byte(stdout), &many) != nil || len(many) != 2 {
		t.Fatalf("dry run of two images = %v, stdout %q; want a JSON array of two statements", err, stdout)
	}
}

// TestHelp: --help goes to stdout with exit 0, one line per flag, for every
// command; every attest flag has its help line.
func TestHelp(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"--help"}, {"verify", "--help"}, {"attach", "--help"}, {"demo", "-h"}} {
		stdout, stderr, err := runCLI(t, env{}, args...)
		if err != nil && ExitCode(err) != 0 || stderr != "" || !strings.HasPrefix(stdout, "Usage: oci-attest") {
			t.Errorf("run(%v) = %v (exit %d), stderr %q; want the help on stdout, exit 0", args, err, ExitCode(err), stderr)
		}
		for _, line := range strings.Split(stdout, "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "--") && !regexp.MustCompile(`^  --[a-z-]+( [A-Z/]+)? +[A-Za-z(']`).MatchString(line) {
				t.Errorf("run(%v): help line %q is not one line of flag, value and help", args, line)
			}
			if len(line) > 120 {
				t.Errorf("run(%v): help line of %d characters: %q", args, len(line), line)
			}
		}
	}
	for _, in := range inputs {
		if h, ok := attestHelp[in.name]; !in.actionOnly && (!ok || h.help == "") {
			t.Errorf("input %s has no --help line in attestHelp", in.name)
		}
	}
}

// TestKeySignedBundleWithIdentity: a key-signed bundle checked with a
// certificate identity says so and says to pass --key, once.
func TestKeySignedBundleWithIdentity(t *testing.T) {
	t.Parallel()
	archive := filepath.Join(testdataDir, "archives", "docker25.tar")
	bundle := filepath.Join(t.TempDir(), "b.json")
	if _, stderr, err := runCLI(t, env{}, "--subject-path", archive, "--signing-key", "ephemeral", "--push-to-registry=false", "--bundle-path", bundle); err != nil {
		t.Fatalf("signing: %v\n%s", err, stderr)
	}
	_, _, err := runCLI(t, env{}, "verify", "--bundle", bundle, "--subject-path", archive, "--trusted-root", rootWithLog(t),
		"--certificate-identity", "https://github.com/o/r/.github/workflows/r.yml@refs/heads/main", "--certificate-oidc-issuer", "https://token.actions.githubusercontent.com")
	if ExitCode(err) != exitVerifyNoneVerified || !strings.Contains(err.Error(), "key-signed") || !strings.Contains(err.Error(), "--key") || strings.Contains(err.Error(), "0 < 1") {
		t.Errorf("verify(key-signed, identity) = %v (exit %d), want exit 4 saying it is key-signed and to pass --key", err, ExitCode(err))
	}
}
