// Command installtools installs every pinned Go tool the tests use
// (testenv.GoTools) into the project's tool cache (testenv.ToolsDir:
// $OCI_ATTEST_TOOLS, else oci-attest/tools/GOOS-GOARCH under the user's cache
// directory). .ci/run calls it so that the test run itself does not pay for
// the builds; tests still install a missing tool on demand.
//
// Usage:
//
//	installtools              install every tool (each already there is kept)
//	installtools -dir         print the tool cache's directory
//	installtools -path NAME   install NAME if missing and print its path
//
// Scripts run a tool as "$(go run ./internal/testenv/cmd/installtools -path NAME)"
// (.ci/run, .ci/lint-workflows).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/oci-attest/oci-attest/internal/testenv"
)

func main() {
	dir := flag.Bool("dir", false, "print the tool cache's directory and exit")
	path := flag.String("path", "", "install the named tool if missing and print its path")
	flag.Parse()
	ctx := context.Background()
	switch {
	case *dir:
		d, err := testenv.ToolsDir()
		check(err)
		fmt.Println(d)
	case *path != "":
		p, err := testenv.Install(ctx, *path)
		check(err)
		fmt.Println(p)
	default:
		for _, t := range testenv.GoTools {
			start := time.Now()
			p, err := testenv.Install(ctx, t.Name)
			check(err)
			fmt.Printf("%-18s %-8s %s (%s)\n", t.Name, t.Version, p, time.Since(start).Round(time.Second))
		}
	}
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
