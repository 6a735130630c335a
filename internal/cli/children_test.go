package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/oci-attest/oci-attest/internal/ref"
	"github.com/oci-attest/oci-attest/internal/registry"
)

// childStartEnv is when the children of runChildren start their work
// together (RFC 3339 with nanoseconds); waitChildStart waits for it.
const childStartEnv = "OCI_ATTEST_CONCURRENT_RUN_START"

// runChildren runs n processes of this test binary at once, each running
// only the test child with the environment env(i) added, told to start
// their work together about 3 s from now (the concurrent-writer tests: one
// process per job, as on runners). It returns each one's combined output
// and how many failed (each failure reported).
func runChildren(t *testing.T, n int, child string, env func(i int) []string) ([]string, int) {
	t.Helper()
	start := time.Now().Add(3 * time.Second).Format(time.RFC3339Nano)
	cmds := make([]*exec.Cmd, n)
	outs := make([]*bytes.Buffer, n)
	for i := range n {
		cmds[i] = exec.Command(os.Args[0], "-test.run=^"+child+"$", "-test.count=1")
		outs[i] = &bytes.Buffer{}
		cmds[i].Stdout, cmds[i].Stderr = outs[i], outs[i]
		cmds[i].Env = append(append(os.Environ(), childStartEnv+"="+start), env(i)...)
		if err := cmds[i].Start(); err != nil {
			t.Fatal(err)
		}
	}
	res := make([]string, n)
	failed := 0
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			failed++
			t.Errorf("run %d failed: %v\n%s", i, err, outs[i])
		}
		res[i] = outs[i].String()
	}
	return res, failed
}

// waitChildStart waits, in a child of runChildren, until the moment its
// parent set.
func waitChildStart(t *testing.T) {
	t.Helper()
	at, err := time.Parse(time.RFC3339Nano, os.Getenv(childStartEnv))
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Until(at))
}

// fallbackEntries are the digests the fallback tag of subject d lists in
// repo.
func fallbackEntries(t *testing.T, repo ref.Reference, d string) map[string]bool {
	t.Helper()
	c, err := registry.New(registry.Options{DockerConfig: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	raw, _, err := c.FetchManifest(context.Background(), repo, "sha256-"+strings.TrimPrefix(d, "sha256:"))
	if err != nil {
		t.Fatal(err)
	}
	var idx struct {
		Manifests []struct {
			Digest string `json:"digest"`
		} `json:"manifests"`
	}
	if err := json.Unmarshal(raw, &idx); err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, m := range idx.Manifests {
		got[m.Digest] = true
	}
	return got
}
