package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	digest "github.com/opencontainers/go-digest"
	"github.com/sethvargo/go-githubactions"
)

// Config is every input of one attest run, read once (from INPUT_* in GitHub
// Actions, from flags on the command line) and validated before any work.
type Config struct {
	SubjectPath           string
	SubjectName           string
	SubjectDigest         digest.Digest
	PushToRegistry        bool
	PushImage             bool
	ReferrersMode         string
	Sigstore              string
	FulcioURL             string
	RekorURL              string
	TSAURL                string
	TrustedRoot           string
	SigningKey            string
	IdentityToken         string
	BundlePath            string
	StatementPath         string
	DryRun                bool
	GitHubToken           string
	AllowInsecureRegistry bool
	ShowSummary           bool
	// Output is the CLI's stdout format for the outputs: text or json.
	Output string

	// Actions is true when the inputs came from a GitHub Actions runner.
	Actions bool
	// paths maps host paths to the action container's view of them.
	paths pathMap
}

// readActionsConfig reads the inputs the runner passes as INPUT_<NAME>
// variables. Empty inputs take the defaults in the inputs table (the runner
// applies action.yml's defaults itself; this covers callers that do not).
func readActionsConfig(getenv func(string) string) (*Config, error) {
	a := githubactions.New(githubactions.WithGetenv(getenv), githubactions.WithWriter(io.Discard))
	vals := map[string]string{}
	for _, in := range inputs {
		if in.cliOnly {
			continue
		}
		v := strings.TrimSpace(a.GetInput(in.name))
		if v == "" {
			v = in.def
		}
		vals[in.name] = v
	}
	c, err := configFrom(vals)
	if err != nil {
		return nil, err
	}
	c.Actions = true
	c.paths = pathMap{
		{host: vals["runner-temp"], container: getenv("RUNNER_TEMP")},
		{host: vals["workspace"], container: getenv("GITHUB_WORKSPACE")},
	}
	for _, p := range []*string{&c.SubjectPath, &c.BundlePath, &c.StatementPath, &c.TrustedRoot, &c.SigningKey} {
		*p = c.paths.toContainer(*p)
	}
	return c, nil
}

// readFlagsConfig parses the command-line flags, named like the inputs.
func readFlagsConfig(args []string, getenv func(string) string, stderr io.Writer) (*Config, error) {
	fs := flag.NewFlagSet("oci-attest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: oci-attest [flags]          attest, sign and push an image archive\n"+
			"       oci-attest verify IMAGE     verify attestations of a registry image\n"+
			"       oci-attest demo             run the whole flow offline\n"+
			"       oci-attest version\n\nFlags (the action's inputs):\n")
		fs.PrintDefaults()
	}
	vals := map[string]*string{}
	for _, in := range inputs {
		if in.actionOnly {
			continue
		}
		v := new(string)
		vals[in.name] = v
		def := in.def
		if in.bool {
			// Accept --dry-run as well as --dry-run=true.
			fs.Var(boolFlag{v}, in.name, in.usage)
			*v = def
			continue
		}
		fs.StringVar(v, in.name, def, in.usage)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %w", errUsage, err)
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("%w: unexpected argument %q (inputs are flags: --subject-path FILE)", errUsage, fs.Arg(0))
	}
	m := map[string]string{}
	for k, v := range vals {
		m[k] = strings.TrimSpace(*v)
	}
	if m["identity-token"] == "" {
		m["identity-token"] = getenv("SIGSTORE_ID_TOKEN")
	}
	if m["github-token"] == "" {
		m["github-token"] = getenv("GITHUB_TOKEN")
	}
	return configFrom(m)
}

// boolFlag is a string-backed boolean flag so that both inputs and flags go
// through parseBool's one set of accepted spellings.
type boolFlag struct{ v *string }

func (b boolFlag) String() string {
	if b.v == nil {
		return ""
	}
	return *b.v
}
func (b boolFlag) Set(s string) error { *b.v = s; return nil }
func (b boolFlag) IsBoolFlag() bool   { return true }

// parseBool accepts the YAML 1.2 core schema spellings @actions/core's
// getBooleanInput accepts.
func parseBool(name, v string) (bool, error) {
	switch v {
	case "true", "True", "TRUE":
		return true, nil
	case "false", "False", "FALSE":
		return false, nil
	}
	return false, badInput(name, "%q is not a boolean: use true or false", v)
}

