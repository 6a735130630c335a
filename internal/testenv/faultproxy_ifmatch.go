package testenv

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
)

// Faults for the fallback-tag protocol. They are numbered apart from the
// iota block in faultproxy.go so that the two lists can grow independently.
const (
	// FaultIfMatch makes the registry behind the proxy honour If-Match on
	// manifest PUTs, as no registry the tests run does: a PUT whose If-Match
	// does not match the manifest's current ETag (strong comparison; a
	// missing manifest matches nothing, "*" any existing one) is answered 412,
	// and the check and the forwarded PUT are one atomic step. GET and HEAD
	// answers without an ETag get one (the quoted Docker-Content-Digest).
	// Install it with Method "" for the manifest paths it should guard.
	// Fault.Then, when set, runs after a PUT whose If-Match held was
	// answered by the registry, before the answer is relayed.
	FaultIfMatch FaultKind = 100 + iota
	// FaultHold holds the request until Fault.Release is closed, then
	// forwards it whether or not the client still waits: a write the
	// registry commits late, at a moment the test chooses (an event, not a
	// delay, so that a loaded machine does not reorder the scenario).
	// Fault.Then, when set, runs once the registry has answered it.
	FaultHold
)

// ifMatchMu makes FaultIfMatch's check and PUT one step (for every proxy of
// the test binary: only guarded manifest PUTs take it).
var ifMatchMu sync.Mutex

// serveIfMatch is FaultIfMatch.
func serveIfMatch(w http.ResponseWriter, r *http.Request, rp *httputil.ReverseProxy, target *url.URL, then func()) {
	if r.Method != http.MethodPut {
		rec := httptest.NewRecorder()
		rp.ServeHTTP(rec, r)
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		if d := rec.Header().Get("Docker-Content-Digest"); rec.Code == http.StatusOK && d != "" && rec.Header().Get("ETag") == "" {
			w.Header().Set("ETag", `"`+d+`"`)
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
		return
	}
	ifMatchMu.Lock()
	defer ifMatchMu.Unlock()
	if im := r.Header.Get("If-Match"); im != "" && !ifMatchHolds(r, target, im) {
		http.Error(w, `{"errors":[{"code":"PRECONDITION_FAILED","message":"injected: If-Match does not match"}]}`, http.StatusPreconditionFailed)
		return
	}
	forwardThen(w, r, rp, then)
}

// forwardThen forwards r and runs then (when set) after the registry
// answered, before the answer is relayed.
func forwardThen(w http.ResponseWriter, r *http.Request, rp *httputil.ReverseProxy, then func()) {
	if then == nil {
		rp.ServeHTTP(w, r)
		return
	}
	rec := httptest.NewRecorder()
	rp.ServeHTTP(rec, r)
	then()
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

// ifMatchHolds reports whether the If-Match list im matches the current
// ETag of the manifest r names.
func ifMatchHolds(r *http.Request, target *url.URL, im string) bool {
	u := *target
	u.Path, u.RawQuery = r.URL.Path, ""
	req, err := http.NewRequestWithContext(r.Context(), http.MethodHead, u.String(), nil)
	if err != nil {
		return false
	}
	req.Header.Set("Accept", "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json")
	if a := r.Header.Get("Authorization"); a != "" {
		req.Header.Set("Authorization", a)
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false
	}
	cur := resp.Header.Get("ETag")
	if cur == "" && resp.Header.Get("Docker-Content-Digest") != "" {
		cur = `"` + resp.Header.Get("Docker-Content-Digest") + `"`
	}
	for _, v := range strings.Split(im, ",") {
		v = strings.TrimSpace(v)
		if v == "*" || (v == cur && cur != "" && !strings.HasPrefix(v, "W/")) {
			return true
		}
	}
	return false
}

// serveHold is FaultHold: the request is read at once, held until release
// is closed (or the test ends: stop), and then forwarded even if the client
// has gone.
func serveHold(w http.ResponseWriter, r *http.Request, rp *httputil.ReverseProxy, release, stop <-chan struct{}, then func()) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	select {
	case <-release:
	case <-stop:
		return
	}
	r = r.WithContext(context.WithoutCancel(r.Context()))
	r.Body = io.NopCloser(bytes.NewReader(body))
	forwardThen(w, r, rp, then)
}
