package registry

import "testing"

// The reference parsing cases that lived here (Docker Hub, capitals,
// digests) are internal/ref's TestParse: the registry client takes parsed
// references only.

func TestFallbackTag(t *testing.T) {
	t.Parallel()
	d := "sha256:" + "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90"
	if got := fallbackTag(d); got != "sha256-"+d[len("sha256:"):] {
		t.Errorf("fallbackTag(%s) = %s", d, got)
	}
}
