//go:build unix

package cli

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestActionHandsFilesBack: as root in a docker action, the bundle, its
// directory and the statement end up owned by the job's user (the owner of
// the directory they were written in), so later steps and a self-hosted
// runner's cleanup can remove them.
func TestActionHandsFilesBack(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create files for another user")
	}
	const uid, gid = 4321, 4322
	containerTemp, containerWS := t.TempDir(), t.TempDir()
	for _, d := range []string{containerTemp, containerWS} {
		if err := os.Chown(d, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	archive, err := filepath.Abs(filepath.Join(testdataDir, "archives", "podman.tar"))
	if err != nil {
		t.Fatal(err)
	}
	var stdout bytes.Buffer
	e := env{
		"GITHUB_ACTIONS":         "true",
		"INPUT_SUBJECT-PATH":     archive,
		"INPUT_SIGNING-KEY":      "ephemeral",
		"INPUT_PUSH-TO-REGISTRY": "false",
		"INPUT_SHOW-SUMMARY":     "false",
		"INPUT_STATEMENT-PATH":   "/host/ws/statement.json",
		"INPUT_RUNNER-TEMP":      "/host/temp",
		"INPUT_WORKSPACE":        "/host/ws",
		"RUNNER_TEMP":            containerTemp,
		"GITHUB_WORKSPACE":       containerWS,
		"GITHUB_OUTPUT":          filepath.Join(t.TempDir(), "output"),
	}
	if err := Run(context.Background(), nil, e.get, &stdout, io.Discard); err != nil {
		t.Fatalf("run() error = %v\n%s", err, stdout.String())
	}
	matches, _ := filepath.Glob(filepath.Join(containerTemp, "oci-attest", "*.sigstore.json"))
	if len(matches) != 1 {
		t.Fatalf("bundles under RUNNER_TEMP/oci-attest = %v, want 1", matches)
	}
	for _, p := range []string{filepath.Join(containerTemp, "oci-attest"), matches[0], filepath.Join(containerWS, "statement.json")} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		if st.Uid != uid || st.Gid != gid {
			t.Errorf("%s is owned by %d:%d, want %d:%d", p, st.Uid, st.Gid, uid, gid)
		}
	}
}
