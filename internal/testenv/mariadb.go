package testenv

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// mariaDB is the MariaDB server (Debian's mariadb-server) of a test
// binary's Rekor v1 logs, on 127.0.0.1 and a socket of its own, so that
// any number of test binaries run one each.
type mariaDB struct {
	addr   string // 127.0.0.1:PORT
	socket string
	client string // the mariadb client
	schema string // Trillian's storage/mysql/schema/storage.sql
	proc   *Proc

	mu   sync.Mutex
	logs int // logs given databases so far
}

// sharedMariaDB is the test binary's MariaDB, started on first use.
func sharedMariaDB(t testing.TB, bins rekorV1Bins) *mariaDB {
	t.Helper()
	shared.dbOnce.Do(func() { shared.db, shared.dbErr = startMariaDB(bins) })
	if shared.dbErr != nil {
		t.Fatalf("starting MariaDB for Rekor v1: %v", shared.dbErr)
	}
	return shared.db
}

// startMariaDB creates a data directory and starts mariadbd on it.
func startMariaDB(bins rekorV1Bins) (*mariaDB, error) {
	ctx := context.Background() // no deadline: go test's -timeout
	trillian, _ := findGoTool("trillian_log_server")
	src, err := moduleDir(ctx, "github.com/google/trillian", trillian.Version)
	if err != nil {
		return nil, err
	}
	dir, err := sharedTempDir()
	if err != nil {
		return nil, err
	}
	ports, err := freePorts(1)
	if err != nil {
		return nil, err
	}
	db := &mariaDB{
		addr:   Addr(ports[0]),
		socket: filepath.Join(dir, "mysqld.sock"),
		client: bins.client,
		schema: filepath.Join(src, "storage", "mysql", "schema", "storage.sql"),
	}
	data := filepath.Join(dir, "data")
	// Small files, and no flush to disk at every commit: a test log's
	// entries are thrown away with the binary.
	common := []string{"--no-defaults", "--datadir=" + data,
		"--innodb-log-file-size=4M", "--innodb-buffer-pool-size=32M", "--innodb-flush-log-at-trx-commit=0"}
	if os.Geteuid() == 0 {
		common = append(common, "--user=root") // mariadbd refuses root without it
	}
	install := exec.CommandContext(ctx, bins.installDB, append(common, "--auth-root-authentication-method=normal", "--skip-test-db")...)
	if out, err := install.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("mariadb-install-db: %w\n%s", err, out)
	}
	if db.proc, err = spawn(dir, bins.mariadbd, append(common, "--bind-address=127.0.0.1", "--port="+strconv.Itoa(ports[0]),
		"--socket="+db.socket, "--pid-file="+filepath.Join(dir, "mysqld.pid"), "--max-connections=1000")...); err != nil {
		return nil, err
	}
	// No deadline (go test's -timeout): until it answers, or exits.
	for ; ; time.Sleep(100 * time.Millisecond) {
		err := db.run(nil, "", "SELECT 1")
		switch {
		case err == nil:
			return db, nil
		case db.proc.Exited():
			return nil, fmt.Errorf("mariadbd exited: %w\n%s", err, db.proc.Output())
		}
	}
}

// run runs sql (or, with sql empty, what stdin holds) in database ("": none)
// with the mariadb client, as root over the socket.
func (db *mariaDB) run(stdin io.Reader, database, sql string) error {
	args := []string{"--no-defaults", "--socket=" + db.socket, "--user=root", "--batch"}
	if database != "" {
		args = append(args, "--database="+database)
	}
	if sql != "" {
		args = append(args, "--execute="+sql)
	}
	cmd := exec.Command(db.client, args...)
	cmd.Stdin = stdin
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("mariadb %s: %w\n%s", sql, err, out)
	}
	return nil
}

// createLogDatabases creates the databases of one log: Trillian's (with its
// schema) and rekor-server's search index (rekor-server creates its table).
func (db *mariaDB) createLogDatabases() (trillian, index string, err error) {
	db.mu.Lock()
	db.logs++
	n := db.logs
	db.mu.Unlock()
	trillian, index = "trillian_"+strconv.Itoa(n), "rekor_"+strconv.Itoa(n)
	if err := db.run(nil, "", "CREATE DATABASE "+trillian+"; CREATE DATABASE "+index+";"); err != nil {
		return "", "", err
	}
	f, err := os.Open(db.schema)
	if err != nil {
		return "", "", err
	}
	defer f.Close()
	if err := db.run(f, trillian, ""); err != nil {
		return "", "", err
	}
	return trillian, index, nil
}
