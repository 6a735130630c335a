package cli

import (
	"errors"
	"fmt"

	"github.com/oci-attest/oci-attest/internal/registry"
	"github.com/oci-attest/oci-attest/internal/retry"
)

// errUsage marks errors in how the program was called or in an input's
// value; Run's caller exits 2 on them. Every error the user must fix in an
// input wraps it, and is found before any network access or hashing.
var errUsage = errors.New("usage")

// inputError is an invalid input: it names the input and says what to do.
type inputError struct {
	input string
	msg   string
}

func (e *inputError) Error() string { return fmt.Sprintf("input %s: %s", e.input, e.msg) }
func (e *inputError) Unwrap() error { return errUsage }

// badInput is an inputError for input name.
func badInput(name, format string, args ...any) error {
	return &inputError{input: name, msg: fmt.Sprintf(format, args...)}
}

// exitCodeError carries a specific exit code (verify's "none found" and
// friends) with its message.
type exitCodeError struct {
	code int
	err  error
}

func (e *exitCodeError) Error() string { return e.err.Error() }
func (e *exitCodeError) Unwrap() error { return e.err }

// remoteAdvice names the input behind a remote's silence or refusal: the
// packages below name the remote and the deadline, not the input.
func remoteAdvice(err error) error {
	switch {
	case errors.Is(err, retry.ErrTimeout):
		return fmt.Errorf("%w: raise request-timeout if it is only slow", err)
	case errors.Is(err, registry.ErrInsecure):
		return fmt.Errorf("%w (set allow-insecure-registry: true to allow it)", err)
	}
	return err
}
