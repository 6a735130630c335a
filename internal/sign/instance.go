package sign

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/sigstore/sigstore-go/pkg/root"

	"github.com/oci-attest/oci-attest/internal/retry"
)

// API major versions this package (sigstore-go v1.3.0) signs with; services
// in a signing config with other versions are skipped. Functions, not
// package variables, so nothing can change them.
func fulcioAPIVersions() []uint32 { return []uint32{1} }
func rekorAPIVersions() []uint32  { return []uint32{1, 2} }
func tsaAPIVersions() []uint32    { return []uint32{1} }

// services are the Sigstore endpoints one signature uses.
type services struct {
	Fulcio string
	Rekor  []rekorService
	TSA    []string // full URLs, with path
}

type rekorService struct {
	URL     string
	Version uint32
}

// resolveInstance maps Options.Instance to a concrete instance. "auto" reads
// the repository visibility from the event payload at GITHUB_EVENT_PATH like
// actions/attest: "public" → public-good, anything else → github. Without an
// event payload (not in GitHub Actions) auto means public-good.
func resolveInstance(opts Options) (string, error) {
	switch opts.Instance {
	case InstancePublicGood, InstanceGitHub, InstanceCustom:
		return opts.Instance, nil
	case "", InstanceAuto:
	default:
		return "", optionError("Instance", "%q is not one of auto, public-good, github, custom", opts.Instance)
	}
	path := opts.getenv("GITHUB_EVENT_PATH")
	if path == "" {
		return InstancePublicGood, nil
	}
	public, err := repositoryIsPublic(path)
	if err != nil {
		return "", err
	}
	if public {
		return InstancePublicGood, nil
	}
	return InstanceGitHub, nil
}

// repositoryIsPublic reads repository.visibility (or, in older payloads,
// repository.private) from a GitHub event payload. A payload without either
// is treated as not public, as actions/attest does.
func repositoryIsPublic(path string) (bool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return false, optionError("Instance", "reading the event payload GITHUB_EVENT_PATH to pick the Sigstore instance (choose public-good or github to skip this): %v", err)
	}
	var ev struct {
		Repository *struct {
			Visibility string `json:"visibility"`
			Private    *bool  `json:"private"`
		} `json:"repository"`
	}
	if err := json.Unmarshal(b, &ev); err != nil {
		return false, optionError("Instance", "parsing the event payload %s to pick the Sigstore instance (choose public-good or github to skip this): %v", path, err)
	}
	switch {
	case ev.Repository == nil:
		return false, nil
	case ev.Repository.Visibility != "":
		return ev.Repository.Visibility == "public", nil
	case ev.Repository.Private != nil:
		return !*ev.Repository.Private, nil
	}
	return false, nil
}

// githubHost is the host whose Sigstore instance signs for GITHUB_SERVER_URL:
// githubapp.com for github.com, the server's own host otherwise (GHE.com
// tenants), as actions/attest derives it.
func githubHost(serverURL string) (string, error) {
	if serverURL == "" {
		serverURL = "https://github.com"
	}
	u, err := url.Parse(serverURL)
	if err != nil || u.Hostname() == "" {
		return "", &sentinelError{msg: fmt.Sprintf("GITHUB_SERVER_URL %q is not a URL", serverURL), sentinel: ErrOptions}
	}
	host := strings.ToLower(u.Hostname())
	if host == "github.com" {
		host = "githubapp.com"
	}
	return host, nil
}

// githubServices are the github instance's endpoints: Fulcio and a timestamp
// authority, no transparency log.
func githubServices(serverURL string) (services, error) {
	host, err := githubHost(serverURL)
	if err != nil {
		return services{}, err
	}
	return services{
		Fulcio: "https://fulcio." + host,
		TSA:    []string{"https://timestamp." + host + "/api/v1/timestamp"},
	}, nil
}

