package cli

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oci-attest/oci-attest/internal/testenv"
)

// TestSigningConfigInput signs through a real Rekor v1 log (rekor-server
// v1.5.3 on Trillian) named only by the signing-config input, in the
// action's shape: keylessly with and without a timestamp authority, and
// with a key. The bundle carries the log's entry and integrated time, and
// the job summary's verify commands, run as printed (oci-attest verify, and
// cosign with the flags the summary chose), verify the referrer; the
// summary's cosign command for a bundle without an RFC 3161 timestamp
// would fail with --use-signed-timestamps, the flag it leaves out.
func TestSigningConfigInput(t *testing.T) {
	t.Parallel()
	stack := testenv.StartSigstore(t, testenv.SigstoreOptions{RekorV1: testenv.SharedRekorV1(t), TSA: true})
	s := ghSetup{stack: stack, host: testenv.StartOlareg(t).Host}
	api := testenv.StartGitHubAPI(t, testenv.GitHubAPIOptions{})
	for _, tc := range []struct {
		name         string
		key, withTSA bool
		// byCosign: the file is cosign signing-config create's (the
		// README's command), else testenv's.
		byCosign bool
	}{
		{"keyless, Rekor v1, no TSA", false, false, true},
		{"keyless, Rekor v1 and a TSA", false, true, true},
		{"key, Rekor v1, no TSA", true, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			svc := testenv.SigningServices{RekorV1: stack.RekorV1URL}
			with := env{"INPUT_FULCIO-URL": "-", "INPUT_TSA-URL": "-"}
			if !tc.key {
				svc.Fulcio = stack.FulcioURL
			} else {
				with["INPUT_SIGNING-KEY"] = "ephemeral"
			}
			if tc.withTSA {
				svc.TSA = stack.TSAURL
			}
			with["INPUT_SIGNING-CONFIG"] = testenv.WriteSigningConfig(t, svc)
			if tc.byCosign {
				with["INPUT_SIGNING-CONFIG"] = cosignSigningConfig(t, svc)
			}
			r := newGHRun(t, s, api, ownerEvent("Organization"), with).run(seams{})
			if r.err != nil {
				t.Fatalf("run: %v\n%s", r.err, r.log.String())
			}
			signed, wantTSA := r.res.Signed, 0
			if tc.withTSA {
				wantTSA = 1
			}
			if signed.LogIndex < 0 || len(signed.LogTimes) != 1 || len(signed.SignedTimestamps) != wantTSA {
				t.Fatalf("signed = log index %d, %d log times, %d RFC 3161 timestamps; want a Rekor v1 entry, its integrated time and %d",
					signed.LogIndex, len(signed.LogTimes), len(signed.SignedTimestamps), wantTSA)
			}
			cmds := summaryCommands(t, r.summary())
			if len(cmds) != 2 || !strings.HasPrefix(cmds[0], "oci-attest verify ") || !strings.HasPrefix(cmds[1], "cosign verify-attestation ") {
				t.Fatalf("the summary's verify commands = %q, want oci-attest's and cosign's", cmds)
			}
			if got := strings.Contains(cmds[1], "--use-signed-timestamps"); got != tc.withTSA || strings.Contains(cmds[1], "--insecure-ignore-tlog") {
				t.Errorf("the summary's cosign command %q: want --use-signed-timestamps only with a TSA, and the log checked", cmds[1])
			}
			local := func(w string) string {
				if w == "trusted_root.json" {
					return stack.TrustedRootPath // the file the command names, where the user keeps it
				}
				return w
			}
			ours := mapWords(shellWords(t, cmds[0]), local)
			if stdout, stderr, err := runCLI(t, env{}, ours[1:]...); err != nil || !strings.Contains(stdout, "VERIFIED") {
				t.Errorf("the summary's %q = %v\n%s%s", ours, err, stdout, stderr)
			}
			theirs := mapWords(shellWords(t, cmds[1]), local)
			if out, err := runCosign(t, theirs); err != nil || !strings.Contains(out, "Verification for ") {
				t.Errorf("the summary's %q = %v\n%s", theirs, err, out)
			}
			if !tc.withTSA && !tc.key {
				if out, err := runCosign(t, append(theirs, "--use-signed-timestamps")); err == nil || !strings.Contains(out, "signed timestamps") {
					t.Errorf("cosign with --use-signed-timestamps = %v on a bundle without an RFC 3161 timestamp, want it refused for want of one\n%s", err, out)
				}
			}
		})
	}
}

