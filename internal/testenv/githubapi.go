package testenv

import (
	"bytes"
	"cmp"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
)

// GitHubAPI is a stand-in for the two endpoints of GitHub's REST API that
// store attestations (ARCHITECTURE.md, "GitHub's attestation store"), which
// cannot run here. It is a real HTTP server on 127.0.0.1 (httptest, closed
// when the test ends) that implements them as GitHub documents them:
//
//   - POST /repos/{owner}/{repo}/attestations with {"bundle": <Sigstore
//     bundle>}: 201 {"id": N}. The bundle is parsed with sigstore-go; it must
//     be a DSSE envelope of an in-toto statement with subjects, signed with a
//     Fulcio certificate whose source repository extension
//     (1.3.6.1.4.1.57264.1.12) is SERVER/{owner}/{repo} (case-insensitive),
//     as GitHub links an attestation to the repository that built it;
//     anything else is 422 with GitHub's ValidationError shape. A key-signed
//     bundle (no certificate) is 422 too, on the assumption that GitHub,
//     which links each attestation to the workflow's repository, refuses
//     what names none. Signatures are not verified (the stand-in has no
//     trust root).
//   - POST /orgs/{org}/artifacts/metadata/storage-record with name, digest
//     (sha256:<64 hex>), registry_url and optional version, artifact_url,
//     path, repository, status (active, eol, deleted), github_repository:
//     200 {"total_count": 1, "storage_records": [...]}; an org not in
//     GitHubAPIOptions.Organizations is 404 (users have no storage records).
//   - GET /repos/{owner}/{repo}/attestations/{subject_digest} and GET
//     /orgs/{org}/attestations/{subject_digest}: the stored attestations
//     whose statement names the digest, as `gh attestation verify` fetches
//     them ({"attestations": [{"bundle": …, "repository_id": …}]}).
//
// Every request needs "Authorization: Bearer TOKEN" (or "token TOKEN") with
// the stand-in's token (401 otherwise) and, when it sends
// X-GitHub-Api-Version, the version 2022-11-28 (400 otherwise). Fail makes it
// misbehave on purpose: 403, 422, 429 with Retry-After, 500, a connection
// reset, or a stall.
type GitHubAPI struct {
	// URL is the API base (GITHUB_API_URL), http://127.0.0.1:PORT.
	URL string
	// Token is the only token it accepts.
	Token string
	// ServerURL is the web server the certificates' source repository
	// extension must name (GITHUB_SERVER_URL): https://github.com unless set
	// in the options.
	ServerURL string

	orgs    []string
	mu      sync.Mutex
	faults  []*GitHubAPIFault
	reqs    []GitHubAPIRequest
	atts    []StoredAttestation
	records []StoredStorageRecord
	nextID  int64
	closing chan struct{}
}

// GitHubAPIOptions configure StartGitHubAPI.
type GitHubAPIOptions struct {
	// Token is the token it accepts. Empty: a random ghs_ token.
	Token string
	// Organizations are the owners that are organisations (storage records
	// are accepted for them only). Owner names are compared
	// case-insensitively, as GitHub does.
	Organizations []string
	// ServerURL is GITHUB_SERVER_URL. Empty: https://github.com.
	ServerURL string
}

// GitHubAPIFaultKind is a misbehaviour of the stand-in.
type GitHubAPIFaultKind int

// Faults GitHubAPI injects.
const (
	// APIForbidden answers 403 "Resource not accessible by integration", as
	// GitHub does for a token without the permission.
	APIForbidden GitHubAPIFaultKind = iota + 1
	// APIUnprocessable answers 422 with a ValidationError.
	APIUnprocessable
	// APIRateLimited answers 429 with Retry-After (GitHubAPIFault.RetryAfter,
	// "1" when empty).
	APIRateLimited
	// APIServerError answers 500.
	APIServerError
	// APIReset reads half the request body and resets the connection.
	APIReset
	// APIStall reads the request and never answers (until the client gives
	// up or the test ends).
	APIStall
)

// GitHubAPIFault is one injection rule: requests to Endpoint ("attestations",
// "storage-record"; any when empty) get Kind, Times times (forever when
// Times < 0).
type GitHubAPIFault struct {
	Endpoint   string
	Kind       GitHubAPIFaultKind
	Times      int
	RetryAfter string
}

