package verify

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/oci-attest/oci-attest/internal/display"
)

// WriteJSON writes the report as indented JSON. It carries the registry's
// and the bundles' strings: display.JSON escapes what the encoder leaves
// raw.
func (r *Report) WriteJSON(w io.Writer) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return err
	}
	_, err := w.Write(display.JSON(buf.Bytes()))
	return err
}

// WriteText writes the report for people: the image, what was found and
// checked, each platform's outcome, a block per attestation, the result.
// Every value is cleaned (internal/display): a registry's annotation or
// error can never start a line of the report.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	pf := printer(func(format string, args ...any) { fmt.Fprintf(tw, format, display.Args(args)...) })
	r.writeHeader(pf)
	for _, p := range r.Platforms {
		pf("platform %s\t%s %s: %d of %d attestation(s) verified\n", orUnknown(p.Platform), p.Digest, p.status(), p.Verified, p.Attestations)
		if p.unusual {
			pf("  read by\t%s\n", strings.Join(p.SelectedBy, ", "))
		}
		if p.Through != "" {
			pf("  through\tnested index %s\n", p.Through)
		}
	}
	for i, a := range r.Attestations {
		a.write(pf, i+1, r.SubjectPath)
	}
	if len(r.Ignored) > 0 {
		pf("\nignored\t\n")
		for _, ig := range r.Ignored {
			pf("  %s\t%s\n", ig.Digest, ig.Reason)
		}
	}
	pf("\nresult\t%s\n", r.Summary())
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// printer prints one line of the text report, its arguments cleaned.
type printer func(format string, args ...any)

// writeHeader prints what was verified: the image (or the archive and its
// bundle files), the trusted root, the referrers found and checked.
func (r *Report) writeHeader(pf printer) {
	switch at := r.Repository + "@" + r.Digest; {
	case r.ReferrersSource == sourceArchive:
		pf("archive\t%s (%s)\n", r.SubjectPath, r.TarDigest)
		pf("referrers\tcarried in the archive: %d oci attestation(s), %d other referrer(s) ignored\n", len(r.Attestations), len(r.Ignored))
	case r.Repository == "":
		pf("archive\t%s (%s)\n", r.SubjectPath, r.TarDigest)
		pf("bundles\t%d file(s)\n", len(r.Attestations))
	case r.Image != at:
		pf("image\t%s\n", r.Image)
		pf("digest\t%s (%s)\n", r.Digest, r.MediaType)
	default:
		pf("image\t%s (%s)\n", at, r.MediaType)
	}
	if r.TrustedRoot != "" {
		pf("trusted root\t%s\n", r.TrustedRoot)
	}
	for _, l := range r.Required.lines() {
		pf("requires\t%s\n", l)
	}
	if r.Repository != "" {
		pf("referrers\t%s: %d oci attestation(s), %d other referrer(s) ignored\n", r.ReferrersSource, len(r.Attestations), len(r.Ignored))
		checked := fmt.Sprintf("%d Sigstore bundle referrer(s)", r.Checked)
		if r.Unchecked > 0 {
			checked += fmt.Sprintf(", %d more NOT checked (at most %d are)", r.Unchecked, r.Checked)
		}
		pf("checked\t%s\n", checked)
	}
	for _, w := range r.Warnings {
		pf("warning\t%s\n", w)
	}
}

// status is a platform's outcome in one word or two.
func (p PlatformReport) status() string {
	switch {
	case p.Attestations == 0:
		return "NONE FOUND"
	case p.Verified == 0:
		return "NONE VERIFIED"
	case p.ArchiveMatches != nil && !*p.ArchiveMatches:
		return "ARCHIVE DIFFERS"
	}
	return "VERIFIED"
}

// write prints attestation n's block: where it was found, who signed it and
// when, what it attests, how the local archive compares, why it was
// rejected.
func (a Attestation) write(pf printer, n int, subjectPath string) {
	status, id := "VERIFIED", a.Digest
	if !a.Verified {
		status = "REJECTED"
	}
	if id == "" {
		id = a.Source
	}
	pf("\nattestation %d\t%s %s\n", n, id, status)
	if a.Digest != "" {
		pf("  found\t%s\n", a.Source)
	}
	if a.Platform != "" || a.PlatformDigest != "" {
		pf("  platform\t%s (%s)\n", a.Platform, a.PlatformDigest)
	}
	if a.Created != "" {
		pf("  created\t%s\n", a.Created)
	}
	a.Signer.write(pf)
	for _, t := range a.Timestamps {
		pf("  signed at\t%s (%s)\n", t.Time.Format("2006-01-02T15:04:05Z"), t.Kind)
	}
	if a.LogIndex != nil {
		pf("  log index\t%d\n", *a.LogIndex)
	}
	if p := a.Predicate; p != nil {
		tags := strings.Join(p.Tags, ", ")
		if tags == "" {
			tags = "(untagged)"
		}
		pf("  image ID\t%s\n", p.ImageID)
		pf("  tags\t%s\n", tags)
		pf("  layers\t%d\n", p.Layers)
	}
	a.Archive.write(pf, subjectPath)
	if a.Error != "" {
		pf("  reason\t%s\n", a.Error)
	}
}

// write prints who signed (nothing for nil).
func (s *Signer) write(pf printer) {
	if s == nil {
		return
	}
	if s.Identity != "" {
		pf("  signer\t%s\n", s.Identity)
		pf("  issuer\t%s\n", s.Issuer)
	}
	if s.SourceRepository != "" {
		pf("  repository\t%s\n", s.SourceRepository)
	}
	if s.BuildSigner != "" {
		pf("  workflow\t%s\n", s.BuildSigner)
	}
	if s.KeyHint != "" {
		pf("  key hint\t%s\n", s.KeyHint)
	}
}

// write prints how the local archive compares (nothing for nil).
func (c *ArchiveComparison) write(pf printer, subjectPath string) {
	switch {
	case c == nil:
		return
	case c.Matches:
		pf("  archive\t%s matches\n", subjectPath)
		return
	case c.SameImage:
		pf("  archive\t%s: same image (image ID and layers match), different archive file (%d field(s) differ)\n", subjectPath, len(c.Differences))
	default:
		pf("  archive\t%s DIFFERS in %d field(s), image ID or layers among them\n", subjectPath, len(c.Differences))
	}
	for _, d := range c.Differences {
		pf("    %s\tattested %s\n", d.Field, d.Attested)
		pf("    \tlocal    %s\n", d.Local)
	}
}
