package registry

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"oras.land/oras-go/v2/registry"
)

func TestParseRepository(t *testing.T) {
	t.Parallel()
	d := "sha256:" + "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90"
	for _, tc := range []struct {
		in   string
		want registry.Reference
		bad  bool
	}{
		{in: "ghcr.io/owner/app:v1", want: registry.Reference{Registry: "ghcr.io", Repository: "owner/app", Reference: "v1"}},
		{in: "localhost:5000/app", want: registry.Reference{Registry: "localhost:5000", Repository: "app"}},
		{in: "localhost/app:v1", want: registry.Reference{Registry: "localhost", Repository: "app", Reference: "v1"}},
		{in: "127.0.0.1:5000/a/b@" + d, want: registry.Reference{Registry: "127.0.0.1:5000", Repository: "a/b", Reference: d}},
		{in: "docker.io/alpine:3.20", want: registry.Reference{Registry: "docker.io", Repository: "library/alpine", Reference: "3.20"}},
		{in: "docker.io/org/app", want: registry.Reference{Registry: "docker.io", Repository: "org/app"}},
		{in: "alpine:3.20", bad: true},
		{in: "owner/app:v1", bad: true},
		{in: "ghcr.io/Owner/app", bad: true},
		{in: "", bad: true},
	} {
		got, err := parseRepository(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("parseRepository(%q) = %v, want an error", tc.in, got)
			}
			continue
		}
		if err != nil {
			t.Errorf("parseRepository(%q) = %v", tc.in, err)
			continue
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("parseRepository(%q) (-want +got):\n%s", tc.in, diff)
		}
	}
	if got := fallbackTag(d); got != "sha256-"+d[len("sha256:"):] {
		t.Errorf("fallbackTag(%s) = %s", d, got)
	}
}
