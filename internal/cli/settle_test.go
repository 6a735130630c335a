package cli

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/oci-attest/oci-attest/internal/testenv"
)

// TestFallbackSettleInput: fallback-settle reaches the fallback-tag
// protocol: on a registry without the referrers API the two verification
// reads come half of it apart, not half of the default 3 s.
func TestFallbackSettleInput(t *testing.T) {
	t.Parallel()
	// 4 s: half of it, 2 s, is above the default's 1.5 s, so a lower bound
	// alone proves the input took effect (no upper bound on wall time).
	const settle = 4 * time.Second
	reg := testenv.StartGGCR(t)
	proxy := testenv.StartFaultProxy(t, reg.URL)
	archive := filepath.Join(testdataDir, "archives", "docker25.tar")
	_, stderr, err := runCLI(t, env{}, "--subject-path", archive, "--subject-name", proxy.Host+"/settle/app:v1", "--push-image",
		"--signing-key", "ephemeral", "--bundle-path", filepath.Join(t.TempDir(), "b.json"), "--fallback-settle", settle.String())
	if err != nil {
		t.Fatalf("attest: %v\n%s", err, stderr)
	}
	if !strings.Contains(stderr, "written and verified in 1 round(s) (If-Match not tested (a new tag, or no strong ETag): two verification reads)") {
		t.Errorf("log lacks the fallback tag's line:\n%s", stderr)
	}
	tag := regexp.MustCompile(`/manifests/sha256-`)
	var reads []time.Time
	for _, e := range proxy.Events() {
		if e.Method == "GET" && tag.MatchString(e.Path) {
			reads = append(reads, e.At)
		}
	}
	if len(reads) != 3 {
		t.Fatalf("%d reads of the fallback tag, want the merge's read and two verification reads", len(reads))
	}
	if gap := reads[2].Sub(reads[1]); gap < settle/2 {
		t.Errorf("verification reads %v apart, want at least half of fallback-settle %v, above the default's 1.5 s", gap, settle)
	}
}
