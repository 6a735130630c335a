package sign

import (
	"context"
	_ "embed" // the GitHub TUF root
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/oci-attest/oci-attest/internal/retry"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/tuf"
	"github.com/theupdateframework/go-tuf/v2/metadata/fetcher"
)

// githubTUFRoot is the trust anchor (root.json, version 3) of GitHub's TUF
// repository at https://tuf-repo.github.com, which distributes the trusted
// root of GitHub's Sigstore instance. It is the same file the GitHub CLI
// embeds for `gh attestation verify`; TUF updates from it to the current root.
//
//go:embed github_tuf_root.json
var githubTUFRoot []byte

// githubTUFMirror is GitHub's TUF repository.
const githubTUFMirror = "https://tuf-repo.github.com"

// TrustOptions say where a trusted root comes from (TrustedMaterial). The
// zero value is public-good's root from Sigstore's TUF repository.
type TrustOptions struct {
	// Instance is "public-good" (default, also for ""), "github" or
	// "custom". "auto" is not accepted here: verifying needs to be told
	// whose root to trust.
	Instance string
	// TrustedRootPath is a trusted_root.json. Required for custom; for the
	// other instances it replaces the root fetched from TUF (air-gapped
	// verification, GitHub Enterprise hosts other than github.com).
	TrustedRootPath string
	// TUFCachePath is where TUF metadata is cached (default
	// $HOME/.sigstore/root, or a temp directory when HOME is unset).
	TUFCachePath string
	// ServerURL is the GitHub server whose instance "github" means (default
	// https://github.com).
	ServerURL string
	// HTTPClient fetches TUF metadata, through the retry policy above its
	// Transport. Nil: http.DefaultTransport.
	HTTPClient *http.Client
	// RequestTimeout is how long one request to the TUF repository may go
	// without progress (the request-timeout input). Zero:
	// retry.DefaultTimeout.
	RequestTimeout time.Duration

	retries int // as Options.retries
}

// trust is the TrustOptions of a signing run with the resolved instance.
func (o Options) trust(instance string) TrustOptions {
	return TrustOptions{
		Instance:        instance,
		TrustedRootPath: o.TrustedRootPath,
		TUFCachePath:    o.TUFCachePath,
		ServerURL:       o.getenv("GITHUB_SERVER_URL"),
		HTTPClient:      o.HTTPClient,
		RequestTimeout:  o.RequestTimeout,
		retries:         o.retries,
	}
}

func (o TrustOptions) instance() string {
	if o.Instance == "" {
		return InstancePublicGood
	}
	return o.Instance
}

// httpClient is the TUF repository's client: go-tuf v2.4.2's DefaultFetcher
// tries once (its backoff is set to one try) and builds requests without a
// context, so the retries and the deadlines are the transport's and the run's
// context is bound to its requests.
//
// A host the resolver does not know is not retried: it is how a machine
// without network access answers, and retrying it only delays the advice
// to give a trusted root file (TrustedMaterialFrom). Other remotes keep
// retrying it, as a DNS blip.
func (o TrustOptions) httpClient(ctx context.Context) *http.Client {
	return retry.NewClient(retry.ClientOptions{
		Service: serviceTUF, Policy: policy(o.RequestTimeout, o.retries), FailOnStatus: true,
		Context: ctx, Base: o.HTTPClient, Permanent: func(err error) bool { return unknownHost(err) != "" },
	})
}

// unknownHost is the host of a "no such host" answer of the resolver in
// err's chain ("" when there is none).
func unknownHost(err error) string {
	var de *net.DNSError
	if errors.As(err, &de) && de.IsNotFound {
		return de.Name
	}
	return ""
}

// offlineFetcher is a TUF fetcher for a client that must use its cache
// only: every download fails at once.
type offlineFetcher struct{}

func (offlineFetcher) DownloadFile(string, int64, time.Duration) ([]byte, error) {
	return nil, errOffline
}

// errOffline is offlineFetcher's error.
var errOffline = errors.New("offline: the TUF repository is not reachable")

// TrustedMaterial returns the trusted root a bundle of the instance is
// verified against: TrustedRootPath when set (required for custom),
// otherwise the instance's root from TUF (Sigstore's repository for
// public-good, GitHub's for github).
func TrustedMaterial(ctx context.Context, opts TrustOptions) (root.TrustedMaterial, error) {
	switch opts.instance() {
	case InstancePublicGood, InstanceGitHub, InstanceCustom:
	default:
		return nil, optionError("Instance", "%q is not one of public-good, github, custom", opts.Instance)
	}
	tr, _, err := instanceRoot(ctx, opts, false)
	if err != nil {
		return nil, err
	}
	return tr, nil
}

