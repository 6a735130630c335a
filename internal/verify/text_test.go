package verify

import (
	"regexp"
	"strings"
	"testing"
)

// TestReportEscapesRemoteStrings: a referrer's annotations, a registry's
// error and the archive's tags are shown, escaped, on their own line: none
// can forge a line of the report.
func TestReportEscapesRemoteStrings(t *testing.T) {
	t.Parallel()
	forged := "\nattestation 9  sha256:0000 VERIFIED\nresult  1 of 1 attestation(s) verified"
	rep := &Report{
		Image: "r.example/app:v1", Repository: "r.example/app", Digest: "sha256:1111", ReferrersSource: "tag:sha256-1111" + forged,
		Attestations: []Attestation{{
			Digest: "sha256:2222", Source: "api", Created: "2026-11-24T02:42:32Z" + forged, Error: "registry answered 500\r" + forged,
			Signer:    &Signer{KeyHint: "k\u2028" + forged},
			Predicate: &PredicateSummary{ImageID: "sha256:3333", Tags: []string{"app:1" + forged}},
		}},
		Ignored: []Ignored{{Digest: "sha256:4444", Reason: "artifact type" + forged}},
	}
	var out strings.Builder
	if err := rep.WriteText(&out); err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.FieldsFunc(out.String(), func(r rune) bool { return r == '\n' || r == '\r' || r == '\u2028' }) {
		if strings.HasPrefix(strings.TrimSpace(line), "attestation 9") || strings.HasPrefix(strings.TrimSpace(line), "result  1 of 1") {
			t.Errorf("report line %q is forged by remote data", line)
		}
	}
	if !strings.Contains(out.String(), `\nattestation 9`) {
		t.Errorf("report does not show the escaped data:\n%s", out.String())
	}
}

// TestReportSaysWhoReads: an entry that names no platform, is spelt
// otherwise than containerd normalises it or sits in a nested index gets
// a line saying which runtimes read it for which platform; a plain one
// does not.
func TestReportSaysWhoReads(t *testing.T) {
	t.Parallel()
	rep := &Report{Image: "r.example/app:v1", Repository: "r.example/app", Digest: "sha256:1111", Platforms: []PlatformReport{
		{Platform: "linux/amd64", Digest: "sha256:2222", SelectedBy: []string{"containerd linux/amd64", "go-containerregistry linux/amd64"}},
		{Platform: "linux/x86_64", Digest: "sha256:3333", SelectedBy: []string{"containerd linux/amd64", "go-containerregistry linux/x86_64"}, Through: "sha256:4444", unusual: true},
	}}
	var out strings.Builder
	if err := rep.WriteText(&out); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	if strings.Count(got, "read by") != 1 || !regexp.MustCompile(`read by +containerd linux/amd64, go-containerregistry linux/x86_64`).MatchString(got) || !strings.Contains(got, "nested index sha256:4444") {
		t.Errorf("report:\n%s\nwant one read-by line, for the x86_64 entry, and its nested index", got)
	}
}
