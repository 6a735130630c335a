package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/oci-attest/oci-attest/internal/actions"
	"github.com/oci-attest/oci-attest/internal/attest"
	"github.com/oci-attest/oci-attest/internal/github"
	"github.com/oci-attest/oci-attest/internal/pipeline"
	"github.com/oci-attest/oci-attest/internal/sign"
	"github.com/oci-attest/oci-attest/internal/testenv"
)

// ghRun is one attest run in the action's shape (inputs as INPUT_*, the
// runner's files and variables) against a registry, the local Sigstore stack
// and the stand-in of GitHub's API.
type ghRun struct {
	t     *testing.T
	env   env
	files struct{ output, summary string }
	log   bytes.Buffer
	res   *pipeline.UnitResult
	err   error
	outs  map[string]string
}

// ghSetup is what the runs of one test share.
type ghSetup struct {
	stack *testenv.Sigstore
	host  string
}

// ownerEvent is an event payload whose repository oci-attest/demo belongs to
// an owner of kind typ ("Organization", "User"; "" says nothing).
func ownerEvent(typ string) string {
	owner := `{"login":"oci-attest"}`
	if typ != "" {
		owner = `{"login":"oci-attest","type":"` + typ + `"}`
	}
	return `{"repository":{"full_name":"oci-attest/demo","visibility":"private","private":true,"owner":` + owner + `}}`
}

