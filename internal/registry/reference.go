package registry

import (
	"net"
	"net/netip"
	"strings"
)

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
