package gates

import (
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
			f := newFixture(t, s, reg)
			for _, e := range engines {
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
	f := &fixture{s: s, reg: testenv.StartOlareg(t)}
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