// TrustedMaterialFrom is TrustedMaterial that also says where the root came
// from, for reports: "file PATH", "TUF repository URL", or — when the
// repository cannot be reached and the TUF cache holds metadata that has not
// expired — "TUF cache at DIR (offline: …)", which is then what is used.
func TrustedMaterialFrom(ctx context.Context, opts TrustOptions) (root.TrustedMaterial, string, error) {
	if opts.TrustedRootPath != "" {
		tm, err := TrustedMaterial(ctx, opts)
		return tm, "file " + opts.TrustedRootPath, err
	}
	tm, err := TrustedMaterial(ctx, opts)
	if err == nil {
		o, _ := tufOptions(ctx, opts)
		return tm, "TUF repository " + o.RepositoryBaseURL, nil
	}
	var oe *OptionError
	if errors.As(err, &oe) {
		return nil, "", err
	}
	o, oerr := tufOptions(ctx, opts)
	if oerr != nil {
		return nil, "", err
	}
	if host := unknownHost(err); host != "" {
		// Said once and short: the resolver does not know the host.
		err = fmt.Errorf("%w: updating TUF metadata from %s: %s: no such host", ErrService, o.RepositoryBaseURL, host)
	}
	// The cache only: no second round of requests to a repository that
	// just failed.
	o.ForceCache, o.Context, o.Fetcher = true, ctx, offlineFetcher{}
	c, cerr := tuf.New(o)
	if errors.Is(cerr, errOffline) {
		// Nothing cached: the client had to download even the root.
		return nil, "", fmt.Errorf("%w (and no TUF cache at %s)", err, o.CachePath)
	}
	if cerr != nil {
		return nil, "", fmt.Errorf("%w (and no usable TUF cache at %s: %w)", err, o.CachePath, cerr)
	}
	tr, cerr := root.GetTrustedRoot(c)
	if cerr != nil {
		return nil, "", fmt.Errorf("%w (and no cached trusted root at %s: %w)", err, o.CachePath, cerr)
	}
	return tr, fmt.Sprintf("TUF cache at %s (offline: %v)", o.CachePath, err), nil
}

// instanceRoot loads the trusted root of an instance and, when wanted, its
// signing config from TUF (public-good's; a custom instance's is
// customSigningConfig).
func instanceRoot(ctx context.Context, opts TrustOptions, wantSigningConfig bool) (*root.TrustedRoot, *root.SigningConfig, error) {
	instance := opts.instance()
	if opts.TrustedRootPath != "" {
		tr, err := root.NewTrustedRootFromPath(opts.TrustedRootPath)
		if err != nil {
			return nil, nil, optionError("TrustedRootPath", "reading %s (a trusted_root.json, e.g. from `cosign trusted-root create`): %v", opts.TrustedRootPath, err)
		}
		if instance != InstancePublicGood || !wantSigningConfig {
			return tr, nil, nil
		}
		// public-good with an explicit root still needs the signing config.
		_, sc, err := tufRoot(ctx, opts, true)
		return tr, sc, err
	}
	if instance == InstanceCustom {
		return nil, nil, optionError("TrustedRootPath", "the custom Sigstore instance needs its trusted_root.json")
	}
	return tufRoot(ctx, opts, wantSigningConfig)
}

// tufOptions are the TUF client options for an instance.
func tufOptions(ctx context.Context, opts TrustOptions) (*tuf.Options, error) {
	o := tuf.DefaultOptions()
	if opts.TUFCachePath != "" {
		o.CachePath = opts.TUFCachePath
	}
	o.CacheValidity = 1 // day, as the GitHub CLI does
	f := fetcher.NewDefaultFetcher()
	f.SetHTTPClient(opts.httpClient(ctx))
	o.Fetcher = f
	switch opts.instance() {
	case InstancePublicGood:
	case InstanceGitHub:
		host, err := githubHost(opts.ServerURL)
		if err != nil {
			return nil, err
		}
		if host != "githubapp.com" {
			return nil, optionError("TrustedRootPath", "the trusted root of the github instance for %s is not published in a known TUF repository: give its trusted_root.json", host)
		}
		o.Root = githubTUFRoot
		o.RepositoryBaseURL = githubTUFMirror
	default:
		return nil, fmt.Errorf("%w: instance %s has no TUF repository", ErrOptions, opts.instance())
	}
	return o, nil
}

func tufRoot(ctx context.Context, opts TrustOptions, wantSigningConfig bool) (*root.TrustedRoot, *root.SigningConfig, error) {
	o, err := tufOptions(ctx, opts)
	if err != nil {
		return nil, nil, err
	}
	o.Context = ctx
	c, err := tuf.New(o)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: updating TUF metadata from %s: %w", ErrService, o.RepositoryBaseURL, err)
	}
	tr, err := root.GetTrustedRoot(c)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: getting trusted_root.json from %s: %w", ErrService, o.RepositoryBaseURL, err)
	}
	if !wantSigningConfig || opts.instance() != InstancePublicGood {
		return tr, nil, nil
	}
	sc, err := root.GetSigningConfig(c)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: getting the signing config from %s: %w", ErrService, o.RepositoryBaseURL, err)
	}
	return tr, sc, nil
}
