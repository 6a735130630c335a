// Package testenv starts the real components the tests run against
// (ARCHITECTURE.md, "Testing"): registries and the local Sigstore stack as processes on
// loopback, a stand-in of GitHub's attestations API, and the independent
// clients that read what we write. Every tool is
// pinned; a missing one is installed with `go install pkg@version` (or, for
// Debian packages, reported with the apt-get line to run).
//
// It is test-only code: nothing outside _test.go files and cmd/installtools
// imports it.
package testenv

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
)

// GoTool is a tool installed with `go install Package@Version`.
type GoTool struct {
	Name    string // binary name
	Package string // package path to go install
	Version string // pinned version
	Env     []string
	// Module, when set, builds the tool from a copy of Module's source at
	// Version (what `go mod download -json` unpacks) with each Patch applied
	// (exact text, which must be there), instead of `go install`: for a
	// test-only change such as a listener address that is fixed in the
	// release, or for a module whose go.mod has replace directives, which
	// `go install pkg@version` refuses. A patch of go.mod may pin a
	// requirement; the build then records its checksums.
	Module string
	Patch  []Patch
	// Flags are added to the go build of a Module build (-tags, -ldflags).
	Flags []string
}

// Patch replaces Old by New in File (a path inside the module).
type Patch struct{ File, Old, New string }

// stampVersion is what the stamp file records: the version, and that it is
// patched.
func (t GoTool) stampVersion() string {
	if len(t.Patch) == 0 {
		return t.Version
	}
	return t.Version + "+patched"
}

// gateFlags trim the builds of the deploy gates: no symbol table or DWARF
// (a smaller link; the tests never debug the engines).
var gateFlags = []string{"-ldflags=-s -w"}

// GoTools are the pinned Go tools the tests use. .ci/run installs all of them
// through cmd/installtools; tests install a missing one on first use.
var GoTools = []GoTool{
	{Name: "crane", Package: "github.com/google/go-containerregistry/cmd/crane", Version: "v0.22.1"},
	{Name: "oras", Package: "oras.land/oras/cmd/oras", Version: "v1.3.6"},
	{Name: "regctl", Package: "github.com/regclient/regclient/cmd/regctl", Version: "v0.11.7"},
	{Name: "registry", Package: "github.com/distribution/distribution/v3/cmd/registry", Version: "v3.1.2"},
	// timestamp-server v1.2.9 serves its metrics on the fixed port :2112 and
	// exits when it is taken, so only one could run on a machine at a time
	// (parallel test packages queued on a lock for minutes): the test build
	// serves them on a free loopback port instead. Nothing else changes.
	{Name: "timestamp-server", Package: "github.com/sigstore/timestamp-authority/cmd/timestamp-server", Version: "v1.2.9",
		Module: "github.com/sigstore/timestamp-authority",
		Patch:  []Patch{{File: "pkg/server/prometheus.go", Old: `Addr:         ":2112",`, New: `Addr:         "127.0.0.1:0",`}}},
	{Name: "fulcio", Package: "github.com/sigstore/fulcio", Version: "v1.8.8"},
	{Name: "posix", Package: "github.com/sigstore/rekor-tiles/v2/cmd/rekor-server/posix", Version: "v2.3.0"},
	{Name: "cosign", Package: "github.com/sigstore/cosign/v3/cmd/cosign", Version: "v3.1.3"},
	{Name: "golangci-lint", Package: "github.com/golangci/golangci-lint/v2/cmd/golangci-lint", Version: "v2.1.6"},
	// Lints .github/workflows and README.md's workflows (.ci/lint-workflows).
	{Name: "actionlint", Package: "github.com/rhysd/actionlint/cmd/actionlint", Version: "v1.7.12"},
	// The deploy gates (docs/gates.md), built from their module source:
	// `go install` refuses policy-controller's and Kyverno's replace
	// directives. policy-controller v0.15.1 requires go-containerregistry
	// sub-modules at a pseudo-version the module proxy does not serve; the
	// build pins the published ones before it.
	{Name: "gh", Package: "github.com/cli/cli/v2/cmd/gh", Version: "v2.83.0",
		Module: "github.com/cli/cli/v2", Flags: gateFlags},
	{Name: "policy-tester", Package: "github.com/sigstore/policy-controller/cmd/tester", Version: "v0.15.1",
		Module: "github.com/sigstore/policy-controller", Flags: gateFlags, Patch: []Patch{
			{File: "go.mod", Old: "pkg/authn/k8schain v0.0.0-20260317232201-3888fb8f8738", New: "pkg/authn/k8schain v0.0.0-20260205022027-93aa2732266a"},
			{File: "go.mod", Old: "pkg/authn/kubernetes v0.0.0-20260317232201-3888fb8f8738", New: "pkg/authn/kubernetes v0.0.0-20260224031529-85f2bf5f7303"},
		}},
	{Name: "kyverno", Package: "github.com/kyverno/kyverno/cmd/cli/kubectl-kyverno", Version: "v1.19.1",
		Module: "github.com/kyverno/kyverno", Flags: gateFlags},
}

