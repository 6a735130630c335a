package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	digest "github.com/opencontainers/go-digest"
	yaml "go.yaml.in/yaml/v3"

	"github.com/oci-attest/oci-attest/internal/actions"
	"github.com/oci-attest/oci-attest/internal/attest"
	"github.com/oci-attest/oci-attest/internal/sign"
	"github.com/oci-attest/oci-attest/internal/testenv"
)

// buildBinary builds the program once per test into a temp dir.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "oci-attest")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/oci-attest/oci-attest")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// actionDefaults reads action.yml's inputs and their declared defaults.
func actionDefaults(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var a struct {
		Inputs map[string]struct {
			Default  *string `yaml:"default"`
			Required bool    `yaml:"required"`
		} `yaml:"inputs"`
	}
	if err := yaml.Unmarshal(b, &a); err != nil {
		t.Fatalf("parsing action.yml: %v", err)
	}
	d := map[string]string{}
	for name, in := range a.Inputs {
		if in.Default != nil {
			d[name] = *in.Default
		} else {
			d[name] = ""
		}
	}
	return d
}

// TestRunnerContract runs the binary exactly as the runner runs a docker
// action: no arguments, every input as INPUT_<NAME> with action.yml's
// defaults applied and its expressions substituted, the runner's files and
// the OIDC token endpoint (our local issuer), against a real registry, the
// local Sigstore stack and the stand-in of GitHub's API (github-attestations:
// true, an organisation's repository). It checks every output, the summary,
// the bundle, what GitHub stored, what gh would find, and that no secret
// reaches the log.
func TestRunnerContract(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t)
	stack := testenv.StartSigstore(t, testenv.SigstoreOptions{Rekor: true, TSA: true})

	for _, reg := range testenv.InProcessRegistries(t) {
		t.Run(reg.Name, func(t *testing.T) {
			host := reg.Host
			runnerTemp, workspace := t.TempDir(), t.TempDir()
			archive := filepath.Join(workspace, "image.tar")
			src, err := os.ReadFile(filepath.Join(testdataDir, "archives", "docker25.tar"))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(archive, src, 0o644); err != nil {
				t.Fatal(err)
			}
			outputFile := filepath.Join(runnerTemp, "output")
			summaryFile := filepath.Join(runnerTemp, "summary")
			eventFile := filepath.Join(runnerTemp, "event.json")
			event := `{"repository":{"full_name":"oci-attest/demo","visibility":"private","private":true,"owner":{"login":"oci-attest","type":"Organization"}}}`
			for _, f := range []struct{ p, s string }{{outputFile, ""}, {summaryFile, ""}, {eventFile, event}} {
				if err := os.WriteFile(f.p, []byte(f.s), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			githubToken := "ghs_runnercontractsecret0123456789"
			api := testenv.StartGitHubAPI(t, testenv.GitHubAPIOptions{Token: githubToken, Organizations: []string{"oci-attest"}})
			with := map[string]string{
				"subject-path": "image.tar", // relative: the runner's working directory is the workspace
				"subject-name": host + "/runner/app:v1",
				"push-image":   "true",
				"sigstore":     "custom",
				"fulcio-url":   stack.FulcioURL,
				"rekor-url":    stack.RekorURL,
				"tsa-url":      stack.TSAURL,
				"trusted-root": stack.TrustedRootPath,
				// The local instance is custom, which auto skips.
				"github-attestations":   "true",
				"attested-archive-path": filepath.Join(workspace, "app.oci.tar"),
			}
			env := []string{
				"GITHUB_ACTIONS=true",
				"GITHUB_OUTPUT=" + outputFile,
				"GITHUB_STEP_SUMMARY=" + summaryFile,
				"GITHUB_EVENT_PATH=" + eventFile,
				"GITHUB_REPOSITORY=oci-attest/demo",
				"GITHUB_SERVER_URL=https://github.com",
				"GITHUB_API_URL=" + api.URL,
				"GITHUB_WORKSPACE=" + workspace,
				"RUNNER_TEMP=" + runnerTemp,
				"ACTIONS_ID_TOKEN_REQUEST_URL=" + stack.ActionsTokenURL,
				"ACTIONS_ID_TOKEN_REQUEST_TOKEN=" + stack.ActionsRequestToken,
				"HOME=" + t.TempDir(),
				"PATH=" + os.Getenv("PATH"),
			}
			subst := strings.NewReplacer("${{ github.token }}", githubToken,
				"${{ runner.temp }}", runnerTemp, "${{ github.workspace }}", workspace)
			for name, def := range actionDefaults(t) {
				v, ok := with[name]
				if !ok {
					v = subst.Replace(def)
				}
				env = append(env, "INPUT_"+strings.ToUpper(name)+"="+v)
			}
			cmd := exec.Command(bin)
			cmd.Dir = workspace
			cmd.Env = env
			var stdout, stderr strings.Builder
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("action failed: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
			}
			log := stdout.String() + stderr.String()

			outs := testenv.ReadOutputs(t, outputFile)
			for _, o := range actions.OutputList {
				if _, ok := outs[o.Name]; !ok {
					t.Errorf("output %s not set; outputs = %v", o.Name, outs)
				}
			}
			if p := outs["attested-archive-path"]; p != filepath.Join(workspace, "app.oci.tar") {
				t.Errorf("attested-archive-path = %q, want the input's path", p)
			} else if _, err := os.Stat(p); err != nil {
				t.Errorf("attested-archive-path: %v", err)
			}
			if !strings.HasPrefix(outs["bundle-path"], runnerTemp+"/oci-attest/") {
				t.Errorf("bundle-path = %q, want under RUNNER_TEMP/oci-attest", outs["bundle-path"])
			}
			for _, k := range []string{"image-id", "subject-digest", "attestation-digest"} {
				if err := digest.Digest(outs[k]).Validate(); err != nil {
					t.Errorf("output %s = %q is not a digest: %v", k, outs[k], err)
				}
			}
			if reg.API && outs["referrers-tag"] != "" {
				t.Errorf("referrers-tag = %q on a registry with the referrers API, want empty", outs["referrers-tag"])
			}
			wantTag := "sha256-" + digest.Digest(outs["subject-digest"]).Encoded()
			if !reg.API && outs["referrers-tag"] != wantTag {
				t.Errorf("referrers-tag = %q, want %q", outs["referrers-tag"], wantTag)
			}

			// The bundle verifies for the workflow identity, and its statement
			// names the registry image.
			b, err := os.ReadFile(outs["bundle-path"])
			if err != nil {
				t.Fatal(err)
			}
			tm, err := sign.TrustedMaterial(context.Background(), sign.TrustOptions{Instance: sign.InstanceCustom, TrustedRootPath: stack.TrustedRootPath})
			if err != nil {
				t.Fatal(err)
			}
			res, err := sign.Verify(context.Background(), b, tm, sign.Policy{Identity: stack.Identity(), Issuer: stack.IssuerURL, Digest: outs["subject-digest"]})
			if err != nil {
				t.Fatalf("sign.Verify(bundle) error = %v", err)
			}
			if res.Statement == nil || res.Statement.GetPredicateType() != attest.PredicateType {
				t.Fatalf("verified statement = %v, want predicate type %s", res.Statement, attest.PredicateType)
			}
			found := false
			for _, s := range res.Statement.GetSubject() {
				if s.GetName() == host+"/runner/app" && "sha256:"+s.GetDigest()["sha256"] == outs["subject-digest"] {
					found = true
				}
			}
			if !found {
				t.Errorf("statement subjects %v do not name %s/runner/app@%s", res.Statement.GetSubject(), host, outs["subject-digest"])
			}

			summary, _ := os.ReadFile(summaryFile)
			for _, want := range []string{outs["image-id"], outs["attestation-digest"], stack.Identity(), "cosign verify-attestation", "oci-attest verify"} {
				if !strings.Contains(string(summary), want) {
					t.Errorf("job summary lacks %q:\n%s", want, summary)
				}
			}

			// GitHub stored bundle-path's bytes; the outputs and the summary
			// link it; the organisation got the storage record.
			atts := api.Attestations()
			if len(atts) != 1 || !bytes.Equal(atts[0].Bundle, b) {
				t.Fatalf("GitHub's API stored %d attestation(s), want bundle-path's bytes once", len(atts))
			}
			wantURL := fmt.Sprintf("https://github.com/oci-attest/demo/attestations/%d", atts[0].ID)
			if outs["attestation-id"] != strconv.FormatInt(atts[0].ID, 10) || outs["attestation-url"] != wantURL {
				t.Errorf("attestation-id, attestation-url = %q, %q; want %d, %s", outs["attestation-id"], outs["attestation-url"], atts[0].ID, wantURL)
			}
			if !strings.Contains(string(summary), `<a href="`+wantURL+`">`+wantURL+"</a>") {
				t.Errorf("job summary does not link %s:\n%s", wantURL, summary)
			}
			if recs := api.StorageRecords(); len(recs) != 1 || recs[0].Fields["digest"] != outs["subject-digest"] || recs[0].Fields["name"] != host+"/runner/app" {
				t.Errorf("storage records = %+v, want one for %s/runner/app@%s", recs, host, outs["subject-digest"])
			}
			checkAsGh(t, api, stack, host+"/runner/app", outs["subject-digest"], outs["bundle-path"])
			// Every secret is masked for the runner, and apart from its own
			// ::add-mask:: line never appears in the log.
			var rest []string
			for _, line := range strings.Split(log, "\n") {
				if !strings.HasPrefix(line, "::add-mask::") {
					rest = append(rest, line)
				}
			}
			jwt := regexp.MustCompile(`eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]+`)
			for _, secret := range []string{githubToken, stack.ActionsRequestToken} {
				if !strings.Contains(log, "::add-mask::"+secret) {
					t.Errorf("secret %.6s… was not masked (no ::add-mask:: line)", secret)
				}
			}
			for _, line := range rest {
				if strings.Contains(line, githubToken) || strings.Contains(line, stack.ActionsRequestToken) || jwt.MatchString(line) {
					t.Errorf("a secret appears in the log: %q", line)
				}
			}
		})
	}
}
