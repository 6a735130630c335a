package cli

import (
	"html"
	"os"
	"path/filepath"
	"strings"
	"testing"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-attest/oci-attest/internal/oci"
	"github.com/oci-attest/oci-attest/internal/ref"
	"github.com/oci-attest/oci-attest/internal/registry"
	"github.com/oci-attest/oci-attest/internal/sign"
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

// TestSummaryAll: with several images the summary has one row per image,
// platform included (six cells, whatever the data holds), lists what was
// skipped, and gives each registry subject's verify commands once.
func TestSummaryAll(t *testing.T) {
	t.Parallel()
	a := &oci.Archive{Path: "/github/runner_temp/image.tar", Format: oci.FormatOCILayout}
	idx := digest.Digest("sha256:" + strings.Repeat("c", 64))
	signed := &sign.Result{Identity: "https://github.com/o/app/.github/workflows/release.yml@refs/tags/v1", Issuer: "https://token.actions.githubusercontent.com", Instance: sign.InstancePublicGood, LogIndex: 3}
	var units []*attestResult
	for i, pl := range []oci.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64", Variant: "v8"}} {
		img := digest.Digest("sha256:" + strings.Repeat(string(rune('1'+i)), 64))
		units = append(units, &attestResult{
			archive:  a,
			image:    &oci.Image{RepoTags: []string{"ghcr.io/o/app:v1|x"}, ImageID: digest.Digest("sha256:" + strings.Repeat(string(rune('a'+i)), 64)), Platform: pl},
			subject:  &registry.Subject{Repository: ref.Reference{Registry: "ghcr.io", Repository: "o/app"}, Descriptor: ocispec.Descriptor{Digest: idx}, Image: ocispec.Descriptor{Digest: img}},
			signed:   signed,
			bundle:   "/github/runner_temp/oci-attest/" + string(rune('a'+i)) + ".sigstore.json",
			attached: &registry.AttachResult{Artifact: ocispec.Descriptor{Digest: digest.Digest("sha256:" + strings.Repeat(string(rune('e'+i)), 64))}},
			n:        i,
		})
	}
	skipped := []skippedImage{{archive: a, image: &oci.Image{ImageID: digest.Digest("sha256:" + strings.Repeat("9", 64))}, why: "no RepoTag names a registry repository"}}
	paths := pathMap{{host: "/home/runner/work/_temp", container: "/github/runner_temp"}}
	got := summaryAll(units, skipped, paths)
	plain := html.UnescapeString(got)
	for _, want := range []string{
		"**Attested 2 images** from <code>/home/runner/work/_temp/image.tar</code>, each attached to its registry image",
		"| linux/amd64 |", "| linux/arm64/v8 |", "platform <code>sha256:111111111111…</code>", "platform <code>sha256:222222222222…</code>",
		"<code>/home/runner/work/_temp/oci-attest/a.sigstore.json</code>", "**Not attested:**", "no RepoTag names a registry repository",
	} {
		if !strings.Contains(plain, want) {
			t.Errorf("summaryAll() lacks %q:\n%s", want, plain)
		}
	}
	if n := strings.Count(got, "oci-attest verify ghcr.io/o/app@"+idx.String()); n != 1 {
		t.Errorf("summaryAll() gives the index's verify command %d times, want once:\n%s", n, got)
	}
	rows := 0
	for _, line := range strings.Split(got, "\n") {
		if strings.HasPrefix(line, "| <code>ghcr.io") {
			rows++
			if strings.Count(line, "|") != 7 {
				t.Errorf("row %q has other than six cells", line)
			}
		}
	}
	if rows != 2 || strings.Contains(got, "/github/runner_temp") {
		t.Errorf("summaryAll() has %d image rows (want 2), container paths: %v\n%s", rows, strings.Contains(got, "/github/runner_temp"), got)
	}
	// One image: the one-image summary, with its platform.
	if one := summaryAll(units[:1], nil, nil); !strings.Contains(one, "| Platform | linux/amd64 |") || strings.Contains(one, "| Image | Platform |") {
		t.Errorf("summaryAll(one image) is not the one-image summary:\n%s", one)
	}
}
