package registry

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/credentials"

	"github.com/oci-attest/oci-attest/internal/retry"
)

// ghcrHost is the registry GitHubToken is used for.
const ghcrHost = "ghcr.io"

// Options configure New. The zero value reads the Docker config from
// ~/.docker (DOCKER_CONFIG is read through Getenv) and is anonymous otherwise.
type Options struct {
	// DockerConfig is the directory holding config.json. Empty: DOCKER_CONFIG
	// via Getenv, else $HOME/.docker (HOME via Getenv, else the user's home).
	// credHelpers and credsStore in it are honoured.
	DockerConfig string
	// GitHubToken is used for ghcr.io when the Docker config has no
	// credentials for it. Empty: none.
	GitHubToken string
	// AllowInsecure allows plain HTTP to registries that are not on loopback
	// (127.0.0.0/8, ::1, localhost); loopback registries always use plain
	// HTTP. False: HTTPS only.
	AllowInsecure bool
	// Getenv reads the environment. Nil: an empty environment (the package
	// never calls os.Getenv).
	Getenv func(string) string
	// HTTPClient is the base client (tests, proxies). Its Transport,
	// Timeout, Jar and CheckRedirect are kept; retry.NewClient layers the
	// plain-HTTP guard, credential stripping on cross-origin redirects and
	// the retries on top. Nil: http.DefaultTransport.
	HTTPClient *http.Client
	// RequestTimeout is how long one request may go without progress before
	// it is abandoned (and retried within retry.Policy's bounds): the
	// request-timeout input. Zero: retry.DefaultTimeout.
	RequestTimeout time.Duration
	// UserAgent is sent with every request. Empty: "oci-attest".
	UserAgent string
}

// Client talks to OCI registries: it resolves and binds subjects, pushes
// images and referrers, maintains the referrers fallback tag and lists
// referrers (ARCHITECTURE.md, "Registry: resolve, bind, push").
type Client struct {
	auth          *auth.Client
	allowInsecure bool
}

// New returns a Client configured by opts.
func New(opts Options) (*Client, error) {
	getenv := opts.Getenv
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	cfgDir := opts.DockerConfig
	if cfgDir == "" {
		cfgDir = getenv("DOCKER_CONFIG")
	}
	if cfgDir == "" {
		home := getenv("HOME")
		if home == "" {
			home, _ = os.UserHomeDir()
		}
		if home != "" {
			cfgDir = filepath.Join(home, ".docker")
		}
	}
	var store credentials.Store = credentials.NewMemoryStore()
	if cfgDir != "" {
		cfgPath := filepath.Join(cfgDir, "config.json")
		s, err := credentials.NewStore(cfgPath, credentials.StoreOptions{})
		if err != nil {
			return nil, fmt.Errorf("reading docker config %s: %w", cfgPath, err)
		}
		store = s
	}

	// Below the retries, on every attempt: the challenge rule and the
	// request count; retry.NewClient adds the guard, the origin-scoped
	// redirects and the retries.
	base := &http.Client{}
	if opts.HTTPClient != nil {
		*base = *opts.HTTPClient
	}
	wire := base.Transport
	if wire == nil {
		wire = http.DefaultTransport
	}
	base.Transport = foreignChallenge{base: counting{base: wire}}
	hc := retry.NewClient(retry.ClientOptions{
		Service:           "registry",
		Policy:            retry.Policy{Timeout: opts.RequestTimeout},
		Permanent:         permanent,
		AllowPlainHTTP:    opts.AllowInsecure,
		PlainHTTPSentinel: ErrInsecure,
		Base:              base,
	})
	ua := opts.UserAgent
	if ua == "" {
		ua = "oci-attest"
	}
	a := &auth.Client{
		Client:     hc,
		Cache:      auth.NewCache(),
		Credential: credentialFunc(store, opts.GitHubToken, getenv("GITHUB_ACTOR")),
	}
	a.SetUserAgent(ua)
	return &Client{auth: a, allowInsecure: opts.AllowInsecure}, nil
}

// credentialFunc resolves credentials: the Docker config (credHelpers,
// credsStore, auths), then the GitHub token for ghcr.io, then anonymous.
func credentialFunc(store credentials.Store, githubToken, actor string) auth.CredentialFunc {
	fromStore := credentials.Credential(store)
	return func(ctx context.Context, hostport string) (auth.Credential, error) {
		cred, err := fromStore(ctx, hostport)
		useToken := hostport == ghcrHost && githubToken != ""
		if err != nil && !useToken {
			return auth.EmptyCredential, fmt.Errorf("reading credentials for %s from the docker config: %w", hostport, err)
		}
		if err == nil && cred != auth.EmptyCredential {
			return cred, nil
		}
		// For ghcr.io the GitHub token stands in for a config without
		// credentials, or one whose credential helper is not installed (the
		// action's image has none).
		if useToken {
			if actor == "" {
				actor = "oci-attest"
			}
			return auth.Credential{Username: actor, Password: githubToken}, nil
		}
		return auth.EmptyCredential, nil
	}
}
