// Command oci-attest attests a saved container image archive with the oci
// attestor predicate, signs it keylessly with Sigstore, and pushes the bundle
// to the registry as an OCI 1.1 referrer of the image. It runs as a GitHub
// Action (inputs from INPUT_*) and as a CLI with flags of the same names.
//
// This file is wiring only: the application is internal/cli
// (ARCHITECTURE.md, "Packages"). Only main exits.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/oci-attest/oci-attest/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := cli.Run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(cli.ExitCode(err))
}
