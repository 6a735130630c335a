package sign

import (
	"context"
	_ "embed" // the GitHub TUF root
	"fmt"

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

// TrustedMaterial returns the trusted root Sign verifies against and the
// later verify command uses: Options.TrustedRootPath when set (required for
// custom), otherwise the instance's root from TUF (Sigstore's repository for
// public-good, GitHub's for github). The instance is resolved as in Sign.
func TrustedMaterial(ctx context.Context, opts Options) (root.TrustedMaterial, error) {
	instance, err := resolveInstance(opts)
	if err != nil {
		return nil, err
	}
	tr, _, err := instanceRoot(ctx, opts, instance, false)
	if err != nil {
		return nil, err
	}
	return tr, nil
}

// instanceRoot loads the trusted root and, when wanted and available, the
// signing config of an instance.
func instanceRoot(ctx context.Context, opts Options, instance string, wantSigningConfig bool) (*root.TrustedRoot, *root.SigningConfig, error) {
	var sc *root.SigningConfig
	if instance == InstanceCustom && opts.SigningConfigPath != "" && wantSigningConfig {
		var err error
		if sc, err = root.NewSigningConfigFromPath(opts.SigningConfigPath); err != nil {
			return nil, nil, fmt.Errorf("%w: reading signing config %s: %w", ErrOptions, opts.SigningConfigPath, err)
		}
	}
	if opts.TrustedRootPath != "" {
		tr, err := root.NewTrustedRootFromPath(opts.TrustedRootPath)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: reading trusted root %s (a trusted_root.json, e.g. from `cosign trusted-root create`): %w", ErrOptions, opts.TrustedRootPath, err)
		}
		if instance != InstancePublicGood || !wantSigningConfig {
			return tr, sc, nil
		}
		// public-good with an explicit root still needs the signing config.
		_, sc, err := tufRoot(ctx, opts, instance, true)
		return tr, sc, err
	}
	if instance == InstanceCustom {
		return nil, nil, &sentinelError{msg: "sigstore instance custom needs trusted-root: the path of the instance's trusted_root.json", sentinel: ErrOptions}
	}
	return tufRoot(ctx, opts, instance, wantSigningConfig)
}

// tufOptions are the TUF client options for an instance.
func tufOptions(opts Options, instance string) (*tuf.Options, error) {
	o := tuf.DefaultOptions()
	if opts.TUFCachePath != "" {
		o.CachePath = opts.TUFCachePath
	}
	o.CacheValidity = 1 // day, as the GitHub CLI does
	f := fetcher.NewDefaultFetcher()
	f.SetHTTPClient(opts.httpClient())
	o.Fetcher = f
	switch instance {
	case InstancePublicGood:
	case InstanceGitHub:
		host, err := githubHost(opts.getenv("GITHUB_SERVER_URL"))
		if err != nil {
			return nil, err
		}
		if host != "githubapp.com" {
			return nil, &sentinelError{
				msg:      fmt.Sprintf("the trusted root of the github instance for %s is not published in a known TUF repository: set trusted-root to its trusted_root.json", host),
				sentinel: ErrOptions,
			}
		}
		o.Root = githubTUFRoot
		o.RepositoryBaseURL = githubTUFMirror
	default:
		return nil, fmt.Errorf("%w: instance %s has no TUF repository", ErrOptions, instance)
	}
	return o, nil
}

func tufRoot(ctx context.Context, opts Options, instance string, wantSigningConfig bool) (*root.TrustedRoot, *root.SigningConfig, error) {
	o, err := tufOptions(opts, instance)
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
	if !wantSigningConfig || instance != InstancePublicGood {
		return tr, nil, nil
	}
	sc, err := root.GetSigningConfig(c)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: getting the signing config from %s: %w", ErrService, o.RepositoryBaseURL, err)
	}
	return tr, sc, nil
}
