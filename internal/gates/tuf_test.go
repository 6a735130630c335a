package gates

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"testing"

	tuf "github.com/theupdateframework/go-tuf"
	leveldbstore "github.com/theupdateframework/go-tuf/client/leveldbstore"

	"github.com/oci-attest/oci-attest/internal/testenv"
)

// tufRepos caches one TUF repository per stack (its trusted root).
var tufRepos sync.Map // trusted root path → *tufRepo

type tufRepo struct {
	once sync.Once
	dir  string // the repository: root.json, …, targets/trusted_root.json
	root []byte // its root.json
	err  error
}

// kyvernoTUF returns a TUF_ROOT for one Kyverno run that trusts the stack's
// trusted root. Kyverno's SigstoreBundle verification takes its trusted root
// from nowhere else: the trusted_root.json target of sigstore/sigstore's
// TUF client (Kyverno v1.19.1, pkg/sigstoretuf, tuf.NewFromEnv), whose
// mirror and root the admission controller sets with --tufMirror and
// --tufRoot and the CLI reads from $TUF_ROOT (remote.json, tuf.db). The
// repository is made once per stack, with keys of its own; the cache is new
// for every run (the client holds a lock on tuf.db while it runs).
func kyvernoTUF(t *testing.T, s *testenv.Sigstore) string {
	t.Helper()
	v, _ := tufRepos.LoadOrStore(s.TrustedRootPath, &tufRepo{})
	r := v.(*tufRepo)
	r.once.Do(func() { r.dir, r.root, r.err = newTUFRepo(s.TrustedRootPath, filepath.Join(s.Dir, "tuf")) })
	if r.err != nil {
		t.Fatalf("making a TUF repository for Kyverno: %v", r.err)
	}
	cache := t.TempDir()
	local, err := leveldbstore.FileLocalStore(filepath.Join(cache, "tuf.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := local.SetMeta("root.json", r.root); err != nil {
		t.Fatal(err)
	}
	if err := local.Close(); err != nil {
		t.Fatal(err)
	}
	remote, err := json.Marshal(map[string]string{"mirror": "file://" + r.dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cache, "remote.json"), remote, 0o600); err != nil {
		t.Fatal(err)
	}
	return cache
}

// newTUFRepo writes a TUF repository under dir whose one target is the
// trusted root at trustedRoot, and returns the repository's directory and
// root.json.
func newTUFRepo(trustedRoot, dir string) (string, []byte, error) {
	store := tuf.FileSystemStore(dir, nil)
	repo, err := tuf.NewRepo(store)
	if err != nil {
		return "", nil, err
	}
	if err := repo.Init(false); err != nil {
		return "", nil, err
	}
	for _, role := range []string{"root", "targets", "snapshot", "timestamp"} {
		if _, err := repo.GenKey(role); err != nil {
			return "", nil, err
		}
	}
	b, err := os.ReadFile(trustedRoot)
	if err != nil {
		return "", nil, err
	}
	staged := filepath.Join(dir, "staged", "targets")
	if err := os.MkdirAll(staged, 0o755); err != nil {
		return "", nil, err
	}
	if err := os.WriteFile(filepath.Join(staged, "trusted_root.json"), b, 0o600); err != nil {
		return "", nil, err
	}
	if err := repo.AddTarget("trusted_root.json", nil); err != nil {
		return "", nil, err
	}
	for _, step := range []func() error{repo.Snapshot, repo.Timestamp, repo.Commit} {
		if err := step(); err != nil {
			return "", nil, err
		}
	}
	meta, err := store.GetMeta()
	if err != nil {
		return "", nil, err
	}
	return filepath.Join(dir, "repository"), meta["root.json"], nil
}
