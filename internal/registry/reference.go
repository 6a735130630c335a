package registry

import (
	"fmt"
	"net"
	"net/netip"
	"strings"

	"oras.land/oras-go/v2/registry"
)

// parseRepository parses "registry/repo[:tag][@digest]" and insists on an
// explicit registry host (there is no implicit Docker Hub).
func parseRepository(ref string) (registry.Reference, error) {
	r, err := registry.ParseReference(ref)
	if err != nil {
		return registry.Reference{}, fmt.Errorf("parsing image reference %q (want registry/repository[:tag], e.g. ghcr.io/owner/app:v1): %w", ref, err)
	}
	if !strings.ContainsAny(r.Registry, ".:") && r.Registry != "localhost" {
		return registry.Reference{}, fmt.Errorf("parsing image reference %q: %q is not a registry host: name the registry, e.g. docker.io/%s", ref, r.Registry, ref)
	}
	if r.Registry == "docker.io" && !strings.Contains(r.Repository, "/") {
		r.Repository = "library/" + r.Repository // Docker Hub's official images
	}
	return r, nil
}

// isLoopback reports whether host ("name" or "name:port") is localhost or a
// loopback address (127.0.0.0/8, ::1).
func isLoopback(host string) bool {
	h := host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		h = hh
	}
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	if strings.EqualFold(h, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(h)
	return err == nil && a.IsLoopback()
}

// fallbackTag is the referrers tag schema name for a subject digest:
// "<alg>-<hex>" (distribution-spec "Referrers Tag Schema").
func fallbackTag(dgst string) string {
	t := strings.Replace(dgst, ":", "-", 1)
	if len(t) > 128 {
		t = t[:128]
	}
	return t
}
