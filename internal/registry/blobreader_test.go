package registry

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-attest/oci-attest/internal/ref"
	"github.com/oci-attest/oci-attest/internal/testenv"
)

// TestOpenBlobChecks: OpenBlob streams a blob and its last Read fails when
// the registry sends other bytes, fewer or more than the descriptor says
// (a hand-written registry: a fault path), instead of io.EOF.
func TestOpenBlobChecks(t *testing.T) {
	t.Parallel()
	want := []byte("the layer's bytes")
	desc := ocispec.Descriptor{Digest: digest.FromBytes(want), Size: int64(len(want))}
	for _, tc := range []struct {
		name, body, err string
	}{
		{"same", string(want), ""},
		{"other bytes", strings.Repeat("x", len(want)), "does not match its digest"},
		{"short", string(want[:4]), "got 4 bytes"},
		{"long", string(want) + "!", "more than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.WriteString(w, tc.body)
			}))
			t.Cleanup(srv.Close)
			repo, err := ref.Parse(testenv.HostOf(t, srv.URL) + "/app")
			if err != nil {
				t.Fatal(err)
			}
			rc, err := newTestClient(t, Options{}).OpenBlob(context.Background(), repo, desc)
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			got, err := io.ReadAll(rc)
			switch {
			case tc.err == "" && (err != nil || string(got) != string(want)):
				t.Errorf("ReadAll = %q, %v; want the blob", got, err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Errorf("ReadAll = %v, want an error saying %q", err, tc.err)
			}
		})
	}
}