// GitHubAPIRequest is one request the stand-in saw.
type GitHubAPIRequest struct {
	Method, Path string
	// Endpoint is "attestations", "storage-record", "list" or "".
	Endpoint string
	// Header is the request's header; Authorization is kept, so tests can
	// check where the token went.
	Header http.Header
	// Status is what the stand-in answered (0 for a reset or stall).
	Status int
	// Fault is the injected fault, 0 when none.
	Fault GitHubAPIFaultKind
}

// StoredAttestation is an attestation the stand-in accepted.
type StoredAttestation struct {
	ID          int64
	Owner, Repo string
	// Bundle is the request's "bundle" value, byte for byte.
	Bundle []byte
	// PredicateType and Subjects ("sha256:<hex>") are read from the
	// statement.
	PredicateType string
	Subjects      []string
	// SourceRepositoryURI and SourceRepositoryOwnerURI are the certificate's
	// extensions.
	SourceRepositoryURI, SourceRepositoryOwnerURI string
}

// StoredStorageRecord is a storage record the stand-in accepted.
type StoredStorageRecord struct {
	ID  int64
	Org string
	// Fields is the request body as sent.
	Fields map[string]string
}

// StartGitHubAPI starts the stand-in.
func StartGitHubAPI(t testing.TB, opts GitHubAPIOptions) *GitHubAPI {
	t.Helper()
	a := &GitHubAPI{Token: opts.Token, ServerURL: opts.ServerURL, orgs: opts.Organizations, closing: make(chan struct{})}
	if a.Token == "" {
		a.Token = "ghs_" + randomHex(t, 18)
	}
	if a.ServerURL == "" {
		a.ServerURL = "https://github.com"
	}
	srv := httptest.NewServer(http.HandlerFunc(a.serve))
	t.Cleanup(func() { close(a.closing); srv.Close() })
	a.URL = srv.URL
	return a
}

// Fail installs a fault rule.
func (a *GitHubAPI) Fail(f GitHubAPIFault) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.faults = append(a.faults, &f)
}

// Clear removes every fault rule.
func (a *GitHubAPI) Clear() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.faults = nil
}

// Requests returns the requests seen so far.
func (a *GitHubAPI) Requests() []GitHubAPIRequest {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.reqs)
}

// RequestsTo returns the requests seen so far to endpoint.
func (a *GitHubAPI) RequestsTo(endpoint string) []GitHubAPIRequest {
	var out []GitHubAPIRequest
	for _, r := range a.Requests() {
		if r.Endpoint == endpoint {
			out = append(out, r)
		}
	}
	return out
}

// Attestations returns the attestations stored so far.
func (a *GitHubAPI) Attestations() []StoredAttestation {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.atts)
}

// StorageRecords returns the storage records stored so far.
func (a *GitHubAPI) StorageRecords() []StoredStorageRecord {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.records)
}

var (
	attestationsPath  = regexp.MustCompile(`^/repos/([^/]+)/([^/]+)/attestations$`)
	storageRecordPath = regexp.MustCompile(`^/orgs/([^/]+)/artifacts/metadata/storage-record$`)
	listRepoPath      = regexp.MustCompile(`^/repos/([^/]+)/([^/]+)/attestations/(sha256:[0-9a-f]{64})$`)
	listOrgPath       = regexp.MustCompile(`^/orgs/([^/]+)/attestations/(sha256:[0-9a-f]{64})$`)
	sha256Digest      = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
)

// apiAnswer is one answer; status 0 means the connection was reset or the
// request stalled.
type apiAnswer struct {
	status int
	body   any
	header map[string]string
}

func (a *GitHubAPI) serve(w http.ResponseWriter, r *http.Request) {
	rec := GitHubAPIRequest{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone()}
	switch {
	case r.Method == http.MethodPost && attestationsPath.MatchString(r.URL.Path):
		rec.Endpoint = "attestations"
	case r.Method == http.MethodPost && storageRecordPath.MatchString(r.URL.Path):
		rec.Endpoint = "storage-record"
	case r.Method == http.MethodGet && (listRepoPath.MatchString(r.URL.Path) || listOrgPath.MatchString(r.URL.Path)):
		rec.Endpoint = "list"
	}
	ans := a.answer(w, r, &rec)
	rec.Status = ans.status
	a.mu.Lock()
	a.reqs = append(a.reqs, rec)
	a.mu.Unlock()
	if ans.status == 0 {
		return
	}
	for k, v := range ans.header {
		w.Header().Set(k, v)
	}
	writeJSON(w, ans.status, ans.body)
}

