package gates

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/oci-attest/oci-attest/internal/testenv"
)

// TestGates runs each gate, built from its pinned module, with the
// documented policy on images oci-attest pushed and attested — on olareg
// (the referrers API: the gates read the referrer through it) and on
// distribution (no API: they read the sha256-<digest> fallback tag oci-attest
// writes) — and requires each to admit the release workflow's attestation
// and to refuse a wrong identity, a wrong issuer, an image without
// attestation and one whose predicate fails the policy's condition.
func TestGates(t *testing.T) {
	t.Parallel()
	s := testenv.StartSigstore(t, testenv.SigstoreOptions{Rekor: true, TSA: true})
	for _, reg := range []testenv.Registry{testenv.StartOlareg(t), testenv.StartDistribution(t)} {
		t.Run(reg.Name, func(t *testing.T) {
			t.Parallel()
			runCases(t, newFixture(t, s, reg, customPolicies), engines)
		})
	}
}

// TestGatesPublicGoodShape runs the gates that take a trusted root with
// Rekor v1 logs — gh and Kyverno, with the public-good recipes — on
// attestations signed the way public-good signs them: Fulcio and a Rekor v1
// log (rekor-server on Trillian), no timestamp authority, the log entry's
// integrated time being the signed time. policy-controller is not run: its
// public-good recipe requires an SCT, which the local Fulcio (no CT log)
// does not issue, and trustroot.jq carries no log (docs/gates.md, "Limits").
func TestGatesPublicGoodShape(t *testing.T) {
	t.Parallel()
	s := testenv.StartSigstore(t, testenv.SigstoreOptions{RekorV1: testenv.SharedRekorV1(t)})
	f := newFixture(t, s, testenv.StartOlareg(t), customPolicies)
	requireRekorV1(t, f.release.bundle)
	var publicGood []engine
	for _, e := range engines {
		if e.name != "policy-tester" {
			publicGood = append(publicGood, e)
		}
	}
	runCases(t, f, publicGood)
}

// TestGatesGitHubShape runs every gate with the recipes for GitHub's
// instance — clusterimagepolicy-github.yaml with a TrustRoot "github" made
// by trustroot.jq standing in for trustroot-github.yaml, and
// kyverno-clusterpolicy-github.yaml — on attestations signed the way GitHub's
// instance signs them: Fulcio and a timestamp authority, no transparency
// log.
func TestGatesGitHubShape(t *testing.T) {
	t.Parallel()
	s := testenv.StartSigstore(t, testenv.SigstoreOptions{TSA: true})
	f := newFixture(t, s, testenv.StartOlareg(t), githubPolicies)
	runCases(t, f, engines)
}

// runCases requires each engine to admit the release workflow's
// attestation (an image, an index and its platform manifest) and to refuse
// a wrong identity, a wrong issuer, an unattested image and a failing
// predicate condition, on f's images.
func runCases(t *testing.T, f *fixture, es []engine) {
	t.Helper()
	s := f.s
	for _, e := range es {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			bin := testenv.Tool(t, e.tool)
			for _, tc := range []struct {
				name   string
				img    image
				issuer string
				admit  bool
			}{
				{"release workflow admitted", f.release, s.IssuerURL, true},
				{"other workflow refused", f.nightly, s.IssuerURL, false},
				{"other issuer refused", f.release, docIssuer, false},
				{"unattested refused", f.bare, s.IssuerURL, false},
				{"predicate condition refused", f.dev, s.IssuerURL, false},
				{"multi-platform index admitted", f.index, s.IssuerURL, true},
				{"its platform manifest admitted", f.amd64, s.IssuerURL, true},
			} {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					v := e.check(t, bin, f, tc.img, tc.issuer)
					t.Log(v.output)
					if !v.decided {
						t.Fatalf("%s neither admitted nor refused %s by its policy:\n%s", e.name, tc.img.ref, v.output)
					}
					if v.admitted != tc.admit {
						t.Fatalf("%s admitted=%v, want %v for %s:\n%s", e.name, v.admitted, tc.admit, tc.img.ref, v.output)
					}
				})
			}
		})
	}
}

// TestGHTarball runs docs/gates.md's command for an image that arrives as
// an archive, with its bundle and no registry:
//
//	gh attestation verify app.tar --bundle app.sigstore.json --repo my-org/my-app \
//	  --signer-workflow my-org/my-app/.github/workflows/release.yml \
//	  --predicate-type https://aflock.ai/attestations/oci/v0.1 --custom-trusted-root trusted_root.jsonl
//
// gh hashes the file and finds the statement's tardigest subject: the
// attested archive is admitted; another workflow's bundle, another issuer and
// another archive with the release bundle are refused.
func TestGHTarball(t *testing.T) {
	t.Parallel()
	s := testenv.StartSigstore(t, testenv.SigstoreOptions{Rekor: true, TSA: true})
	f := &fixture{s: s, reg: testenv.StartOlareg(t), docs: customPolicies}
	f.repo = f.reg.Host + "/" + docRepository
	release := f.attest(t, "v1.0.0", "release", docWorkflow)
	nightly := f.attest(t, "v1.0.1", "nightly", otherWorkflow)
	other := f.archive(t, "v1.0.0", "other")
	bin := testenv.Tool(t, "gh")
	for _, tc := range []struct {
		name            string
		archive, bundle string
		issuer          string
		admit           bool
	}{
		{"release archive admitted", release.archive, release.bundle, s.IssuerURL, true},
		{"other workflow refused", nightly.archive, nightly.bundle, s.IssuerURL, false},
		{"other issuer refused", release.archive, release.bundle, docIssuer, false},
		{"other archive refused", other, release.bundle, s.IssuerURL, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			args := append([]string{"attestation", "verify", tc.archive, "--bundle", tc.bundle}, ghPolicy(t, f, tc.issuer)...)
			v := ghVerdict(t, bin, f, args)
			t.Log(v.output)
			if !v.decided || v.admitted != tc.admit {
				t.Fatalf("gh decided=%v admitted=%v, want admitted=%v:\n%s", v.decided, v.admitted, tc.admit, v.output)
			}
		})
	}
}

// requireRekorV1 fails unless the bundle at path has public-good's shape:
// one Rekor v1 entry (dsse 0.0.1; Rekor v2 writes 0.0.2) and no RFC 3161
// timestamp.
func requireRekorV1(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var bundle struct {
		VerificationMaterial struct {
			TlogEntries []struct {
				KindVersion struct{ Kind, Version string }
			}
			TimestampVerificationData struct {
				Rfc3161Timestamps []json.RawMessage
			}
		}
	}
	if err := json.Unmarshal(b, &bundle); err != nil {
		t.Fatal(err)
	}
	m := bundle.VerificationMaterial
	if len(m.TlogEntries) != 1 || m.TlogEntries[0].KindVersion.Version != "0.0.1" || len(m.TimestampVerificationData.Rfc3161Timestamps) != 0 {
		t.Fatalf("the bundle is not public-good's shape (one Rekor v1 entry, no RFC 3161 timestamp):\n%s", b)
	}
}
