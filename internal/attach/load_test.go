package attach

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oci-attest/oci-attest/internal/registry"
)

// TestLoad: a JSON file is a bundle, refused over registry.MaxBundleSize
// before it is read; anything else is read as an image archive: one that
// carries no bundle referrer (docker save) is ErrNothing, a file that is
// no archive ErrNotBundle.
func TestLoad(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ctx := context.Background()
	small := write("b.json", "\n  {\"mediaType\":\"x\"}")
	bs, _, err := Load(ctx, []string{small})
	if err != nil || len(bs) != 1 || bs[0].Source != small || bs[0].Subject != "" || string(bs[0].Raw) != "\n  {\"mediaType\":\"x\"}" {
		t.Errorf("Load(small JSON) = %+v, %v; want one bundle with its bytes", bs, err)
	}
	atLimit := write("limit.json", `"`+strings.Repeat("a", registry.MaxBundleSize-2)+`"`)
	if _, _, err := Load(ctx, []string{atLimit}); !errors.Is(err, ErrNotBundle) {
		// A JSON string is not "{": read as an archive, which it is not.
		t.Errorf("Load(JSON string) = %v, want ErrNotBundle", err)
	}
	big := write("big.json", "{"+strings.Repeat(" ", registry.MaxBundleSize)+"}")
	if _, _, err := Load(ctx, []string{big}); !errors.Is(err, registry.ErrBundleTooLarge) || !errors.Is(err, ErrRefused) {
		t.Errorf("Load(%d-byte bundle) = %v, want ErrRefused and ErrBundleTooLarge", registry.MaxBundleSize+2, err)
	}
	exact := write("exact.json", "{"+strings.Repeat(" ", registry.MaxBundleSize-2)+"}")
	if bs, _, err := Load(ctx, []string{exact}); err != nil || len(bs[0].Raw) != registry.MaxBundleSize {
		t.Errorf("Load(%d-byte bundle) = %v, want it read", registry.MaxBundleSize, err)
	}
	if _, _, err := Load(ctx, []string{write("notes.txt", "hello\n")}); !errors.Is(err, ErrNotBundle) || !errors.Is(err, ErrRefused) {
		t.Errorf("Load(text) = %v, want ErrNotBundle", err)
	}
	if _, _, err := Load(ctx, []string{"../../testdata/archives/docker25.tar"}); !errors.Is(err, ErrNothing) {
		t.Errorf("Load(docker save archive) = %v, want ErrNothing", err)
	}
}
