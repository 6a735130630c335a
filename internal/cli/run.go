// Package cli is oci-attest's command layer: it reads the action's inputs
// (INPUT_* in GitHub Actions) or the CLI's flags of the same names into one
// validated Config, dispatches to the use cases — attest (internal/pipeline),
// verify (internal/verify), attach (internal/attach), demo (internal/demo) —
// and turns their errors into advice that names the input to change, and
// into exit codes. It is the
// only package that knows input and flag names: the packages below it return
// typed errors and sentinels (ARCHITECTURE.md, "Packages"). It writes to the
// Actions log or the terminal through internal/actions' logger; only main
// exits.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/oci-attest/oci-attest/internal/actions"
	"github.com/oci-attest/oci-attest/internal/display"
)

// version is set at release build time
// (-ldflags=-X github.com/oci-attest/oci-attest/internal/cli.version=…).
var version = "dev"

// ExitCode maps Run's error to the process exit code: 0 success, 2 usage or
// input errors, a command's own code where it has one (verify: 3, 4, 5; attach: 4), 1
// otherwise.
func ExitCode(err error) int {
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

// Run is the whole program: it dispatches on the first argument. With no
// arguments inside GitHub Actions it reads the action's inputs. Errors have
// been written to the log or stderr when Run returns them.
func Run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "version", "--version":
			fmt.Fprintln(stdout, "oci-attest", version)
			return nil
		case "demo":
			err := runDemo(ctx, args[1:], getenv, stdout)
			if err != nil && !errors.Is(err, flag.ErrHelp) {
				fmt.Fprintf(stderr, "oci-attest demo: %s\n", display.Clean(err.Error()))
			}
			return err
		case "verify":
			return runVerify(ctx, args[1:], getenv, stdout, stderr)
		case "attach":
			return runAttach(ctx, args[1:], getenv, stdout, stderr)
		case "attest":
			args = args[1:]
		}
	}
	if len(args) == 0 && getenv("GITHUB_ACTIONS") == "true" {
		log := actions.New(true, stdout, getenv)
		c, err := readActionsConfig(getenv)
		if err == nil {
			err = c.Validate()
		}
		if err == nil {
			err = runAttest(ctx, c, log, stdout)
		}
		if err != nil {
			log.Errorf("%v", err)
		}
		log.Flush()
		return err
	}
	log := actions.New(false, stderr, getenv)
	c, err := readFlagsConfig(args, getenv, stdout)
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
	if err := runAttest(ctx, c, log, stdout); err != nil {
		log.Errorf("%v", err)
		return err
	}
	return nil
}
