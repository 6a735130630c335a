package testenv

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// RekorV1 is a Rekor v1 log on 127.0.0.1 (ARCHITECTURE.md, "Testing"):
// rekor-server v1.5.3 with its search index in MariaDB (no Redis), on a
// Trillian v1.7.3 tree (a log server and a log signer) stored in the same
// MariaDB. Every test binary runs one MariaDB (Debian's mariadb-server),
// shared by its logs, each log in databases of its own.
type RekorV1 struct {
	// URL is the log's base URL, http://127.0.0.1:PORT.
	URL string
	// PublicKeyDER is the log's public key (PKIX DER; rekor-server's memory
	// signer, ECDSA P-256), as /api/v1/log/publicKey serves it. LogID is
	// its SHA-256: the log ID of the log's entries.
	PublicKeyDER, LogID []byte
	// Since is a time before the log's first entry: the start of its key's
	// validity in a trusted root.
	Since time.Time
	// TreeID is the log's Trillian tree.
	TreeID int64
	// LogServer, Signer and Rekor are the log's processes.
	LogServer, Signer, Rekor *Proc

	bins        rekorV1Bins
	db          *mariaDB
	trillianRPC string // the log server's 127.0.0.1:PORT
	indexDSN    string // rekor-server's search index
	shared      bool
}

// rekorV1Bins are the binaries a Rekor v1 log runs.
type rekorV1Bins struct {
	rekor, createTree, logServer, logSigner string
	mariadbd, installDB, client             string
}

func rekorV1Tools(t testing.TB) rekorV1Bins {
	t.Helper()
	return rekorV1Bins{
		mariadbd:   RequireBin(t, "mariadbd"),
		installDB:  RequireBin(t, "mariadb-install-db"),
		client:     RequireBin(t, "mariadb"),
		rekor:      Tool(t, "rekor-server"),
		createTree: Tool(t, "createtree"),
		logServer:  Tool(t, "trillian_log_server"),
		logSigner:  Tool(t, "trillian_log_signer"),
	}
}

// shared are the test binary's MariaDB and Rekor v1 log, started by the
// first test that asks for them and ended with the binary.
var shared struct {
	dbOnce sync.Once
	db     *mariaDB
	dbErr  error

	logOnce sync.Once
	log     *RekorV1
	logErr  error
}

// SharedRekorV1 is the test binary's Rekor v1 log, started on first use and
// shared by its tests; its processes end with the test binary. Tests append
// to it concurrently: one that stops or pauses a part of its log, or counts
// its entries, starts a log of its own (StartRekorV1).
func SharedRekorV1(t testing.TB) *RekorV1 {
	t.Helper()
	bins := rekorV1Tools(t)
	db := sharedMariaDB(t, bins)
	shared.logOnce.Do(func() {
		shared.log, shared.logErr = startRekorV1(bins, db, spawn)
		if shared.log != nil {
			shared.log.shared = true
		}
	})
	if shared.logErr != nil {
		t.Fatalf("starting the shared Rekor v1 log: %v", shared.logErr)
	}
	return shared.log
}

// StartRekorV1 starts a Rekor v1 log of the test's own (its own tree, log
// server, log signer and rekor-server, on the test binary's MariaDB), ended
// with the test: for tests that pause its signer (PauseSigner), stop its
// Trillian (StopLogServer) or count its entries (TreeSize).
func StartRekorV1(t testing.TB) *RekorV1 {
	t.Helper()
	bins := rekorV1Tools(t)
	db := sharedMariaDB(t, bins)
	r, err := startRekorV1(bins, db, func(dir, name string, args ...string) (*Proc, error) {
		p, err := spawn(dir, name, args...)
		if err == nil {
			t.Cleanup(func() {
				p.kill()
				if t.Failed() {
					t.Logf("output of %s:\n%s", filepath.Base(name), p.Output())
				}
			})
		}
		return p, err
	})
	if err != nil {
		t.Fatalf("starting a Rekor v1 log: %v", err)
	}
	return r
}