func configFrom(v map[string]string) (*Config, error) {
	c := &Config{
		SubjectPath:   v["subject-path"],
		SubjectName:   v["subject-name"],
		ReferrersMode: v["referrers-mode"],
		Sigstore:      v["sigstore"],
		FulcioURL:     v["fulcio-url"],
		RekorURL:      v["rekor-url"],
		TSAURL:        v["tsa-url"],
		TrustedRoot:   v["trusted-root"],
		SigningKey:    v["signing-key"],
		IdentityToken: v["identity-token"],
		BundlePath:    v["bundle-path"],
		StatementPath: v["statement-path"],
		GitHubToken:   v["github-token"],
		Output:        v["output"],
	}
	var err error
	for _, b := range []struct {
		name string
		dst  *bool
	}{
		{"push-to-registry", &c.PushToRegistry},
		{"push-image", &c.PushImage},
		{"dry-run", &c.DryRun},
		{"allow-insecure-registry", &c.AllowInsecureRegistry},
		{"show-summary", &c.ShowSummary},
	} {
		if *b.dst, err = parseBool(b.name, v[b.name]); err != nil {
			return nil, err
		}
	}
	if d := v["subject-digest"]; d != "" {
		c.SubjectDigest = digest.Digest(d)
	}
	return c, nil
}

// Validate checks every input before any work is done. Errors name the input
// and say what to do.
func (c *Config) Validate() error {
	if c.SubjectPath == "" {
		return badInput("subject-path", "required: the path of the image archive (e.g. the file docker save -o wrote)")
	}
	fi, err := os.Stat(c.SubjectPath)
	switch {
	case errors.Is(err, os.ErrNotExist) && !c.paths.shared(c.SubjectPath):
		return badInput("subject-path", "%q does not exist in the action's container, which sees only the workspace and runner.temp of the job: save the archive there (docker save IMAGE -o \"$RUNNER_TEMP/image.tar\", subject-path: ${{ runner.temp }}/image.tar)", c.paths.toHost(c.SubjectPath))
	case errors.Is(err, os.ErrNotExist):
		return badInput("subject-path", "%q does not exist: save the image first (docker save IMAGE -o %s)", c.SubjectPath, c.SubjectPath)
	case err != nil:
		return badInput("subject-path", "%v", err)
	case fi.IsDir():
		return badInput("subject-path", "%q is a directory: give the image archive file (for an OCI layout directory, tar it: tar -cf image.tar -C DIR .)", c.SubjectPath)
	case !fi.Mode().IsRegular():
		return badInput("subject-path", "%q is not a regular file", c.SubjectPath)
	}
	if c.SubjectName != "" {
		if _, err := parseSubjectName(c.SubjectName); err != nil {
			return badInput("subject-name", "%q is not an image reference (%v): use registry/repository[:tag], e.g. ghcr.io/org/app:1.0", c.SubjectName, err)
		}
	}
	if c.SubjectDigest != "" {
		if err := c.SubjectDigest.Validate(); err != nil || c.SubjectDigest.Algorithm() != digest.SHA256 {
			return badInput("subject-digest", "%q is not a sha256 digest: use sha256:<64 hex digits> (docker buildx's metadata or crane digest print it)", c.SubjectDigest)
		}
	}
	switch c.Output {
	case "", "text", "json":
	default:
		return badInput("output", "%q is not one of text, json", c.Output)
	}
	switch c.ReferrersMode {
	case "auto", "api", "tag":
	default:
		return badInput("referrers-mode", "%q is not one of auto, api, tag", c.ReferrersMode)
	}
	switch c.Sigstore {
	case "auto", "public-good", "github":
	case "custom":
		services := c.RekorURL != "" || c.TSAURL != ""
		switch {
		case c.SigningKey == "" && (c.FulcioURL == "" || c.TrustedRoot == ""):
			return badInput("sigstore", "custom needs fulcio-url and trusted-root (and tsa-url, optionally rekor-url)")
		case c.SigningKey == "" && !services:
			return badInput("sigstore", "custom needs tsa-url (and optionally rekor-url): a signature needs a signed time from a timestamp authority or a transparency log")
		case c.SigningKey == "" && c.TSAURL == "":
			return badInput("tsa-url", "required with rekor-url: a custom Rekor is taken to be Rekor v2 (rekor-tiles), whose entries carry no signed time, so the timestamp comes from the timestamp authority")
		case services && c.TrustedRoot == "":
			return badInput("trusted-root", "required with rekor-url or tsa-url: the bundle is verified against the instance's trusted_root.json before it is published")
		}
	default:
		return badInput("sigstore", "%q is not one of auto, public-good, github, custom", c.Sigstore)
	}
	for _, u := range []struct{ name, val string }{{"fulcio-url", c.FulcioURL}, {"rekor-url", c.RekorURL}, {"tsa-url", c.TSAURL}} {
		if u.val == "" {
			continue
		}
		p, err := url.Parse(u.val)
		if err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" {
			return badInput(u.name, "%q is not an http(s) URL", u.val)
		}
		if c.Sigstore != "custom" {
			// Ignoring it would sign with another instance than the one
			// meant, perhaps publishing to the public transparency log.
			return badInput(u.name, "is only used with sigstore: custom (sigstore is %s): set sigstore: custom, or remove %s", c.Sigstore, u.name)
		}
	}
	if c.TrustedRoot != "" {
		if _, err := os.Stat(c.TrustedRoot); err != nil {
			return badInput("trusted-root", "%v", err)
		}
	}
	if c.SigningKey != "" && c.SigningKey != "ephemeral" {
		if _, err := os.Stat(c.SigningKey); err != nil {
			return badInput("signing-key", "%v: give a PEM ECDSA private key file, or 'ephemeral'", err)
		}
	}
	if c.PushImage && !c.PushToRegistry {
		return badInput("push-image", "needs push-to-registry: true (push-image pushes the image so that the attestation can be attached to it)")
	}
	if c.PushImage && c.SubjectDigest != "" {
		return badInput("push-image", "and subject-digest exclude each other: push-image attests the digest it pushes; give subject-digest only for an image another step pushed")
	}
	for _, p := range []struct{ name, val string }{{"bundle-path", c.BundlePath}, {"statement-path", c.StatementPath}} {
		if p.val == "" {
			continue
		}
		if !c.paths.shared(p.val) {
			return badInput(p.name, "%q is outside the workspace and runner.temp, the only directories the action's container shares with the job: later steps would never see the file; write it under ${{ runner.temp }} or the workspace", c.paths.toHost(p.val))
		}
		if fi, err := os.Stat(p.val); err == nil && fi.IsDir() {
			return badInput(p.name, "%q is a directory: give a file path", p.val)
		}
		if _, err := os.Stat(filepath.Dir(p.val)); err != nil {
			return badInput(p.name, "directory of %q: %v", p.val, err)
		}
	}
	return nil
}

