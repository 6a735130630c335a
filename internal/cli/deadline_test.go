package cli

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/oci-attest/oci-attest/internal/retry"
	"github.com/oci-attest/oci-attest/internal/testenv"
)

// TestRegistryThatNeverAnswers: a registry that accepts every connection
// and never answers fails attest and verify after the policy's attempts of
// request-timeout 5s each, with an error naming the registry and the input,
// and no bundle is written.
func TestRegistryThatNeverAnswers(t *testing.T) {
	t.Parallel()
	reg := testenv.StartOlareg(t)
	proxy := testenv.StartFaultProxy(t, reg.URL)
	proxy.Add(testenv.Fault{Path: regexp.MustCompile(`.`), Kind: testenv.FaultHang, Times: -1})
	dir := t.TempDir()
	archive := filepath.Join(dir, "app.tar")
	writeArchiveFile(t, archive, docker25(t, imageTagged(proxy.Host+"/me/app:1", "hang")))
	bundle := filepath.Join(dir, "b.json")

	checks := func(t *testing.T, err error) {
		t.Helper()
		if err == nil {
			t.Fatal("succeeded against a registry that never answers")
		}
		// Bounded by the policy, not by a clock: every attempt timed out
		// at request-timeout, and there were at most the policy's.
		var re *retry.Error
		if !errors.As(err, &re) || !errors.Is(err, retry.ErrTimeout) || re.Timeout != 5*time.Second || re.Attempts > retry.DefaultRetries+1 {
			t.Errorf("error %v: want a retry.Error of attempts that timed out at 5s, at most %d of them", err, retry.DefaultRetries+1)
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
		_, _, err := runCLI(t, env{}, "--subject-path", archive, "--signing-key", "ephemeral",
			"--bundle-path", bundle, "--request-timeout", "5s")
		checks(t, err)
		if _, serr := os.Stat(bundle); serr == nil {
			t.Error("a bundle was written for a subject that was never resolved")
		}
	})
	t.Run("verify", func(t *testing.T) {
		t.Parallel()
		_, _, err := runCLI(t, env{}, "verify", proxy.Host+"/me/app:1", "--key", pubKeyFile(t), "--request-timeout", "5")
		checks(t, err)
	})
}