// customServices are the custom instance's endpoints from the URL options,
// falling back to a signing config for the ones left empty.
func customServices(opts Options, sc *root.SigningConfig, now time.Time) (services, error) {
	var s services
	if sc != nil {
		var err error
		if s, err = signingConfigServices(sc, now); err != nil {
			return services{}, err
		}
	}
	if opts.FulcioURL != "" {
		u, err := serviceURL("FulcioURL", opts.FulcioURL)
		if err != nil {
			return services{}, err
		}
		s.Fulcio = strings.TrimRight(u.String(), "/")
	}
	if opts.RekorURL != "" {
		u, err := serviceURL("RekorURL", opts.RekorURL)
		if err != nil {
			return services{}, err
		}
		v := opts.RekorVersion
		if v == 0 {
			v = 2
		}
		if v != 1 && v != 2 {
			return services{}, &sentinelError{msg: fmt.Sprintf("rekor version %d is not supported: use 1 or 2", v), sentinel: ErrOptions}
		}
		s.Rekor = []rekorService{{URL: strings.TrimRight(u.String(), "/"), Version: v}}
	}
	if opts.TSAURL != "" {
		u, err := serviceURL("TSAURL", opts.TSAURL)
		if err != nil {
			return services{}, err
		}
		if u.Path == "" || u.Path == "/" {
			u.Path = "/api/v1/timestamp"
		}
		s.TSA = []string{u.String()}
	}
	return s, nil
}

// serviceURL parses the URL in Options field field: an http(s) URL, plain
// HTTP only to a loopback host (the transport's guard refuses the rest
// again, under redirects).
func serviceURL(field, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, optionError(field, "%q is not an http(s) URL", raw)
	}
	if u.Scheme == "http" && !retry.IsLoopback(u.Host) {
		return nil, optionError(field, "%q is plain HTTP to a host that is not loopback: give its https:// URL (a token or a signature would cross the network in clear)", raw)
	}
	return u, nil
}

// signingConfigServices selects Fulcio, Rekor and TSA services from a
// signing config with sigstore-go's helpers, for the API versions this
// package supports.
func signingConfigServices(sc *root.SigningConfig, now time.Time) (services, error) {
	var s services
	fulcio, err := root.SelectService(sc.FulcioCertificateAuthorityURLs(), fulcioAPIVersions(), now)
	if err != nil {
		return services{}, fmt.Errorf("%w: selecting a Fulcio from the signing config: %w", ErrService, err)
	}
	s.Fulcio = fulcio.URL
	if len(sc.RekorLogURLs()) > 0 {
		rekors, err := root.SelectServices(sc.RekorLogURLs(), sc.RekorLogURLsConfig(), rekorAPIVersions(), now)
		if err != nil {
			return services{}, fmt.Errorf("%w: selecting Rekor logs from the signing config: %w", ErrService, err)
		}
		for _, r := range rekors {
			s.Rekor = append(s.Rekor, rekorService{URL: r.URL, Version: r.MajorAPIVersion})
		}
	}
	if len(sc.TimestampAuthorityURLs()) > 0 {
		tsas, err := root.SelectServices(sc.TimestampAuthorityURLs(), sc.TimestampAuthorityURLsConfig(), tsaAPIVersions(), now)
		if err != nil {
			return services{}, fmt.Errorf("%w: selecting timestamp authorities from the signing config: %w", ErrService, err)
		}
		for _, t := range tsas {
			s.TSA = append(s.TSA, t.URL)
		}
	}
	return s, nil
}

// check reports services that cannot produce a verifiable keyless bundle.
func (s services) check(instance string) error {
	if s.Fulcio == "" {
		return optionError("FulcioURL", "the Sigstore instance %s has no Fulcio URL", instance)
	}
	if len(s.Rekor) == 0 && len(s.TSA) == 0 {
		return optionError("TSAURL", "the Sigstore instance %s has neither a Rekor nor a timestamp authority (a short-lived certificate needs a signed time)", instance)
	}
	if len(s.TSA) == 0 {
		for _, r := range s.Rekor {
			if r.Version == 2 {
				return optionError("TSAURL", "the Sigstore instance %s: Rekor v2 gives no integrated time, so a timestamp authority is needed too", instance)
			}
		}
	}
	return nil
}