// ghError is GitHub's error body.
func ghError(status int, msg string, errs ...map[string]any) apiAnswer {
	body := map[string]any{"message": msg, "documentation_url": "https://docs.github.com/rest", "status": strconv.Itoa(status)}
	if len(errs) > 0 {
		body["errors"] = errs
	}
	return apiAnswer{status: status, body: body}
}

func (a *GitHubAPI) answer(w http.ResponseWriter, r *http.Request, rec *GitHubAPIRequest) apiAnswer {
	auth := r.Header.Get("Authorization")
	scheme, tok, _ := strings.Cut(auth, " ")
	switch {
	case auth == "":
		return ghError(http.StatusUnauthorized, "Requires authentication")
	case !strings.EqualFold(scheme, "bearer") && !strings.EqualFold(scheme, "token"),
		subtle.ConstantTimeCompare([]byte(tok), []byte(a.Token)) != 1:
		return ghError(http.StatusUnauthorized, "Bad credentials")
	}
	if v := r.Header.Get("X-GitHub-Api-Version"); v != "" && v != "2022-11-28" {
		return ghError(http.StatusBadRequest, fmt.Sprintf("API version %s is not supported.", v))
	}
	if rec.Endpoint == "" {
		return ghError(http.StatusNotFound, "Not Found")
	}
	if f := a.match(rec.Endpoint); f != nil {
		rec.Fault = f.Kind
		switch f.Kind {
		case APIForbidden:
			return ghError(http.StatusForbidden, "Resource not accessible by integration")
		case APIUnprocessable:
			return ghError(http.StatusUnprocessableEntity, "Validation Failed", map[string]any{"resource": "Attestation", "code": "invalid", "message": "injected validation failure"})
		case APIRateLimited:
			ans := ghError(http.StatusTooManyRequests, "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.")
			ans.header = map[string]string{"Retry-After": cmp.Or(f.RetryAfter, "1")}
			return ans
		case APIServerError:
			return ghError(http.StatusInternalServerError, "Server Error")
		case APIReset:
			resetMidRequest(w, r)
			return apiAnswer{}
		case APIStall:
			_, _ = io.Copy(io.Discard, r.Body)
			select {
			case <-r.Context().Done():
			case <-a.closing:
			}
			return apiAnswer{}
		}
	}
	switch rec.Endpoint {
	case "attestations":
		m := attestationsPath.FindStringSubmatch(r.URL.Path)
		return a.createAttestation(r, m[1], m[2])
	case "storage-record":
		return a.createStorageRecord(r, storageRecordPath.FindStringSubmatch(r.URL.Path)[1])
	default:
		return a.list(r.URL.Path)
	}
}

func (a *GitHubAPI) match(endpoint string) *GitHubAPIFault {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, f := range a.faults {
		if f.Times == 0 || (f.Endpoint != "" && f.Endpoint != endpoint) {
			continue
		}
		if f.Times > 0 {
			f.Times--
		}
		return f
	}
	return nil
}

// invalid is a 422 naming the field at fault.
func invalid(field, msg string) apiAnswer {
	return ghError(http.StatusUnprocessableEntity, "Validation Failed", map[string]any{"resource": "Attestation", "field": field, "code": "invalid", "message": msg})
}