// starter starts a process of a log: spawn for the shared log, spawn tied
// to a test for a test's own.
type starter func(dir, name string, args ...string) (*Proc, error)

// startRekorV1 creates the log's databases, starts Trillian, creates the
// tree and starts rekor-server in front of it.
func startRekorV1(bins rekorV1Bins, db *mariaDB, start starter) (*RekorV1, error) {
	r := &RekorV1{bins: bins, db: db, Since: time.Now().Add(-time.Minute)}
	trillianDB, indexDB, err := db.createLogDatabases()
	if err != nil {
		return nil, err
	}
	ports, err := freePorts(4)
	if err != nil {
		return nil, err
	}
	dsn := func(name string) string { return "root@tcp(" + db.addr + ")/" + name }
	r.indexDSN = dsn(indexDB)
	r.trillianRPC = Addr(ports[0])
	serverHTTP, signerRPC, signerHTTP := Addr(ports[1]), Addr(ports[2]), Addr(ports[3])
	storage := []string{"--storage_system=mysql", "--quota_system=mysql", "--mysql_uri=" + dsn(trillianDB)}
	if r.LogServer, err = start("", bins.logServer, append(storage,
		"--rpc_endpoint="+r.trillianRPC, "--http_endpoint="+serverHTTP)...); err != nil {
		return nil, err
	}
	// The signer integrates queued entries every sequencer_interval;
	// force_master: the only signer, no election.
	if r.Signer, err = start("", bins.logSigner, append(storage, "--force_master", "--sequencer_interval=50ms",
		"--rpc_endpoint="+signerRPC, "--http_endpoint="+signerHTTP)...); err != nil {
		return nil, err
	}
	for _, w := range []struct {
		p   *Proc
		url string
	}{{r.LogServer, "http://" + serverHTTP + "/healthz"}, {r.Signer, "http://" + signerHTTP + "/healthz"}} {
		if err := waitHTTP(w.p, w.url, nil); err != nil {
			return nil, err
		}
	}
	if r.TreeID, err = createTree(bins.createTree, r.trillianRPC); err != nil {
		return nil, err
	}
	if r.URL, r.Rekor, err = r.frontend(start); err != nil {
		return nil, err
	}
	pemKey, err := fetch(r.URL + "/api/v1/log/publicKey")
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(pemKey)
	if block == nil {
		return nil, fmt.Errorf("rekor-server's public key is not PEM: %q", pemKey)
	}
	if _, err := x509.ParsePKIXPublicKey(block.Bytes); err != nil {
		return nil, fmt.Errorf("rekor-server's public key: %w", err)
	}
	sum := sha256.Sum256(block.Bytes)
	r.PublicKeyDER, r.LogID = block.Bytes, sum[:]
	return r, nil
}

// createTree creates and initializes a Trillian log tree and returns its ID
// (createtree prints it on its own line).
func createTree(bin, rpc string) (int64, error) {
	out, err := exec.Command(bin, "--admin_server="+rpc, "--rpc_deadline=30s").Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return 0, fmt.Errorf("createtree: %w\n%s", err, ee.Stderr)
		}
		return 0, fmt.Errorf("createtree: %w", err)
	}
	lines := strings.Fields(string(out))
	if len(lines) == 0 {
		return 0, errors.New("createtree printed no tree ID")
	}
	id, err := strconv.ParseInt(lines[len(lines)-1], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("createtree printed %q, not a tree ID", out)
	}
	return id, nil
}

// frontend starts a rekor-server for the log's tree with extra flags and
// waits until it answers.
func (r *RekorV1) frontend(start starter, extra ...string) (string, *Proc, error) {
	host, port, _ := strings.Cut(r.trillianRPC, ":")
	ports, err := freePorts(1)
	if err != nil {
		return "", nil, err
	}
	args := append([]string{"serve",
		"--trillian_log_server.address=" + host, "--trillian_log_server.port=" + port,
		"--trillian_log_server.tlog_id=" + strconv.FormatInt(r.TreeID, 10),
		"--rekor_server.address=127.0.0.1", "--port=" + strconv.Itoa(ports[0]), "--rekor_server.hostname=localhost",
		"--search_index.storage_provider=mysql", "--search_index.mysql.dsn=" + r.indexDSN,
		"--log_type=prod"}, extra...)
	p, err := start("", r.bins.rekor, args...)
	if err != nil {
		return "", nil, err
	}
	url := "http://" + Addr(ports[0])
	if err := waitHTTP(p, url+"/api/v1/log", nil); err != nil {
		return "", nil, err
	}
	return url, p, nil
}

