package display

import (
	"fmt"
	"strings"
)

// Shell quotes s for a POSIX shell command line (cleaned first, so it stays
// on its line).
func Shell(s string) string {
	s = Clean(s)
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@%+=:,./-_") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Bytes formats a size in bytes with binary units (KiB, MiB, …).
func Bytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// Short abbreviates a digest (algorithm, 12 hex digits, "…") or a key hint
// (12 characters, "…") for prose.
func Short(d string) string {
	alg, hex, ok := strings.Cut(d, ":")
	if !ok {
		alg, hex = "", d
	} else {
		alg += ":"
	}
	if len(hex) <= 12 {
		return d
	}
	return alg + hex[:12] + "…"
}

// ID is the first 12 hex digits of a digest (docker's short image ID), for
// the log.
func ID(d fmt.Stringer) string {
	_, h, _ := strings.Cut(d.String(), ":")
	if len(h) > 12 {
		h = h[:12]
	}
	return h
}
