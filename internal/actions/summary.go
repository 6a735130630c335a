package actions

import (
	"fmt"
	"strings"
	"time"

	"github.com/oci-attest/oci-attest/internal/attest"
	"github.com/oci-attest/oci-attest/internal/display"
	"github.com/oci-attest/oci-attest/internal/pipeline"
	"github.com/oci-attest/oci-attest/internal/registry"
	"github.com/oci-attest/oci-attest/internal/sign"
)

// WriteSummary writes the job summary of a run (Actions only): what was
// attested and where, who signed, and the commands that verify it. host shows
// a path as the job's steps see it (nil: unchanged).
func (l *Logger) WriteSummary(res *pipeline.Result, host func(string) string) {
	if res == nil || len(res.Units) == 0 {
		return
	}
	l.Summary(summaryAll(res.Units, res.Plan.Skipped, host))
}

// table is a markdown table of two columns being written.
type table struct{ b *strings.Builder }

func newTable(b *strings.Builder) table {
	b.WriteString("\n| | |\n|---|---|\n")
	return table{b}
}

func (t table) row(k, v string) { fmt.Fprintf(t.b, "| %s | %s |\n", k, v) }

// summary renders the job summary of one image: one sentence a reviewer
// reads in five seconds (what was attested, where it is attached, who
// signed, that it was verified), then the details, then the commands that
// verify it. Every value goes through display.Markdown (or code); file paths
// are shown as the job's steps see them (host translates the action
// container's view back).
func summary(r *pipeline.UnitResult, host func(string) string) string {
	host = orSame(host)
	var b strings.Builder
	b.WriteString("## oci-attest\n\n")
	b.WriteString(headline(r, host))
	b.WriteString("\n")
	t := newTable(&b)
	imageRows(t, r, host)
	registryRows(t, r)
	if r.Signed != nil {
		signerRow(t, r.Signed, "key "+code(r.Signed.KeyHint)+" (not keyless)")
		signedTimeRows(t, r.Signed)
	}
	t.row("Bundle", code(host(r.Bundle)))
	if r.PublicKey != "" {
		t.row("Public key", code(host(r.PublicKey)))
	}
	referrerRows(t, r.Attached)
	githubRows(t, r.GitHub)
	// The verify commands read the referrer: only when one was pushed.
	if r.Subject != nil && r.Attached != nil && r.Signed != nil {
		image := subjectName(r.Subject.Repository.Name(), r.Subject.Descriptor.Digest.String())
		b.WriteString("\n### Verify\n\n```sh\n")
		b.WriteString(verifyCommands(image, r.Signed, host(r.PublicKey)))
		b.WriteString(ghCommands(image, r))
		b.WriteString("```\n")
	}
	return b.String()
}

// imageRows describe the archive and the attested image.
func imageRows(t table, r *pipeline.UnitResult, host func(string) string) {
	tags := "(none)"
	if len(r.Image.RepoTags) > 0 {
		var ts []string
		for _, tag := range r.Image.RepoTags {
			ts = append(ts, code(tag))
		}
		tags = strings.Join(ts, ", ")
	}
	t.row("Archive", fmt.Sprintf("%s (%s, %s)", code(host(r.Archive.Path)), display.Markdown(string(r.Archive.Format)), display.Bytes(r.Archive.Size)))
	t.row("Image tags", tags)
	if pl := r.Image.Platform.String(); pl != "" {
		t.row("Platform", display.Markdown(pl))
	}
	t.row("Image ID", code(r.Image.ImageID.String()))
	t.row("Layers", fmt.Sprint(len(r.Image.DiffIDs)))
	t.row("Tar digest", code(r.Archive.TarDigest.String()))
	t.row("Predicate type", code(attest.PredicateType))
}

// registryRows describe the registry subject bound.
func registryRows(t table, r *pipeline.UnitResult) {
	s := r.Subject
	if s == nil {
		return
	}
	t.row("Registry image", code(subjectName(s.Repository.Name(), s.Descriptor.Digest.String())))
	if s.Image.Digest != s.Descriptor.Digest {
		t.row("Matched platform image", code(s.Image.Digest.String()))
	}
	if s.Partial != nil {
		t.row("Registry index (no subject)", code(subjectName(s.Repository.Name(), s.Partial.Index.Digest.String()))+": "+display.Markdown(pipeline.PartialNote(s)))
	}
	if a := r.AttachedImage; a != nil {
		t.row("Platform referrer", code(a.Artifact.Digest.String()))
	}
}