// parseSubjectName parses a registry/repository[:tag] reference, with
// Docker's defaults (docker.io/library) for short names. A digest in the
// name is allowed and used as subject-digest.
func parseSubjectName(s string) (name.Reference, error) {
	return name.ParseReference(s)
}

// pathMap translates between the host's paths and the action container's:
// a docker action sees the workspace as /github/workspace and runner.temp as
// /github/runner_temp, while users write ${{ runner.temp }}/image.tar and
// later steps read our outputs on the host.
type pathMap []struct{ host, container string }

func (m pathMap) toContainer(p string) string { return m.translate(p, true) }
func (m pathMap) toHost(p string) string      { return m.translate(p, false) }

// inContainer reports whether host and container paths differ: the program
// runs as a docker action, whose container sees only some of the job's
// directories.
func (m pathMap) inContainer() bool {
	for _, e := range m {
		if e.host != "" && e.container != "" && filepath.Clean(e.host) != filepath.Clean(e.container) {
			return true
		}
	}
	return false
}

// shared reports whether p (a path as the program sees it) is one the job's
// other steps see too: always outside a container; inside one, relative
// paths (the working directory is the workspace) and paths under the
// container's view of the workspace or runner.temp.
func (m pathMap) shared(p string) bool {
	if !m.inContainer() || !filepath.IsAbs(p) {
		return true
	}
	for _, e := range m {
		if e.container == "" {
			continue
		}
		if rel, err := filepath.Rel(e.container, p); err == nil && rel != ".." && !strings.HasPrefix(rel, "../") {
			return true
		}
	}
	return false
}

func (m pathMap) translate(p string, toContainer bool) string {
	if p == "" || !filepath.IsAbs(p) {
		return p
	}
	for _, e := range m {
		from, to := e.container, e.host
		if toContainer {
			from, to = e.host, e.container
		}
		if from == "" || to == "" {
			continue
		}
		if rel, err := filepath.Rel(from, p); err == nil && rel != ".." && !strings.HasPrefix(rel, "../") {
			return filepath.Join(to, rel)
		}
	}
	return p
}
