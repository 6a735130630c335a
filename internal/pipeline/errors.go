package pipeline

import (
	"errors"
	"fmt"

	"github.com/oci-attest/oci-attest/internal/ref"
	"github.com/oci-attest/oci-attest/internal/retry"
)

// FieldError is an error attributed to a field of Input or Options (Field:
// "Archives", "Names", "Platforms", "SubjectDigest", "BundlePath",
// "StatementPath", "CarryPath"). Usage is true when the value is wrong and the caller must
// change it; false when acting on it failed (a file could not be read or
// written).
type FieldError struct {
	Field string
	Usage bool
	Err   error
}

func (e *FieldError) Error() string { return e.Err.Error() }
func (e *FieldError) Unwrap() error { return e.Err }

// usage is a FieldError for a wrong value of field.
func usage(field, format string, args ...any) error {
	return &FieldError{Field: field, Usage: true, Err: fmt.Errorf(format, args...)}
}

// Stages a StageError names.
const (
	StagePush   = "push"   // pushing the archive's image (Options.PushImage)
	StageBind   = "bind"   // resolving and binding the registry subject
	StageAttach = "attach" // pushing the referrer
	StageGitHub = "github" // storing the attestation in GitHub (GitHubAlways)
)

// StageError is a failure of a stage that talks to a registry or GitHub.
type StageError struct {
	Stage string
	// Target is the registry name of the binding (zero for the GitHub
	// stage).
	Target ref.Reference
	// DefaultTag is the archive's RepoTag the registry name was defaulted
	// to ("" when the caller named it): a failure may mean that the tag
	// names no registry the image was pushed to.
	DefaultTag string
	Err        error
}

func (e *StageError) Error() string { return e.Err.Error() }
func (e *StageError) Unwrap() error { return e.Err }

// Errors a FieldError of Names or SubjectDigest wraps.
var (
	// ErrNoRepository: no registry name was given and the image's only tag
	// names no registry repository (a bare "app:1" would be Docker Hub's).
	ErrNoRepository = errors.New("the image's tag names no registry repository")
	// ErrUntagged: no registry name was given and the image has no tag, but
	// the run needs a repository (to push, or for a digest).
	ErrUntagged = errors.New("the archive's image has no RepoTags, so the registry repository is unknown")
	// ErrDigestForMany: one subject digest was given for several bindings.
	ErrDigestForMany = errors.New("names one image or index")
)

// errorf wraps sentinel in a message of its own.
func errorf(sentinel error, format string, args ...any) error {
	return &wrapped{msg: fmt.Sprintf(format, args...), err: sentinel}
}

// wrapped is a message that matches a sentinel it does not repeat.
type wrapped struct {
	msg string
	err error
}

func (w *wrapped) Error() string { return w.msg }
func (w *wrapped) Unwrap() error { return w.err }

// stageError is err of stage for binding b, naming the archive's tag when
// the registry name was defaulted to it (a registry that does not answer is
// not a naming problem).
func stageError(stage string, target ref.Reference, b *Binding, defaulted bool, err error) error {
	se := &StageError{Stage: stage, Target: target, Err: err}
	if defaulted && !errors.Is(err, retry.ErrTimeout) {
		se.DefaultTag = b.DefaultTag
	}
	return se
}
