package gates

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/oci-attest/oci-attest/internal/testenv"
)

// engineTimeout bounds one run of a gate (a deadlock guard, not a budget).
const engineTimeout = 5 * time.Minute

// run runs bin in a clean environment — HOME in a temporary directory, so
// that no Docker config, gh login or TUF cache of the machine takes part —
// plus env. It returns stdout, stderr and the exit code (-1 when it did not
// exit by itself).
func run(t *testing.T, bin string, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), engineTimeout)
	defer cancel()
	home := t.TempDir()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append([]string{"HOME=" + home, "PATH=" + os.Getenv("PATH"), "TMPDIR=" + home,
		"DOCKER_CONFIG=" + filepath.Join(home, ".docker"), "NO_COLOR=1"}, env...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return o.String(), e.String(), 0
	case errors.As(err, &exit) && ctx.Err() == nil:
		return o.String(), e.String(), exit.ExitCode()
	}
	t.Fatalf("%s %s: %v\nstdout:\n%s\nstderr:\n%s", filepath.Base(bin), strings.Join(args, " "), err, o.String(), e.String())
	return "", "", -1
}

// verdict is what a gate decided about an image.
type verdict struct {
	// decided is false when the gate neither admitted nor refused the image
	// by its policy: it failed to run, its policy was invalid, it could not
	// read the registry — or, for Kyverno, the check ended in an error.
	decided, admitted bool
	// output is the command and what the gate printed.
	output string
}

// engine is one gate: check runs it on an image of f with the documented
// policy, the issuer substituted by issuer.
type engine struct {
	name  string
	tool  string // testenv.GoTools name
	check func(t *testing.T, bin string, f *fixture, img image, issuer string) verdict
}

var engines = []engine{
	{name: "gh", tool: "gh", check: checkGH},
	{name: "policy-tester", tool: "policy-tester", check: checkPolicyTester},
	{name: "kyverno", tool: "kyverno", check: checkKyverno},
}

