package cli

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestVerifyCarriedNoneFound (issue 26 item 1): verify --subject-path alone
// reads the attestations an archive carries; an archive that carries none
// (docker save) exits 3 and says how to carry them; a platform the archive
// lacks is a usage error.
func TestVerifyCarriedNoneFound(t *testing.T) {
	t.Parallel()
	pub := pubKeyFile(t)
	archive := filepath.Join(testdataDir, "archives", "docker25.tar")
	_, stderr, err := runCLI(t, env{}, "verify", "--subject-path", archive, "--key", pub)
	if got := ExitCode(err); got != exitVerifyNoneFound || !strings.Contains(err.Error(), "oras cp -r --to-oci-layout") || !strings.Contains(err.Error(), "--attested-archive-path") || !strings.Contains(err.Error(), "attach --bundle FILE IMAGE") {
		t.Errorf("verify --subject-path (no referrers) = exit %d, %v; want 3 saying how to carry attestations\n%s", got, err, stderr)
	}
	_, _, err = runCLI(t, env{}, "verify", "--subject-path", archive, "--key", pub, "--platform", "linux/s390x")
	if got := ExitCode(err); got != 2 || !strings.Contains(err.Error(), "--platform") {
		t.Errorf("verify --platform (not in the archive) = exit %d, %v; want 2", got, err)
	}
}
