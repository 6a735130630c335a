// Package sign turns an in-toto statement into a Sigstore bundle
// (ARCHITECTURE.md, "Signing and trust"): DSSE over the statement (payload type
// application/vnd.in-toto+json), signed with an ephemeral ECDSA P-256 key
// certified by Fulcio for the workflow's OIDC identity, with a transparency
// log entry and/or RFC 3161 timestamp, serialized as bundle v0.3 JSON. Every
// bundle is verified against the instance's trusted root and the signer's
// identity before Sign returns it: a bundle that does not verify is never
// returned.
//
// Key signing (Options.SigningKey) is for places without OIDC (the offline
// demo, air-gapped runners). It is not keyless: the bundle carries a
// public-key hint instead of a certificate, and verifiers need the public
// key.
//
// The package is silent: it never logs. Secrets (the ID token) are handed to
// Options.Mask before use so that main can mask them in the Actions log.
package sign
