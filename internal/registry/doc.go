// Package registry is the registry half of oci-attest (ARCHITECTURE.md,
// "Registry: resolve, bind, push" and "The fallback tag"): it
// resolves the subject image in a registry and binds it to the attested
// archive, optionally pushes the archived image, pushes the Sigstore bundle
// as an OCI 1.1 referrer, maintains the sha256-<hex> referrers fallback tag
// without losing other writers' entries, and lists referrers for verify.
// The package is silent; AttachResult.Reason says which path was taken and
// why, for the caller to log.
//
// # Registry access
//
// Requests go through oras-go's auth client (token and Basic challenges,
// token cache). Credentials come from the Docker config (DOCKER_CONFIG or
// ~/.docker/config.json: credHelpers, then credsStore, then auths — what
// docker/login-action writes), then Options.GitHubToken for ghcr.io (user
// GITHUB_ACTOR), then anonymous. A 401/403 error wraps ErrUnauthorized.
//
// Loopback registries (127.0.0.0/8, ::1, localhost) are spoken to over plain
// HTTP; every other registry over HTTPS unless Options.AllowInsecure is set
// (then plain HTTP). The HTTP client is retry.NewClient's: a guard under
// every request refuses plain HTTP to any other host, so a redirect cannot
// downgrade either, and a redirect that leaves the registry's origin
// (scheme, host and port) is followed without the Authorization and Cookie
// headers (net/http alone keeps them for another port of the same host and
// for subdomains). This package adds only what oras-go's auth client needs:
// a 401 from another origin than the first hop loses its challenge, and
// requests are counted for the fallback tag.
//
// Requests are retried with jittered exponential backoff (200 ms doubling,
// at most 10 s, 5 retries) on 408, 429 and 5xx except 501, and on connection
// errors (resets, EOF, refused). Retry-After is honoured in seconds or as an
// HTTP date, up to 60 s; a longer wait fails at once with the registry's
// answer. oras-go's default policy retries neither resets nor HTTP dates and
// caps Retry-After at 3 s, hence our own policy. A blob upload whose session
// breaks is started again once (after a HEAD shows the blob is not there).
//
// # Subject and binding
//
// ResolveIndex (and Resolve, its one-image case) fetches what the tag or
// digest names, as the registry serves it (media type from Content-Type,
// digest computed from the bytes and checked against a requested digest).
// An image manifest must be the attested image: its config digest the
// image ID and its layers the image's (SameLayers: the same blobs, or
// blobs that decompress to its diffIDs). An index is read as containerd
// and go-containerregistry read it (oci.Selectable, through the registry:
// every entry either resolves some platform to, nested indexes included),
// and every such selectable entry is matched to the archive's images by
// config and layers. The index is bound (and named in the statement) only
// when every selectable entry is an image of the archive; an archive that
// holds only part of it binds its platform manifests alone
// (Subject.Partial). Otherwise ErrBinding names the entry, and nothing is
// pushed.
//
// PushImage pushes exactly the bytes the scan attested: config and layers
// come from oci.Archive.OpenBlob (read again at the offsets the scan
// recorded, checked against its digests; no second tar parser). An image
// whose manifest the archive stores (OCI layouts, Docker ≥25 archives) is
// pushed with it byte for byte, so the registry digest equals the archive's
// manifest digest; other docker archives get a Docker schema 2 manifest over
// their layers as stored (gzip as rootfs.diff.tar.gzip, uncompressed as
// rootfs.diff.tar; an OCI manifest when a layer is zstd). The config bytes
// are never rewritten, so the image ID — what binding checks — is the
// archive's.
// PushIndex pushes an archive's whole image index the same way (every
// manifest it lists, their blobs, then the index's bytes), or refuses an
// index the archive holds only part of (ErrIncomplete, from what the scan
// recorded: oci.Index.Lacks), or one that leads runtimes to an entry that
// is no image of the archive (ErrBinding: the rule binding holds the
// pushed index to, checked before anything is pushed). One adapter (archive.go) shows the archive to
// go-containerregistry's writer for both.
//
// # The referrer and referrers detection
//
// Attach pushes the empty config "{}", the bundle layer and the artifact
// manifest (see buildArtifact; the bytes are pinned by
// testdata/artifact.golden.json) by digest with its own PUT, so oras-go's
// built-in fallback indexing — which has no cross-process protection — never
// runs. Blobs go up as a monolithic POST ?digest= where the registry accepts
// one (one request), else POST then PUT. A manifest PUT answered
// BLOB_UNKNOWN or MANIFEST_BLOB_UNKNOWN (a registry that has not committed a
// blob another job is uploading at the same moment) uploads the blobs the
// answer names again and is retried, four PUTs at most. AttachAll attaches
// one bundle to several subjects at once: an index and its platform
// manifest.
//
// The registry supports referrers when the manifest PUT answers OCI-Subject
// equal to the subject digest and GET /v2/<name>/referrers/<digest> answers
// 200 with an image index. Either missing means the fallback tag is needed:
// some registries send the header without serving the API, so the header
// alone is not trusted; without the header the probe is skipped. Mode "api"
// never writes the tag (Reason warns when the registry did not confirm the
// API), "tag" always does, "auto" decides. On a registry with the API no
// sha256-… tag is created.
//
// # The fallback tag
//
// See updateFallback for the protocol (GET with ETag, merge keeping every
// entry byte for byte, PUT with an If-Match probe that cannot match and then
// the real ETag, two verification reads D = settle/2 apart — one where the
// probe showed If-Match honoured —, bounded jittered retries, ErrForeignTag
// for a tag that is not an OCI index, superseded indexes left alone) and why
// it keeps every writer's entry on registries without If-Match. A failed Attach never writes an index with
// fewer entries than it read: writes are merges, and a failing write is
// retried from a fresh read, never replayed by the transport.
//
// # Registries as measured by the tests
//
//   - olareg v0.1.2 (in-process): referrers API and OCI-Subject; auto mode
//     uses the API in 4 requests. It accepts a monolithic POST (and logs a
//     harmless "superfluous WriteHeader" while doing so).
//   - go-containerregistry pkg/registry v0.22.1 (in-process): no referrers
//     API (404), no OCI-Subject, no ETag, monolithic POST accepted: 7
//     requests with the fallback tag.
//   - distribution v3.1.2 and Debian docker-registry 2.8 (processes): no
//     referrers API, no OCI-Subject; manifests carry an ETag but If-Match is
//     ignored on PUT; no monolithic POST (202, then PUT): 9 requests with the
//     fallback tag, the budget of ARCHITECTURE.md's "Limits and budgets".
//
// cosign v3.1.3 verify-attestation, oras discover --artifact-type, regctl
// artifact list/get and crane read what Attach writes on all four.
package registry
