package verify

import (
	"strings"
	"testing"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

var fuzzSubject = ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromString("subject"), Size: 1}

func TestBundleLayer(t *testing.T) {
	t.Parallel()
	sub := `"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` + fuzzSubject.Digest.String() + `","size":1}`
	layer := `{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","digest":"` + digest.FromString("b").String() + `","size":1}`
	manifest := func(artifactType, layers, subject string) []byte {
		return []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"` + artifactType +
			`","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[` + layers + `]` + subject + `}`)
	}
	tests := []struct {
		name    string
		raw     []byte
		mt      string
		wantErr string
	}{
		{"ok", manifest("application/vnd.dev.sigstore.bundle.v0.3+json", layer, ","+sub), ocispec.MediaTypeImageManifest, ""},
		{"index", manifest("application/vnd.dev.sigstore.bundle.v0.3+json", layer, ","+sub), ocispec.MediaTypeImageIndex, "not an OCI image manifest"},
		{"other artifact", manifest("application/spdx+json", layer, ","+sub), ocispec.MediaTypeImageManifest, "not a Sigstore bundle"},
		{"no subject", manifest("application/vnd.dev.sigstore.bundle.v0.3+json", layer, ""), ocispec.MediaTypeImageManifest, "subject is none"},
		{"two bundles", manifest("application/vnd.dev.sigstore.bundle.v0.3+json", layer+","+layer, ","+sub), ocispec.MediaTypeImageManifest, "2 Sigstore bundle layers"},
		{"no bundle", manifest("application/vnd.dev.sigstore.bundle.v0.3+json", "", ","+sub), ocispec.MediaTypeImageManifest, "0 Sigstore bundle layers"},
		{"not JSON", []byte("{"), ocispec.MediaTypeImageManifest, "parsing the manifest"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l, err := bundleLayer(tc.raw, ocispec.Descriptor{MediaType: tc.mt}, fuzzSubject)
			if tc.wantErr == "" {
				if err != nil || l.Digest != digest.FromString("b") {
					t.Errorf("bundleLayer() = %v, %v; want the bundle layer", l, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("bundleLayer() error = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

// FuzzBundleLayer feeds untrusted referrer manifests to bundleLayer.
func FuzzBundleLayer(f *testing.F) {
	f.Add([]byte(`{"schemaVersion":2,"artifactType":"application/vnd.dev.sigstore.bundle.v0.3+json","layers":[{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000","size":1}],"subject":{"digest":"` + fuzzSubject.Digest.String() + `"}}`))
	f.Add([]byte(`{"layers":null,"subject":null}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		l, err := bundleLayer(raw, ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest}, fuzzSubject)
		if err == nil && !strings.HasPrefix(l.MediaType, "application/vnd.dev.sigstore.bundle") {
			t.Errorf("bundleLayer() accepted layer media type %q", l.MediaType)
		}
	})
}
