// Command installtools installs every pinned Go tool the tests use
// (testenv.GoTools) into GOBIN. .ci/run calls it so that the test run itself
// does not pay for the builds; tests still install a missing tool on demand.
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/oci-attest/oci-attest/internal/testenv"
)

func main() {
	ctx := context.Background()
	for _, t := range testenv.GoTools {
		start := time.Now()
		p, err := testenv.Install(ctx, t.Name)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Printf("%-18s %-8s %s (%s)\n", t.Name, t.Version, p, time.Since(start).Round(time.Second))
	}
}
