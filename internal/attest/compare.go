package attest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// FieldDiff is one predicate field whose value differs between two
// predicates, in the words `verify --subject-path` reports.
type FieldDiff struct {
	Field string // predicate field, e.g. "diffids[2]" or "tardigest"
	Want  string // value in the verified attestation
	Got   string // value recomputed from the local archive
}

// Diff compares the attested predicate want with got, recomputed from a
// local archive, field by field. It returns nil when they are equal.
func Diff(want, got *Predicate) []FieldDiff {
	var d []FieldDiff
	add := func(field, w, g string) {
		if w != g {
			d = append(d, FieldDiff{Field: field, Want: w, Got: g})
		}
	}
	add("tardigest", want.TarDigest["sha256"], got.TarDigest["sha256"])
	add("imageid", want.ImageID["sha256"], got.ImageID["sha256"])
	add("manifestdigest", want.ManifestDigest["sha256"], got.ManifestDigest["sha256"])
	if !bytes.Equal(want.ManifestRaw, got.ManifestRaw) {
		d = append(d, FieldDiff{Field: "manifestraw",
			Want: fmt.Sprintf("%d bytes", len(want.ManifestRaw)), Got: fmt.Sprintf("%d bytes", len(got.ManifestRaw))})
	}
	add("imagetags", strings.Join(want.ImageTags, ","), strings.Join(got.ImageTags, ","))
	n := max(len(want.DiffIDs), len(got.DiffIDs))
	for i := range n {
		var w, g string
		if i < len(want.DiffIDs) {
			w = "sha256:" + want.DiffIDs[i]["sha256"]
		} else {
			w = "(absent)"
		}
		if i < len(got.DiffIDs) {
			g = "sha256:" + got.DiffIDs[i]["sha256"]
		} else {
			g = "(absent)"
		}
		add(fmt.Sprintf("diffids[%d]", i), w, g)
	}
	wm, _ := json.Marshal(want.Manifest)
	gm, _ := json.Marshal(got.Manifest)
	add("manifest", string(wm), string(gm))
	return d
}
