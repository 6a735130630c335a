// Package pipeline is the attest use case (ARCHITECTURE.md, "Data flow"):
// ReadArchives scans the archives (one read each), Plan decides what to
// attest — every selected platform, every image, and the registry name each
// is bound to — without any I/O, and Run binds, signs, writes and attaches,
// one stage after the other, each stage looping over what it works on (the
// bindings: push, bind, attach; the units: statement, sign, write, store)
// and returning values that Run gathers into a Result.
//
// It speaks in its own words: its errors name fields of its Input and
// Options (FieldError) or the stage that failed (StageError), never inputs or
// flags, and it writes nothing but through its Reporter. The command layer
// (internal/cli) turns its errors into advice naming inputs, and the Actions
// I/O (internal/actions) renders its Result as outputs and a job summary.
package pipeline
