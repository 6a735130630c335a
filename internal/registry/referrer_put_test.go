package registry

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/oci-attest/oci-attest/internal/testenv"
)

// TestReferrerPutBlobUnknown: distribution answers the referrer manifest
// PUT with MANIFEST_BLOB_UNKNOWN when a blob it acknowledged is not there
// (the fault proxy swallows an upload, as a registry racing concurrent
// uploads of one blob does). Attach uploads the blob the answer names
// again and retries; when the blob never arrives, the error says which.
func TestReferrerPutBlobUnknown(t *testing.T) {
	t.Parallel()
	dist := testenv.StartDistribution(t)
	uploads := regexp.MustCompile(`/blobs/uploads/.+`)
	t.Run("transient", func(t *testing.T) {
		t.Parallel()
		ctx := context.Background()
		proxy := testenv.StartFaultProxy(t, dist.URL)
		c := newTestClient(t, Options{})
		s := resolvedSubject(t, c, proxy.Host+"/blobunknown/transient")
		// The first upload completed after this is the empty config's.
		proxy.Add(testenv.Fault{Method: http.MethodPut, Path: uploads, Kind: testenv.FaultSwallow, Times: 1})
		res, err := c.Attach(ctx, s, testBundle(1), AttachOptions{Mode: ModeTag, Settle: testSettle})
		if err != nil {
			t.Fatalf("Attach() = %v", err)
		}
		if res.Reuploads != 1 {
			t.Errorf("Attach() reuploads = %d, want 1", res.Reuploads)
		}
		if proxy.Injected(testenv.FaultSwallow) != 1 {
			t.Fatalf("the fault was injected %d times, want 1", proxy.Injected(testenv.FaultSwallow))
		}
		puts := 0
		for _, e := range proxy.Events() {
			if e.Method == http.MethodPut && strings.HasSuffix(e.Path, "/manifests/"+res.Artifact.Digest.String()) {
				puts++
			}
		}
		if puts != 2 {
			t.Errorf("the referrer manifest was PUT %d times, want 2 (refused, then after the upload)", puts)
		}
		raw, _, err := c.FetchManifest(ctx, s.Repository, res.Artifact.Digest.String())
		if err != nil || len(raw) == 0 {
			t.Errorf("the referrer does not read back: %v", err)
		}
		if _, err := c.FetchBlob(ctx, s.Repository, emptyConfig); err != nil {
			t.Errorf("the empty config does not read back: %v", err)
		}
		if got, _ := fallbackEntries(t, c, s); !got[res.Artifact.Digest] {
			t.Errorf("the fallback tag lacks %s", res.Artifact.Digest)
		}
	})
	t.Run("persistent", func(t *testing.T) {
		t.Parallel()
		ctx := context.Background()
		proxy := testenv.StartFaultProxy(t, dist.URL)
		c := newTestClient(t, Options{})
		s := resolvedSubject(t, c, proxy.Host+"/blobunknown/persistent")
		proxy.Add(testenv.Fault{Method: http.MethodPut, Path: uploads, Kind: testenv.FaultSwallow, Times: -1})
		bundle := testBundle(2)
		_, err := c.Attach(ctx, s, bundle, AttachOptions{Mode: ModeTag, Settle: testSettle})
		if err == nil {
			t.Fatal("Attach() with every upload swallowed succeeded")
		}
		for _, want := range []string{"MANIFEST_BLOB_UNKNOWN", "still does not know", digestFromBytes(bundle).String() + " (the bundle)", emptyConfig.Digest.String() + " (the empty config)", "after 4 uploads"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("Attach() error %q lacks %q", err, want)
			}
		}
	})
}
