package testenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Tool returns the path of the pinned Go tool name, installing it if missing.
func Tool(t testing.TB, name string) string {
	t.Helper()
	p, err := Install(context.Background(), name)
	if err != nil {
		t.Fatalf("installing %s: %v", name, err)
	}
	return p
}

// RequireBin returns the path of a Debian-provided binary. When it is
// missing the test fails under CI (CI is set) — .ci/run installs it — and is
// skipped elsewhere with the apt-get line that installs it.
func RequireBin(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	pkg := DebianTools[name]
	if pkg == "" {
		pkg = name
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is not installed: .ci/run installs it (apt-get install -y %s)", name, pkg)
	}
	t.Skipf("%s is not installed: apt-get install -y %s", name, pkg)
	return ""
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago and
// that this test binary has not handed out before: the kernel may give a
// just-closed port to the next request, and two servers of one stack (a
// Fulcio and a timestamp authority started side by side) were seen to get
// the same one.
func FreePort(t testing.TB) int {
	t.Helper()
	p, err := freePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	return p[0]
}

// freePorts is FreePort for n ports, outside a test (the processes a test
// binary's tests share).
func freePorts(n int) ([]int, error) {
	var ports []int
	for try := 0; len(ports) < n; try++ {
		if try == 100*n {
			return nil, errors.New("finding a free port: the kernel keeps handing out ports already used")
		}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("finding a free port: %w", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		handedOutMu.Lock()
		seen := handedOut[port]
		handedOut[port] = true
		handedOutMu.Unlock()
		if !seen {
			ports = append(ports, port)
		}
	}
	return ports, nil
}

// handedOut are the ports FreePort returned.
var (
	handedOutMu sync.Mutex
	handedOut   = map[int]bool{}
)

// Proc is a process started by Start; its combined output is kept for
// failure messages.
type Proc struct {
	Cmd  *exec.Cmd
	out  *lockedBuffer
	done chan struct{}
}

// Exited reports whether the process has ended.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Output returns what the process printed so far.
func (p *Proc) Output() string { return p.out.String() }

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Start runs name with args in dir (may be empty) and kills it, with its
// process group, when the test ends. On test failure its output is logged.
func Start(t testing.TB, dir, name string, args ...string) *Proc {
	t.Helper()
	p, err := spawn(dir, name, args...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("output of %s:\n%s", name, p.Output())
		}
	})
	return p
}

// spawn runs name with args in dir (may be empty) in a process group of its
// own, which the kernel kills when the test binary dies (dieWithParent).
// Nothing else stops it: Start ties it to a test, the processes shared by
// a test binary's tests (SharedRekorV1) live as long as the binary.
func spawn(dir, name string, args ...string) (*Proc, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	dieWithParent(cmd.SysProcAttr)
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	done := make(chan struct{})
	p := &Proc{Cmd: cmd, out: out, done: done}
	go func() { _ = cmd.Wait(); close(done) }()
	return p, nil
}

// kill ends p's process group: SIGTERM, then SIGKILL after 5 s (Trillian's
// servers linger on SIGTERM), and waits for p to exit. A stopped process
// (SIGSTOP) is continued first, so that it can take the SIGTERM.
func (p *Proc) kill() {
	_ = syscall.Kill(-p.Cmd.Process.Pid, syscall.SIGTERM)
	_ = syscall.Kill(-p.Cmd.Process.Pid, syscall.SIGCONT)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-p.Cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

// WaitHTTP polls url until it answers with any HTTP status, or fails the
// test when process p exits first. It sets no deadline: a slow start on a
// loaded machine is not a failure, and a process that never answers is
// caught by go test's -timeout (every waitLog it says what it waits for).
func WaitHTTP(t testing.TB, p *Proc, url string) {
	t.Helper()
	if err := waitHTTP(p, url, t.Logf); err != nil {
		t.Fatal(err)
	}
}

// waitHTTP is WaitHTTP returning its failure, for processes started outside
// a test (the shared Rekor v1 log); logf (nil: none) hears every waitLog
// what it waits for.
func waitHTTP(p *Proc, url string, logf func(string, ...any)) error {
	c := &http.Client{Timeout: 2 * time.Second}
	next := time.Now().Add(waitLog)
	for {
		if p.Exited() {
			return fmt.Errorf("%s exited before answering %s:\n%s", p.Cmd.Path, url, p.Output())
		}
		resp, err := c.Get(url)
		if err == nil {
			resp.Body.Close()
			return nil
		}
		if logf != nil && time.Now().After(next) {
			logf("still waiting for %s to answer %s: %v", p.Cmd.Path, url, err)
			next = time.Now().Add(waitLog)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitLog is how often WaitHTTP says that it is still waiting.
const waitLog = 30 * time.Second

// Command is exec.Command for a tool a test runs to its end. It sets no
// deadline (a hung tool is caught by go test's -timeout, which names the
// test, rather than a deadline that a loaded machine can miss), and on Linux
// the tool dies with the test binary, so a timed-out run leaks nothing.
func Command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{}
	dieWithParent(cmd.SysProcAttr)
	return cmd
}

// RunTool runs a client tool (skopeo, oras, regctl, cosign …) to its end
// with its configuration confined to a test directory (HOME, DOCKER_CONFIG,
// REGCTL_CONFIG, TMPDIR, TUF_ROOT) and returns its standard output; the
// test fails when the tool does.
func RunTool(t testing.TB, bin string, args ...string) string {
	t.Helper()
	home := t.TempDir()
	cmd := Command(bin, args...)
	cmd.Env = append(os.Environ(), "HOME="+home, "DOCKER_CONFIG="+home, "REGCTL_CONFIG="+home+"/regctl.json",
		"TMPDIR="+home, "TUF_ROOT="+home, "SIGSTORE_NO_CACHE=true")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %v: %v\n%s%s", bin, args, err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// Addr formats a loopback host:port.
func Addr(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }
