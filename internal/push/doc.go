// Package push is the registry half of oci-attest (DESIGN.md §4): it
// resolves the subject image in a registry and binds it to the attested
// archive, optionally pushes the archived image, pushes the Sigstore bundle
// as an OCI 1.1 referrer, maintains the sha256-<hex> referrers fallback tag
// without losing other writers' entries, and lists referrers for verify.
//
// # Registry access
//
// Requests go through oras-go's auth client. Credentials come from the
// Docker config (DOCKER_CONFIG or ~/.docker/config.json, with credHelpers
// and credsStore), then Options.GitHubToken for ghcr.io, then anonymous.
// Loopback registries (127.0.0.0/8, ::1, localhost) are spoken to over plain
// HTTP; any other registry over HTTPS unless Options.AllowInsecure is set.
// A redirect that leaves the registry's origin (scheme, host and port) is
// followed without the Authorization header — net/http alone would keep it
// for another port of the same host or a subdomain. Requests are retried
// with jittered exponential backoff on 408, 429 and 5xx (except 501) and on
// connection errors; Retry-After is honoured (seconds or HTTP-date, up to
// 60 s; longer waits fail instead).
//
// # The referrer and referrers detection
//
// Attach pushes the empty config "{}", the bundle layer (a monolithic POST
// where the registry supports it, else POST + PUT) and the artifact
// manifest by digest with its own PUT, so that oras-go's built-in fallback
// indexing (which has no cross-process protection) never runs. The registry
// supports referrers when the PUT answers OCI-Subject equal to the subject
// digest and GET /v2/<name>/referrers/<digest> answers 200 with an image
// index; either missing means the fallback tag is needed (some registries
// send the header without serving the API, so the header alone is not
// trusted). Mode "api" never writes the tag, "tag" always does.
//
// # The fallback tag
//
// See updateFallback for the protocol and why it keeps every writer's entry
// on registries without If-Match (most of them): each write must land within
// Settle/2 of the read it merges, and a writer only returns after seeing the
// same index with its entry at two reads at least Settle apart.
package push
