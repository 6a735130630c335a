// Command gen writes the good test archives of ocitest.Archives to a
// directory (testdata/archives in the repository), and the demo's archives
// (ocitest.DemoArchives) to another (internal/demo/testdata):
//
//	go run ./internal/oci/ocitest/gen
//
// The archives are deterministic; a test fails when the committed files
// differ from what gen writes, so they are never edited by hand.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/oci-attest/oci-attest/internal/oci/ocitest"
)

func main() {
	out := flag.String("out", "testdata/archives", "directory to write the archives to")
	demo := flag.String("demo", "internal/demo/testdata", "directory to write the demo's archives to")
	flag.Parse()
	demoArchives, err := ocitest.DemoArchives()
	if err == nil {
		err = run(*out, ocitest.Archives())
	}
	if err == nil {
		err = run(*demo, demoArchives)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(out string, archives []ocitest.Archive) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", out, err)
	}
	for _, a := range archives {
		b, err := a.Build()
		if err != nil {
			return err
		}
		p := filepath.Join(out, a.Name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return fmt.Errorf("writing %s: %w", p, err)
		}
		fmt.Printf("%s\t%d bytes\n", p, len(b))
	}
	return nil
}
