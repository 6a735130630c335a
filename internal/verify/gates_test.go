package verify

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/oci-attest/oci-attest/internal/registry"
	"github.com/oci-attest/oci-attest/internal/sign"
	"github.com/oci-attest/oci-attest/internal/testenv"
)

// TestVerifyWarnsOfGateLimits: an image verify accepts but a deploy gate
// would refuse is accepted with a warning, in the report's JSON and text:
// from 40 referrers of any type (Kyverno refuses more than 50), more than
// 50, and a Sigstore bundle referrer that does not parse (gh and Kyverno
// fail the whole check on it). Below 40 there is none.
func TestVerifyWarnsOfGateLimits(t *testing.T) {
	t.Parallel()
	for _, reg := range testenv.InProcessRegistries(t) {
		t.Run(reg.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			f := newFixture(t, reg, "verify/gates")
			bundle, pub := keySigned(t, f.statement(t))
			f.attach(t, bundle, predicateType)
			verifyWarnings := func(want ...string) {
				t.Helper()
				rep, err := Verify(ctx, testenv.Ref(t, f.image()), Options{Client: f.client, Policy: sign.Policy{PublicKey: pub}})
				if err != nil {
					t.Fatalf("Verify() = %v", err)
				}
				if len(rep.Warnings) != len(want) {
					t.Fatalf("Verify() warnings = %q, want %d containing %q", rep.Warnings, len(want), want)
				}
				var text strings.Builder
				if err := rep.WriteText(&text); err != nil {
					t.Fatal(err)
				}
				for i, w := range want {
					if !strings.Contains(rep.Warnings[i], w) {
						t.Errorf("Verify() warning %q lacks %q", rep.Warnings[i], w)
					}
					if !strings.Contains(strings.Join(strings.Fields(text.String()), " "), "warning "+rep.Warnings[i]) {
						t.Errorf("the text report lacks the warning %q:\n%s", rep.Warnings[i], text.String())
					}
				}
			}
			sboms := func(from, to int) {
				for i := from; i < to; i++ {
					f.pushForeign(t, "application/spdx+json", "application/spdx+json", fmt.Appendf(nil, `{"spdxVersion":"SPDX-2.3","name":"%d"}`, i), nil)
				}
			}
			sboms(1, 39) // 39 referrers
			verifyWarnings()
			sboms(39, 40) // 40
			verifyWarnings("has 40 referrers, near Kyverno's limit")
			sboms(40, 51) // 51
			verifyWarnings("has 51 referrers: Kyverno refuses an image with more than 50")
			f.pushForeign(t, registry.BundleMediaType, registry.BundleMediaType, []byte(`{"mediaType":"not a bundle"}`),
				map[string]string{registry.AnnotationPredicateType: predicateType})
			verifyWarnings("has 52 referrers", "is no Sigstore bundle gh and Kyverno can parse")
		})
	}
}

// TestRequirementsNameTheGates: the report says what it required in the
// gates' terms, the certificate extensions normalised as they are checked.
func TestRequirementsNameTheGates(t *testing.T) {
	t.Parallel()
	opts := Options{Policy: sign.Policy{IdentityRegexp: "^https://github.com/org/app/", Issuer: "https://token.actions.githubusercontent.com"},
		Repository: "org/app", Workflow: "release.yml"}
	pol, err := newCertPolicy(opts.Repository, opts.Workflow)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(requirements(opts, pol).lines(), "\n")
	want := strings.Join([]string{
		"predicate type https://aflock.ai/attestations/oci/v0.1",
		"identity matching ^https://github.com/org/app/",
		"issuer https://token.actions.githubusercontent.com",
		"repository https://github.com/org/app",
		"workflow https://github.com/org/app/.github/workflows/release.yml",
	}, "\n")
	if got != want {
		t.Errorf("requirements lines:\n%s\nwant:\n%s", got, want)
	}
}
