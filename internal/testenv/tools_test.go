package testenv

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestToolsDir: the tools go to $OCI_ATTEST_TOOLS (made absolute), else to
// the project's directory in the user's cache, never to $GOPATH/bin; with
// neither there is an error naming the variable.
func TestToolsDir(t *testing.T) {
	t.Parallel()
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	cache := func() (string, error) { return "/home/u/.cache", nil }
	noCache := func() (string, error) { return "", errors.New("no home") }
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		getenv func(string) string
		cache  func() (string, error)
		want   string
	}{
		{"default", env(nil), cache, filepath.Join("/home/u/.cache", "oci-attest", "tools", runtime.GOOS+"-"+runtime.GOARCH)},
		{"override", env(map[string]string{ToolsEnv: "/opt/tools"}), noCache, "/opt/tools"},
		{"relative override", env(map[string]string{ToolsEnv: "tools"}), cache, filepath.Join(wd, "tools")},
	} {
		if got, err := toolsDir(tc.getenv, tc.cache); err != nil || got != tc.want {
			t.Errorf("%s: toolsDir() = %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
	if _, err := toolsDir(env(nil), noCache); err == nil || !strings.Contains(err.Error(), ToolsEnv) {
		t.Errorf("toolsDir() without a cache directory = %v, want an error naming %s", err, ToolsEnv)
	}
}
