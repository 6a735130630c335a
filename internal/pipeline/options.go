package pipeline

import (
	"time"

	"github.com/oci-attest/oci-attest/internal/github"
	"github.com/oci-attest/oci-attest/internal/registry"
	"github.com/oci-attest/oci-attest/internal/sign"
)

// Reporter is where a run says what it does: the Actions log or the
// terminal (internal/actions' Logger). Arguments come from archives and
// registries: the Reporter cleans them.
type Reporter interface {
	Infof(format string, args ...any)
	Warnf(format string, args ...any)
	// Group starts a titled section that EndGroup ends.
	Group(title string)
	EndGroup()
	// Mask registers a secret that must never be shown.
	Mask(secret string)
}

// Options are how Run works. The zero value binds nothing and signs with
// sign's defaults.
type Options struct {
	// Registry configures the registry client (created when a binding
	// needs the registry).
	Registry registry.Options
	// Push attaches each bundle to its registry subject as a referrer.
	Push bool
	// PushImage pushes the archive's image (or its whole index) to the
	// binding's name first, and binds the pushed digest.
	PushImage bool
	// Attach is how referrers are pushed (referrers mode, fallback settle);
	// its PredicateType is set by Run.
	Attach registry.AttachOptions
	// Sign are the signing options of every unit.
	Sign sign.Options
	// BundlePath is where the first unit's bundle is written; the others'
	// beside it as <image-id>.sigstore.json. Empty: TempDir/oci-attest/, else
	// a new temporary directory.
	BundlePath string
	// StatementPath is where the first unit's statement is written, the
	// others' beside it as <image-id>.statement.json. Empty: not written.
	StatementPath string
	// CarryPath is where the OCI archive of the attested images as pushed
	// and the referrers attached to them is written (carry.go), once they
	// are attached. Empty: not written.
	CarryPath string
	// TempDir is the runner's temporary directory (RUNNER_TEMP).
	TempDir string
	// TempBase is where the new temporary directory for the bundles goes
	// when there is neither BundlePath nor TempDir: $TMPDIR, read through
	// the injected environment. Empty: os.TempDir().
	TempBase string
	// HandBack gives a file or directory the run created to the job's user
	// (a docker action runs as root). Nil: nothing to do.
	HandBack func(path string) error
	// GitHub is the GitHub stage's configuration.
	GitHub GitHubOptions
}

// ReadOptions are how ReadArchives reports progress. The zero value logs
// hashing progress for archives over 256 MiB every 2 s.
type ReadOptions struct {
	// ProgressThreshold is the archive size above which hashing progress is
	// logged (0: 256 MiB; negative: every archive).
	ProgressThreshold int64
	// ProgressInterval is how often (0: oci's default).
	ProgressInterval time.Duration
	// TempDir is where an archive compressed as a whole keeps its blobs
	// once a push needs them (oci.ScanOptions.TempDir; released by
	// oci.Archive.Close). Empty: the system's temporary directory.
	TempDir string
}

// GitHubMode says when the GitHub stage stores attestations.
type GitHubMode int

// The GitHub stage's modes.
const (
	// GitHubAuto stores keyless bundles of the public-good and GitHub
	// instances in GitHub Actions, and a failure is a warning.
	GitHubAuto GitHubMode = iota
	// GitHubAlways stores every bundle, and a failure fails the run.
	GitHubAlways
	// GitHubNever stores nothing.
	GitHubNever
)

// GitHubEnv is what the GitHub stage reads from the runner's environment.
type GitHubEnv struct {
	Actions    bool   // GITHUB_ACTIONS is "true"
	APIURL     string // GITHUB_API_URL
	ServerURL  string // GITHUB_SERVER_URL
	Repository string // GITHUB_REPOSITORY (OWNER/REPO)
	EventPath  string // GITHUB_EVENT_PATH
}

// ReadGitHubEnv reads GitHubEnv through getenv.
func ReadGitHubEnv(getenv func(string) string) GitHubEnv {
	return GitHubEnv{
		Actions:    getenv("GITHUB_ACTIONS") == "true",
		APIURL:     getenv("GITHUB_API_URL"),
		ServerURL:  getenv("GITHUB_SERVER_URL"),
		Repository: getenv("GITHUB_REPOSITORY"),
		EventPath:  getenv("GITHUB_EVENT_PATH"),
	}
}

// GitHubOptions configure the GitHub stage (ARCHITECTURE.md, "GitHub's
// attestation store").
type GitHubOptions struct {
	Mode  GitHubMode
	Env   GitHubEnv
	Token string
	// UserAgent, Retry, RequestTimeout and Timeout are the API client's
	// (github.Options; zero: its defaults).
	UserAgent      string
	Retry          github.Policy
	RequestTimeout time.Duration
	Timeout        time.Duration
}