// DebianTools are the tools that come from Debian packages; .ci/run installs
// them with apt-get.
var DebianTools = map[string]string{
	"skopeo":          "skopeo",
	"buildah":         "buildah",
	"docker-registry": "docker-registry",
	"openssl":         "openssl",
}

// gobin is where `go install` puts binaries.
func gobin() string {
	if b := os.Getenv("GOBIN"); b != "" {
		return b
	}
	out, err := exec.Command("go", "env", "GOPATH").Output()
	if err == nil {
		if p := filepath.SplitList(string(trimNL(out))); len(p) > 0 && p[0] != "" {
			return filepath.Join(p[0], "bin")
		}
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, "go", "bin")
}

func trimNL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// findGoTool returns the GoTool named name.
func findGoTool(name string) (GoTool, bool) {
	for _, t := range GoTools {
		if t.Name == name {
			return t, true
		}
	}
	return GoTool{}, false
}

// Install makes sure the pinned tool is in GOBIN and returns its path. It
// installs with `go install` under a file lock so that parallel test
// packages do not build the same tool twice. The binary in GOBIN is trusted
// to be the pinned version: cmd/installtools writes a stamp file per tool and
// Install rebuilds when the stamp names another version.
func Install(ctx context.Context, name string) (string, error) {
	t, ok := findGoTool(name)
	if !ok {
		return "", fmt.Errorf("testenv: unknown tool %q", name)
	}
	dir := gobin()
	bin := filepath.Join(dir, t.Name)
	stamp := filepath.Join(dir, "."+t.Name+".oci-attest-version")
	if have(bin, stamp, t.stampVersion()) {
		return bin, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	unlock, err := lockFile(filepath.Join(dir, ".oci-attest-install.lock"))
	if err != nil {
		return "", err
	}
	defer unlock()
	if have(bin, stamp, t.stampVersion()) {
		return bin, nil
	}
	if t.Module != "" {
		if err := buildModule(ctx, t, bin); err != nil {
			return "", err
		}
	} else {
		cmd := exec.CommandContext(ctx, "go", "install", t.Package+"@"+t.Version)
		cmd.Env = append(os.Environ(), "GOBIN="+dir, "GOFLAGS=-buildvcs=false", "GOTOOLCHAIN=local")
		cmd.Env = append(cmd.Env, t.Env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("testenv: go install %s@%s: %w\n%s", t.Package, t.Version, err, out)
		}
	}
	if err := os.WriteFile(stamp, []byte(t.stampVersion()), 0o644); err != nil {
		return "", err
	}
	return bin, nil
}

// buildModule builds t from a (patched) copy of its module's source.
func buildModule(ctx context.Context, t GoTool, bin string) error {
	dl := exec.CommandContext(ctx, "go", "mod", "download", "-json", t.Module+"@"+t.Version)
	dl.Env = append(os.Environ(), "GOTOOLCHAIN=local", "GOFLAGS=")
	dl.Dir = os.TempDir() // outside any module
	out, err := dl.Output()
	if err != nil {
		return fmt.Errorf("testenv: go mod download %s@%s: %w", t.Module, t.Version, err)
	}
	var m struct{ Dir string }
	if err := json.Unmarshal(out, &m); err != nil || m.Dir == "" {
		return fmt.Errorf("testenv: go mod download %s@%s: no source directory in %s", t.Module, t.Version, out)
	}
	src, err := os.MkdirTemp("", "oci-attest-"+t.Name+"-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(src)
	if err := os.CopyFS(src, os.DirFS(m.Dir)); err != nil {
		return fmt.Errorf("testenv: copying %s: %w", m.Dir, err)
	}
	for _, p := range t.Patch {
		f := filepath.Join(src, filepath.FromSlash(p.File))
		b, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("testenv: patching %s: %w", p.File, err)
		}
		if !bytes.Contains(b, []byte(p.Old)) {
			return fmt.Errorf("testenv: patching %s of %s@%s: %q is not there", p.File, t.Module, t.Version, p.Old)
		}
		if err := os.WriteFile(f, bytes.Replace(b, []byte(p.Old), []byte(p.New), 1), 0o644); err != nil {
			return err
		}
	}
	pkg := "./" + strings.TrimPrefix(strings.TrimPrefix(t.Package, t.Module), "/")
	args := append([]string{"build", "-trimpath", "-o", bin}, t.Flags...)
	cmd := exec.CommandContext(ctx, "go", append(args, pkg)...)
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "GOFLAGS=-buildvcs=false -mod=mod", "GOTOOLCHAIN=local")
	cmd.Env = append(cmd.Env, t.Env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("testenv: building %s@%s from its module: %w\n%s", t.Package, t.Version, err, out)
	}
	return nil
}

func have(bin, stamp, version string) bool {
	if _, err := os.Stat(bin); err != nil {
		return false
	}
	v, err := os.ReadFile(stamp)
	if errors.Is(err, os.ErrNotExist) {
		// Installed by hand or by an older run: accept it, but only when the
		// stamp is missing (a stamp with another version forces a rebuild).
		return true
	}
	return err == nil && string(v) == version
}

func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if runtime.GOOS != "windows" {
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
			f.Close()
			return nil, err
		}
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