// newGHRun prepares a run of the action: keyless signing by the local
// (custom) Sigstore instance, push-image to a repository of its own, the
// token the stand-in accepts, and inputs changed by with (a value "-"
// removes a variable).
func newGHRun(t *testing.T, s ghSetup, api *testenv.GitHubAPI, event string, with env) *ghRun {
	t.Helper()
	rt, ws := t.TempDir(), t.TempDir()
	r := &ghRun{t: t}
	r.files.output, r.files.summary = filepath.Join(rt, "output"), filepath.Join(rt, "summary")
	eventFile := filepath.Join(rt, "event.json")
	for _, f := range []struct{ p, s string }{{r.files.output, ""}, {r.files.summary, ""}, {eventFile, event}} {
		if err := os.WriteFile(f.p, []byte(f.s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	repo := strings.Trim(regexp.MustCompile(`[^a-z0-9]+`).ReplaceAllString(strings.ToLower(t.Name()), "-"), "-")
	r.env = env{
		"GITHUB_ACTIONS":                 "true",
		"GITHUB_OUTPUT":                  r.files.output,
		"GITHUB_STEP_SUMMARY":            r.files.summary,
		"GITHUB_EVENT_PATH":              eventFile,
		"GITHUB_REPOSITORY":              testenv.DefaultRepository,
		"GITHUB_SERVER_URL":              "https://github.com",
		"GITHUB_API_URL":                 api.URL,
		"GITHUB_WORKSPACE":               ws,
		"RUNNER_TEMP":                    rt,
		"HOME":                           t.TempDir(),
		"ACTIONS_ID_TOKEN_REQUEST_URL":   s.stack.ActionsTokenURL,
		"ACTIONS_ID_TOKEN_REQUEST_TOKEN": s.stack.ActionsRequestToken,
		"INPUT_SUBJECT-PATH":             filepath.Join(testdataDir, "archives", "docker25.tar"),
		"INPUT_SUBJECT-NAME":             s.host + "/gh/" + repo + ":v1",
		"INPUT_PUSH-IMAGE":               "true",
		"INPUT_SIGSTORE":                 "custom",
		"INPUT_FULCIO-URL":               s.stack.FulcioURL,
		"INPUT_TSA-URL":                  s.stack.TSAURL,
		"INPUT_TRUSTED-ROOT":             s.stack.TrustedRootPath,
		"INPUT_GITHUB-TOKEN":             api.Token,
		"INPUT_RUNNER-TEMP":              rt,
		"INPUT_WORKSPACE":                ws,
	}
	for k, v := range with {
		if v == "-" {
			delete(r.env, k)
		} else {
			r.env[k] = v
		}
	}
	return r
}

// run runs the pipeline as Run does in Actions, with the seams s.
func (r *ghRun) run(s seams) *ghRun {
	r.t.Helper()
	log := actions.New(true, &r.log, r.env.get)
	c, err := readActionsConfig(r.env.get)
	if err == nil {
		err = c.Validate()
	}
	if err == nil {
		var res *pipeline.Result
		res, err = attestRun(context.Background(), c, log, io.Discard, s)
		if res != nil && len(res.Units) > 0 {
			r.res = res.Units[0]
		}
	}
	if err != nil {
		log.Errorf("%v", err)
	}
	r.err, r.outs = err, testenv.ReadOutputs(r.t, r.files.output)
	return r
}

func (r *ghRun) summary() string {
	r.t.Helper()
	b, err := os.ReadFile(r.files.summary)
	if err != nil {
		r.t.Fatal(err)
	}
	return string(b)
}

// noSecretInLog checks that the token reaches the log only in its
// ::add-mask:: line.
func (r *ghRun) noSecretInLog(token string) {
	r.t.Helper()
	masked := false
	for _, line := range strings.Split(r.log.String(), "\n") {
		switch {
		case line == "::add-mask::"+token:
			masked = true
		case strings.Contains(line, token):
			r.t.Errorf("the token appears in the log: %q", line)
		}
	}
	if !masked {
		r.t.Error("the token was not masked for the runner (no ::add-mask:: line)")
	}
}

// fastRetry retries what the default policy retries, without waiting, at
// most twice: for faults that exhaust the retries.
type fastRetry struct{}

func (fastRetry) Retry(attempt int, resp *http.Response, err error) (time.Duration, error) {
	if attempt >= 2 || (err == nil && resp.StatusCode < 500) {
		return -1, nil
	}
	return time.Millisecond, nil
}

// TestGitHubAttestations runs the action against the stand-in of GitHub's
// API in every mode of github-attestations and with every fault the
// stand-in can produce.
func TestGitHubAttestations(t *testing.T) {
	t.Parallel()
	s := ghSetup{stack: testenv.StartSigstore(t, testenv.SigstoreOptions{TSA: true}), host: testenv.StartOlareg(t).Host}
	org := testenv.GitHubAPIOptions{Organizations: []string{"oci-attest"}}

	t.Run("true stores the bundle-path bytes and posts the storage record", func(t *testing.T) {
		t.Parallel()
		api := testenv.StartGitHubAPI(t, org)
		r := newGHRun(t, s, api, ownerEvent("Organization"), env{"INPUT_GITHUB-ATTESTATIONS": "true"}).run(seams{})
		if r.err != nil {
			t.Fatalf("run: %v\n%s", r.err, r.log.String())
		}
		atts := api.Attestations()
		bundle, err := os.ReadFile(r.outs["bundle-path"])
		if err != nil {
			t.Fatal(err)
		}
		if len(atts) != 1 || !bytes.Equal(atts[0].Bundle, bundle) {
			t.Fatalf("the API stored %d attestation(s); want bundle-path's bytes once", len(atts))
		}
		id := strconv.FormatInt(atts[0].ID, 10)
		wantURL := "https://github.com/oci-attest/demo/attestations/" + id
		if r.outs["attestation-id"] != id || r.outs["attestation-url"] != wantURL {
			t.Errorf("outputs attestation-id, attestation-url = %q, %q; want %q, %q", r.outs["attestation-id"], r.outs["attestation-url"], id, wantURL)
		}
		if got := r.summary(); !strings.Contains(got, `| GitHub attestation | <a href="`+wantURL+`">`+wantURL+"</a> |") {
			t.Errorf("the summary does not link the attestation:\n%s", got)
		}
		recs := api.StorageRecords()
		if len(recs) != 1 {
			t.Fatalf("storage records = %+v, want one", recs)
		}
		sub := r.res.Subject
		want := map[string]string{"name": sub.Repository.Name(), "digest": r.outs["subject-digest"], "version": "v1", "registry_url": "https://" + s.host}
		if diff := cmp.Diff(want, recs[0].Fields); diff != "" || recs[0].Org != "oci-attest" {
			t.Errorf("storage record for %s (-want +got):\n%s", recs[0].Org, diff)
		}
		if !strings.Contains(r.summary(), fmt.Sprintf("| Storage record | %d (the image is in <code>oci-attest</code>'s linked artifacts) |", recs[0].ID)) {
			t.Errorf("the summary lacks the storage record:\n%s", r.summary())
		}
		// Every request is the upload or the record, after the push.
		if n := len(api.Requests()); n != 2 {
			t.Errorf("the API saw %d requests, want 2", n)
		}
		r.noSecretInLog(api.Token)
	})

	t.Run("true stores every platform's bundle and posts one storage record", func(t *testing.T) {
		t.Parallel()
		api := testenv.StartGitHubAPI(t, org)
		r := newGHRun(t, s, api, ownerEvent("Organization"), env{
			"INPUT_GITHUB-ATTESTATIONS": "true",
			"INPUT_SUBJECT-PATH":        filepath.Join(testdataDir, "archives", "oci-multiplatform.tar"),
		}).run(seams{})
		if r.err != nil {
			t.Fatalf("run: %v\n%s", r.err, r.log.String())
		}
		var all []struct {
			Platform   string `json:"platform"`
			BundlePath string `json:"bundle-path"`
		}
		if err := json.Unmarshal([]byte(r.outs["attestations"]), &all); err != nil || len(all) != 2 {
			t.Fatalf("attestations output = %q (%v), want two platforms", r.outs["attestations"], err)
		}
		atts := api.Attestations()
		if len(atts) != 2 {
			t.Fatalf("the API stored %d attestation(s), want one per platform", len(atts))
		}
		for i, a := range all {
			b, err := os.ReadFile(a.BundlePath)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(atts[i].Bundle, b) {
				t.Errorf("stored attestation %d is not %s's bundle (%s)", i, a.Platform, a.BundlePath)
			}
		}
		if id := strconv.FormatInt(atts[0].ID, 10); r.outs["attestation-id"] != id {
			t.Errorf("attestation-id = %q, want the first platform's %s", r.outs["attestation-id"], id)
		}
		if recs := api.StorageRecords(); len(recs) != 1 || recs[0].Fields["digest"] != r.outs["subject-digest"] {
			t.Errorf("storage records = %+v, want one for the index %s", recs, r.outs["subject-digest"])
		}
	})

	t.Run("true skips the storage record of a user's repository", func(t *testing.T) {
		t.Parallel()
		api := testenv.StartGitHubAPI(t, testenv.GitHubAPIOptions{})
		r := newGHRun(t, s, api, ownerEvent("User"), env{"INPUT_GITHUB-ATTESTATIONS": "true"}).run(seams{})
		if r.err != nil || len(api.Attestations()) != 1 {
			t.Fatalf("run: %v, stored %d\n%s", r.err, len(api.Attestations()), r.log.String())
		}
		if n := len(api.RequestsTo("storage-record")); n != 0 {
			t.Errorf("%d storage-record request(s) for a user's repository, want none", n)
		}
		if !strings.Contains(r.log.String(), "storage record: not posted: oci-attest is a user account") ||
			!strings.Contains(r.summary(), "| Storage record | not posted: oci-attest is a user account") {
			t.Errorf("log and summary do not say why no storage record was posted:\n%s\n%s", r.log.String(), r.summary())
		}
	})

	t.Run("true skips the storage record when nothing was pushed", func(t *testing.T) {
		t.Parallel()
		api := testenv.StartGitHubAPI(t, org)
		r := newGHRun(t, s, api, ownerEvent("Organization"), env{"INPUT_GITHUB-ATTESTATIONS": "true",
			"INPUT_PUSH-TO-REGISTRY": "false", "INPUT_PUSH-IMAGE": "false", "INPUT_SUBJECT-NAME": "-"}).run(seams{})
		if r.err != nil || len(api.Attestations()) != 1 || len(api.RequestsTo("storage-record")) != 0 {
			t.Fatalf("run: %v, stored %d, storage-record requests %d; want stored, no record\n%s", r.err, len(api.Attestations()), len(api.RequestsTo("storage-record")), r.log.String())
		}
	})

	t.Run("auto skips a custom-instance bundle without calling the API", func(t *testing.T) {
		t.Parallel()
		api := testenv.StartGitHubAPI(t, org)
		r := newGHRun(t, s, api, ownerEvent("Organization"), nil).run(seams{})
		if r.err != nil {
			t.Fatalf("run: %v\n%s", r.err, r.log.String())
		}
		if n := len(api.Requests()); n != 0 {
			t.Errorf("the API saw %d request(s), want none", n)
		}
		line := "github-attestations: auto: not stored in GitHub's attestations API: it was signed by a custom Sigstore instance"
		if got := strings.Count(r.log.String(), "github-attestations: auto:"); got != 1 || !strings.Contains(r.log.String(), line) {
			t.Errorf("log has %d github-attestations line(s), want one saying %q:\n%s", got, line, r.log.String())
		}
		if _, ok := r.outs["attestation-id"]; ok || strings.Contains(r.summary(), "GitHub attestation") {
			t.Errorf("outputs %v or the summary claim an attestation in GitHub", r.outs)
		}
	})

	t.Run("auto skips a key-signed bundle", func(t *testing.T) {
		t.Parallel()
		api := testenv.StartGitHubAPI(t, org)
		r := newGHRun(t, s, api, ownerEvent("Organization"), env{"INPUT_SIGNING-KEY": "ephemeral", "INPUT_SIGSTORE": "auto",
			"INPUT_FULCIO-URL": "-", "INPUT_TSA-URL": "-", "INPUT_TRUSTED-ROOT": "-"}).run(seams{})
		if r.err != nil || len(api.Requests()) != 0 || !strings.Contains(r.log.String(), "the bundle is key-signed") {
			t.Errorf("run: %v; the API saw %d request(s); want none and a line saying why\n%s", r.err, len(api.Requests()), r.log.String())
		}
	})

	t.Run("false never calls the API", func(t *testing.T) {
		t.Parallel()
		api := testenv.StartGitHubAPI(t, org)
		r := newGHRun(t, s, api, ownerEvent("Organization"), env{"INPUT_GITHUB-ATTESTATIONS": "false"}).run(seams{})
		if r.err != nil || len(api.Requests()) != 0 || strings.Contains(r.log.String(), "github-attestations") {
			t.Errorf("run: %v; the API saw %d request(s); want none, silently\n%s", r.err, len(api.Requests()), r.log.String())
		}
	})

	t.Run("true with a 403 fails naming attestations: write", func(t *testing.T) {
		t.Parallel()
		api := testenv.StartGitHubAPI(t, org)
		api.Fail(testenv.GitHubAPIFault{Endpoint: "attestations", Kind: testenv.APIForbidden, Times: -1})
		r := newGHRun(t, s, api, ownerEvent("Organization"), env{"INPUT_GITHUB-ATTESTATIONS": "true"}).run(seams{})
		if r.err == nil || ExitCode(r.err) != 1 {
			t.Fatalf("run error = %v (exit %d), want a failure (exit 1)", r.err, ExitCode(r.err))
		}
		for _, want := range []string{"Resource not accessible by integration", "permissions: attestations: write", "github-attestations: true"} {
			if !strings.Contains(r.err.Error(), want) {
				t.Errorf("error %q lacks %q", r.err, want)
			}
		}
		if !strings.Contains(r.log.String(), "::error::") || r.outs["attestation-digest"] == "" {
			t.Errorf("want the error annotated and the referrer (pushed before) in the outputs: %v\n%s", r.outs, r.log.String())
		}
		if len(api.RequestsTo("attestations")) != 1 || len(api.RequestsTo("storage-record")) != 0 {
			t.Errorf("requests = %+v, want one upload (403 is not retried) and no storage record", api.Requests())
		}
		r.noSecretInLog(api.Token)
	})

	t.Run("true with a bundle of another repository fails with the API's message", func(t *testing.T) {
		t.Parallel()
		api := testenv.StartGitHubAPI(t, org)
		r := newGHRun(t, s, api, ownerEvent("Organization"), env{"INPUT_GITHUB-ATTESTATIONS": "true", "GITHUB_REPOSITORY": "oci-attest/other"}).run(seams{})
		if r.err == nil || !errors.Is(r.err, github.ErrInvalid) || !strings.Contains(r.err.Error(), `the certificate's source repository is "https://github.com/oci-attest/demo", not https://github.com/oci-attest/other`) {
			t.Errorf("run error = %v, want the stand-in's 422 about the source repository", r.err)
		}
	})

	t.Run("true survives 429 with Retry-After and a reset", func(t *testing.T) {
		t.Parallel()
		api := testenv.StartGitHubAPI(t, org)
		api.Fail(testenv.GitHubAPIFault{Endpoint: "attestations", Kind: testenv.APIRateLimited, Times: 1, RetryAfter: "1"})
		api.Fail(testenv.GitHubAPIFault{Endpoint: "attestations", Kind: testenv.APIReset, Times: 1})
		r := newGHRun(t, s, api, ownerEvent("Organization"), env{"INPUT_GITHUB-ATTESTATIONS": "true"}).run(seams{})
		if r.err != nil || len(api.Attestations()) != 1 || len(api.RequestsTo("attestations")) != 3 {
			t.Errorf("run: %v; stored %d after %d upload request(s); want stored on the third\n%s", r.err, len(api.Attestations()), len(api.RequestsTo("attestations")), r.log.String())
		}
	})

	t.Run("true with 500 until the retries run out fails", func(t *testing.T) {
		t.Parallel()
		api := testenv.StartGitHubAPI(t, org)
		api.Fail(testenv.GitHubAPIFault{Endpoint: "attestations", Kind: testenv.APIServerError, Times: -1})
		r := newGHRun(t, s, api, ownerEvent("Organization"), env{"INPUT_GITHUB-ATTESTATIONS": "true"}).run(seams{githubRetry: fastRetry{}})
		if r.err == nil || !strings.Contains(r.err.Error(), "500 Internal Server Error") || len(api.RequestsTo("attestations")) != 3 {
			t.Errorf("run error = %v after %d request(s), want the 500 after 3", r.err, len(api.RequestsTo("attestations")))
		}
	})

	t.Run("true with a stalled API fails at the timeout", func(t *testing.T) {
		t.Parallel()
		api := testenv.StartGitHubAPI(t, org)
		api.Fail(testenv.GitHubAPIFault{Endpoint: "attestations", Kind: testenv.APIStall, Times: -1})
		r := newGHRun(t, s, api, ownerEvent("Organization"), env{"INPUT_GITHUB-ATTESTATIONS": "true"}).run(seams{githubTimeout: 500 * time.Millisecond})
		if r.err == nil || !strings.Contains(r.err.Error(), "did not answer within 500ms") || !strings.Contains(r.err.Error(), "GITHUB_API_URL") {
			t.Errorf("run error = %v, want the timeout and what to check", r.err)
		}
	})

	t.Run("a failed storage record is a warning", func(t *testing.T) {
		t.Parallel()
		api := testenv.StartGitHubAPI(t, org)
		api.Fail(testenv.GitHubAPIFault{Endpoint: "storage-record", Kind: testenv.APIForbidden, Times: -1})
		r := newGHRun(t, s, api, ownerEvent("Organization"), env{"INPUT_GITHUB-ATTESTATIONS": "true"}).run(seams{})
		if r.err != nil || len(api.Attestations()) != 1 || r.outs["attestation-id"] == "" {
			t.Fatalf("run: %v; stored %d; want the attestation stored and the run to pass\n%s", r.err, len(api.Attestations()), r.log.String())
		}
		if !strings.Contains(r.log.String(), "::warning::could not post the storage record") || !strings.Contains(r.log.String(), "artifact-metadata: write") {
			t.Errorf("log lacks the storage record warning naming artifact-metadata: write:\n%s", r.log.String())
		}
	})

	t.Run("without a payload that names the owner's kind, no storage record", func(t *testing.T) {
		t.Parallel()
		api := testenv.StartGitHubAPI(t, org)
		r := newGHRun(t, s, api, ownerEvent(""), env{"INPUT_GITHUB-ATTESTATIONS": "true"}).run(seams{})
		if r.err != nil || len(api.RequestsTo("storage-record")) != 0 || !strings.Contains(r.log.String(), "does not say whether oci-attest is an organisation") {
			t.Errorf("run: %v; %d storage-record request(s); want none and a line saying why\n%s", r.err, len(api.RequestsTo("storage-record")), r.log.String())
		}
	})
}

// TestGitHubAttestationsValidate: the input and what true needs are checked
// before any work, naming the input.
func TestGitHubAttestationsValidate(t *testing.T) {
	t.Parallel()
	archive := filepath.Join(testdataDir, "archives", "docker25.tar")
	ok := env{"GITHUB_TOKEN": "ghs_x", "GITHUB_REPOSITORY": "o/r"}
	for _, tc := range []struct {
		name  string
		e     env
		value string
		input string
	}{
		{"not a mode", ok, "maybe", "github-attestations"},
		{"true without a token", env{"GITHUB_REPOSITORY": "o/r"}, "true", "github-token"},
		{"true without GITHUB_REPOSITORY", env{"GITHUB_TOKEN": "ghs_x"}, "true", "github-attestations"},
		{"true with a plain-HTTP API", env{"GITHUB_TOKEN": "ghs_x", "GITHUB_REPOSITORY": "o/r", "GITHUB_API_URL": "http://api.example.com"}, "true", "github-attestations"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := runCLI(t, tc.e, "--subject-path", archive, "--signing-key", "ephemeral", "--push-to-registry=false", "--github-attestations", tc.value)
			if err == nil || ExitCode(err) != 2 || !strings.Contains(err.Error(), "input "+tc.input+":") {
				t.Errorf("run = %v (exit %d), want an input error naming %s", err, ExitCode(err), tc.input)
			}
		})
	}
	// auto needs nothing, and outside Actions it says it did nothing.
	_, stderr, err := runCLI(t, env{}, "--subject-path", archive, "--signing-key", "ephemeral", "--push-to-registry=false",
		"--bundle-path", filepath.Join(t.TempDir(), "b.json"))
	if err != nil || !strings.Contains(stderr, "github-attestations: auto: not stored in GitHub's attestations API: not running in GitHub Actions") {
		t.Errorf("run = %v, want success and one line about GitHub:\n%s", err, stderr)
	}
}

// checkAsGh checks what `gh attestation verify oci://IMAGE --owner OWNER
// --predicate-type T` checks, by other means, since gh cannot run here:
// from the API (the list endpoint gh reads, by subject digest) and from the
// registry (the referrer found by go-containerregistry's remote.Referrers,
// the code behind gh's --bundle-from-oci: referrers API, else the fallback
// tag; artifactType application/vnd.dev.sigstore.bundle*, the first layer),
// it keeps the bundles of the predicate type, verifies them with sigstore-go
// against the stack's root and checks the certificate's owner and
// repository extensions as gh's VerifyCertExtensions does. Both must yield
// exactly the bundle at bundlePath.
func checkAsGh(t *testing.T, api *testenv.GitHubAPI, stack *testenv.Sigstore, image string, subjectDigest string, bundlePath string) {
	t.Helper()
	want, err := os.ReadFile(bundlePath)
	if err != nil {
		t.Fatal(err)
	}
	owner, _, _ := strings.Cut(testenv.DefaultRepository, "/")
	// From the API: GET /orgs/OWNER/attestations/DIGEST.
	req, _ := http.NewRequest(http.MethodGet, api.URL+"/orgs/"+owner+"/attestations/"+subjectDigest, nil)
	req.Header.Set("Authorization", "Bearer "+api.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var listed struct {
		Attestations []struct {
			Bundle json.RawMessage `json:"bundle"`
		} `json:"attestations"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&listed); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("listing attestations of %s: %d, %v", subjectDigest, resp.StatusCode, err)
	}
	var fromAPI [][]byte
	for _, a := range listed.Attestations {
		fromAPI = append(fromAPI, a.Bundle)
	}
	// From the registry, as --bundle-from-oci reads it.
	d, err := name.NewDigest(image+"@"+subjectDigest, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := remote.Referrers(d)
	if err != nil {
		t.Fatalf("remote.Referrers(%s) = %v", d, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var fromOCI [][]byte
	for _, m := range im.Manifests {
		if !strings.HasPrefix(m.ArtifactType, "application/vnd.dev.sigstore.bundle") {
			continue
		}
		img, err := remote.Image(d.Context().Digest(m.Digest.String()))
		if err != nil {
			t.Fatal(err)
		}
		layers, err := img.Layers()
		if err != nil || len(layers) == 0 {
			t.Fatalf("referrer %s: layers %d, %v", m.Digest, len(layers), err)
		}
		rc, err := layers[0].Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		fromOCI = append(fromOCI, b)
	}
	tm, err := sign.TrustedMaterial(context.Background(), sign.TrustOptions{Instance: sign.InstanceCustom, TrustedRootPath: stack.TrustedRootPath})
	if err != nil {
		t.Fatal(err)
	}
	for source, bundles := range map[string][][]byte{"the API": fromAPI, "the registry": fromOCI} {
		var kept [][]byte
		for _, b := range bundles {
			// The predicate type filter: gh's default would be SLSA provenance.
			vr, err := sign.Verify(context.Background(), b, tm, sign.Policy{IdentityRegexp: "^https://github.com/" + owner + "/", IssuerRegexp: ".*", Digest: subjectDigest})
			if err != nil {
				t.Errorf("%s: a bundle does not verify: %v", source, err)
				continue
			}
			if vr.Statement.GetPredicateType() != attest.PredicateType {
				continue
			}
			ext := vr.Signature.Certificate.Extensions
			if !strings.EqualFold(ext.SourceRepositoryOwnerURI, "https://github.com/"+owner) || !strings.EqualFold(ext.SourceRepositoryURI, "https://github.com/"+testenv.DefaultRepository) {
				t.Errorf("%s: certificate owner/repository extensions %q, %q; gh wants https://github.com/%s[/demo]", source, ext.SourceRepositoryOwnerURI, ext.SourceRepositoryURI, owner)
			}
			kept = append(kept, b)
		}
		// The stand-in's list endpoint re-encodes the stored JSON
		// (encoding/json compacts a RawMessage), and protojson varies its
		// white space on purpose: compare compacted bytes. That the API
		// stored bundle-path's exact bytes is checked on the upload itself.
		if len(kept) != 1 || !bytes.Equal(compactJSON(t, kept[0]), compactJSON(t, want)) {
			t.Errorf("%s: %d bundle(s) of predicate type %s; want exactly bundle-path's bytes", source, len(kept), attest.PredicateType)
		}
	}
}

// compactJSON is b without insignificant white space.
func compactJSON(t *testing.T, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}
