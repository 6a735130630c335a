// Command oci-attest attests a saved container image archive with the oci
// attestor predicate, signs it keylessly with Sigstore, and pushes the bundle
// to the registry as an OCI 1.1 referrer of the image. It runs as a GitHub
// Action (inputs from INPUT_*) and as a CLI with flags of the same names.
//
// main.go is wiring only (STYLE.md #1): it builds the context and calls run;
// only main exits.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at release build time (-ldflags=-X main.version=…).
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err))
}

// exitCodeError carries a specific exit code (verify's "none found" and
// friends) with its message.
type exitCodeError struct {
	code int
	err  error
}

func (e *exitCodeError) Error() string { return e.err.Error() }
func (e *exitCodeError) Unwrap() error { return e.err }

// exitCode maps run's error to the process exit code: 0 success, 2 usage or
// input errors, a command's own code where it has one, 1 otherwise.
func exitCode(err error) int {
	var ec *exitCodeError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ec):
		return ec.code
	case errors.Is(err, errUsage):
		return 2
	default:
		return 1
	}
}

// run is the whole program: it dispatches on the first argument. With no
// arguments inside GitHub Actions it reads the action's inputs.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "version", "--version":
			fmt.Fprintln(stdout, "oci-attest", version)
			return nil
		case "demo":
			return runDemo(ctx, args[1:], getenv, stdout)
		case "verify":
			return runVerify(ctx, args[1:], getenv, stdout, stderr)
		case "attest":
			args = args[1:]
		}
	}
	if len(args) == 0 && getenv("GITHUB_ACTIONS") == "true" {
		log := newLogger(true, stdout, getenv)
		c, err := readActionsConfig(getenv)
		if err == nil {
			err = c.Validate()
		}
		if err == nil {
			err = runAttest(ctx, c, getenv, log, stdout)
		}
		if err != nil {
			log.Errorf("%v", err)
		}
		return err
	}
	log := newLogger(false, stderr, getenv)
	c, err := readFlagsConfig(args, getenv, stderr)
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			log.Errorf("%v", err)
		}
		return err
	}
	if err := c.Validate(); err != nil {
		log.Errorf("%v", err)
		return err
	}
	if err := runAttest(ctx, c, getenv, log, stdout); err != nil {
		log.Errorf("%v", err)
		return err
	}
	return nil
}
