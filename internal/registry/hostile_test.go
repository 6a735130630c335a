package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-attest/oci-attest/internal/oci"
	"github.com/oci-attest/oci-attest/internal/retry"
	"github.com/oci-attest/oci-attest/internal/testenv"
)

// TestContentTypeDisagreesWithMediaType: a registry that serves an image
// manifest as an image index (or the other way round) is refused, not bound
// through whichever of the two a client happens to believe.
func TestContentTypeDisagreesWithMediaType(t *testing.T) {
	t.Parallel()
	reg := testenv.StartGGCR(t)
	proxy := testenv.StartFaultProxy(t, reg.URL)
	img := pushRandomImage(t, reg.Host+"/ct/app:v1")
	proxy.Add(testenv.Fault{Method: http.MethodGet, Path: regexp.MustCompile(`/manifests/v1$`), Kind: testenv.FaultRewrite, Times: -1,
		Rewrite: func(h http.Header, body []byte) []byte {
			h.Set("Content-Type", ocispec.MediaTypeImageIndex)
			return body
		}})
	c := newTestClient(t, Options{})
	_, err := c.Resolve(context.Background(), testenv.Ref(t, proxy.Host+"/ct/app:v1"), imageID(t, img))
	if err == nil || !strings.Contains(err.Error(), "Content-Type") || !strings.Contains(err.Error(), "mediaType") {
		t.Fatalf("Resolve(Content-Type index, body a manifest) = %v, want the disagreement refused", err)
	}
}

// TestIndexChildrenBounded: an index listing more image manifests than a
// binding fetches is refused before any child is fetched.
func TestIndexChildrenBounded(t *testing.T) {
	t.Parallel()
	reg := testenv.StartGGCR(t)
	proxy := testenv.StartFaultProxy(t, reg.URL)
	idx := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex}
	idx.SchemaVersion = 2
	for i := range maxIndexImages + 1 {
		idx.Manifests = append(idx.Manifests, ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromString(fmt.Sprint(i)), Size: 100})
	}
	raw, err := json.Marshal(idx)
	if err != nil {
		t.Fatal(err)
	}
	// Registries refuse an index whose children they lack: a real index is
	// pushed, and the proxy serves the big one in its place.
	pushRandomIndex(t, reg.Host+"/big/app:v1", 1)
	proxy.Add(testenv.Fault{Method: http.MethodGet, Path: regexp.MustCompile(`/manifests/v1$`), Kind: testenv.FaultRewrite, Times: -1,
		Rewrite: func(http.Header, []byte) []byte { return raw }})
	c := newTestClient(t, Options{})
	_, err = c.Resolve(context.Background(), testenv.Ref(t, proxy.Host+"/big/app:v1"), digest.FromString("config"))
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("more than the %d", maxIndexImages)) {
		t.Fatalf("Resolve(index of %d images) = %v, want it refused naming the bound", maxIndexImages+1, err)
	}
	for _, e := range proxy.Events() {
		if strings.Contains(e.Path, "/manifests/sha256:") {
			t.Fatalf("a child was fetched (%s %s) before the bound refused the index", e.Method, e.Path)
		}
	}
}

// TestManifestReferenceIsNoPath: a "digest" from remote data that is no
// digest (a fallback index entry "sha256:../../x") never becomes a URL path.
func TestManifestReferenceIsNoPath(t *testing.T) {
	t.Parallel()
	reg := testenv.StartGGCR(t)
	proxy := testenv.StartFaultProxy(t, reg.URL)
	c := newTestClient(t, Options{})
	for _, bad := range []string{"sha256:../../other/manifests/v1", "../v1", "v1/../../x", "a b"} {
		if _, _, err := c.FetchManifest(context.Background(), testenv.Ref(t, proxy.Host+"/p/app"), bad); err == nil {
			t.Errorf("FetchManifest(%q) = nil error, want it refused", bad)
		}
	}
	if n := len(proxy.Events()); n != 0 {
		t.Errorf("the registry saw %d request(s) for references that are no tag or digest", n)
	}
}

// TestPushErrorHidesUploadState: a push that fails quotes no upload
// location's query (distribution's _state token).
func TestPushErrorHidesUploadState(t *testing.T) {
	t.Parallel()
	dist := testenv.StartDistribution(t)
	proxy := testenv.StartFaultProxy(t, dist.URL)
	// The upload PUT (distribution's location carries ?_state=) is reset:
	// go-containerregistry's error quotes the URL it was sending to.
	proxy.Add(testenv.Fault{Method: http.MethodPut, Path: regexp.MustCompile(`/blobs/uploads/`), Kind: testenv.FaultReset, Times: -1})
	path := filepath.Join("..", "..", "testdata", "archives", "docker25.tar")
	a, err := oci.Scan(context.Background(), path, oci.ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c := newTestClient(t, Options{})
	_, err = c.PushImage(context.Background(), a, &a.Images[0], testenv.Ref(t, proxy.Host+"/state/app:v1"))
	if err == nil {
		t.Fatal("PushImage() through resets = nil error")
	}
	if strings.Contains(err.Error(), "_state=") {
		t.Errorf("PushImage() error quotes the upload state: %v", err)
	}
	// The request is named once, without its query.
	if n := strings.Count(err.Error(), "/blobs/uploads/"); n != 1 || !strings.Contains(err.Error(), "PUT http://"+proxy.Host+"/v2/state/app/blobs/uploads/") {
		t.Errorf("PushImage() error %v: want the upload PUT named once, without query", err)
	}
}

// TestPushRetriesOnce: go-containerregistry's own retry loop does not run on
// top of ours — a manifest PUT answered 503 forever is sent 1 + the
// policy's retries times (it was 18 with both loops), and a 429 asking for
// more than retry.RetryAfterCap is final.
func TestPushRetriesOnce(t *testing.T) {
	t.Parallel()
	path := filepath.Join("..", "..", "testdata", "archives", "docker25.tar")
	a, err := oci.Scan(context.Background(), path, oci.ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		fault testenv.Fault
		want  int
	}{
		{"503 forever", testenv.Fault{Kind: testenv.Fault503}, 1 + retry.DefaultRetries},
		{"429 for an hour", testenv.Fault{Kind: testenv.Fault429, RetryAfter: "3600"}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			reg := testenv.StartGGCR(t)
			proxy := testenv.StartFaultProxy(t, reg.URL)
			f := tc.fault
			f.Method, f.Path, f.Times = http.MethodPut, regexp.MustCompile(`/manifests/`), -1
			proxy.Add(f)
			c := newTestClient(t, Options{})
			if _, err := c.PushImage(context.Background(), a, &a.Images[0], testenv.Ref(t, proxy.Host+"/retries/app:v1")); err == nil {
				t.Fatal("PushImage() = nil error")
			}
			if n := proxy.Injected(f.Kind); n != tc.want {
				t.Errorf("the manifest PUT was sent %d times, want %d", n, tc.want)
			}
		})
	}
}
