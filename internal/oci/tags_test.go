package oci_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/oci-attest/oci-attest/internal/oci"
	"github.com/oci-attest/oci-attest/internal/oci/ocitest"
)

// withTags returns the docker-legacy archive with n RepoTags on its image.
func withTags(t *testing.T, n int) []byte {
	t.Helper()
	es := goodEntries(t, "docker-legacy.tar")
	m := manifestOf(t, es)
	tags := make([]string, n)
	for i := range tags {
		tags[i] = fmt.Sprintf("t/a:%d", i)
	}
	m[0]["RepoTags"] = tags
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	es[find(t, es, "manifest.json")].Body = b
	return ocitest.Tar(es)
}

// TestScanManyTags (issue 9, class 7): 600,000 RepoTags on one image took
// 1.5 GB of memory and made a 97 MB statement. More than ScanOptions.MaxTags
// (1024) tags on an image is an ErrTooLarge error, found while manifest.json
// is parsed, so memory stays near the size of manifest.json itself; 1024
// tags are accepted, and MaxTags lowers the limit. It does not run in
// parallel so that the allocation count is its own.
func TestScanManyTags(t *testing.T) {
	huge := withTags(t, 600_000)
	path := writeTemp(t, "tags.tar", huge)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := oci.Scan(context.Background(), path, oci.ScanOptions{})
	runtime.ReadMemStats(&after)
	if !errors.Is(err, oci.ErrTooLarge) || !strings.Contains(err.Error(), `entry "manifest.json"`) || !strings.Contains(err.Error(), "more than 1024 RepoTags") {
		t.Fatalf("Scan(600,000 tags) = %v, want ErrTooLarge: more than 1024 RepoTags", err)
	}
	if alloc, limit := after.TotalAlloc-before.TotalAlloc, uint64(2*len(huge))+16<<20; alloc > limit {
		t.Errorf("Scan(600,000 tags) allocated %d MiB for a %d MiB archive; want < %d MiB", alloc>>20, len(huge)>>20, limit>>20)
	}

	a, err := oci.Scan(context.Background(), writeTemp(t, "1024.tar", withTags(t, 1024)), oci.ScanOptions{})
	if err != nil || len(a.Images[0].RepoTags) != 1024 {
		t.Fatalf("Scan(1024 tags) = %v", err)
	}
	if _, err := oci.Scan(context.Background(), writeTemp(t, "3.tar", withTags(t, 3)), oci.ScanOptions{MaxTags: 2}); !errors.Is(err, oci.ErrTooLarge) || !strings.Contains(err.Error(), "more than 2 RepoTags") {
		t.Errorf("Scan(3 tags, MaxTags 2) = %v, want ErrTooLarge", err)
	}
}

// TestScanManifestJSONSize: manifest.json and index.json over 8 MiB are
// refused from their headers (parsing one takes memory, and a statement,
// which holds manifest.json twice, may have 2 MiB), whatever MaxJSONSize.
func TestScanManifestJSONSize(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"manifest.json", "index.json"} {
		big := append([]byte("["), bytes.Repeat([]byte(" "), 8<<20)...)
		path := writeTemp(t, "big.tar", ocitest.Tar([]ocitest.Entry{{Name: name, Body: append(big, ']')}}))
		_, err := oci.Scan(context.Background(), path, oci.ScanOptions{MaxJSONSize: 64 << 20})
		if !errors.Is(err, oci.ErrTooLarge) || !strings.Contains(err.Error(), `entry "`+name+`"`) || !strings.Contains(err.Error(), "8388608 bytes manifest.json and index.json may have") {
			t.Errorf("Scan(%s of 8 MiB + 2 bytes) = %v, want ErrTooLarge", name, err)
		}
	}
}
