package verify

import (
	"fmt"
	"strings"
)

// Requirements is what Verify held every attestation to, named as the
// deploy gates name it (docs/gates.md, "From verify to a gate"), so that a
// verify command ports to a gate's policy field by field.
type Requirements struct {
	// PredicateType is the statement's predicate type: a ClusterImagePolicy's
	// attestations[].predicateType, Kyverno's attestations[].type, gh's
	// --predicate-type.
	PredicateType string `json:"predicateType"`
	// Identity (exact) or IdentityRegexp is the certificate's subject
	// alternative name: keyless.identities[].subject or subjectRegExp,
	// Kyverno's keyless.subject or subjectRegExp, gh's --cert-identity or
	// --cert-identity-regex.
	Identity       string `json:"identity,omitempty"`
	IdentityRegexp string `json:"identityRegexp,omitempty"`
	// Issuer (exact) or IssuerRegexp is the OIDC issuer in the certificate:
	// identities[].issuer or issuerRegExp, keyless.issuer or issuerRegExp,
	// gh's --cert-oidc-issuer.
	Issuer       string `json:"issuer,omitempty"`
	IssuerRegexp string `json:"issuerRegexp,omitempty"`
	// SourceRepository is the certificate's Source Repository URI: gh's
	// --repo (the cluster policies check the repository through the
	// identity).
	SourceRepository string `json:"sourceRepository,omitempty"`
	// Workflow is the certificate's Build Signer URI without its @ref: gh's
	// --signer-workflow.
	Workflow string `json:"workflow,omitempty"`
	// Key is true when a public key was required instead of an identity
	// (key-signed bundles, which gh cannot verify).
	Key bool `json:"key,omitempty"`
}

// requirements is what opts and pol require.
func requirements(opts Options, pol certPolicy) *Requirements {
	p := opts.Policy
	return &Requirements{
		PredicateType: predicateType,
		Identity:      p.Identity, IdentityRegexp: p.IdentityRegexp,
		Issuer: p.Issuer, IssuerRegexp: p.IssuerRegexp,
		SourceRepository: pol.repository, Workflow: pol.workflow,
		Key: p.PublicKey != nil,
	}
}

// lines are the requirements for the text report, one each.
func (r *Requirements) lines() []string {
	if r == nil {
		return nil
	}
	out := []string{"predicate type " + r.PredicateType}
	add := func(what, exact, re string) {
		switch {
		case exact != "":
			out = append(out, what+" "+exact)
		case re != "":
			out = append(out, what+" matching "+re)
		}
	}
	add("identity", r.Identity, r.IdentityRegexp)
	add("issuer", r.Issuer, r.IssuerRegexp)
	add("repository", r.SourceRepository, "")
	add("workflow", r.Workflow, "")
	if r.Key {
		out = append(out, "signed by the public key")
	}
	return out
}

// Kyverno v1.19.1 fails the whole check of a subject with more than
// kyvernoMaxReferrers referrers of any type (pkg/image/verifiers/cpol/cosign,
// attestationlimit); verify warns from referrersWarnAt on (docs/gates.md,
// "Limits").
const (
	kyvernoMaxReferrers = 50
	referrersWarnAt     = 40
)

// gateWarnings records in rep what would make a deploy gate refuse an image
// that verify accepts: a subject (the image, or a platform a pod names)
// with nearly or more than Kyverno's number of referrers, and a Sigstore
// bundle referrer that does not parse, which fails gh's and Kyverno's whole
// check.
func gateWarnings(rep *Report) {
	count := func(digest string, n int) {
		switch {
		case n > kyvernoMaxReferrers:
			rep.Warnings = append(rep.Warnings, fmt.Sprintf("%s has %d referrers: Kyverno refuses an image with more than %d referrers of any type", digest, n, kyvernoMaxReferrers))
		case n >= referrersWarnAt:
			rep.Warnings = append(rep.Warnings, fmt.Sprintf("%s has %d referrers, near Kyverno's limit: it refuses an image with more than %d referrers of any type", digest, n, kyvernoMaxReferrers))
		}
	}
	count(rep.Digest, rep.Referrers)
	for _, p := range rep.Platforms {
		count(p.Digest, p.Referrers)
	}
	for _, a := range rep.Attestations {
		if strings.HasPrefix(a.Error, bundleParseError) {
			on := rep.Digest
			if a.Subject != "" {
				on = a.Subject
			}
			rep.Warnings = append(rep.Warnings, fmt.Sprintf("referrer %s of %s is no Sigstore bundle gh and Kyverno can parse: they refuse the image while it is there", a.Digest, on))
		}
	}
}
