package registry

import (
	"strings"

	"github.com/oci-attest/oci-attest/internal/ref"
)

// isLoopback reports whether host ("name" or "name:port") is localhost or a
// loopback address (ref.IsLoopback).
func isLoopback(host string) bool { return ref.IsLoopback(host) }

// fallbackTag is the referrers tag schema name for a subject digest:
// "<alg>-<hex>" (distribution-spec "Referrers Tag Schema").
func fallbackTag(dgst string) string {
	t := strings.Replace(dgst, ":", "-", 1)
	if len(t) > 128 {
		t = t[:128]
	}
	return t
}
