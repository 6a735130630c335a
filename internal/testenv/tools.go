// Package testenv starts the real components the tests run against
// (ARCHITECTURE.md, "Testing"): registries and the local Sigstore stack as processes on
// loopback, and the independent clients that read what we write. Every tool is
// pinned; a missing one is installed with `go install pkg@version` (or, for
// Debian packages, reported with the apt-get line to run).
//
// It is test-only code: nothing outside _test.go files and cmd/installtools
// imports it.
package testenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
)

// GoTool is a tool installed with `go install Package@Version`.
type GoTool struct {
	Name    string // binary name
	Package string // package path to go install
	Version string // pinned version
	Env     []string
}

// GoTools are the pinned Go tools the tests use. .ci/run installs all of them
// through cmd/installtools; tests install a missing one on first use.
var GoTools = []GoTool{
	{Name: "crane", Package: "github.com/google/go-containerregistry/cmd/crane", Version: "v0.22.1"},
	{Name: "oras", Package: "oras.land/oras/cmd/oras", Version: "v1.3.6"},
	{Name: "regctl", Package: "github.com/regclient/regclient/cmd/regctl", Version: "v0.11.7"},
	{Name: "registry", Package: "github.com/distribution/distribution/v3/cmd/registry", Version: "v3.1.2"},
	{Name: "timestamp-server", Package: "github.com/sigstore/timestamp-authority/cmd/timestamp-server", Version: "v1.2.9"},
	{Name: "fulcio", Package: "github.com/sigstore/fulcio", Version: "v1.8.8"},
	{Name: "posix", Package: "github.com/sigstore/rekor-tiles/v2/cmd/rekor-server/posix", Version: "v2.3.0"},
	{Name: "cosign", Package: "github.com/sigstore/cosign/v3/cmd/cosign", Version: "v3.1.3"},
	{Name: "golangci-lint", Package: "github.com/golangci/golangci-lint/v2/cmd/golangci-lint", Version: "v2.1.6"},
	// Lints .github/workflows and README.md's workflows (.ci/lint-workflows).
	{Name: "actionlint", Package: "github.com/rhysd/actionlint/cmd/actionlint", Version: "v1.7.12"},
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
	if have(bin, stamp, t.Version) {
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
	if have(bin, stamp, t.Version) {
		return bin, nil
	}
	cmd := exec.CommandContext(ctx, "go", "install", t.Package+"@"+t.Version)
	cmd.Env = append(os.Environ(), "GOBIN="+dir, "GOFLAGS=-buildvcs=false", "GOTOOLCHAIN=local")
	cmd.Env = append(cmd.Env, t.Env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("testenv: go install %s@%s: %w\n%s", t.Package, t.Version, err, out)
	}
	if err := os.WriteFile(stamp, []byte(t.Version), 0o644); err != nil {
		return "", err
	}
	return bin, nil
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