// TestSigningConfigRefusals: signing-config and the URL inputs exclude each
// other, and Validate says so naming both (exit 2); a signing config for
// another instance, or with a plain-HTTP service off loopback, names
// signing-config.
func TestSigningConfigRefusals(t *testing.T) {
	t.Parallel()
	archive := testdataDir + "/archives/docker25.tar"
	root := rootWithLog(t)
	config := testenv.WriteSigningConfig(t, testenv.SigningServices{Fulcio: "https://fulcio.example", RekorV1: "https://rekor.example"})
	plain := testenv.WriteSigningConfig(t, testenv.SigningServices{Fulcio: "https://fulcio.example", RekorV1: "http://rekor.example"})
	custom := []string{"--subject-path", archive, "--sigstore", "custom", "--trusted-root", root}
	for _, tc := range []struct {
		name   string
		args   []string
		inputs []string // the inputs the error names, the first as the input at fault
	}{
		{"with fulcio-url", append(custom, "--signing-config", config, "--fulcio-url", "https://fulcio.example"), []string{"fulcio-url", "signing-config"}},
		{"with rekor-url", append(custom, "--signing-config", config, "--rekor-url", "https://rekor.example"), []string{"rekor-url", "signing-config"}},
		{"with tsa-url", append(custom, "--signing-config", config, "--tsa-url", "https://tsa.example"), []string{"tsa-url", "signing-config"}},
		{"for public-good", []string{"--subject-path", archive, "--sigstore", "public-good", "--signing-config", config}, []string{"signing-config"}},
		{"plain HTTP off loopback", append(custom, "--signing-config", plain), []string{"signing-config"}},
		{"not a signing config", append(custom, "--signing-config", archive), []string{"signing-config"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := runCLI(t, env{}, tc.args...)
			if ExitCode(err) != 2 || !strings.HasPrefix(err.Error(), "input "+tc.inputs[0]+":") {
				t.Fatalf("run = %v (exit %d), want exit 2 naming input %s", err, ExitCode(err), tc.inputs[0])
			}
			for _, in := range tc.inputs[1:] {
				if !strings.Contains(err.Error(), in) {
					t.Errorf("run = %q, want it to name %s too", err, in)
				}
			}
		})
	}
	// The same through the action's inputs.
	e := env{"INPUT_SUBJECT-PATH": archive, "INPUT_SIGSTORE": "custom", "INPUT_TRUSTED-ROOT": root,
		"INPUT_SIGNING-CONFIG": config, "INPUT_REKOR-URL": "https://rekor.example"}
	c, err := readActionsConfig(e.get)
	if err == nil {
		err = c.Validate()
	}
	if ExitCode(err) != 2 || !strings.Contains(err.Error(), "input rekor-url:") || !strings.Contains(err.Error(), "signing-config") {
		t.Errorf("Validate(INPUT_SIGNING-CONFIG and INPUT_REKOR-URL) = %v, want exit 2 naming both", err)
	}
}

// cosignSigningConfig writes the signing config of svc's Fulcio, Rekor v1
// and TSA with cosign signing-config create, as the README says to.
func cosignSigningConfig(t *testing.T, svc testenv.SigningServices) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "signing_config.json")
	args := []string{"signing-config", "create", "--out", p}
	service := func(u string) string {
		return "url=" + u + ",api-version=1,start-time=2024-01-01T00:00:00Z,operator=example.com"
	}
	if svc.Fulcio != "" {
		args = append(args, "--fulcio="+service(svc.Fulcio))
	}
	if svc.RekorV1 != "" {
		args = append(args, "--rekor="+service(svc.RekorV1), "--rekor-config=ANY")
	}
	if svc.TSA != "" {
		args = append(args, "--tsa="+service(svc.TSA), "--tsa-config=ANY")
	}
	cmd := exec.Command(testenv.Tool(t, "cosign"), args...)
	cmd.Env = append(os.Environ(), "TUF_ROOT="+t.TempDir())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cosign %q: %v\n%s", args, err, out)
	}
	return p
}

// summaryCommands are the commands of a job summary's verify block, each
// on one line (continuations joined).
func summaryCommands(t *testing.T, summary string) []string {
	t.Helper()
	_, block, ok := strings.Cut(summary, "```sh\n")
	block, _, ok2 := strings.Cut(block, "```")
	if !ok || !ok2 {
		t.Fatalf("the summary has no verify block:\n%s", summary)
	}
	return strings.Split(strings.TrimSpace(strings.ReplaceAll(block, "\\\n", "")), "\n")
}

// shellWords splits a command into its words as the shell does.
func shellWords(t *testing.T, cmd string) []string {
	t.Helper()
	out, err := exec.Command("bash", "-c", `printf '%s\0' `+cmd).Output()
	if err != nil {
		t.Fatalf("splitting %q: %v", cmd, err)
	}
	return strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
}

func mapWords(words []string, f func(string) string) []string {
	out := make([]string, len(words))
	for i, w := range words {
		out[i] = f(w)
	}
	return out
}

// runCosign runs a cosign command line (its first word "cosign") with the
// pinned cosign, and the flags the local environment needs: the registry
// serves plain HTTP on loopback, and the local Fulcio has no CT log.
func runCosign(t *testing.T, words []string) (string, error) {
	t.Helper()
	args := append(append([]string{}, words[1:]...), "--allow-http-registry", "--insecure-ignore-sct")
	cmd := exec.Command(testenv.Tool(t, "cosign"), args...)
	cmd.Env = append(os.Environ(), "TUF_ROOT="+t.TempDir(), "SIGSTORE_NO_CACHE=true", "DOCKER_CONFIG="+t.TempDir())
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}
