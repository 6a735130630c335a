package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/registry"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/errcode"

	"github.com/oci-attest/oci-attest/internal/oci"
	"github.com/oci-attest/oci-attest/internal/ref"
	"github.com/oci-attest/oci-attest/internal/retry"
)

// Size limits for what we read from registries.
const (
	maxManifestSize = 4 << 20  // manifests and indexes (OCI recommends 4 MiB)
	maxBlobSize     = 64 << 20 // blobs read by FetchBlob (bundles are small)
)

// manifestAccept is the Accept header of every manifest GET.
var manifestAccept = strings.Join([]string{
	ocispec.MediaTypeImageManifest, ocispec.MediaTypeImageIndex,
	oci.MediaTypeDockerManifest, oci.MediaTypeDockerManifestList,
}, ", ")

// repo is one repository of one registry.
type repo struct {
	c   *Client
	ref ref.Reference // the repository (tag and digest dropped)
}

// repository returns the repo of ref, with the auth scope hint for actions.
func (c *Client) repository(ctx context.Context, at ref.Reference, actions ...string) (context.Context, repo) {
	r := repo{c: c, ref: at.Repo()}
	return auth.AppendRepositoryScope(ctx, r.ref.Oras(), actions...), r
}

// name is "registry/repository".
func (r repo) name() string { return r.ref.Name() }

// scheme is http for loopback registries and, when allowed, for any
// registry; https otherwise.
func (r repo) scheme() string {
	if retry.IsLoopback(r.ref.Host()) || r.c.allowInsecure {
		return "http"
	}
	return "https"
}

// url returns the URL of /v2/<repository>/<path>.
func (r repo) url(path string) string {
	return r.scheme() + "://" + r.ref.Host() + "/v2/" + r.ref.Repository + "/" + path
}

// do sends a request through the auth client.
func (r repo) do(ctx context.Context, method, u string, body []byte, hdr http.Header) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, fmt.Errorf("building %s %s: %w", method, u, err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := r.c.auth.Do(req)
	if err != nil {
		var er *errcode.ErrorResponse
		if errors.Is(err, auth.ErrBasicCredentialNotFound) ||
			(errors.As(err, &er) && (er.StatusCode == http.StatusUnauthorized || er.StatusCode == http.StatusForbidden)) {
			return nil, fmt.Errorf("%s %s: %w: %w", method, redact(u), ErrUnauthorized, err)
		}
		// url.Error repeats the method and URL: keep only its cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("%s %s: %w", method, redact(u), err)
	}
	return resp, nil
}

// urlQuery matches the query of a URL inside a message.
var urlQuery = regexp.MustCompile(`(https?://[^\s"'?]+)\?[^\s"']*`)

// redactedError shows err with the query strings of the URLs in its message
// dropped: go-containerregistry's upload errors quote the upload location,
// whose query carries the session's state token (distribution's _state).
type redactedError struct{ err error }

func (e redactedError) Error() string { return urlQuery.ReplaceAllString(e.err.Error(), "$1?…") }
func (e redactedError) Unwrap() error { return e.err }

// redact drops the query of a URL (upload locations carry state tokens).
func redact(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return u
	}
	p.RawQuery = ""
	return p.Redacted()
}

// statusError builds the error for an unexpected response, with the
// registry's error codes and advice for 401/403.
func statusError(what string, resp *http.Response) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 8<<10))
	msg := resp.Status
	var e struct {
		Errors []struct {
			Code    string          `json:"code"`
			Message string          `json:"message"`
			Detail  json.RawMessage `json:"detail"`
		} `json:"errors"`
	}
	se := &statusErr{code: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After")}
	if json.Unmarshal(body, &e) == nil && len(e.Errors) > 0 {
		parts := make([]string, 0, len(e.Errors))
		for _, x := range e.Errors {
			parts = append(parts, strings.TrimSpace(x.Code+" "+x.Message))
			se.codes = append(se.codes, errorCode{code: x.Code, detail: x.Detail})
		}
		msg += ": " + strings.Join(parts, "; ")
	}
	se.msg = fmt.Sprintf("%s: registry answered %s", what, msg)
	var err error = se
	switch resp.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden:
		err = fmt.Errorf("%w: %w", err, ErrUnauthorized)
	case http.StatusNotFound:
		err = fmt.Errorf("%w: %w", err, ErrNotFound)
	}
	return err
}

