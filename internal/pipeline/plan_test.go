package pipeline

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	digest "github.com/opencontainers/go-digest"

	"github.com/oci-attest/oci-attest/internal/oci"
	"github.com/oci-attest/oci-attest/internal/ref"
)

// fakeID is a digest made of one repeated hex digit.
func fakeID(c string) digest.Digest { return digest.Digest("sha256:" + strings.Repeat(c, 64)) }

// archive is an in-memory archive of images (nothing is read: NewPlan does
// no I/O).
func archive(path string, imgs ...oci.Image) *oci.Archive {
	return &oci.Archive{Path: path, Images: imgs}
}

func image(id string, tags ...string) oci.Image {
	return oci.Image{ImageID: fakeID(id), ManifestDigest: fakeID("e" + id)[:71] + digest.Digest(id), RepoTags: tags}
}

// platformImages are the platforms of one archive index.
func platformImages(index string, tag string, platforms ...oci.Platform) []oci.Image {
	idx := &oci.Index{Digest: fakeID(index), Raw: []byte(`{"schemaVersion":2,"manifests":[]}`)}
	var out []oci.Image
	for i, p := range platforms {
		id := string(rune('a' + i))
		out = append(out, oci.Image{ImageID: fakeID(id), ManifestDigest: fakeID(string(rune('0' + i))), RepoTags: []string{tag}, Platform: p, ImageIndex: idx})
	}
	return out
}

