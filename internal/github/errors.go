package github

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/oci-attest/oci-attest/internal/retry"
)

// Sentinel errors. Check them with errors.Is.
var (
	// ErrInsecure is returned by New for a plain-HTTP API URL that is not on
	// loopback, and for a request a redirect sent to one (a
	// *retry.PlainHTTPError, which also matches retry.ErrPlainHTTP).
	ErrInsecure = errors.New("plain HTTP is only used for a loopback API")
	// ErrAPIURL is returned by ParseAPIURL and New for a URL that is not an
	// http(s) URL with a host.
	ErrAPIURL = errors.New("not an API URL")
	// ErrNoToken is returned by New without a token.
	ErrNoToken = errors.New("no token")
	// ErrRepository is returned by ParseRepository for anything but
	// OWNER/REPO.
	ErrRepository = errors.New("not a repository name of the form OWNER/REPO")

	// ErrUnauthorized matches an *APIError with status 401 (a bad or expired
	// token).
	ErrUnauthorized = errors.New("GitHub refused the token")
	// ErrForbidden matches an *APIError with status 403 that is not a rate
	// limit: the token lacks a permission.
	ErrForbidden = errors.New("the token lacks a permission")
	// ErrNotFound matches an *APIError with status 404 (no such repository
	// or organisation, or one the token cannot see).
	ErrNotFound = errors.New("not found")
	// ErrInvalid matches an *APIError with status 422: GitHub refused what
	// was sent.
	ErrInvalid = errors.New("GitHub refused the request's content")
	// ErrRateLimited matches an *APIError that is a rate limit (429, or 403
	// with Retry-After or x-ratelimit-remaining: 0) still failing after the
	// retries.
	ErrRateLimited = errors.New("rate limited")
)

// APIError is an answer of the API other than the documented success.
type APIError struct {
	// Op is the request, e.g. "POST /repos/o/r/attestations".
	Op string
	// StatusCode is the HTTP status.
	StatusCode int
	// Message is GitHub's "message" (else the start of the body), with
	// control characters escaped; Details are the "errors" entries' messages
	// or codes, likewise.
	Message string
	Details []string
	// DocumentationURL is GitHub's "documentation_url", when sent.
	DocumentationURL string
	// RateLimited reports a rate limit: 429, or a 403 with Retry-After or
	// x-ratelimit-remaining: 0.
	RateLimited bool
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: GitHub answered %d %s", e.Op, e.StatusCode, http.StatusText(e.StatusCode))
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if len(e.Details) > 0 {
		b.WriteString(" (" + strings.Join(e.Details, "; ") + ")")
	}
	if e.DocumentationURL != "" {
		b.WriteString(" [" + e.DocumentationURL + "]")
	}
	return b.String()
}

// Is matches the sentinels for the status.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrUnauthorized:
		return e.StatusCode == http.StatusUnauthorized
	case ErrForbidden:
		return e.StatusCode == http.StatusForbidden && !e.RateLimited
	case ErrNotFound:
		return e.StatusCode == http.StatusNotFound
	case ErrInvalid:
		return e.StatusCode == http.StatusUnprocessableEntity
	case ErrRateLimited:
		return e.RateLimited
	}
	return false
}

// maxErrorBody bounds how much of an error answer is read.
const maxErrorBody = 16 << 10

// apiError reads an unexpected answer into an *APIError.
func apiError(op string, resp *http.Response) *APIError {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	e := &APIError{Op: op, StatusCode: resp.StatusCode, RateLimited: retry.RateLimited(resp)}
	var m struct {
		Message          string `json:"message"`
		DocumentationURL string `json:"documentation_url"`
		Errors           []struct {
			Message string `json:"message"`
			Code    string `json:"code"`
			Field   string `json:"field"`
		} `json:"errors"`
	}
	if json.Unmarshal(body, &m) != nil {
		e.Message = clean(strings.TrimSpace(string(body)), 200)
		return e
	}
	e.Message = clean(m.Message, 500)
	e.DocumentationURL = clean(m.DocumentationURL, 200)
	for _, d := range m.Errors {
		s := d.Message
		if s == "" {
			s = strings.TrimSpace(d.Field + " " + d.Code)
		}
		if s != "" && len(e.Details) < 5 {
			e.Details = append(e.Details, clean(s, 200))
		}
	}
	return e
}

// clean escapes control characters and invalid UTF-8 in text from the API,
// which must never reach a log raw, and cuts it to at most n bytes.
func clean(s string, n int) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		if b.Len() >= n {
			b.WriteString("…")
			break
		}
		r, w := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && w == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case unicode.IsControl(r) || r == '\u2028' || r == '\u2029':
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
		i += w
	}
	return b.String()
}
