// Package github stores attestations where GitHub's users and tools look
// (ARCHITECTURE.md, "GitHub's attestation store"): the repository's
// attestations API (POST /repos/{owner}/{repo}/attestations with
// {"bundle": <bundle>}, what actions/attest's writeAttestation sends), and an
// organisation's artifact storage records (POST
// /orgs/{org}/artifacts/metadata/storage-record with name, digest, version
// and registry_url, what actions/attest's createStorageRecord sends), which
// link a pushed image to the organisation's "Linked artifacts".
//
// # Requests
//
// Every request carries "Authorization: Bearer <token>", "Accept:
// application/vnd.github+json", "X-GitHub-Api-Version: 2022-11-28" and the
// caller's User-Agent. The API base is Options.APIURL (GITHUB_API_URL:
// https://api.github.com, https://HOST/api/v3 on GitHub Enterprise Server,
// https://api.SUBDOMAIN.ghe.com on GHE.com); plain HTTP is refused unless the
// API is on loopback (127.0.0.0/8, ::1, localhost). The HTTP client is
// retry.NewClient's, to which this package adds only its headers: a guard
// under every request refuses plain HTTP too, so a redirect cannot downgrade
// either, and a redirect that leaves the API's origin (scheme, host and
// port) is followed without the Authorization header.
//
// Requests are retried on 408, 429, 5xx except 501, a rate-limited 403 (one
// with Retry-After, or x-ratelimit-remaining: 0 and a reset within a
// minute), and connection errors (resets, EOF), with jittered exponential
// backoff; Retry-After is honoured up to 60 s. A retried POST whose first
// attempt reached GitHub may store the attestation twice, as actions/attest's
// retries may. A whole call is bounded by Options.Timeout.
//
// # Errors
//
// The package is silent and knows no input names. An answer other than the
// documented success is an *APIError carrying the status and GitHub's message
// (control characters escaped); errors.Is matches it against ErrUnauthorized
// (401), ErrForbidden (403 that is not a rate limit), ErrNotFound (404),
// ErrInvalid (422) and ErrRateLimited. ErrInsecure and ErrNoToken come from
// New.
package github
