package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/oci-attest/oci-attest/internal/testenv"
)

// TestRegistryThatNeverAnswers: a registry that accepts every connection
// and never answers fails attest and verify within a minute with
// request-timeout 5s, with an error naming the registry and the input, and
// no bundle is written.
func TestRegistryThatNeverAnswers(t *testing.T) {
	t.Parallel()
	reg := testenv.StartOlareg(t)
	proxy := testenv.StartFaultProxy(t, reg.URL)
	proxy.Add(testenv.Fault{Path: regexp.MustCompile(`.`), Kind: testenv.FaultHang, Times: -1})
	dir := t.TempDir()
	archive := filepath.Join(dir, "app.tar")
	writeArchiveFile(t, archive, docker25(t, imageTagged(proxy.Host+"/me/app:1", "hang")))
	bundle := filepath.Join(dir, "b.json")

	checks := func(t *testing.T, err error, elapsed time.Duration) {
		t.Helper()
		if err == nil {
			t.Fatal("succeeded against a registry that never answers")
		}
		t.Logf("after %v: %v", elapsed.Round(time.Millisecond), err)
		if elapsed > time.Minute {
			t.Errorf("failed after %v, want within a minute", elapsed)
		}
		if code := ExitCode(err); code != 1 {
			t.Errorf("ExitCode = %d, want 1 (a failure outside the inputs)", code)
		}
		if strings.Contains(err.Error(), "set subject-name") {
			t.Errorf("error %q blames the name for a registry that does not answer", err)
		}
		for _, want := range []string{proxy.Host, "request-timeout"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not name %q", err, want)
			}
		}
	}

	t.Run("attest", func(t *testing.T) {
		t.Parallel()
		start := time.Now()
		_, _, err := runCLI(t, env{}, "--subject-path", archive, "--signing-key", "ephemeral",
			"--bundle-path", bundle, "--request-timeout", "5s")
		checks(t, err, time.Since(start))
		if _, serr := os.Stat(bundle); serr == nil {
			t.Error("a bundle was written for a subject that was never resolved")
		}
	})
	t.Run("verify", func(t *testing.T) {
		t.Parallel()
		start := time.Now()
		_, _, err := runCLI(t, env{}, "verify", proxy.Host+"/me/app:1", "--key", pubKeyFile(t), "--request-timeout", "5")
		checks(t, err, time.Since(start))
	})
}
