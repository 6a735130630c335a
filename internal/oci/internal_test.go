package oci

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	digest "github.com/opencontainers/go-digest"
)

func TestCleanName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
		err      error
	}{
		{"manifest.json", "manifest.json", nil},
		{"./manifest.json", "manifest.json", nil},
		{"blobs//sha256/", "blobs/sha256", nil},
		{"a/./b", "a/b", nil},
		{"../x", "", ErrUnsafePath},
		{"a/../../x", "", ErrUnsafePath},
		{"a/../b", "", ErrUnsafePath}, // ".." is refused even when it stays inside
		{`a\..\b`, "", ErrUnsafePath},
		{"/etc/passwd", "", ErrUnsafePath},
		{`C:\x`, "", ErrUnsafePath},
		{"", "", ErrUnsafePath},
		{".", "", ErrUnsafePath},
	}
	for _, tc := range tests {
		got, err := cleanName(tc.in)
		if got != tc.want || !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
			t.Errorf("cleanName(%q) = %q, %v; want %q, %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestSymlinkTarget(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, target, want string
		ok                 bool
	}{
		{"id/layer.tar", "../abc.tar", "abc.tar", true},
		{"id/layer.tar", "other.tar", "id/other.tar", true},
		{"layer.tar", "../abc.tar", "", false},
		{"id/layer.tar", "../../abc.tar", "", false},
		{"id/layer.tar", "/abc.tar", "", false},
		{"id/layer.tar", "..", "", false},
		{"id/layer.tar", "", "", false},
	}
	for _, tc := range tests {
		got, err := symlinkTarget(tc.name, tc.target)
		if got != tc.want || (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrUnsafePath)) {
			t.Errorf("symlinkTarget(%q, %q) = %q, %v; want %q, ok %v", tc.name, tc.target, got, err, tc.want, tc.ok)
		}
	}
}

func TestDigestFromName(t *testing.T) {
	t.Parallel()
	const hex = "6c91e46a870907625c1509bbc0320b06715e404d450465dc90479a6ae83d1a96"
	d := digest.Digest("sha256:" + hex)
	tests := map[string]digest.Digest{
		"blobs/sha256/" + hex:      d,
		hex + ".tar":               d,
		hex + ".tar.gz":            d,
		hex + ".json":              d,
		"sha256:" + hex:            d,
		"id/" + hex + ".json":      d,
		"id/layer.tar":             "",
		"id/json":                  "",
		"blobs/sha512/" + hex:      "",
		"blobs/sha256/" + hex[:10]: "",
		"blobs/sha256/XYZ":         "",
		"manifest.json":            "",
	}
	for name, want := range tests {
		got, ok := digestFromName(name)
		if got != want || ok != (want != "") {
			t.Errorf("digestFromName(%q) = %q, %v; want %q", name, got, ok, want)
		}
	}
}

func TestRepoTags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		ann  map[string]string
		want []string
	}{
		{nil, nil},
		{map[string]string{annotationRefName: "latest"}, []string{"latest"}},
		{map[string]string{annotationRefName: "localhost/app:v1"}, []string{"localhost/app:v1"}},
		{map[string]string{annotationRefName: "v1", annotationContainerdName: "docker.io/library/app:v1"}, []string{"docker.io/library/app:v1"}},
	}
	for _, tc := range tests {
		if diff := cmp.Diff(tc.want, repoTags(tc.ann)); diff != "" {
			t.Errorf("repoTags(%v) (-want +got):\n%s", tc.ann, diff)
		}
	}
}

