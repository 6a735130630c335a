// Command pin-action-image makes a release's action.yml: it sets runs.image
// to a prebuilt image pinned by digest, so that the action's users pull the
// image the release workflow built and attested instead of building the
// Dockerfile on every run (RELEASING.md).
//
//	go run ./cmd/pin-action-image -image ghcr.io/oci-attest/oci-attest:v1.2.3@sha256:HEX action.yml
//
// writes runs.image: docker://ghcr.io/oci-attest/oci-attest:v1.2.3@sha256:HEX into
// action.yml in place. Only that value's bytes change; the file is parsed to
// find the value and re-parsed to check the result, never re-serialised. It
// refuses an image without a sha256 digest and an action.yml that is not a
// docker action with exactly one runs.image on one line.
//
// This file is wiring only: run.go reads the arguments and the file, pin.go
// is the rewrite. Only main exits.
package main

import "os"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}
