package registry

import "errors"

// Sentinel errors. Check them with errors.Is.
var (
	// ErrBinding is returned by Resolve when the registry image is not the
	// attested one: its config digest differs from the image ID, or no child
	// of an index matches it.
	ErrBinding = errors.New("registry image does not match the attested image")

	// ErrForeignTag is returned by Attach when the fallback tag
	// sha256-<hex> holds something other than an OCI image index; it is
	// never overwritten.
	ErrForeignTag = errors.New("fallback tag holds something other than an OCI image index")

	// ErrFallbackLost is returned by Attach when the fallback index did not
	// keep our entry after every bounded retry (a registry that reorders or
	// drops writes, or writers racing beyond the protocol's bounds).
	ErrFallbackLost = errors.New("could not keep the referrer in the fallback index")

	// ErrInsecure is returned for a plain-HTTP request to a registry that is
	// not on loopback while Options.AllowInsecure is false.
	ErrInsecure = errors.New("plain HTTP is only used for loopback registries")

	// ErrNotFound is returned when the registry answers 404 for a manifest
	// or blob that was asked for.
	ErrNotFound = errors.New("not found")
)