func (a *GitHubAPI) createAttestation(r *http.Request, owner, repo string) apiAnswer {
	body, err := io.ReadAll(io.LimitReader(r.Body, 32<<20))
	if err != nil {
		return ghError(http.StatusBadRequest, "Problems reading the body")
	}
	var req map[string]json.RawMessage
	if err := json.Unmarshal(body, &req); err != nil {
		return ghError(http.StatusBadRequest, "Problems parsing JSON")
	}
	raw, ok := req["bundle"]
	if !ok || len(req) != 1 {
		return invalid("bundle", `the body must be {"bundle": <Sigstore bundle>}`)
	}
	var b bundle.Bundle
	if err := b.UnmarshalJSON(raw); err != nil {
		return invalid("bundle", "not a Sigstore bundle: "+err.Error())
	}
	env := b.GetDsseEnvelope()
	if env == nil {
		return invalid("bundle", "the bundle has no DSSE envelope")
	}
	if env.GetPayloadType() != "application/vnd.in-toto+json" {
		return invalid("bundle", "the envelope's payload type is "+env.GetPayloadType()+", not application/vnd.in-toto+json")
	}
	var st struct {
		PredicateType string `json:"predicateType"`
		Subject       []struct {
			Digest map[string]string `json:"digest"`
		} `json:"subject"`
	}
	if err := json.Unmarshal(env.GetPayload(), &st); err != nil || len(st.Subject) == 0 {
		return invalid("bundle", "the payload is not an in-toto statement with subjects")
	}
	vc, err := b.VerificationContent()
	if err != nil {
		return invalid("bundle", "reading the verification material: "+err.Error())
	}
	cert := vc.Certificate()
	if cert == nil {
		return invalid("bundle", "the bundle has no signing certificate (key-signed bundles are not accepted)")
	}
	ext, err := certificate.ParseExtensions(cert.Extensions)
	if err != nil {
		return invalid("bundle", "reading the certificate's extensions: "+err.Error())
	}
	want := a.ServerURL + "/" + owner + "/" + repo
	if !strings.EqualFold(ext.SourceRepositoryURI, want) {
		return invalid("bundle", fmt.Sprintf("the certificate's source repository is %q, not %s", ext.SourceRepositoryURI, want))
	}
	att := StoredAttestation{
		Owner: owner, Repo: repo, Bundle: raw, PredicateType: st.PredicateType,
		SourceRepositoryURI: ext.SourceRepositoryURI, SourceRepositoryOwnerURI: ext.SourceRepositoryOwnerURI,
	}
	for _, s := range st.Subject {
		if h := s.Digest["sha256"]; h != "" {
			att.Subjects = append(att.Subjects, "sha256:"+h)
		}
	}
	a.mu.Lock()
	a.nextID++
	att.ID = a.nextID
	a.atts = append(a.atts, att)
	a.mu.Unlock()
	return apiAnswer{status: http.StatusCreated, body: map[string]any{"id": att.ID}}
}

// storageRecordFields are the body fields GitHub documents for the storage
// record endpoint.
var storageRecordFields = []string{"name", "digest", "version", "artifact_url", "path", "registry_url", "repository", "status", "github_repository"}

func (a *GitHubAPI) createStorageRecord(r *http.Request, org string) apiAnswer {
	if !slices.ContainsFunc(a.orgs, func(o string) bool { return strings.EqualFold(o, org) }) {
		return ghError(http.StatusNotFound, "Not Found")
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return ghError(http.StatusBadRequest, "Problems reading the body")
	}
	var fields map[string]string
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&fields); err != nil {
		return ghError(http.StatusBadRequest, "Problems parsing JSON")
	}
	for k := range fields {
		if !slices.Contains(storageRecordFields, k) {
			return invalid(k, "unknown field")
		}
	}
	switch name := fields["name"]; {
	case name == "" || len(name) > 256:
		return invalid("name", "name is required (1 to 256 characters)")
	case !sha256Digest.MatchString(fields["digest"]):
		return invalid("digest", "digest must be sha256:<64 lowercase hex digits>")
	case !strings.HasPrefix(fields["registry_url"], "https://") && !strings.HasPrefix(fields["registry_url"], "http://"):
		return invalid("registry_url", "registry_url is required (the registry's base URL)")
	}
	if s, ok := fields["status"]; ok && !slices.Contains([]string{"active", "eol", "deleted"}, s) {
		return invalid("status", "status must be one of active, eol, deleted")
	}
	a.mu.Lock()
	a.nextID++
	sr := StoredStorageRecord{ID: a.nextID, Org: org, Fields: fields}
	a.records = append(a.records, sr)
	a.mu.Unlock()
	out := map[string]any{"id": sr.ID, "created_at": time.Now().UTC().Format(time.RFC3339)}
	for k, v := range fields {
		out[k] = v
	}
	return apiAnswer{status: http.StatusOK, body: map[string]any{"total_count": 1, "storage_records": []any{out}}}
}

// list answers GitHub's "list attestations" for a repository or an owner.
func (a *GitHubAPI) list(path string) apiAnswer {
	var owner, repo, dgst string
	if m := listRepoPath.FindStringSubmatch(path); m != nil {
		owner, repo, dgst = m[1], m[2], m[3]
	} else {
		m := listOrgPath.FindStringSubmatch(path)
		owner, dgst = m[1], m[2]
	}
	var out []any
	for _, att := range a.Attestations() {
		if !strings.EqualFold(att.Owner, owner) || (repo != "" && !strings.EqualFold(att.Repo, repo)) || !slices.Contains(att.Subjects, dgst) {
			continue
		}
		out = append(out, map[string]any{
			"bundle":        json.RawMessage(att.Bundle),
			"repository_id": att.ID + 100000,
		})
	}
	if len(out) == 0 {
		return ghError(http.StatusNotFound, "Not Found")
	}
	return apiAnswer{status: http.StatusOK, body: map[string]any{"attestations": out}}
}
