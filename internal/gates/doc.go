// Package gates holds the tests that run the deploy gates docs/gates.md
// documents — `gh attestation verify` (cli/cli v2.83.0), sigstore
// policy-controller's policy-tester (v0.15.1) and Kyverno's CLI (v1.19.1),
// built pinned by internal/testenv — against what oci-attest attaches, on a
// registry with the referrers API and one without, with the local Sigstore
// stack standing in for GitHub's issuer and a Sigstore instance.
//
// The policies under test are the files under docs/gates, with only the
// registry, the OIDC issuer and the trust root substituted. The package has
// no code outside its tests.
package gates
