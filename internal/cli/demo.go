package cli

import (
	"context"
	"io"

	"github.com/oci-attest/oci-attest/internal/demo"
)

// runDemo is `oci-attest demo [--keep]`: the whole flow offline
// (internal/demo).
func runDemo(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := newFlagSet("oci-attest demo", stdout, func() string {
		return "Usage: oci-attest demo [--keep]\n\nRuns the whole flow offline against two embedded registries.\n\nFlags:\n"
	})
	keep := fs.Bool("keep", false, "keep the demo's files (archive, key, bundles, statements) and print where they are")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	return demo.Run(ctx, demo.Options{Out: stdout, Keep: *keep, Getenv: getenv})
}
