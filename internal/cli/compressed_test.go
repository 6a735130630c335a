package cli

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCompressedArchiveDryRun (issue 26 item 4): docker save IMAGE | gzip
// is attested as the image it holds; tardigest is the digest of the file
// as given (the compressed one), imageid and diffids the image's.
func TestCompressedArchiveDryRun(t *testing.T) {
	t.Parallel()
	archive := filepath.Join(testdataDir, "archives", "docker25.tar")
	gz := gzipped(t, archive)
	pred := func(p string) map[string]any {
		out, stderr, err := runCLI(t, env{}, "--subject-path", p, "--dry-run")
		if err != nil {
			t.Fatalf("dry run of %s: %v\n%s", p, err, stderr)
		}
		var st struct {
			Predicate map[string]any `json:"predicate"`
		}
		if err := json.Unmarshal([]byte(out), &st); err != nil {
			t.Fatal(err)
		}
		return st.Predicate
	}
	plain, z := pred(archive), pred(gz)
	b, err := os.ReadFile(gz)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	if got := z["tardigest"].(map[string]any)["sha256"]; got != hex.EncodeToString(sum[:]) {
		t.Errorf("tardigest %v, want the gzip file's %x", got, sum)
	}
	for _, f := range []string{"imageid", "diffids", "manifestraw", "manifestdigest", "imagetags"} {
		if a, b := mustJSON(t, plain[f]), mustJSON(t, z[f]); a != b {
			t.Errorf("%s: %s from the gzip file, %s from the tar", f, b, a)
		}
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}
