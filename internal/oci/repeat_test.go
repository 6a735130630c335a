package oci_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/oci-attest/oci-attest/internal/oci"
	"github.com/oci-attest/oci-attest/internal/oci/ocitest"
)

// TestScanRepeatedConfig: a manifest.json whose many entries name one large
// config is read in time linear in the archive, not entries × config size
// (each entry used to parse the config again: a 40 MiB archive could cost
// hours).
func TestScanRepeatedConfig(t *testing.T) {
	t.Parallel()
	cfg := []byte(`{"rootfs":{"type":"layers","diff_ids":[]},"pad":"` + strings.Repeat("x", 4<<20) + `"}`)
	sum := sha256.Sum256(cfg)
	name := hex.EncodeToString(sum[:]) + ".json"
	const entries = 2000
	var mj strings.Builder
	mj.WriteString("[")
	for i := range entries {
		if i > 0 {
			mj.WriteString(",")
		}
		mj.WriteString(`{"Config":"` + name + `","RepoTags":null,"Layers":[]}`)
	}
	mj.WriteString("]")
	path := writeTemp(t, "repeat.tar", tarOf(
		ocitest.Entry{Name: name, Body: cfg},
		ocitest.Entry{Name: "manifest.json", Body: []byte(mj.String())},
	))
	start := time.Now()
	a, err := oci.Scan(context.Background(), path, oci.ScanOptions{})
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Scan() took %v", d)
	}
	if err != nil {
		t.Fatalf("Scan() error = %v", err)
	}
	if len(a.Images) != entries || a.Images[entries-1].ImageID.Encoded() != hex.EncodeToString(sum[:]) {
		t.Errorf("Scan() = %d images, want %d of image %x", len(a.Images), entries, sum)
	}
}