func mustRef(t *testing.T, s string) ref.Reference {
	t.Helper()
	r, err := ref.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestNewPlan: which images are attested, bound to which names, and what is
// skipped; errors name the Input field. Pure: no archive is read.
func TestNewPlan(t *testing.T) {
	t.Parallel()
	amd := oci.Platform{OS: "linux", Architecture: "amd64"}
	arm := oci.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}
	// binding is what a test expects of one binding: its name (or default
	// tag) and its images' IDs.
	type binding struct {
		name, defaultTag string
		ids              []digest.Digest
	}
	tests := []struct {
		name     string
		archives []*oci.Archive
		in       func(t *testing.T) Input
		want     []binding
		skipped  int
		errField string
		errIs    error
	}{
		{
			name:     "one image, no name: defaulted to its tag",
			archives: []*oci.Archive{archive("a.tar", image("1", "ghcr.io/o/app:v1"))},
			want:     []binding{{defaultTag: "ghcr.io/o/app:v1", ids: []digest.Digest{fakeID("1")}}},
		},
		{
			name:     "one image, two names: both bound to it",
			archives: []*oci.Archive{archive("a.tar", image("1", "ghcr.io/o/app:v1"))},
			in: func(t *testing.T) Input {
				return Input{Names: []ref.Reference{mustRef(t, "ghcr.io/o/app:v1"), mustRef(t, "docker.io/o/app:v1")}}
			},
			want: []binding{{name: "ghcr.io/o/app:v1", ids: []digest.Digest{fakeID("1")}}, {name: "index.docker.io/o/app:v1", ids: []digest.Digest{fakeID("1")}}},
		},
		{
			name:     "several images, no names: the ones whose tag names a registry repository",
			archives: []*oci.Archive{archive("a.tar", image("1", "ghcr.io/o/one:v1"), image("2", "local:v1"), image("3"))},
			want:     []binding{{defaultTag: "ghcr.io/o/one:v1", ids: []digest.Digest{fakeID("1")}}},
			skipped:  2,
		},
		{
			name:     "several archives, a name for one of them",
			archives: []*oci.Archive{archive("a.tar", image("1", "ghcr.io/o/one:v1")), archive("b.tar", image("2", "ghcr.io/o/two:v2"))},
			in: func(t *testing.T) Input {
				return Input{Names: []ref.Reference{mustRef(t, "ghcr.io/o/two:v2")}}
			},
			// a.tar then holds no attested image.
			errField: "Archives",
		},
		{
			name:     "several archives, a name for each image",
			archives: []*oci.Archive{archive("a.tar", image("1", "ghcr.io/o/one:v1")), archive("b.tar", image("2", "ghcr.io/o/two:v2"))},
			in: func(t *testing.T) Input {
				return Input{Names: []ref.Reference{mustRef(t, "ghcr.io/o/two:v2"), mustRef(t, "ghcr.io/o/one@"+fakeID("1").String())}}
			},
			want: []binding{{name: "ghcr.io/o/two:v2", ids: []digest.Digest{fakeID("2")}}, {name: "ghcr.io/o/one@" + fakeID("1").String(), ids: []digest.Digest{fakeID("1")}}},
		},
		{
			name:     "several images, a name that names none",
			archives: []*oci.Archive{archive("a.tar", image("1", "ghcr.io/o/one:v1"), image("2", "ghcr.io/o/two:v1"))},
			in: func(t *testing.T) Input {
				return Input{Names: []ref.Reference{mustRef(t, "ghcr.io/o/three:v1")}}
			},
			errField: "Names",
		},
		{
			name:     "an index: every platform in one binding",
			archives: []*oci.Archive{archive("m.tar", platformImages("9", "ghcr.io/o/multi:v1", amd, arm)...)},
			want:     []binding{{defaultTag: "ghcr.io/o/multi:v1", ids: []digest.Digest{fakeID("a"), fakeID("b")}}},
		},
		{
			name:     "an index, one platform selected (arm64 selects arm64/v8)",
			archives: []*oci.Archive{archive("m.tar", platformImages("9", "ghcr.io/o/multi:v1", amd, arm)...)},
			in: func(t *testing.T) Input {
				return Input{Platforms: []oci.Platform{{OS: "linux", Architecture: "arm64"}}}
			},
			want:    []binding{{defaultTag: "ghcr.io/o/multi:v1", ids: []digest.Digest{fakeID("b")}}},
			skipped: 1,
		},
		{
			name:     "an index, no platform selected",
			archives: []*oci.Archive{archive("m.tar", platformImages("9", "ghcr.io/o/multi:v1", amd, arm)...)},
			in: func(t *testing.T) Input {
				return Input{Platforms: []oci.Platform{{OS: "windows", Architecture: "amd64"}}}
			},
			errField: "Platforms",
		},
		{
			name:     "one digest for two bindings",
			archives: []*oci.Archive{archive("a.tar", image("1", "ghcr.io/o/one:v1"), image("2", "ghcr.io/o/two:v1"))},
			in:       func(t *testing.T) Input { return Input{SubjectDigest: fakeID("d")} },
			errField: "SubjectDigest",
			errIs:    ErrDigestForMany,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := Input{}
			if tt.in != nil {
				in = tt.in(t)
			}
			p, err := NewPlan(tt.archives, in)
			if tt.errField != "" {
				var fe *FieldError
				if !errors.As(err, &fe) || fe.Field != tt.errField || !fe.Usage || (tt.errIs != nil && !errors.Is(err, tt.errIs)) {
					t.Fatalf("NewPlan() error = %v, want a usage FieldError of %s", err, tt.errField)
				}
				return
			}
			if err != nil {
				t.Fatalf("NewPlan() error = %v", err)
			}
			var got []binding
			n := 0
			for _, b := range p.Bindings {
				g := binding{defaultTag: b.DefaultTag}
				if !b.Target.IsZero() {
					g.name = b.Target.String()
				}
				for _, u := range b.Units {
					if u.N != n || u.Binding != b {
						t.Errorf("unit %d of %s: N = %d, binding %p", n, g.name, u.N, u.Binding)
					}
					n++
					g.ids = append(g.ids, u.Image.ImageID)
				}
				got = append(got, g)
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(binding{})); diff != "" {
				t.Errorf("bindings (-want +got):\n%s", diff)
			}
			if len(p.Units) != n || len(p.Skipped) != tt.skipped {
				t.Errorf("%d units, %d skipped; want %d, %d", len(p.Units), len(p.Skipped), n, tt.skipped)
			}
		})
	}
}