// ghTrustedRoot writes the stack's trusted root as gh's
// --custom-trusted-root wants it: JSON lines, one root per line, each line
// ending in a newline (gh reads only complete lines), as docs/gates.md's
// `jq -c . trusted_root.json > trusted_root.jsonl` writes it.
func ghTrustedRoot(t *testing.T, s *testenv.Sigstore) string {
	t.Helper()
	jq := testenv.RequireBin(t, "jq")
	out, stderr, code := run(t, jq, nil, "-c", ".", s.TrustedRootPath)
	if code != 0 {
		t.Fatalf("jq -c . %s: exit %d: %s", s.TrustedRootPath, code, stderr)
	}
	p := filepath.Join(t.TempDir(), ghTrustedRoots)
	if err := os.WriteFile(p, []byte(out), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// checkGH runs docs/gates.md's registry command:
//
//	gh attestation verify oci://IMAGE --bundle-from-oci --repo my-org/my-app \
//	  --signer-workflow my-org/my-app/.github/workflows/release.yml \
//	  --predicate-type https://aflock.ai/attestations/oci/v0.1 \
//	  --custom-trusted-root trusted_root.jsonl [--cert-oidc-issuer ISSUER] \
//	  --format json | jq -e -f docs/gates/gh-predicate.jq
//
// gh needs a login even to read a registry: GH_TOKEN is set to a token
// GitHub would refuse, and gh is never told a host it could reach.
func checkGH(t *testing.T, bin string, f *fixture, img image, issuer string) verdict {
	t.Helper()
	args := append([]string{"attestation", "verify", "oci://" + img.byDigest(), "--bundle-from-oci"}, ghPolicy(t, f, issuer)...)
	return ghVerdict(t, bin, f, args)
}

// ghPolicy is the policy part of the documented gh command.
func ghPolicy(t *testing.T, f *fixture, issuer string) []string {
	t.Helper()
	args := []string{"--repo", docRepository, "--signer-workflow", docWorkflow,
		"--predicate-type", predicateType, "--custom-trusted-root", ghTrustedRoot(t, f.s), "--format", "json"}
	if issuer != docIssuer {
		args = append(args, "--cert-oidc-issuer", issuer) // the default is GitHub's
	}
	return args
}

// ghVerdict runs gh and, when it verified, the documented jq filter on its
// output.
func ghVerdict(t *testing.T, bin string, f *fixture, args []string) verdict {
	t.Helper()
	env := []string{"GH_TOKEN=gho_offline", "GH_CONFIG_DIR=" + t.TempDir(), "GH_NO_UPDATE_NOTIFIER=1", "GH_PROMPT_DISABLED=1"}
	stdout, stderr, code := run(t, bin, env, args...)
	out := "gh " + strings.Join(args, " ") + "\nstdout:\n" + stdout + "\nstderr:\n" + stderr
	switch {
	case code == 1 && stdout == "":
		return verdict{decided: true, output: out}
	case code != 0:
		return verdict{output: out}
	}
	filter := filepath.Join(t.TempDir(), ghPredicateJQ)
	if err := os.WriteFile(filter, docFile(t, ghPredicateJQ, f.repo, f.s.IssuerURL), 0o600); err != nil {
		t.Fatal(err)
	}
	jq := exec.Command(testenv.RequireBin(t, "jq"), "-e", "-f", filter)
	jq.Stdin = strings.NewReader(stdout)
	res, err := jq.CombinedOutput()
	out += "\njq -e -f " + ghPredicateJQ + ": " + string(res)
	var exit *exec.ExitError
	switch {
	case err == nil:
		return verdict{decided: true, admitted: true, output: out}
	case errors.As(err, &exit) && exit.ExitCode() == 1:
		return verdict{decided: true, output: out}
	}
	t.Fatalf("jq failed on gh's output: %v\n%s", err, out)
	return verdict{}
}

// trustRoot converts the stack's trusted root into the policy-controller
// TrustRoot named name, with the documented filter:
//
//	jq -f docs/gates/trustroot.jq --arg name my-sigstore trusted_root.json
func trustRoot(t *testing.T, s *testenv.Sigstore, dir, name string) string {
	t.Helper()
	jq := testenv.RequireBin(t, "jq")
	out, stderr, code := run(t, jq, nil, "-f", filepath.Join(docsDir, trustRootJQ), "--arg", "name", name, s.TrustedRootPath)
	if code != 0 {
		t.Fatalf("jq -f %s: exit %d: %s", trustRootJQ, code, stderr)
	}
	p := filepath.Join(dir, "trustroot.json")
	if err := os.WriteFile(p, []byte(out), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// checkPolicyTester runs policy-controller's tester with the fixture's
// documented policy (the custom instance's, or GitHub's) and the TrustRoot
// it names, made by trustroot.jq:
//
//	policy-tester --policy clusterimagepolicy-custom.yaml --trustroot trustroot.json --image IMAGE
//
// It refuses with {"errors":[…]} on stdout and exit 1; anything else that
// does not exit 0 (an invalid policy, a trust root it cannot read) is not
// decided.
func checkPolicyTester(t *testing.T, bin string, f *fixture, img image, issuer string) verdict {
	t.Helper()
	dir := t.TempDir()
	args := []string{"--policy", writeDoc(t, dir, f.docs.clusterImagePolicy, f.repo, issuer),
		"--trustroot", trustRoot(t, f.s, dir, f.docs.trustRoot), "--image", img.byDigest()}
	stdout, stderr, code := run(t, bin, nil, args...)
	out := "policy-tester " + strings.Join(args, " ") + "\nstdout:\n" + stdout + "\nstderr:\n" + stderr
	switch {
	case code == 0:
		return verdict{decided: true, admitted: true, output: out}
	case code == 1 && strings.HasPrefix(stdout, `{"errors":[`):
		return verdict{decided: true, output: out}
	}
	return verdict{output: out}
}

// kyvernoResult is the count line of `kyverno apply`.
var kyvernoResult = regexp.MustCompile(`pass: (\d+), fail: (\d+), warn: (\d+), error: (\d+), skip: (\d+)`)

// checkKyverno runs the fixture's documented Kyverno policy on the
// documented Pod,
// whose image is img by tag (a platform manifest by digest):
//
//	kyverno apply kyverno-clusterpolicy.yaml --resource pod.yaml --registry
//
// with the stack's trusted root served from a TUF repository of its own
// (kyvernoTUF). Kyverno counts two results for the rule (the attestation
// check and the required verified digest). Admitted is exit 0 with passes
// and nothing else; refused is exit 1 with failures and nothing else — an
// error (the engine could not decide) or a skip (the policy did not match
// the image) is not decided.
func checkKyverno(t *testing.T, bin string, f *fixture, img image, issuer string) verdict {
	t.Helper()
	dir := t.TempDir()
	pod := bytes.ReplaceAll(docFile(t, podResource, f.repo, issuer), []byte(f.repo+":v1.0.0"), []byte(img.podName()))
	podPath := filepath.Join(dir, podResource)
	if err := os.WriteFile(podPath, pod, 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"apply", writeDoc(t, dir, f.docs.kyverno, f.repo, issuer), "--resource", podPath, "--registry"}
	stdout, stderr, code := run(t, bin, []string{"TUF_ROOT=" + kyvernoTUF(t, f.s)}, args...)
	out := "kyverno " + strings.Join(args, " ") + "\nstdout:\n" + stdout + "\nstderr:\n" + stderr
	m := kyvernoResult.FindStringSubmatch(stdout)
	switch {
	case m == nil:
	case m[4] != "0" || m[5] != "0":
	case code == 0 && m[1] != "0" && m[2] == "0":
		return verdict{decided: true, admitted: true, output: out}
	case code == 1 && m[1] == "0" && m[2] != "0":
		return verdict{decided: true, output: out}
	}
	return verdict{output: out}
}
