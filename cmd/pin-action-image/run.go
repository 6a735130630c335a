package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Exit codes, as oci-attest's: 1 the action.yml is refused or cannot be
// written, 2 usage (flags, arguments, the -image value).
const (
	exitRefused = 1
	exitUsage   = 2
)

// usageError is an error in the command line; run exits 2 for it.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

const usage = "usage: pin-action-image -image IMAGE@sha256:HEX ACTION.yml"

// run is the command: it parses args, pins the file in place and reports on
// stdout (what changed) or stderr (why not). It returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	err := pinFile(args, stdout)
	if err == nil {
		return 0
	}
	fmt.Fprintf(stderr, "pin-action-image: %v\n", err)
	var u usageError
	if errors.As(err, &u) {
		fmt.Fprintln(stderr, usage)
		return exitUsage
	}
	return exitRefused
}

func pinFile(args []string, stdout io.Writer) error {
	flags := flag.NewFlagSet("pin-action-image", flag.ContinueOnError)
	flags.SetOutput(io.Discard) // run prints the error and the usage line once
	image := flags.String("image", "", "the image to run, pinned by digest: IMAGE[:TAG]@sha256:HEX")
	if err := flags.Parse(args); err != nil {
		return usageError{err}
	}
	if flags.NArg() != 1 {
		return usagef("want one action.yml argument, got %d", flags.NArg())
	}
	if *image == "" {
		return usagef("-image is required: the image to run, pinned by digest (IMAGE[:TAG]@sha256:HEX)")
	}
	value, err := imageValue(*image)
	if err != nil {
		return usageError{fmt.Errorf("-image: %w", err)}
	}
	path := flags.Arg(0)
	src, err := os.ReadFile(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the path is named once
		}
		return fmt.Errorf("reading %s: %w", path, err)
	}
	res, err := pin(src, value)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := replaceFile(path, res.out); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	fmt.Fprintf(stdout, "%s:%d: runs.image %s -> %s\n", path, res.line, res.old, value)
	return nil
}

// replaceFile writes b to path through a temporary file in the same
// directory, keeping the file's permissions, so that a failed write never
// leaves a truncated action.yml.
func replaceFile(path string, b []byte) error {
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".pin-action-image-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(info.Mode().Perm()); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
