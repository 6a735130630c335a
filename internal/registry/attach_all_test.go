package registry

import (
	"context"
	"testing"

	"github.com/oci-attest/oci-attest/internal/testenv"
)

// TestAttachAll attaches two platforms' bundles to an index and to each
// platform manifest in one call: every referrer is listed on its subject,
// through the API (olareg) or the fallback tags (ggcr, written together).
// (olareg v0.1.2's referrerAdd is a read-modify-write without a lock: two
// referrers of one subject PUT at once can lose one — seen once under load
// in TestVerifyCommand — hence AttachAll's manifests go one after the
// other; the window is too small for this test to hit it on purpose.)
func TestAttachAll(t *testing.T) {
	t.Parallel()
	for _, reg := range testenv.InProcessRegistries(t) {
		t.Run(reg.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			repository := reg.Host + "/attachall"
			idx, imgs := platformIndex(t, repository+":v1", "linux/amd64", "linux/arm64")
			c := newTestClient(t, Options{})
			ss, err := c.ResolveIndex(ctx, testenv.Ref(t, repository+":v1"), archiveImages(t, idx, imgs, "linux/amd64", "linux/arm64"))
			if err != nil {
				t.Fatal(err)
			}
			var refs []Referrer
			for i, s := range ss {
				refs = append(refs, Referrer{Subject: s, Bundle: testBundle(20 + i)}, Referrer{Subject: s.ImageSubject(), Bundle: testBundle(20 + i)})
			}
			res, err := c.AttachAll(ctx, refs, AttachOptions{Settle: testSettle})
			if err != nil {
				t.Fatalf("AttachAll() = %v", err)
			}
			for i, r := range refs {
				if res[i] == nil || res[i].API != reg.API {
					t.Fatalf("result %d = %+v, want an attachment (API %v)", i, res[i], reg.API)
				}
				got, _, err := c.Referrers(ctx, testenv.Ref(t, repository), r.Subject.Descriptor, BundleMediaType)
				if err != nil {
					t.Fatal(err)
				}
				found := false
				for _, d := range got {
					found = found || d.Digest == res[i].Artifact.Digest
				}
				want := 1
				if r.Subject.Descriptor.Digest == ss[0].Descriptor.Digest {
					want = 2 // the index carries both platforms' bundles
				}
				if !found || len(got) != want {
					t.Errorf("referrers of %s = %d (ours found: %v), want %d", r.Subject.Descriptor.Digest, len(got), found, want)
				}
			}
		})
	}
}
