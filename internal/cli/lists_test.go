package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSubjectPathLists: subject-path takes paths and globs, one per line or
// comma-separated, as actions/attest does ("**" for any directories,
// "!pattern" to exclude); each archive once, in order.
func TestSubjectPathLists(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, p := range []string{"a.tar", "b.tar", "sub/c.tar", "sub/deep/d.tar", "sub/deep/e.txt"} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		writeArchiveFile(t, filepath.Join(dir, p), []byte("x"))
	}
	j := func(p string) string { return filepath.Join(dir, p) }
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{j("a.tar"), []string{j("a.tar")}},
		{j("b.tar") + "\n" + j("a.tar") + ", " + j("b.tar"), []string{j("b.tar"), j("a.tar")}},
		{j("*.tar"), []string{j("a.tar"), j("b.tar")}},
		{j("**/*.tar"), []string{j("a.tar"), j("b.tar"), j("sub/c.tar"), j("sub/deep/d.tar")}},
		{j("sub/**"), []string{j("sub/c.tar"), j("sub/deep/d.tar"), j("sub/deep/e.txt")}},
		{j("**/*.tar") + "\n!" + j("sub/**"), []string{j("a.tar"), j("b.tar")}},
		{"\n  " + j("a.tar") + "  \n\n", []string{j("a.tar")}},
	} {
		c := &Config{SubjectPath: tc.in, DryRun: true}
		if err := c.Validate(); err != nil {
			t.Errorf("Validate(subject-path %q) = %v", tc.in, err)
			continue
		}
		if strings.Join(c.archives, "|") != strings.Join(tc.want, "|") {
			t.Errorf("subject-path %q = %v, want %v", tc.in, c.archives, tc.want)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{j("*.oci"), "matches no file"},
		{j("sub/[x"), "not a valid pattern"},
		{j("*.tar") + "\n!" + j("*"), "leave no archive"},
		{j("a.tar") + "\n" + j("none.tar"), "does not exist"},
	} {
		c := &Config{SubjectPath: tc.in, DryRun: true}
		if err := c.Validate(); err == nil || ExitCode(err) != 2 || !strings.Contains(err.Error(), "input subject-path:") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate(subject-path %q) = %v, want an input error saying %q", tc.in, err, tc.want)
		}
	}
	c := &Config{SubjectPath: j("a.tar"), Platforms: "linux/amd64, linux/arm/v7\nlinux/arm64", DryRun: true}
	if err := c.Validate(); err != nil || len(c.platforms) != 3 || c.platforms[1].Variant != "v7" {
		t.Errorf("Validate(platforms) = %v, %v", err, c.platforms)
	}
	c = &Config{SubjectPath: j("a.tar"), Platforms: "linux", DryRun: true}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "input platforms:") {
		t.Errorf("Validate(platforms linux) = %v, want an input platforms error", err)
	}
}
