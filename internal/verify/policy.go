package verify

import (
	"fmt"
	"strings"
)

// certPolicy is the part of the signer policy sigstore-go's identity check
// does not cover: the certificate's Source Repository URI and Build Signer
// URI extensions (Fulcio's OIDs 1.3.6.1.4.1.57264.1.12 and .9), as
// `gh attestation verify --repo/--signer-workflow` check them.
type certPolicy struct {
	repository string // full URL, e.g. https://github.com/owner/repo; "" not checked
	workflow   string // full URL without @ref; "" not checked; the certificate's must be it, "@" and a ref
}

// newCertPolicy normalises Options.Repository and Options.Workflow.
func newCertPolicy(repository, workflow string) (certPolicy, error) {
	var p certPolicy
	if repository != "" {
		p.repository = githubURL(strings.TrimSuffix(repository, "/"))
		if strings.Count(strings.TrimPrefix(strings.TrimPrefix(p.repository, "https://"), "http://"), "/") < 2 {
			return certPolicy{}, fmt.Errorf("repository %q: want owner/repo or https://host/owner/repo", repository)
		}
	}
	if workflow != "" {
		w := workflow
		if i := strings.Index(workflow, "@refs/"); i >= 0 {
			w = workflow[:i] // the ref is not compared (docs/verify.md "What it checks")
		} else if strings.Contains(workflow, "@") {
			return certPolicy{}, fmt.Errorf("workflow %q: what follows the workflow file's @ must be a ref (refs/heads/…, refs/tags/…), or leave @ out", workflow)
		}
		switch {
		case strings.Contains(w, "://"):
		case strings.HasPrefix(w, ".github/") || !strings.Contains(w, "/"):
			if p.repository == "" {
				return certPolicy{}, fmt.Errorf("workflow %q is relative: give the repository too, or the full path owner/repo/.github/workflows/FILE", workflow)
			}
			if !strings.HasPrefix(w, ".github/") {
				w = ".github/workflows/" + w
			}
			w = p.repository + "/" + w
		default:
			w = githubURL(w)
		}
		p.workflow = w
	}
	return p, nil
}

// githubURL turns "owner/repo[/…]" into "https://github.com/owner/repo[/…]"
// and "host.tld/owner/repo" into "https://host.tld/owner/repo"; full URLs are
// kept.
func githubURL(s string) string {
	if strings.Contains(s, "://") {
		return s
	}
	first, _, _ := strings.Cut(s, "/")
	if strings.Contains(first, ".") {
		return "https://" + s
	}
	return "https://github.com/" + s
}

func (p certPolicy) empty() bool { return p.repository == "" && p.workflow == "" }

// check compares the certificate's extensions with the policy.
func (p certPolicy) check(sourceRepository, buildSigner string) error {
	if p.repository != "" && !strings.EqualFold(sourceRepository, p.repository) {
		if sourceRepository == "" {
			return fmt.Errorf("the certificate has no source repository; want %s", p.repository)
		}
		return fmt.Errorf("the certificate's source repository is %s, want %s", sourceRepository, p.repository)
	}
	if p.workflow != "" {
		// The workflow file, then "@" and a ref: a file named
		// "release.yml@x.yml" is another workflow than release.yml.
		ref, ok := strings.CutPrefix(buildSigner, p.workflow+"@")
		switch {
		case buildSigner == "":
			return fmt.Errorf("the certificate has no build signer (workflow) URI; want %s", p.workflow)
		case !ok:
			return fmt.Errorf("the certificate's signing workflow is %s, want %s", buildSigner, p.workflow)
		case !strings.HasPrefix(ref, "refs/"):
			return fmt.Errorf("the certificate's signing workflow is %s: what follows %s@ is no ref (refs/…), so it is another workflow file", buildSigner, p.workflow)
		}
	}
	return nil
}
