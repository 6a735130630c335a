package registry

import "errors"

// Sentinel errors. Check them with errors.Is.
var (
	// ErrBinding is returned by Resolve when the registry image is not the
	// attested one: its config digest differs from the image ID, or no child
	// of an index matches it.
	ErrBinding = errors.New("registry image does not match the attested image")

	// ErrNoReference is returned by Resolve when the reference has neither a
	// tag nor a digest.
	ErrNoReference = errors.New("the image reference names no tag and no digest")

	// ErrNoTag is returned by PushImage when the reference has no tag to
	// push to.
	ErrNoTag = errors.New("the image reference names no tag")

	// ErrIncomplete is returned by PushIndex when the archive lacks a
	// manifest or blob the index leads to (oci.Index.Lacks; docker save with
	// the containerd store keeps only the local platform's content): the
	// index cannot be pushed as it is.
	ErrIncomplete = errors.New("the archive does not hold everything the image index lists")

	// ErrForeignTag is returned by Attach when the fallback tag
	// sha256-<hex> holds something other than an OCI image index; it is
	// never overwritten.
	ErrForeignTag = errors.New("fallback tag holds something other than an OCI image index")

	// ErrFallbackLost is returned by Attach when the fallback index did not
	// keep our entry after every bounded retry (a registry that reorders or
	// drops writes, or writers racing beyond the protocol's bounds).
	ErrFallbackLost = errors.New("could not keep the referrer in the fallback index")

	// ErrInsecure is returned for a plain-HTTP request to a registry that is
	// not on loopback while Options.AllowInsecure is false (a
	// *retry.PlainHTTPError, which also matches retry.ErrPlainHTTP).
	ErrInsecure = errors.New("plain HTTP is only used for loopback registries")

	// ErrUnauthorized is returned when the registry answers 401 or 403, or
	// asks for credentials there are none of.
	ErrUnauthorized = errors.New("the registry refused our credentials (or their absence)")

	// ErrBundleTooLarge is returned by Attach, before anything is pushed,
	// for a bundle larger than MaxBundleSize.
	ErrBundleTooLarge = errors.New("the bundle is larger than Kyverno reads a bundle referrer")

	// ErrNotFound is returned when the registry answers 404 for a manifest
	// or blob that was asked for.
	ErrNotFound = errors.New("not found")
)