// FuzzParseManifestJSON checks that manifest.json parsing never panics and
// that what it accepts has a Config for every image.
func FuzzParseManifestJSON(f *testing.F) {
	f.Add([]byte(`[{"Config":"a.json","RepoTags":["x:1"],"Layers":["l.tar"]}]`))
	f.Add([]byte(`[]`))
	f.Add([]byte(``))
	f.Add([]byte(`[{"Config":"a","RepoTags":null,"Layers":null,"LayerSources":{}}]`))
	f.Add([]byte(`[{"Config":"a","RepoTags":["x:1\n::stop-commands::t"],"Layers":[]}]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := parseManifestJSON(b, defaultMaxTags)
		if err != nil {
			if !errors.Is(err, ErrBadManifest) && !errors.Is(err, ErrNoImages) {
				t.Fatalf("parseManifestJSON() error %v wraps no sentinel", err)
			}
			return
		}
		for i, e := range m {
			if e.Config == "" {
				t.Fatalf("entry %d has no Config", i)
			}
			for _, tag := range e.RepoTags {
				if strings.ContainsAny(tag, "\n\r") {
					t.Fatalf("entry %d has a tag with a line break: %q", i, tag)
				}
			}
		}
	})
}

// FuzzParseIndex checks that index parsing never panics.
func FuzzParseIndex(f *testing.F) {
	f.Add([]byte(`{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:11a44f262a77c19746159b74531c84fbc7a4555ea9df5127606d1d8b8340afd7","size":499,"annotations":{"org.opencontainers.image.ref.name":"localhost/oci-attest/rt:v1"}}]}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		idx, err := parseIndex(b)
		if err != nil {
			if !errors.Is(err, ErrBadManifest) {
				t.Fatalf("parseIndex() error %v wraps no sentinel", err)
			}
			return
		}
		for _, d := range idx.Manifests {
			_ = repoTags(d.Annotations)
		}
	})
}

func TestResolve(t *testing.T) {
	t.Parallel()
	tb := &table{path: "a.tar", byName: map[string]*entry{}}
	for _, e := range []*entry{
		{name: "blobs/sha256/abc", typ: '0'},
		{name: "id1/layer.tar", typ: '2', linkname: "blobs/sha256/abc"},
		{name: "id2/layer.tar", typ: '1', linkname: "blobs/sha256/abc"},
		{name: "dirlink", typ: '2', linkname: "blobs"},
		{name: "loop1", typ: '2', linkname: "loop2"},
		{name: "loop2", typ: '2', linkname: "loop1"},
		{name: "dirloop", typ: '2', linkname: "dirloop/x"},
		{name: "d", typ: '5'},
	} {
		if err := tb.add(e); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		want string
		err  error
	}{
		{"blobs/sha256/abc", "blobs/sha256/abc", nil},
		{"./id1/layer.tar", "blobs/sha256/abc", nil},
		{"id2/layer.tar", "blobs/sha256/abc", nil},
		{"dirlink/sha256/abc", "blobs/sha256/abc", nil},
		{"loop1", "", ErrLinkLoop},
		{"dirloop/y", "", ErrLinkLoop},
		{"d", "", ErrNotFile},
		{"nope", "", ErrMissingBlob},
		{"../x", "", ErrUnsafePath},
	}
	for _, tc := range tests {
		e, err := tb.resolve(tc.name, "test")
		if !errors.Is(err, tc.err) || (tc.err == nil && (err != nil || e.name != tc.want)) {
			t.Errorf("resolve(%q) = %v, %v; want %q, %v", tc.name, e, err, tc.want, tc.err)
		}
	}
}

// TestTagsAreReferences: a RepoTags element with a line break or other
// control character (which could forge workflow commands in the log) is
// refused in manifest.json and dropped from OCI annotations.
func TestTagsAreReferences(t *testing.T) {
	t.Parallel()
	for _, raw := range []string{
		`[{"Config":"a","RepoTags":["app:1\n::stop-commands::x"],"Layers":[]}]`,
		`[{"Config":"a","RepoTags":["app 1"],"Layers":[]}]`,
		`[{"Config":"a","RepoTags":[""],"Layers":[]}]`,
	} {
		if _, err := parseManifestJSON([]byte(raw), defaultMaxTags); !errors.Is(err, ErrBadManifest) {
			t.Errorf("parseManifestJSON(%q) error = %v, want ErrBadManifest", raw, err)
		}
	}
	if _, err := parseManifestJSON([]byte(`[{"Config":"a","RepoTags":["ghcr.io/o/app:1.0","app@sha256:x"],"Layers":[]}]`), defaultMaxTags); err != nil {
		t.Errorf("parseManifestJSON(valid tags) error = %v", err)
	}
	if got := repoTags(map[string]string{annotationRefName: "v1\n::error::forged"}); got != nil {
		t.Errorf("repoTags(ref name with a line break) = %q, want none", got)
	}
}

func TestRelative(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		dir, target string
		up          int
		down        string
	}{
		{"a/b", "a/c/d", 1, "c/d"},
		{"a/b", "a/b/x", 0, "x"},
		{"", "x/y", 0, "x/y"},
		{"ab/c", "a/x", 2, "a/x"},
		{"a", "a", 0, ""},
		{"a/b", "a", 1, ""},
		{"a/b", "a/bc", 1, "bc"},
		{"a/bc", "a/b", 1, "b"},
	} {
		up, down := relative(tc.dir, tc.target)
		if up != tc.up || down != tc.down {
			t.Errorf("relative(%q, %q) = %d, %q; want %d, %q", tc.dir, tc.target, up, down, tc.up, tc.down)
		}
	}
}
