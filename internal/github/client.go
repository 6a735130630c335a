package github

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/oci-attest/oci-attest/internal/retry"
)

// DefaultAPIURL is the API of github.com.
const DefaultAPIURL = "https://api.github.com"

// DefaultServerURL is github.com.
const DefaultServerURL = "https://github.com"

// APIVersion is the REST API version every request asks for.
const APIVersion = "2022-11-28"

// defaultTimeout bounds one call, retries included.
const defaultTimeout = 2 * time.Minute

// maxAnswer bounds a success answer read from the API.
const maxAnswer = 1 << 20

// Policy decides whether a request is sent again, and after how long (a
// negative duration: not again): the method set of retry.Policy, the
// product's one policy, which serves when Options.Retry is nil.
type Policy interface {
	Retry(attempt int, resp *http.Response, err error) (time.Duration, error)
}

// Options configure New.
type Options struct {
	// APIURL is the REST API's base (GITHUB_API_URL). Empty: DefaultAPIURL.
	// Plain HTTP is refused unless the host is loopback.
	APIURL string
	// Token authenticates every request (Authorization: Bearer). Required.
	Token string
	// UserAgent is sent with every request. Empty: "oci-attest".
	UserAgent string
	// HTTPClient is the base client (tests, proxies): its Transport is kept,
	// under retry.NewClient's plain-HTTP guard and retries; its
	// CheckRedirect is replaced by one that drops the token on a redirect to
	// another origin. Nil: http.DefaultTransport.
	HTTPClient *http.Client
	// Retry decides which requests are sent again. Nil: retry.Policy, the
	// product's one policy (5 retries, jittered exponential backoff from
	// 200 ms, Retry-After and x-ratelimit-reset honoured up to 60 s).
	Retry Policy
	// RequestTimeout is how long one request may go without progress (the
	// request-timeout input). Zero: retry.DefaultTimeout.
	RequestTimeout time.Duration
	// Timeout bounds one call, retries included. Zero: the retry policy's
	// total budget, at least 2 minutes.
	Timeout time.Duration
}

// Client talks to GitHub's REST API.
type Client struct {
	base    *url.URL
	token   string
	ua      string
	hc      *http.Client
	timeout time.Duration
}

// New returns a Client for opts.
func New(opts Options) (*Client, error) {
	base, err := ParseAPIURL(opts.APIURL)
	if err != nil {
		return nil, err
	}
	if opts.Token == "" {
		return nil, ErrNoToken
	}
	// The caller's transport only: its CheckRedirect is replaced by the
	// origin rule.
	var hc *http.Client
	if opts.HTTPClient != nil {
		hc = &http.Client{Transport: opts.HTTPClient.Transport}
	}
	co := retry.ClientOptions{
		Service:           "GitHub API",
		Policy:            retry.Policy{Timeout: opts.RequestTimeout},
		PlainHTTPSentinel: ErrInsecure,
		Base:              hc,
	}
	if opts.Retry != nil {
		co.Decide = opts.Retry.Retry
	}
	c := &Client{
		base:    base,
		token:   opts.Token,
		ua:      opts.UserAgent,
		timeout: opts.Timeout,
		hc:      retry.NewClient(co),
	}
	if c.ua == "" {
		c.ua = "oci-attest"
	}
	if c.timeout <= 0 {
		c.timeout = max(defaultTimeout, co.Policy.Total())
	}
	return c, nil
}

