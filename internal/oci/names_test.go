package oci_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/oci-attest/oci-attest/internal/oci"
	"github.com/oci-attest/oci-attest/internal/oci/ocitest"
)

// TestScanLongNames: paths far longer than any file system allows are
// refused with ErrUnsafePath and a readable error before they are resolved,
// whether they are tar entry names, link targets or paths manifest.json
// names. Resolving a 1 MiB path of many components through the entry table
// used to cost seconds per path (quadratic in its length: hundreds of GB of
// hashed keys, counted here as ScanCost.KeyBytes) and put megabytes into
// the error message.
func TestScanLongNames(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a/", 1<<19) + "c.json" // 1 MiB
	longEntry := long[len(long)-(512<<10):]        // what a tar header can carry
	cases := []struct {
		name string
		edit func([]ocitest.Entry) []ocitest.Entry
	}{
		{"manifest.json Config", func(es []ocitest.Entry) []ocitest.Entry {
			m := manifestOf(t, es)
			m[0]["Config"] = long
			return setManifest(t, es, m)
		}},
		{"manifest.json layer", func(es []ocitest.Entry) []ocitest.Entry {
			m := manifestOf(t, es)
			m[0]["Layers"].([]any)[0] = long
			return setManifest(t, es, m)
		}},
		{"entry name", func(es []ocitest.Entry) []ocitest.Entry {
			return append(es, ocitest.Entry{Name: longEntry, Body: []byte("x")})
		}},
		{"symlink target", func(es []ocitest.Entry) []ocitest.Entry {
			return append(es, ocitest.Entry{Name: "link", Type: '2', Linkname: longEntry})
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			es, _ := legacyLayer(t)
			// Enough entries that the entry table hashes its keys.
			for i := range 32 {
				es = append(es, ocitest.Entry{Name: "pad/" + strings.Repeat("p", i+1), Body: []byte("x")})
			}
			path := writeTemp(t, "long.tar", tarOf(tc.edit(es)...))
			_, cost, err := oci.ScanCounted(context.Background(), path, oci.ScanOptions{}, nil)
			t.Logf("cost %+v", cost)
			if cost.KeyBytes > 64<<10 {
				t.Errorf("Scan() hashed %d bytes of path keys, want a few KiB: the long path was resolved", cost.KeyBytes)
			}
			if !errors.Is(err, oci.ErrUnsafePath) {
				t.Fatalf("Scan() error = %.300v, want ErrUnsafePath", err)
			}
			if len(err.Error()) > 8<<10 {
				t.Errorf("Scan() error is %d bytes long", len(err.Error()))
			}
		})
	}
}
