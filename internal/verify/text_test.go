package verify

import (
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
