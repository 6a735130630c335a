package ref

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	digest "github.com/opencontainers/go-digest"
)

const hex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestParse(t *testing.T) {
	t.Parallel()
	d := digest.Digest("sha256:" + hex)
	for _, tt := range []struct {
		in   string
		want Reference
	}{
		{"ghcr.io/org/app:1.0", Reference{Registry: "ghcr.io", Repository: "org/app", Tag: "1.0"}},
		{"ghcr.io/org/app", Reference{Registry: "ghcr.io", Repository: "org/app"}},
		{"ghcr.io/MyOrg/App:V1", Reference{Registry: "ghcr.io", Repository: "myorg/app", Tag: "V1", Lowercased: true}},
		{"GHCR.IO/org/app", Reference{Registry: "ghcr.io", Repository: "org/app", Lowercased: true}},
		{"127.0.0.1:5001/me/app", Reference{Registry: "127.0.0.1:5001", Repository: "me/app"}},
		{"localhost:5000/app:v1@sha256:" + hex, Reference{Registry: "localhost:5000", Repository: "app", Tag: "v1", Digest: d}},
		{"localhost/oci-attest/demo:v1", Reference{Registry: "localhost", Repository: "oci-attest/demo", Tag: "v1"}},
		{"ghcr.io/org/app@sha256:" + hex, Reference{Registry: "ghcr.io", Repository: "org/app", Digest: d}},
		// Docker Hub, as docker writes it.
		{"alpine", Reference{Registry: DockerHub, Repository: "library/alpine"}},
		{"alpine:3.20", Reference{Registry: DockerHub, Repository: "library/alpine", Tag: "3.20"}},
		{"myorg/app:1.0", Reference{Registry: DockerHub, Repository: "myorg/app", Tag: "1.0"}},
		{"docker.io/myorg/app:1.0", Reference{Registry: DockerHub, Repository: "myorg/app", Tag: "1.0"}},
		{"docker.io/alpine", Reference{Registry: DockerHub, Repository: "library/alpine"}},
		{"index.docker.io/library/alpine:3", Reference{Registry: DockerHub, Repository: "library/alpine", Tag: "3"}},
		{"registry-1.docker.io/myorg/app", Reference{Registry: DockerHub, Repository: "myorg/app"}},
		{"MyOrg/App:1.0", Reference{Registry: DockerHub, Repository: "myorg/app", Tag: "1.0", Lowercased: true}},
	} {
		got, err := Parse(tt.in)
		if err != nil {
			t.Errorf("Parse(%q) error = %v", tt.in, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("Parse(%q) mismatch (-want +got):\n%s", tt.in, diff)
		}
	}
}

func TestParseInvalid(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		"", "Bad Ref", "ghcr.io/org/app:", "ghcr.io/org/app@sha256:abc", "ghcr.io/org//app",
		"ghcr.io/-org/app", "ghcr.io/org/app:-x", "ghcr.io/org/app:" + strings.Repeat("t", 129),
		"ghcr.io/org/app\n::error::x", "ghcr.io/org/app:v1\r", strings.Repeat("a", 5000),
	} {
		if got, err := Parse(in); !errors.Is(err, ErrInvalid) {
			t.Errorf("Parse(%q) = %+v, %v; want ErrInvalid", in, got, err)
		}
	}
}

// TestParseAgreesWithGGCR holds the normalisation to go-containerregistry's
// (what crane and cosign use) wherever ggcr accepts the lowercase name.
func TestParseAgreesWithGGCR(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		"alpine", "alpine:3.20", "myorg/app:1.0", "docker.io/myorg/app", "index.docker.io/library/alpine:3",
		"ghcr.io/org/app:1.0", "localhost:5000/a/b/c:v", "localhost/app", "127.0.0.1:5001/me/app@sha256:" + hex,
	} {
		ours, err := Parse(in)
		if err != nil {
			t.Fatalf("Parse(%q) error = %v", in, err)
		}
		theirs, err := name.ParseReference(in)
		if err != nil {
			t.Fatalf("name.ParseReference(%q) error = %v", in, err)
		}
		if got, want := ours.Name(), theirs.Context().Name(); got != want {
			t.Errorf("Parse(%q).Name() = %q, want ggcr's %q", in, got, want)
		}
	}
}

func TestOrasAndHost(t *testing.T) {
	t.Parallel()
	r, err := Parse("myorg/app:1.0")
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Host(); got != "registry-1.docker.io" {
		t.Errorf("Host() = %q, want registry-1.docker.io", got)
	}
	if o := r.Oras(); o.Registry != "docker.io" || o.Repository != "myorg/app" || o.Reference != "1.0" {
		t.Errorf("Oras() = %+v", o)
	}
	if got := r.String(); got != "index.docker.io/myorg/app:1.0" {
		t.Errorf("String() = %q", got)
	}
	d := digest.Digest("sha256:" + hex)
	if o := r.WithDigest(d).Oras(); o.Reference != d.String() {
		t.Errorf("Oras().Reference with a digest = %q, want the digest", o.Reference)
	}
	if !r.SameRepository(r.Repo()) || r.Repo().Tag != "" {
		t.Errorf("Repo() = %+v", r.Repo())
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"alpine", "ghcr.io/MyOrg/App:v1", "localhost:5000/a@sha256:" + hex, "a/b:c@d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := Parse(s)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Parse(%q) error %v does not wrap ErrInvalid", s, err)
			}
			return
		}
		// A parsed reference is its own normal form.
		again, err := Parse(r.String())
		if err != nil {
			t.Fatalf("Parse(%q) = %q, which does not parse: %v", s, r.String(), err)
		}
		again.Lowercased = r.Lowercased
		if again != r {
			t.Fatalf("Parse(Parse(%q).String()) = %+v, want %+v", s, again, r)
		}
		if strings.ContainsAny(r.String(), " \t\r\n") {
			t.Fatalf("Parse(%q) = %q contains white space", s, r.String())
		}
	})
}

// TestParseURL: a URL pasted for an image reference says to drop the scheme.
func TestParseURL(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"https://ghcr.io/org/app:1.0", "http://localhost:5000/app@sha256:" + strings.Repeat("a", 64), "oci://ghcr.io/org/app"} {
		_, err := Parse(s)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "drop") || !strings.Contains(err.Error(), "://") {
			t.Errorf("Parse(%q) = %v, want ErrInvalid saying to drop the scheme", s, err)
		}
	}
}
