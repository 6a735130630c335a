package cli

import (
	"fmt"
	"io"
	"strings"
)

// docsInputs is where each input is described in full (the action.yml
// descriptions hold the same text).
const docsInputs = "docs/inputs.md"

// flagHelp is the one line `--help` shows for a flag: its value's name and
// what it is for. The full reference is the inputs table's usage
// (action.yml) and docs/inputs.md; a test holds every flag to an entry here.
type flagHelp struct{ arg, help string }

// attestHelp is the --help line of every attest flag (the action's inputs).
var attestHelp = map[string]flagHelp{
	"subject-path":            {"FILE", "image archive(s) to attest: paths or globs, comma- or newline-separated"},
	"subject-name":            {"NAME", "registry image to attach to, e.g. ghcr.io/org/app:1.0 (default: the archive's tag)"},
	"subject-digest":          {"DIGEST", "digest of the pushed image or index (default: resolve the tag)"},
	"platforms":               {"LIST", "platforms of a multi-platform archive to attest (default: all)"},
	"push-to-registry":        {"", "attach the bundle to the image as an OCI referrer (default true)"},
	"push-image":              {"", "push the archive's image to subject-name first (default false)"},
	"referrers-mode":          {"MODE", "auto, api or tag: how the referrer is found (default auto)"},
	"fallback-settle":         {"DURATION", "settle of the sha256-<digest> fallback tag (default 3s)"},
	"sigstore":                {"INSTANCE", "auto, public-good, github or custom (default auto)"},
	"fulcio-url":              {"URL", "Fulcio of a custom Sigstore instance"},
	"rekor-url":               {"URL", "Rekor v2 of a custom Sigstore instance"},
	"tsa-url":                 {"URL", "timestamp authority of a custom Sigstore instance"},
	"signing-config":          {"FILE", "signing_config.json of a custom Sigstore instance (not with the URLs)"},
	"trusted-root":            {"FILE", "trusted_root.json of a custom Sigstore instance"},
	"signing-key":             {"FILE", "sign with this ECDSA key, or 'ephemeral' (not keyless)"},
	"identity-token":          {"TOKEN", "OIDC token for keyless signing (or SIGSTORE_ID_TOKEN)"},
	"output":                  {"FORMAT", "what stdout shows when done: text or json (default text)"},
	"bundle-path":             {"FILE", "where to write the Sigstore bundle (default: a temporary file)"},
	"attested-archive-path":   {"FILE", "also write an OCI archive of the images as pushed and their attestations"},
	"statement-path":          {"FILE", "also write the unsigned statement here"},
	"dry-run":                 {"", "print the statement(s); sign and push nothing"},
	"github-attestations":     {"MODE", "auto, true or false: also store in GitHub's attestations (default auto)"},
	"github-token":            {"TOKEN", "token for ghcr.io and GitHub's API (default: GITHUB_TOKEN)"},
	"allow-insecure-registry": {"", "allow plain HTTP to a registry off loopback"},
	"request-timeout":         {"DURATION", "how long a request may make no progress (default 60s)"},
	"show-summary":            {"", "write the job summary in Actions (default true)"},
}

// writeHelp writes a command's help: its header, then one line per flag.
func writeHelp(w io.Writer, header string, flags []helpLine) {
	var b strings.Builder
	b.WriteString(header)
	width := 0
	for _, f := range flags {
		width = max(width, len(f.left()))
	}
	for _, f := range flags {
		fmt.Fprintf(&b, "  %-*s  %s\n", width, f.left(), f.help)
	}
	_, _ = io.WriteString(w, b.String())
}

// helpLine is one flag of a help text.
type helpLine struct{ name, arg, help string }

func (h helpLine) left() string {
	if h.arg == "" {
		return "--" + h.name
	}
	return "--" + h.name + " " + h.arg
}
