package registry

import "strings"

// fallbackTag is the referrers tag schema name for a subject digest:
// "<alg>-<hex>" (distribution-spec "Referrers Tag Schema").
func fallbackTag(dgst string) string {
	t := strings.Replace(dgst, ":", "-", 1)
	if len(t) > 128 {
		t = t[:128]
	}
	return t
}
