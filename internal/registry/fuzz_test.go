package registry

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// FuzzFallbackIndex feeds arbitrary bytes as the fallback tag's content: it
// is either rejected as ErrForeignTag or merged so that every entry it had
// survives, plus ours, exactly once.
func FuzzFallbackIndex(f *testing.F) {
	f.Add([]byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}`))
	f.Add([]byte(`{"schemaVersion":2,"manifests":[{"digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","x":1}],"annotations":{"a":"b"}}`))
	f.Add([]byte(`{"schemaVersion":2,"manifests":null}`))
	f.Add([]byte(`{"schemaVersion":1}`))
	f.Add([]byte(`[]`))
	ours := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromString("ours"), Size: 1, ArtifactType: BundleMediaType}
	f.Fuzz(func(t *testing.T, raw []byte) {
		idx, err := parseFallbackIndex(&fetched{Raw: raw, Desc: ocispec.Descriptor{MediaType: ocispec.MediaTypeImageIndex, Digest: digest.FromBytes(raw)}})
		if err != nil {
			return
		}
		out, err := idx.with(ours)
		if err != nil {
			t.Fatalf("with() = %v", err)
		}
		again, err := parseFallbackIndex(&fetched{Raw: out, Desc: ocispec.Descriptor{MediaType: ocispec.MediaTypeImageIndex}})
		if err != nil {
			t.Fatalf("merged index does not parse: %v\n%s", err, out)
		}
		if !again.has(ours.Digest) {
			t.Fatalf("merged index lacks our entry: %s", out)
		}
		for _, d := range idx.digests {
			if !again.has(d) {
				t.Fatalf("merged index lost %s: %s", d, out)
			}
		}
		want := len(idx.entries)
		if !idx.has(ours.Digest) {
			want++
		}
		if len(again.entries) != want {
			t.Fatalf("merged index has %d entries, want %d", len(again.entries), want)
		}
		for i, e := range idx.entries {
			if !json.Valid(again.entries[i]) || string(again.entries[i]) != string(e) {
				t.Fatalf("entry %d changed: %s -> %s", i, e, again.entries[i])
			}
		}
	})
}

func TestNextLink(t *testing.T) {
	t.Parallel()
	base, _ := url.Parse("http://127.0.0.1:5000/v2/app/referrers/sha256:abc")
	for _, tc := range []struct{ link, want string }{
		{`</v2/app/referrers/sha256:abc?n=10&last=x>; rel="next"`, "http://127.0.0.1:5000/v2/app/referrers/sha256:abc?n=10&last=x"},
		{`<http://other/x>; rel="prev", </next>; rel="next"`, "http://127.0.0.1:5000/next"},
		{``, ""},
		{`</x>; rel="prev"`, ""},
	} {
		resp := &http.Response{Header: http.Header{}, Request: &http.Request{URL: base}}
		if tc.link != "" {
			resp.Header.Set("Link", tc.link)
		}
		if got := nextLink(resp); got != tc.want {
			t.Errorf("nextLink(%q) = %q, want %q", tc.link, got, tc.want)
		}
	}
}