// statusErr is an unexpected registry answer.
type statusErr struct {
	msg        string
	code       int
	retryAfter string
	// codes are the distribution-spec error codes of the answer's body.
	codes []errorCode
}

// errorCode is one error of a registry's answer: its code and its detail
// as sent (for MANIFEST_BLOB_UNKNOWN, distribution sends the digest).
type errorCode struct {
	code   string
	detail json.RawMessage
}

func (e *statusErr) Error() string { return e.msg }

// fetched is a manifest as the registry served it.
type fetched struct {
	Raw  []byte
	Desc ocispec.Descriptor
	ETag string
}

// getManifest GETs a manifest by tag or digest. The descriptor's digest is
// computed from the bytes (and checked when reference is a digest); its
// media type comes from Content-Type, else the JSON mediaType field.
func (r repo) getManifest(ctx context.Context, reference string) (*fetched, error) {
	if err := checkReference(reference); err != nil {
		return nil, fmt.Errorf("fetching manifest %s: %w", r.name(), err)
	}
	what := fmt.Sprintf("fetching manifest %s:%s", r.name(), reference)
	if strings.Contains(reference, ":") {
		what = fmt.Sprintf("fetching manifest %s@%s", r.name(), reference)
	}
	resp, err := r.do(ctx, http.MethodGet, r.url("manifests/"+reference), nil, http.Header{"Accept": {manifestAccept}})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, statusError(what, resp)
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxManifestSize+1))
	if err != nil {
		return nil, fmt.Errorf("%s: reading body: %w", what, err)
	}
	if len(raw) > maxManifestSize {
		return nil, fmt.Errorf("%s: manifest larger than %d bytes", what, maxManifestSize)
	}
	d := digest.FromBytes(raw)
	if want, err := digest.Parse(reference); err == nil && want != d {
		return nil, fmt.Errorf("%s: registry served content with digest %s", what, d)
	}
	mt, err := manifestMediaType(resp.Header.Get("Content-Type"), raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return &fetched{
		Raw:  raw,
		Desc: ocispec.Descriptor{MediaType: mt, Digest: d, Size: int64(len(raw))},
		ETag: resp.Header.Get("ETag"),
	}, nil
}

