package ref

import (
	"net"
	"net/netip"
	"strings"
)

// IsLoopback reports whether host ("name" or "name:port") is localhost or a
// loopback address (127.0.0.0/8, ::1).
func IsLoopback(host string) bool {
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
