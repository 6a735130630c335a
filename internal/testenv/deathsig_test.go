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
	// The kernel sends the death signal while the killed binary's threads
	// exit, before Wait can reap it: by now the process is gone, or dying,
	// or has SIGKILL pending. Checked at once, so no wait is timed.
	if !killed(pid) {
		_ = syscall.Kill(pid, syscall.SIGKILL) // the process this test leaked
		t.Fatalf("process %d outlived the killed test binary that started it: no SIGKILL pending", pid)
	}
	for syscall.Kill(pid, 0) == nil && !zombie(pid) {
		time.Sleep(50 * time.Millisecond) // it is dying: wait, untimed, for it to be gone
	}
}

// stat returns the fields of /proc/PID/stat after the command name (state
// first), nil when the process is gone.
func stat(pid int) []string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(s[i+1:])
}

// zombie reports whether pid has exited and waits for a parent to reap it.
func zombie(pid int) bool {
	f := stat(pid)
	return f == nil || f[0] == "Z" || f[0] == "X"
}

// killed reports whether pid is gone, exiting (PF_EXITING in its flags:
// the signal was taken) or has SIGKILL pending, for the thread or the
// process.
func killed(pid int) bool {
	const pfExiting = 0x4
	f := stat(pid)
	if f == nil || zombie(pid) {
		return true
	}
	if flags, err := strconv.ParseUint(f[6], 10, 64); err == nil && flags&pfExiting != 0 {
		return true
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return true
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || (k != "SigPnd" && k != "ShdPnd") {
			continue
		}
		if mask, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64); err == nil && mask&(1<<(syscall.SIGKILL-1)) != 0 {
			return true
		}
	}
	return false
}
