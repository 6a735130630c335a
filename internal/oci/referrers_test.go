package oci_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/oci-attest/oci-attest/internal/oci"
	"github.com/oci-attest/oci-attest/internal/oci/ocitest"
)

// TestReferrers (issue 26 item 1): the referrers an archive carries are
// found where the tools that write them put them — in a referrers index
// named sha256-<hex> (regctl) or listed in index.json itself (oras) — with
// their bundles; a referrer manifest is never taken for an image, even one
// whose config is an image config; a manifest referring to something else
// is no referrer of the archive's images.
func TestReferrers(t *testing.T) {
	t.Parallel()
	base := goodEntries(t, "docker25.tar")
	plain, err := oci.Scan(context.Background(), writeTemp(t, "plain.tar", ocitest.Tar(base)), oci.ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	subject := plain.Images[0].ManifestDigest

	t.Run("regctl referrers index", func(t *testing.T) {
		t.Parallel()
		a, err := oci.Scan(context.Background(), writeTemp(t, "r.tar", ocitest.Tar(withReferrersIndex(t, goodEntries(t, "docker25.tar")))), oci.ScanOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(a.Referrers) != 1 || len(a.Images) != len(plain.Images) {
			t.Fatalf("%d referrers, %d images; want 1 and %d", len(a.Referrers), len(a.Images), len(plain.Images))
		}
		r := a.Referrers[0]
		if r.Subject.Digest != subject || r.Via != "sha256-"+subject.Encoded() || r.ArtifactType != "application/vnd.dev.sigstore.bundle.v0.3+json" ||
			len(r.Layers) != 1 || !bytes.Contains(r.Layers[0].Data, []byte("sigstore.bundle")) || sha(r.Raw) != r.Descriptor.Digest {
			t.Errorf("referrer %+v", r)
		}
	})
	t.Run("listed in index.json, image config", func(t *testing.T) {
		t.Parallel()
		es := goodEntries(t, "oci-gzip.tar")
		idx := indexOf(t, es)
		top := idx["manifests"].([]any)[0].(map[string]any)
		cfg := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
		m := []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[],"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%v}}`, sha(cfg), len(cfg), top["digest"], top["size"]))
		other := []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"%s","size":2},"layers":[],"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":1}}`, sha([]byte("{}")), sha([]byte("elsewhere"))))
		for _, b := range [][]byte{cfg, m, other, []byte("{}")} {
			es = append(es, ocitest.Entry{Name: "blobs/sha256/" + sha(b).Encoded(), Body: b})
		}
		for _, b := range [][]byte{m, other} {
			idx["manifests"] = append(idx["manifests"].([]any), map[string]any{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": string(sha(b)), "size": len(b)})
		}
		a, err := oci.Scan(context.Background(), writeTemp(t, "o.tar", ocitest.Tar(setIndex(t, es, idx))), oci.ScanOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(a.Images) != 1 || len(a.Referrers) != 1 || a.Referrers[0].Descriptor.Digest != sha(m) || a.Referrers[0].Via != "index.json" {
			t.Errorf("%d images, referrers %+v; want the one image, and the referrer with an image config as its one referrer", len(a.Images), a.Referrers)
		}
	})
}
