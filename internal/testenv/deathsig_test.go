//go:build linux

package testenv

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const deathsigChild = "OCI_ATTEST_TESTENV_DEATHSIG_CHILD"

// TestDeathSignalChild is the test binary TestStartedProcessDiesWithTest
// kills; it only runs when re-executed by it.
func TestDeathSignalChild(t *testing.T) {
	if os.Getenv(deathsigChild) == "" {
		t.Skip("child of TestStartedProcessDiesWithTest")
	}
	p := Start(t, t.TempDir(), "sleep", "600")
	fmt.Printf("PID %d\n", p.Cmd.Process.Pid)
	time.Sleep(10 * time.Minute) // killed before this ends
}

// TestStartedProcessDiesWithTest: a process Start started does not outlive
// a test binary killed without running its cleanups (SIGKILL, as go test's
// timeout or a CI cancel does).
func TestStartedProcessDiesWithTest(t *testing.T) {
	t.Parallel()
	cmd := exec.Command(os.Args[0], "-test.run=^TestDeathSignalChild$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), deathsigChild+"=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := 0
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "PID "); ok {
			pid, _ = strconv.Atoi(v)
			break
		}
	}
	if pid == 0 {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("the child test printed no PID")
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for syscall.Kill(pid, 0) == nil && !zombie(pid) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL) // the process this test leaked
			t.Fatalf("process %d outlived the killed test binary that started it", pid)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// zombie reports whether pid has exited and waits for a parent to reap it.
func zombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] == 'Z'
}
