package cli

// input is one input of the action and the CLI flag of the same name. This
// table is the single source for both: the flags are registered from it, the
// Actions inputs are read from it, and a test holds action.yml to it (names,
// defaults, descriptions), so the three never drift apart.
type input struct {
	name string
	// def is the default the CLI applies and action.yml declares.
	def string
	// actionDef, when set, is what action.yml declares instead of def (an
	// expression such as ${{ github.token }} the runner substitutes).
	actionDef string
	bool      bool
	required  bool
	secret    bool
	// cliOnly inputs are flags without an action input (the runner has a
	// better source for them).
	cliOnly bool
	// actionOnly inputs exist only in action.yml.
	actionOnly bool
	usage      string
}

// inputs lists every input in the order action.yml declares them.
var inputs = []input{
	{name: "subject-path", required: true,
		usage: "Path of the image archive to attest: docker save, podman/buildah/skopeo docker-archive, crane tarball or OCI-layout archive (oci-archive, buildx type=oci). Several archives: one path or glob per line or comma-separated, as actions/attest reads it (*, ?, [...], ** for any directories, !pattern excludes); each archive is read once. Every platform of a multi-platform archive is attested."},
	{name: "subject-name",
		usage: "Registry repository of the image, with :tag or @digest (e.g. ghcr.io/org/app:1.2.3). Read as docker reads it: a name without registry is on Docker Hub (myorg/app is index.docker.io/myorg/app), and the registry and repository are lowercased (a repository name from github.repository may have capitals). Several images: one name per line, each naming an image of the archives by its tag or digest and attested in its own repository (with a single image in the archives, every name is attested for it). Default: the attested image's first RepoTag; with several images, every image whose RepoTag names a registry repository (the others are skipped)."},
	{name: "subject-digest",
		usage: "Digest (sha256:…) of the pushed image or image index to attach to (one image or index: not with several subject-name lines). Default: resolve subject-name's tag in the registry."},
	{name: "platforms",
		usage: "Platforms of a multi-platform archive to attest, comma- or newline-separated (e.g. linux/amd64,linux/arm64), compared as containerd normalises them (github.com/containerd/platforms): linux/arm64 matches linux/arm64/v8 and linux/aarch64, linux/arm is linux/arm/v7. Default: every platform."},
	{name: "push-to-registry", def: "true", bool: true,
		usage: "Push the signed bundle to the registry as an OCI 1.1 referrer of the image. Default: true. With false the bundle is only written to bundle-path."},
	{name: "push-image", def: "false", bool: true,
		usage: "Push the archive's image to subject-name first, then attest the pushed digest (for workflows that docker save but never push); needs push-to-registry: true and a subject-name with a tag; excludes subject-digest. Default: false."},
	{name: "referrers-mode", def: "auto",
		usage: "How the referrer is made discoverable: auto (use the referrers API when the registry has it, else also maintain the sha256-<digest> fallback tag), api (never write the tag) or tag (always write it). Default: auto."},
	{name: "fallback-settle", def: "3s",
		usage: "Settle of the sha256-<digest> fallback tag, on registries without the referrers API (a duration such as 3s or 1500ms, or seconds; 200ms to 10m): every tag write must land within half of it after the read it merged, and each of the two verification reads waits half of it (plus up to a tenth of that) after the answer before it; where the registry honours If-Match (a probe it refuses just before the write), one read. It trades time for tolerance: a run spends about the settle on the tag, and a registry write slower than half of it is abandoned and retried, while a write a registry commits after the client gave up is only caught if it lands within the verification. Raise it for registries whose writes can take longer; every job writing the same image's tag must use the same value. Default: 3s."},
	{name: "sigstore", def: "auto",
		usage: "Sigstore instance: auto (public repository: public-good, otherwise github), public-good, github or custom (its services from signing-config, or as fulcio-url, rekor-url and tsa-url; and its trusted-root). With signing-key only custom matters: its timestamp authority and Rekor add a signed time and a log entry. Default: auto."},
	{name: "fulcio-url", usage: "Fulcio URL of a custom Sigstore instance (sigstore: custom). Default: none."},
	{name: "rekor-url", usage: "Rekor v2 (rekor-tiles) URL of a custom Sigstore instance (sigstore: custom); needs tsa-url. Always taken to be Rekor v2: a Rekor v1 log is named in signing-config instead. Empty: no transparency log entry. Default: none."},
	{name: "tsa-url", usage: "RFC 3161 timestamp authority URL of a custom Sigstore instance (sigstore: custom); required there with fulcio-url. Default: none."},
	{name: "signing-config",
		usage: "Path of a signing_config.json (v0.2, as cosign signing-config create writes it) for a custom Sigstore instance (sigstore: custom), instead of fulcio-url, rekor-url and tsa-url: it names the Fulcio, the Rekor logs (v1 or v2, by their majorApiVersion) and the timestamp authorities, chosen as cosign chooses them. With a Rekor v1 log a timestamp authority is optional: the log's integrated time is the signed time. Every URL in it is https (plain http only on loopback). Default: none."},
	{name: "trusted-root", usage: "Path of a trusted_root.json for a custom Sigstore instance (sigstore: custom). Default: none."},
	{name: "signing-key",
		usage: "Sign with a key instead of keylessly: a PEM ECDSA private key path, or 'ephemeral' for a throw-away key. Not keyless: the bundle carries a public-key hint and no identity. Default: keyless."},
	{name: "identity-token", cliOnly: true, secret: true,
		usage: "OIDC identity token for keyless signing outside GitHub Actions (also read from SIGSTORE_ID_TOKEN). Default: none."},
	{name: "output", def: "text", cliOnly: true,
		usage: "What the CLI prints on stdout when done (the action's outputs): text (name=value lines) or json. Default: text."},
	{name: "bundle-path",
		usage: "Where to write the Sigstore bundle; in the action, under the workspace or runner.temp (the only directories its container shares with the job). With several images, the first image's; the others are written beside it as <image-id>.sigstore.json (the attestations output lists them all). Default: $RUNNER_TEMP/oci-attest/<image-id>.sigstore.json (a temporary directory outside Actions)."},
	{name: "attested-archive-path",
		usage: "Also write an OCI archive (a tar of an OCI image layout) of the attested images as pushed and their attestations, for carrying them across an air gap (docs/airgap.md): the registry's manifests, configs and layers byte for byte (read from subject-path where it holds them, else downloaded) and the referrers this run attached, so that skopeo copy --preserve-digests, oras cp -r and regctl keep the digests on the far side, oci-attest attach --bundle re-attaches the attestations where the copy dropped them (skopeo), and oci-attest verify --subject-path checks it offline. Written beside, never over, subject-path; needs push-to-registry: true; in the action, under the workspace or runner.temp. Default: not written."},
	{name: "statement-path", usage: "Also write the unsigned in-toto statement to this path (in the action, under the workspace or runner.temp). With several images, the first image's; the others are written beside it as <image-id>.statement.json. Default: not written."},
	{name: "dry-run", def: "false", bool: true,
		usage: "Attest only: print the statement, no signing, no registry access. Default: false."},
	{name: "github-attestations", def: "auto",
		usage: "Also store the attestation in the repository's attestations on GitHub (its REST API, as actions/attest does; needs permissions: attestations: write), where gh attestation verify and the repository's Attestations page find it, and after a push link the image to an organisation's linked artifacts with a storage record (needs artifact-metadata: write; a failure is a warning). auto: in GitHub Actions, for bundles signed keylessly by the public-good or GitHub instance (others are skipped with a log line), and a failure, such as a missing permission, is a warning; true: any bundle, and any failure fails the run; false: never. Default: auto."},
	{name: "github-token", actionDef: "${{ github.token }}", secret: true,
		usage: "Token for ghcr.io when the Docker config has no credentials for it (docker/login-action writes them there), and for GitHub's attestations API (github-attestations). Default: the workflow's GITHUB_TOKEN."},
	{name: "allow-insecure-registry", def: "false", bool: true,
		usage: "Allow plain HTTP to a registry that is not on loopback. Default: false (loopback registries always may use HTTP)."},
	{name: "request-timeout", def: "60s",
		usage: "How long one request to a registry, a Sigstore service (Fulcio, Rekor, timestamp authority, TUF) or GitHub may go without progress before it is abandoned: until its answer starts, and between two reads while a body moves (a slow upload that keeps moving is never cut off). Abandoned and failed requests are retried with backoff, at most 5 times and for at most 3 timeouts (at least 30s) in all. A Go duration (30s, 2m) or seconds. Default: 60s."},
	{name: "show-summary", def: "true", bool: true,
		usage: "Write a job summary with the digests, the log entry and verify commands. Default: true."},
	{name: "runner-temp", actionDef: "${{ runner.temp }}", actionOnly: true,
		usage: "Leave as is: the host path of the runner's temporary directory. The action runs in a container that sees it elsewhere; with this, paths under runner.temp work in inputs and outputs."},
	{name: "workspace", actionDef: "${{ github.workspace }}", actionOnly: true,
		usage: "Leave as is: the host path of the workspace, so that absolute paths under github.workspace work in inputs and outputs."},
}