// ParseAPIURL parses an API base URL (empty: DefaultAPIURL): http(s) with a
// host, no query or fragment; plain HTTP only for a loopback host
// (ErrInsecure). The path is kept (GitHub Enterprise Server's /api/v3).
func ParseAPIURL(raw string) (*url.URL, error) {
	if raw == "" {
		raw = DefaultAPIURL
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("%w: %q (want https://HOST[/PATH])", ErrAPIURL, raw)
	}
	if u.Scheme == "http" && !retry.IsLoopback(u.Host) {
		return nil, &retry.PlainHTTPError{URL: raw, Sentinel: ErrInsecure}
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u, nil
}

// Repository is a GitHub repository, OWNER/REPO.
type Repository struct{ Owner, Name string }

// namePart is what GitHub allows in an owner or repository name.
var namePart = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,100}$`)

// ParseRepository parses OWNER/REPO (GITHUB_REPOSITORY).
func ParseRepository(s string) (Repository, error) {
	owner, name, ok := strings.Cut(s, "/")
	if !ok || !namePart.MatchString(owner) || !namePart.MatchString(name) || name == "." || name == ".." {
		return Repository{}, fmt.Errorf("%w: %q", ErrRepository, clean(s, 200))
	}
	return Repository{Owner: owner, Name: name}, nil
}

// String is OWNER/REPO.
func (r Repository) String() string { return r.Owner + "/" + r.Name }

// AttestationURL is the web page of an attestation:
// SERVER/OWNER/REPO/attestations/ID (https://github.com/... on github.com,
// the server's equivalent on GitHub Enterprise). An empty serverURL means
// DefaultServerURL.
func AttestationURL(serverURL string, repo Repository, id int64) string {
	if serverURL == "" {
		serverURL = DefaultServerURL
	}
	return fmt.Sprintf("%s/%s/%s/attestations/%d", strings.TrimRight(serverURL, "/"),
		url.PathEscape(repo.Owner), url.PathEscape(repo.Name), id)
}

// CreateAttestation stores a Sigstore bundle (its JSON, sent byte for byte
// as the request's "bundle") in repo's attestations and returns the
// attestation's ID.
func (c *Client) CreateAttestation(ctx context.Context, repo Repository, bundle []byte) (int64, error) {
	if !json.Valid(bundle) || !bytes.HasPrefix(bytes.TrimSpace(bundle), []byte("{")) {
		return 0, errors.New("storing the attestation: the bundle is not a JSON object")
	}
	body := make([]byte, 0, len(bundle)+12)
	body = append(body, `{"bundle":`...)
	body = append(body, bundle...)
	body = append(body, '}')
	path := "/repos/" + url.PathEscape(repo.Owner) + "/" + url.PathEscape(repo.Name) + "/attestations"
	var out struct {
		ID flexInt `json:"id"`
	}
	if err := c.post(ctx, path, body, http.StatusCreated, &out); err != nil {
		return 0, err
	}
	if out.ID <= 0 {
		return 0, fmt.Errorf("POST %s: GitHub's answer has no attestation id", path)
	}
	return int64(out.ID), nil
}

// StorageRecord is an artifact storage record: where a pushed artifact is
// stored (the fields actions/attest sends).
type StorageRecord struct {
	// Name is the artifact's name: for an image, REGISTRY/REPOSITORY.
	Name string `json:"name"`
	// Digest is sha256:<hex>.
	Digest string `json:"digest"`
	// Version is the artifact's version (an image tag); omitted when empty.
	Version string `json:"version,omitempty"`
	// RegistryURL is the registry's base URL, e.g. https://ghcr.io.
	RegistryURL string `json:"registry_url"`
}

// CreateStorageRecord posts a storage record for org (organisations only)
// and returns the IDs of the records GitHub created.
func (c *Client) CreateStorageRecord(ctx context.Context, org string, rec StorageRecord) ([]int64, error) {
	if !namePart.MatchString(org) {
		return nil, fmt.Errorf("%w: organisation %q", ErrRepository, clean(org, 200))
	}
	body, err := json.Marshal(rec)
	if err != nil {
		return nil, err
	}
	path := "/orgs/" + url.PathEscape(org) + "/artifacts/metadata/storage-record"
	var out struct {
		StorageRecords []struct {
			ID flexInt `json:"id"`
		} `json:"storage_records"`
	}
	if err := c.post(ctx, path, body, http.StatusOK, &out); err != nil {
		return nil, err
	}
	ids := make([]int64, 0, len(out.StorageRecords))
	for _, r := range out.StorageRecords {
		ids = append(ids, int64(r.ID))
	}
	return ids, nil
}

// post sends body to path and decodes a `want` answer into out.
func (c *Client) post(ctx context.Context, path string, body []byte, want int, out any) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	op := "POST " + path
	u := *c.base
	u.Path += path
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("X-GitHub-Api-Version", APIVersion)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", c.ua)
	resp, err := c.hc.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
			return fmt.Errorf("%s: GitHub did not answer within %s: %w", op, c.timeout, err)
		}
		return fmt.Errorf("%s: %w", op, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != want {
		return apiError(op, resp)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return fmt.Errorf("%s: reading the answer: %w", op, err)
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s: GitHub's answer is not the documented JSON: %w", op, err)
	}
	return nil
}

// flexInt is an ID GitHub sends as a number (actions/attest also accepts a
// string).
type flexInt int64

// UnmarshalJSON implements json.Unmarshaler.
func (f *flexInt) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("id %s is not an integer", clean(string(b), 40))
	}
	*f = flexInt(n)
	return nil
}