// StartFrontend starts another rekor-server in front of the log's tree,
// with extra flags (e.g. --enabled_entry_types=hashedrekord: a log that
// refuses other kinds of entry), stopped when the test ends, and returns
// its URL. It signs with a key of its own.
func (r *RekorV1) StartFrontend(t testing.TB, extra ...string) string {
	t.Helper()
	url, p, err := r.frontend(spawn, extra...)
	if p != nil {
		t.Cleanup(p.kill)
	}
	if err != nil {
		t.Fatal(err)
	}
	return url
}

// PauseSigner stops the log's Trillian signer (SIGSTOP): entries are
// queued and not integrated, and rekor-server holds every new entry's POST
// open, waiting for it. ResumeSigner, or the end of the test, continues
// it. Only a test's own log (StartRekorV1) can be paused.
func (r *RekorV1) PauseSigner(t testing.TB) {
	t.Helper()
	if r.shared {
		t.Fatal("pausing the signer of the shared Rekor v1 log would stall every test using it: start a log of the test's own (StartRekorV1)")
	}
	if err := syscall.Kill(r.Signer.Cmd.Process.Pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(r.Signer.Cmd.Process.Pid, syscall.SIGCONT) })
}

// ResumeSigner continues a paused signer (SIGCONT). It may be called from
// any goroutine of the test.
func (r *RekorV1) ResumeSigner(t testing.TB) {
	t.Helper()
	if err := syscall.Kill(r.Signer.Cmd.Process.Pid, syscall.SIGCONT); err != nil {
		t.Error(err)
	}
}

// StopLogServer kills the log's Trillian log server: rekor-server then
// answers 500 with its own message. Only a test's own log can be stopped.
func (r *RekorV1) StopLogServer(t testing.TB) {
	t.Helper()
	if r.shared {
		t.Fatal("stopping the shared Rekor v1 log's Trillian would fail every test using it: start a log of the test's own (StartRekorV1)")
	}
	stop(t, r.LogServer)
}

// TreeSize is the number of entries integrated into the log.
func (r *RekorV1) TreeSize(t testing.TB) int64 {
	t.Helper()
	var info struct {
		TreeSize int64 `json:"treeSize"`
	}
	if err := json.Unmarshal(httpGet(t, r.URL+"/api/v1/log"), &info); err != nil {
		t.Fatalf("GET %s/api/v1/log: %v", r.URL, err)
	}
	return info.TreeSize
}

// rekorV1TempPrefix names the directories of the test binaries' MariaDBs:
// oci-attest-rekorv1-PID-RANDOM, removed by a later binary once PID is gone.
const rekorV1TempPrefix = "oci-attest-rekorv1-"

// sharedTempDir makes the shared processes' directory in os.TempDir() and
// removes those of test binaries that have exited (no cleanup runs for
// what outlives every test).
func sharedTempDir() (string, error) {
	old, _ := filepath.Glob(filepath.Join(os.TempDir(), rekorV1TempPrefix+"*"))
	for _, d := range old {
		pid, _, _ := strings.Cut(strings.TrimPrefix(filepath.Base(d), rekorV1TempPrefix), "-")
		if n, err := strconv.Atoi(pid); err == nil && n != os.Getpid() && errors.Is(syscall.Kill(n, 0), syscall.ESRCH) {
			_ = os.RemoveAll(d)
		}
	}
	return os.MkdirTemp("", rekorV1TempPrefix+strconv.Itoa(os.Getpid())+"-")
}