// signerRow says who signed: the identity, or keyed for a key.
func signerRow(t table, s *sign.Result, keyed string) {
	if s.Identity != "" {
		t.row("Signer", fmt.Sprintf("%s (issuer %s, Sigstore %s)", code(s.Identity), code(s.Issuer), display.Markdown(s.Instance)))
		return
	}
	t.row("Signer", keyed)
}

// signedTimeRows give the log entry and the timestamps.
func signedTimeRows(t table, s *sign.Result) {
	if s.LogIndex >= 0 {
		t.row("Transparency log", fmt.Sprintf("index %d", s.LogIndex))
	}
	for _, ts := range s.Timestamps {
		t.row("Timestamp", ts.UTC().Format(time.RFC3339))
	}
}

// referrerRows describe the referrer pushed and how clients find it.
func referrerRows(t table, a *registry.AttachResult) {
	if a == nil {
		return
	}
	t.row("Referrer", code(a.Artifact.Digest.String()))
	if a.ReferrersTag != "" {
		t.row("Discovery", "fallback tag "+code(a.ReferrersTag)+" ("+display.Markdown(a.Reason)+")")
	} else {
		t.row("Discovery", "referrers API ("+display.Markdown(a.Reason)+")")
	}
}

// githubRows are the GitHub stage's part: a row linking the attestation, a
// row for the storage record.
func githubRows(t table, g *pipeline.GitHubResult) {
	if !g.Stored() {
		return
	}
	// The URL is ours (server URL, repository, a numeric ID); escaped all
	// the same, as everything in the summary.
	t.row("GitHub attestation", fmt.Sprintf("<a href=\"%s\">%s</a>", display.Attr(g.URL), display.Markdown(g.URL)))
	switch {
	case len(g.Records) > 0:
		t.row("Storage record", display.Markdown(pipeline.JoinIDs(g.Records))+" (the image is in "+code(g.Owner)+"'s linked artifacts)")
	case g.RecordNote != "":
		t.row("Storage record", "not posted: "+display.Markdown(g.RecordNote))
	}
}

// headline is the summary's first sentence.
func headline(r *pipeline.UnitResult, host func(string) string) string {
	name := "an untagged image"
	if len(r.Image.RepoTags) > 0 {
		name = code(r.Image.RepoTags[0])
	}
	s := fmt.Sprintf("**Attested %s** (image ID %s) from %s", name, code(display.Short(r.Image.ImageID.String())), code(host(r.Archive.Path)))
	switch a := r.Attached; {
	case a != nil && a.ReferrersTag != "":
		s += fmt.Sprintf(", attached to %s (referrers fallback tag)", code(subjectName(r.Subject.Repository.Name(), display.Short(r.Subject.Descriptor.Digest.String()))))
	case a != nil:
		s += fmt.Sprintf(", attached to %s (referrers API)", code(subjectName(r.Subject.Repository.Name(), display.Short(r.Subject.Descriptor.Digest.String()))))
	default:
		s += ", not pushed to a registry (bundle file only)"
	}
	if sg := r.Signed; sg != nil {
		if sg.Identity != "" {
			s += fmt.Sprintf("; signed keylessly by %s", code(sg.Identity))
		} else {
			s += fmt.Sprintf("; signed with key %s (not keyless)", code(display.Short(sg.KeyHint)))
		}
		s += "; the bundle was verified before it was published."
	}
	return s
}

// subjectName is repository@digest.
func subjectName(repository, digest string) string { return repository + "@" + digest }

// code shows a value as inline code (an HTML <code> element, in which the
// entities display.Markdown writes are decoded, unlike in a backtick span).
func code(s string) string { return "<code>" + display.Markdown(s) + "</code>" }

func orNone(s string) string {
	if s == "" {
		return "(no platform)"
	}
	return s
}

// orSame is host, or the identity for nil.
func orSame(host func(string) string) func(string) string {
	if host == nil {
		return func(p string) string { return p }
	}
	return host
}
