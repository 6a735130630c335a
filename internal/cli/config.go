package cli

import (
	"io"
	"strconv"
	"strings"
	"time"

	digest "github.com/opencontainers/go-digest"
	"github.com/sethvargo/go-githubactions"

	"github.com/oci-attest/oci-attest/internal/oci"
	"github.com/oci-attest/oci-attest/internal/pipeline"
	"github.com/oci-attest/oci-attest/internal/ref"
	"github.com/oci-attest/oci-attest/internal/registry"
)

// Config is every input of one attest run, read once (from INPUT_* in GitHub
// Actions, from flags on the command line) and validated before any work.
type Config struct {
	SubjectPath           string
	SubjectName           string
	SubjectDigest         digest.Digest
	Platforms             string
	PushToRegistry        bool
	PushImage             bool
	ReferrersMode         string
	FallbackSettle        string
	Sigstore              string
	FulcioURL             string
	RekorURL              string
	TSAURL                string
	SigningConfig         string
	TrustedRoot           string
	SigningKey            string
	IdentityToken         string
	BundlePath            string
	AttestedArchivePath   string
	StatementPath         string
	DryRun                bool
	GitHubToken           string
	AllowInsecureRegistry bool
	// RequestTimeout is request-timeout parsed: every remote request's
	// progress deadline (internal/retry).
	RequestTimeout     time.Duration
	ShowSummary        bool
	GitHubAttestations string
	// Output is the CLI's stdout format for the outputs: text or json.
	Output string

	// Actions is true when the inputs came from a GitHub Actions runner.
	Actions bool
	// paths maps host paths to the action container's view of them.
	paths pathMap

	// Derived by Validate:
	// archives are subject-path's files, globs expanded, in order.
	archives []string
	// subjects are subject-name's names parsed (with subject-digest as the
	// digest of the one name); empty without subject-name.
	subjects []ref.Reference
	// platforms are the selected platforms; empty: every platform.
	platforms []oci.Platform
	// mode is referrers-mode parsed.
	mode registry.Mode
	// settle is fallback-settle parsed (zero: the registry package's
	// default).
	settle time.Duration
	// ghMode is github-attestations parsed; ghEnv is what the GitHub stage
	// reads from the environment.
	ghMode pipeline.GitHubMode
	ghEnv  pipeline.GitHubEnv
	// getenv is the environment the Config was read from: Validate checks
	// the signing options in it, as Sign will see them.
	getenv func(string) string
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
	c.ghEnv, c.getenv = pipeline.ReadGitHubEnv(getenv), getenv
	c.paths = pathMap{
		{host: vals["runner-temp"], container: getenv("RUNNER_TEMP")},
		{host: vals["workspace"], container: getenv("GITHUB_WORKSPACE")},
	}
	for _, p := range []*string{&c.BundlePath, &c.StatementPath, &c.AttestedArchivePath, &c.TrustedRoot, &c.SigningConfig, &c.SigningKey} {
		*p = c.paths.toContainer(*p)
	}
	// subject-path is a list: each path or pattern is translated.
	var ps []string
	for _, item := range splitList(c.SubjectPath) {
		neg := strings.HasPrefix(item, "!")
		item = c.paths.toContainer(strings.TrimPrefix(item, "!"))
		if neg {
			item = "!" + item
		}
		ps = append(ps, item)
	}
	c.SubjectPath = strings.Join(ps, "\n")
	return c, nil
}

// readFlagsConfig parses the command-line flags, named like the inputs.
// Their help goes to stdout.
func readFlagsConfig(args []string, getenv func(string) string, stdout io.Writer) (*Config, error) {
	fs := newFlagSet("oci-attest", stdout, func() string {
		return "Usage: oci-attest [flags]          attest, sign and push an image archive\n" +
			"       oci-attest verify IMAGE     verify attestations of a registry image (verify --help)\n" +
			"       oci-attest attach --bundle FILE IMAGE\n" +
			"                                   verify a bundle and attach it to IMAGE (attach --help)\n" +
			"       oci-attest demo [--keep]    run the whole flow offline\n" +
			"       oci-attest version\n\n" +
			"Flags (the action's inputs, described in full in " + docsInputs + "):\n"
	})
	vals := map[string]*string{}
	for _, in := range inputs {
		if in.actionOnly {
			continue
		}
		v := new(string)
		vals[in.name] = v
		h := attestHelp[in.name]
		fs.arg(in.name, h.arg)
		if in.bool {
			// Accept --dry-run as well as --dry-run=true.
			fs.Var(boolFlag{v}, in.name, h.help)
			*v = in.def
			continue
		}
		fs.StringVar(v, in.name, in.def, h.help)
	}
	if err := parseFlags(fs, args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, unexpectedArgument(fs, args)
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
	c, err := configFrom(m)
	if err != nil {
		return nil, err
	}
	c.ghEnv, c.getenv = pipeline.ReadGitHubEnv(getenv), getenv
	return c, nil
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
		SubjectPath:    v["subject-path"],
		SubjectName:    v["subject-name"],
		Platforms:      v["platforms"],
		ReferrersMode:  v["referrers-mode"],
		FallbackSettle: v["fallback-settle"],
		Sigstore:       v["sigstore"],
		FulcioURL:      v["fulcio-url"],
		RekorURL:       v["rekor-url"],
		TSAURL:         v["tsa-url"],
		SigningConfig:  v["signing-config"],
		TrustedRoot:    v["trusted-root"],
		SigningKey:     v["signing-key"],
		IdentityToken:  v["identity-token"],
		BundlePath:     v["bundle-path"],
		StatementPath:  v["statement-path"],
		GitHubToken:    v["github-token"],
		Output:         v["output"],

		GitHubAttestations: v["github-attestations"],
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
	c.AttestedArchivePath = v["attested-archive-path"]
	if d := v["subject-digest"]; d != "" {
		c.SubjectDigest = digest.Digest(d)
	}
	if c.RequestTimeout, err = parseTimeout(v["request-timeout"]); err != nil {
		return nil, err
	}
	return c, nil
}

// maxTimeout bounds duration inputs: beyond an hour a "timeout" only hides a
// hang from the job's own limit.
const maxTimeout = time.Hour

// parseTimeout reads request-timeout.
func parseTimeout(v string) (time.Duration, error) {
	return parseDuration("request-timeout", v, time.Nanosecond, maxTimeout, "")
}

// parseDuration reads a duration input: a Go duration (30s, 1m30s, 1500ms)
// or a number of seconds, within [lo, hi] (why says what the bounds are
// for). Empty: zero (the default applies).
func parseDuration(name, v string, lo, hi time.Duration, why string) (time.Duration, error) {
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		n, nerr := strconv.ParseUint(v, 10, 32)
		if nerr != nil {
			return 0, badInput(name, "%q is not a duration: use a number of seconds or a Go duration such as 30s, 2m or 1500ms", v)
		}
		d = time.Duration(n) * time.Second
	}
	if d < lo || d > hi {
		if why != "" {
			why = " (" + why + ")"
		}
		if lo <= time.Nanosecond {
			return 0, badInput(name, "%q is out of range: use a duration above 0 and at most %v%s", v, hi, why)
		}
		return 0, badInput(name, "%q is outside %v to %v%s", v, lo, hi, why)
	}
	return d, nil
}