// manifestMediaType is the media type of a manifest served as raw with
// the Content-Type ct: ct's, unless it is missing or generic and the
// manifest's mediaType field names one. Both naming different types is an
// error.
func manifestMediaType(ct string, raw []byte) (string, error) {
	mt := ""
	if ct != "" {
		if m, _, err := mime.ParseMediaType(ct); err == nil {
			mt = m
		}
	}
	var probe struct {
		MediaType string `json:"mediaType"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return "", fmt.Errorf("not JSON: %w", err)
	}
	switch {
	case probe.MediaType != "" && (mt == "" || mt == "application/json" || mt == "text/plain"):
		mt = probe.MediaType
	case probe.MediaType != "" && probe.MediaType != mt:
		// Which of the two a client believes decides how it reads the
		// bytes: refuse the ambiguity rather than bind through it.
		return "", fmt.Errorf("the registry served Content-Type %q but the manifest says mediaType %q", mt, probe.MediaType)
	}
	return mt, nil
}

// checkReference refuses a manifest reference that is neither a tag nor a
// digest: it becomes a URL path (a "digest" from a fallback index such as
// "../../x/manifests/y" would name another resource, fetched unchecked).
func checkReference(reference string) error {
	if strings.Contains(reference, ":") {
		if _, err := digest.Parse(reference); err != nil {
			return fmt.Errorf("%q is not a digest: %w", reference, err)
		}
		return nil
	}
	t := registry.Reference{Registry: "localhost", Repository: "x", Reference: reference}
	if err := t.ValidateReferenceAsTag(); err != nil {
		return fmt.Errorf("%q is not a tag", reference)
	}
	return nil
}

// putManifest PUTs raw under reference with hdr added; it returns the
// response headers. A 412 is returned as errPreconditionFailed.
func (r repo) putManifest(ctx context.Context, reference, mediaType string, raw []byte, hdr http.Header) (http.Header, error) {
	what := fmt.Sprintf("pushing manifest %s:%s", r.name(), reference)
	if strings.Contains(reference, ":") {
		what = fmt.Sprintf("pushing manifest %s@%s", r.name(), reference)
	}
	h := http.Header{"Content-Type": {mediaType}}
	for k, v := range hdr {
		h[k] = v
	}
	resp, err := r.do(ctx, http.MethodPut, r.url("manifests/"+reference), raw, h)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusPreconditionFailed {
		return nil, errPreconditionFailed
	}
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		return nil, statusError(what, resp)
	}
	if got := resp.Header.Get("Docker-Content-Digest"); got != "" && got != digest.FromBytes(raw).String() {
		return nil, fmt.Errorf("%s: registry stored digest %s, we sent %s", what, got, digest.FromBytes(raw))
	}
	return resp.Header, nil
}

// errPreconditionFailed is a 412 answer to an If-Match PUT.
var errPreconditionFailed = errors.New("412 precondition failed")

// pushBlob uploads a blob: a monolithic POST (one request where the
// registry supports it), else POST + PUT. A broken upload session is
// restarted (after checking whether the blob arrived anyway).
func (r repo) pushBlob(ctx context.Context, desc ocispec.Descriptor, data []byte) error {
	what := fmt.Sprintf("pushing blob %s@%s", r.name(), desc.Digest)
	var last error
	for attempt := 0; attempt < 2; attempt++ {
		if attempt > 0 {
			if ok, err := r.blobExists(ctx, desc.Digest); err == nil && ok {
				return nil
			}
		}
		last = r.uploadOnce(ctx, desc, data)
		if last == nil {
			return nil
		}
		if ctx.Err() != nil {
			break
		}
	}
	return fmt.Errorf("%s: %w", what, last)
}

func (r repo) uploadOnce(ctx context.Context, desc ocispec.Descriptor, data []byte) error {
	q := url.Values{"digest": {desc.Digest.String()}}
	resp, err := r.do(ctx, http.MethodPost, r.url("blobs/uploads/")+"?"+q.Encode(), data,
		http.Header{"Content-Type": {"application/octet-stream"}})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusCreated:
		return nil
	case http.StatusAccepted:
	default:
		return statusError("starting upload", resp)
	}
	loc, err := resp.Request.URL.Parse(resp.Header.Get("Location"))
	if err != nil || resp.Header.Get("Location") == "" {
		return fmt.Errorf("starting upload: registry sent no usable Location header")
	}
	lq := loc.Query()
	lq.Set("digest", desc.Digest.String())
	loc.RawQuery = lq.Encode()
	put, err := r.do(ctx, http.MethodPut, loc.String(), data, http.Header{"Content-Type": {"application/octet-stream"}})
	if err != nil {
		return err
	}
	defer put.Body.Close()
	if put.StatusCode != http.StatusCreated && put.StatusCode != http.StatusNoContent && put.StatusCode != http.StatusOK {
		return statusError("completing upload", put)
	}
	return nil
}

// blobExists HEADs a blob.
func (r repo) blobExists(ctx context.Context, d digest.Digest) (bool, error) {
	resp, err := r.do(ctx, http.MethodHead, r.url("blobs/"+d.String()), nil, nil)
	if err != nil {
		return false, err
	}
	resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		return true, nil
	case http.StatusNotFound:
		return false, nil
	}
	return false, fmt.Errorf("checking blob %s@%s: registry answered %s", r.name(), d, resp.Status)
}

// getBlob GETs a blob (following redirects to storage without credentials),
// bounded by desc.Size and checked against desc.Digest.
func (r repo) getBlob(ctx context.Context, desc ocispec.Descriptor) ([]byte, error) {
	what := fmt.Sprintf("fetching blob %s@%s", r.name(), desc.Digest)
	if desc.Size < 0 || desc.Size > maxBlobSize {
		return nil, fmt.Errorf("%s: size %d outside 0..%d", what, desc.Size, maxBlobSize)
	}
	resp, err := r.do(ctx, http.MethodGet, r.url("blobs/"+desc.Digest.String()), nil, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, statusError(what, resp)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, desc.Size+1))
	if err != nil {
		return nil, fmt.Errorf("%s: reading body: %w", what, err)
	}
	if int64(len(b)) != desc.Size {
		return nil, fmt.Errorf("%s: got %d bytes, want %d", what, len(b), desc.Size)
	}
	if got := digest.FromBytes(b); got != desc.Digest {
		return nil, fmt.Errorf("%s: content has digest %s", what, got)
	}
	return b, nil
}
