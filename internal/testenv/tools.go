// Package testenv starts the real components the tests run against
// (ARCHITECTURE.md, "Testing"): registries and the local Sigstore stack as processes on
// loopback, a stand-in of GitHub's attestations API, and the independent
// clients that read what we write. Every tool is
// pinned; a missing one is installed with `go install pkg@version` into the
// project's own tool cache (ToolsDir), or, for Debian packages, reported
// with the apt-get line to run.
//
// It is test-only code: nothing outside _test.go files and cmd/installtools
// imports it.
package testenv

import (
	"bytes"
	"context"
	"encoding/json"
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
	// Rekor v1 (rekor-server v1.5.3) on Trillian v1.7.3: the log public-good
	// and most private instances still write to. rekor-server serves its
	// metrics on the fixed :2112 as well (it ignores the error when the port
	// is taken, and holds it from everyone else when not): the test build
	// serves them on a free loopback port.
	{Name: "rekor-server", Package: "github.com/sigstore/rekor/cmd/rekor-server", Version: "v1.5.3",
		Module: "github.com/sigstore/rekor",
		Patch:  []Patch{{File: "cmd/rekor-server/app/serve.go", Old: `Addr:         ":2112",`, New: `Addr:         "127.0.0.1:0",`}}},
	{Name: "createtree", Package: "github.com/google/trillian/cmd/createtree", Version: "v1.7.3"},
	{Name: "trillian_log_server", Package: "github.com/google/trillian/cmd/trillian_log_server", Version: "v1.7.3"},
	{Name: "trillian_log_signer", Package: "github.com/google/trillian/cmd/trillian_log_signer", Version: "v1.7.3"},
	{Name: "cosign", Package: "github.com/sigstore/cosign/v3/cmd/cosign", Version: "v3.1.3"},
	{Name: "golangci-lint", Package: "github.com/golangci/golangci-lint/v2/cmd/golangci-lint", Version: "v2.1.6"},
	// Lints .github/workflows and the workflows of README.md and docs/ (.ci/lint-workflows).
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
	// Rekor v1's database (Trillian's storage and Rekor's search index).
	"mariadbd":           "mariadb-server",
	"mariadb-install-db": "mariadb-server",
	"mariadb":            "mariadb-server",
}

// ToolsEnv names the variable that overrides ToolsDir.
const ToolsEnv = "OCI_ATTEST_TOOLS"

// ToolsDir is where the pinned Go tools are installed: $OCI_ATTEST_TOOLS,
// else oci-attest/tools/GOOS-GOARCH under the user's cache directory
// (~/.cache on Linux), never $GOPATH/bin: the tools are the tests', and
// about 400 MB (CONTRIBUTING.md, "Test tools").
func ToolsDir() (string, error) { return toolsDir(os.Getenv, os.UserCacheDir) }

// toolsDir is ToolsDir in the environment getenv reads, with cacheDir the
// user's cache directory.
func toolsDir(getenv func(string) string, cacheDir func() (string, error)) (string, error) {
	if d := getenv(ToolsEnv); d != "" {
		return filepath.Abs(d)
	}
	cache, err := cacheDir()
	if err != nil {
		return "", fmt.Errorf("testenv: no cache directory for the test tools (set %s): %w", ToolsEnv, err)
	}
	return filepath.Join(cache, "oci-attest", "tools", runtime.GOOS+"-"+runtime.GOARCH), nil
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

// Install makes sure the pinned tool is in ToolsDir and returns its path.
// It installs with `go install` under a file lock so that parallel test
// packages do not build the same tool twice, and writes a stamp file with
// the version beside the binary; a binary whose stamp is missing or names
// another version is built again.
func Install(ctx context.Context, name string) (string, error) {
	t, ok := findGoTool(name)
	if !ok {
		return "", fmt.Errorf("testenv: unknown tool %q", name)
	}
	dir, err := ToolsDir()
	if err != nil {
		return "", err
	}
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
	dir, err := moduleDir(ctx, t.Module, t.Version)
	if err != nil {
		return err
	}
	src, err := os.MkdirTemp("", "oci-attest-"+t.Name+"-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(src)
	if err := os.CopyFS(src, os.DirFS(dir)); err != nil {
		return fmt.Errorf("testenv: copying %s: %w", dir, err)
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

// moduleDir is the source directory of module@version in the module cache,
// downloaded if missing (read-only: copy it before changing anything).
func moduleDir(ctx context.Context, module, version string) (string, error) {
	dl := exec.CommandContext(ctx, "go", "mod", "download", "-json", module+"@"+version)
	dl.Env = append(os.Environ(), "GOTOOLCHAIN=local", "GOFLAGS=")
	dl.Dir = os.TempDir() // outside any module
	out, err := dl.Output()
	if err != nil {
		return "", fmt.Errorf("testenv: go mod download %s@%s: %w", module, version, err)
	}
	var m struct{ Dir string }
	if err := json.Unmarshal(out, &m); err != nil || m.Dir == "" {
		return "", fmt.Errorf("testenv: go mod download %s@%s: no source directory in %s", module, version, out)
	}
	return m.Dir, nil
}

// have reports whether bin is there with a stamp naming version (the stamp
// is written after the binary, so an interrupted install has none).
func have(bin, stamp, version string) bool {
	if _, err := os.Stat(bin); err != nil {
		return false
	}
	v, err := os.ReadFile(stamp)
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
