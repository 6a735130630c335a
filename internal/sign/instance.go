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

// services are the Sigstore endpoints one signature uses.
type services struct {
	Fulcio string
	Rekor  []rekorService
	TSA    []string // full URLs, with path
	// fromConfig: selected from the custom instance's signing config, not
	// given as URLs (errors then name SigningConfigPath).
	fromConfig bool
}

// field is the Options field behind a kind of service, for OptionError:
// the URL option, or the signing config that chose it.
func (s services) field(urlField string) string {
	if s.fromConfig {
		return "SigningConfigPath"
	}
	return urlField
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

// customServices are the custom instance's endpoints: those its signing
// config selects, or those of the URL options (Check refuses both at once).
// A RekorURL is Rekor v2 (rekor-tiles); a Rekor v1 log is named in a
// signing config, by its majorApiVersion.
func customServices(opts Options, sc *root.SigningConfig, now time.Time) (services, error) {
	if sc != nil {
		s, err := signingConfigServices(sc, now)
		if err != nil {
			return services{}, optionError("SigningConfigPath", "%s: %v", opts.SigningConfigPath, err)
		}
		s.fromConfig = true
		return s, nil
	}
	var s services
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
		s.Rekor = []rekorService{{URL: strings.TrimRight(u.String(), "/"), Version: 2}}
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

// serviceURL parses the URL in Options field field with guardedURL; its
// refusal is an OptionError naming field.
func serviceURL(field, raw string) (*url.URL, error) {
	u, err := guardedURL(raw)
	if err != nil {
		return nil, optionError(field, "%v", err)
	}
	return u, nil
}

// guardedURL parses the URL of a signing service: an http(s) URL, plain
// HTTP only to a loopback host (retry.IsLoopback), so that the workflow's
// token and what is signed never cross a network in clear; no opt-in, a
// private instance serves HTTPS. The client's guard refuses the rest
// again, under redirects.
func guardedURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("%q is not an http(s) URL", raw)
	}
	if u.Scheme == "http" && !retry.IsLoopback(u.Host) {
		return nil, fmt.Errorf("%q is plain HTTP to a host that is not loopback: give its https:// URL (a token or a signature would cross the network in clear)", raw)
	}
	return u, nil
}

// check reports services that cannot produce a verifiable keyless bundle:
// a Fulcio and a signed time, from a timestamp authority or a Rekor v1 log
// (its integrated time, vouched for by its signed entry timestamp; a Rekor
// v2 entry carries none).
func (s services) check(instance string) error {
	if s.Fulcio == "" {
		return optionError(s.field("FulcioURL"), "the Sigstore instance %s has no Fulcio URL", instance)
	}
	if len(s.Rekor) == 0 && len(s.TSA) == 0 {
		return optionError(s.field("TSAURL"), "the Sigstore instance %s has neither a Rekor nor a timestamp authority (a short-lived certificate needs a signed time)", instance)
	}
	return s.checkRekorV2(instance)
}

// checkRekorV2 refuses a Rekor v2 log without a timestamp authority.
func (s services) checkRekorV2(instance string) error {
	if len(s.TSA) > 0 {
		return nil
	}
	for _, r := range s.Rekor {
		if r.Version == 2 {
			return optionError(s.field("TSAURL"), "the Sigstore instance %s: Rekor v2 gives no integrated time, so a timestamp authority is needed too", instance)
		}
	}
	return nil
}
