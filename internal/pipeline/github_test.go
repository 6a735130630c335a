package pipeline

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/oci-attest/oci-attest/internal/ref"
	"github.com/oci-attest/oci-attest/internal/registry"
	"github.com/oci-attest/oci-attest/internal/sign"
	"github.com/oci-attest/oci-attest/internal/testenv"
)

// fastRetry retries what the default policy retries, without waiting, at
// most twice: for faults that exhaust the retries.
type fastRetry struct{}

func (fastRetry) Retry(attempt int, resp *http.Response, err error) (time.Duration, error) {
	if attempt >= 2 || (err == nil && resp.StatusCode < 500) {
		return -1, nil
	}
	return time.Millisecond, nil
}

// TestGitHubStageAuto: GitHubAuto uploads keyless bundles of the public-good
// and GitHub instances, which cannot be had here: the stage runs on a
// finished run's result whose (custom-signed) bundle is labelled as the
// GitHub instance's. The whole stage, through the command layer, is tested in
// internal/cli (TestGitHubAttestations).
func TestGitHubStageAuto(t *testing.T) {
	t.Parallel()
	stack := testenv.StartSigstore(t, testenv.SigstoreOptions{TSA: true})
	host := testenv.StartOlareg(t).Host
	org := testenv.GitHubAPIOptions{Organizations: []string{"oci-attest"}}
	asGitHubInstance := func(t *testing.T, api *testenv.GitHubAPI) (*run, *UnitResult, *logReporter) {
		t.Helper()
		res := finishedRun(t, stack, host)
		u := *res.Units[0]
		signed := *u.Signed
		signed.Instance = sign.InstanceGitHub
		u.Signed = &signed
		event := filepath.Join(t.TempDir(), "event.json")
		if err := os.WriteFile(event, []byte(`{"repository":{"full_name":"oci-attest/demo","owner":{"login":"oci-attest","type":"Organization"}}}`), 0o600); err != nil {
			t.Fatal(err)
		}
		log := &logReporter{}
		r := &run{rep: log, opts: Options{GitHub: GitHubOptions{
			Mode:  GitHubAuto,
			Env:   GitHubEnv{Actions: true, APIURL: api.URL, ServerURL: "https://github.com", Repository: testenv.DefaultRepository, EventPath: event},
			Token: api.Token,
		}}}
		return r, &u, log
	}
	store := func(r *run, u *UnitResult) error {
		return r.store(context.Background(), u, []*UnitResult{u})
	}

	t.Run("stores a GitHub-instance bundle and posts the storage record", func(t *testing.T) {
		t.Parallel()
		api := testenv.StartGitHubAPI(t, org)
		r, u, log := asGitHubInstance(t, api)
		if err := store(r, u); err != nil {
			t.Fatal(err)
		}
		if len(api.Attestations()) != 1 || len(api.StorageRecords()) != 1 || !u.GitHub.Stored() {
			t.Fatalf("stored %d attestation(s), %d record(s); want one each\n%s", len(api.Attestations()), len(api.StorageRecords()), log)
		}
		if !regexp.MustCompile(`^https://github.com/oci-attest/demo/attestations/[0-9]+$`).MatchString(u.GitHub.URL) {
			t.Errorf("URL = %q", u.GitHub.URL)
		}
	})

	t.Run("a 403 is a warning naming attestations: write", func(t *testing.T) {
		t.Parallel()
		api := testenv.StartGitHubAPI(t, org)
		api.Fail(testenv.GitHubAPIFault{Endpoint: "attestations", Kind: testenv.APIForbidden, Times: -1})
		r, u, log := asGitHubInstance(t, api)
		if err := store(r, u); err != nil {
			t.Fatalf("store() = %v, want a warning only", err)
		}
		if u.GitHub == nil || u.GitHub.Err == nil || !strings.Contains(u.GitHub.Err.Error(), "permissions: attestations: write") {
			t.Errorf("result %+v, want the failure naming attestations: write\n%s", u.GitHub, log)
		}
		if u.GitHub.Stored() || len(api.RequestsTo("storage-record")) != 0 {
			t.Error("stored, or a storage record after a refused upload")
		}
	})

	t.Run("a 422 or 500 is a warning", func(t *testing.T) {
		t.Parallel()
		for _, kind := range []testenv.GitHubAPIFaultKind{testenv.APIUnprocessable, testenv.APIServerError} {
			api := testenv.StartGitHubAPI(t, org)
			api.Fail(testenv.GitHubAPIFault{Endpoint: "attestations", Kind: kind, Times: -1})
			r, u, _ := asGitHubInstance(t, api)
			r.opts.GitHub.Retry = fastRetry{}
			if err := store(r, u); err != nil || u.GitHub == nil || u.GitHub.Err == nil {
				t.Errorf("fault %d: store() = %v, result %+v; want a warning", kind, err, u.GitHub)
			}
		}
	})

	t.Run("outside GitHub Actions", func(t *testing.T) {
		t.Parallel()
		api := testenv.StartGitHubAPI(t, org)
		r, u, _ := asGitHubInstance(t, api)
		r.opts.GitHub.Env.Actions = false
		if err := store(r, u); err != nil || len(api.Requests()) != 0 || u.GitHub == nil || u.GitHub.Skipped != "not running in GitHub Actions" || u.GitHub.Forcible {
			t.Errorf("store() = %v with %d request(s), result %+v; want none and why", err, len(api.Requests()), u.GitHub)
		}
	})
}

// finishedRun attests testdata's docker25.tar keylessly with the local
// Sigstore stack, pushing it to a repository of its own at host, without the
// GitHub stage.
func finishedRun(t *testing.T, stack *testenv.Sigstore, host string) *Result {
	t.Helper()
	e := map[string]string{
		"ACTIONS_ID_TOKEN_REQUEST_URL":   stack.ActionsTokenURL,
		"ACTIONS_ID_TOKEN_REQUEST_TOKEN": stack.ActionsRequestToken,
		"GITHUB_ACTIONS":                 "true",
	}
	getenv := func(k string) string { return e[k] }
	repo := strings.Trim(regexp.MustCompile(`[^a-z0-9]+`).ReplaceAllString(strings.ToLower(t.Name()), "-"), "-")
	name, err := ref.Parse(host + "/gh/" + repo + ":v1")
	if err != nil {
		t.Fatal(err)
	}
	log := &logReporter{}
	archives, err := ReadArchives(context.Background(), []string{filepath.Join(testdataDir, "archives", "docker25.tar")}, ReadOptions{}, log)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := NewPlan(archives, Input{Names: []ref.Reference{name}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := Run(context.Background(), plan, Options{
		Registry:   registry.Options{Getenv: getenv},
		Push:       true,
		PushImage:  true,
		Sign:       sign.Options{Instance: sign.InstanceCustom, FulcioURL: stack.FulcioURL, TSAURL: stack.TSAURL, TrustedRootPath: stack.TrustedRootPath, Getenv: getenv},
		BundlePath: filepath.Join(t.TempDir(), "b.json"),
		GitHub:     GitHubOptions{Mode: GitHubNever},
	}, log)
	if err != nil {
		t.Fatalf("Run() = %v\n%s", err, log)
	}
	return res
}
