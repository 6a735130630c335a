package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/oci-attest/oci-attest/internal/github"
	"github.com/oci-attest/oci-attest/internal/sign"
)

// GitHubResult is what the GitHub stage did for one unit: stored the
// attestation (ID, URL), skipped it (Skipped says why), or failed where a
// failure is a warning (Err, GitHubAuto).
type GitHubResult struct {
	Skipped string
	// Forcible is true when GitHubAlways would have tried anyway.
	Forcible bool
	Err      error
	ID       int64
	URL      string
	Owner    string
	// Records are the storage records' IDs; RecordNote says why none was
	// posted, or that posting failed.
	Records    []int64
	RecordNote string
}

// Stored reports whether the attestation was stored.
func (g *GitHubResult) Stored() bool { return g != nil && g.ID != 0 }

// store stores the bundle in the repository's attestations through GitHub's
// API and, after a push, posts the organisation's storage record for the
// image (ARCHITECTURE.md, "GitHub's attestation store"). GitHubAuto stores
// keyless bundles of the public-good and GitHub instances in GitHub Actions
// only, and a failure is a warning (the result's Err); GitHubAlways fails
// the run. Every unit's bundle is stored (each platform of an index has its
// own); the binding's first unit posts the one storage record of its
// subject.
func (r *run) store(ctx context.Context, u *UnitResult, binding []*UnitResult) error {
	g := r.opts.GitHub
	if g.Mode == GitHubNever {
		return nil
	}
	if why, forcible := r.skipGitHub(u.Signed); why != "" {
		u.GitHub = &GitHubResult{Skipped: why, Forcible: forcible}
		return nil
	}
	res, client, repo, err := r.createAttestation(ctx, u)
	if err != nil {
		if g.Mode == GitHubAlways {
			return &StageError{Stage: StageGitHub, Err: err}
		}
		u.GitHub = &GitHubResult{Err: err}
		return nil
	}
	u.GitHub = res
	r.rep.Infof("stored the attestation of %s in GitHub's attestations API: %s", u.Image.ImageID, res.URL)
	if binding[0] == u {
		r.storageRecord(ctx, client, repo, u)
	}
	return nil
}

// skipGitHub says why GitHubAuto stores nothing for a bundle ("": store it),
// and whether GitHubAlways would try anyway.
func (r *run) skipGitHub(s *sign.Result) (string, bool) {
	g := r.opts.GitHub
	switch {
	case g.Mode != GitHubAuto:
		return "", false
	case !g.Env.Actions:
		return "not running in GitHub Actions", false
	case s.Identity == "":
		return "the bundle is key-signed, and GitHub stores keyless bundles only", true
	case s.Instance != sign.InstancePublicGood && s.Instance != sign.InstanceGitHub:
		return "it was signed by a " + s.Instance + " Sigstore instance, and GitHub accepts bundles of the public-good and GitHub instances only", true
	case g.Token == "":
		return "no GitHub token was given", false
	}
	return "", false
}

// createAttestation posts the unit's bundle to the repository's
// attestations.
func (r *run) createAttestation(ctx context.Context, u *UnitResult) (*GitHubResult, *github.Client, github.Repository, error) {
	g := r.opts.GitHub
	repo, err := github.ParseRepository(g.Env.Repository)
	if err != nil {
		return nil, nil, repo, fmt.Errorf("GITHUB_REPOSITORY: %w", err)
	}
	client, err := github.New(github.Options{
		APIURL:         g.Env.APIURL,
		Token:          g.Token,
		UserAgent:      g.UserAgent,
		Retry:          g.Retry,
		RequestTimeout: g.RequestTimeout,
		Timeout:        g.Timeout,
	})
	if err != nil {
		return nil, nil, repo, fmt.Errorf("GITHUB_API_URL: %w", err)
	}
	id, err := client.CreateAttestation(ctx, repo, u.Signed.Bundle)
	if err != nil {
		return nil, nil, repo, githubAdvice(err, repo)
	}
	return &GitHubResult{ID: id, URL: github.AttestationURL(g.Env.ServerURL, repo, id), Owner: repo.Owner}, client, repo, nil
}

// githubAdvice adds to an error of the API client what to do about it.
func githubAdvice(err error, repo github.Repository) error {
	switch {
	case errors.Is(err, github.ErrForbidden):
		return fmt.Errorf("%w: the token may not store attestations: give the job permissions: attestations: write (with id-token: write and contents: read), or pass a token that has it", err)
	case errors.Is(err, github.ErrUnauthorized):
		return fmt.Errorf("%w: GitHub refused the token: pass a valid one (in a workflow the default is ${{ github.token }})", err)
	case errors.Is(err, github.ErrNotFound):
		return fmt.Errorf("%w: the token cannot see the repository %s (GITHUB_REPOSITORY)", err, repo)
	case errors.Is(err, github.ErrInvalid):
		return fmt.Errorf("%w: GitHub stores keyless bundles of the public-good or GitHub Sigstore instance, signed by a workflow of %s", err, repo)
	case errors.Is(err, github.ErrRateLimited):
		return fmt.Errorf("%w: rate limited after retries: run the job again later", err)
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%w: check that GITHUB_API_URL is the API of your GitHub, or run the job again", err)
	}
	return err
}

// storageRecord posts the storage record that links the pushed image to the
// organisation's linked artifacts, as actions/attest does after a push:
// organisations' repositories only (the owner's type comes from the event
// payload); a failure is a warning, never a failed run.
func (r *run) storageRecord(ctx context.Context, client *github.Client, repo github.Repository, u *UnitResult) {
	g, s := u.GitHub, u.Subject
	note := func(why string) {
		g.RecordNote = why
		r.rep.Infof("storage record: not posted: %s", why)
	}
	if u.Attached == nil {
		note("nothing was pushed to a registry")
		return
	}
	switch owner, err := r.ownerType(); {
	case err != nil:
		note(fmt.Sprintf("the owner %s's kind is unknown: %v", repo.Owner, err))
		return
	case owner == github.OwnerUser:
		note(repo.Owner + " is a user account, and storage records are for organisations' repositories")
		return
	case owner != github.OwnerOrganization:
		note("the event payload (GITHUB_EVENT_PATH) does not say whether " + repo.Owner + " is an organisation")
		return
	}
	rec := github.StorageRecord{
		Name:    s.Repository.Name(),
		Digest:  s.Descriptor.Digest.String(),
		Version: u.Target.Tag,
		// The registry's origin, always https as actions/attest sends it
		// (plain-HTTP loopback registries exist only in tests).
		RegistryURL: "https://" + s.Repository.Registry,
	}
	ids, err := client.CreateStorageRecord(ctx, repo.Owner, rec)
	if err != nil {
		g.RecordNote = "posting it failed (see the warning in the log)"
		r.rep.Warnf("could not post the storage record that links %s@%s to %s's linked artifacts: %v (the token needs permissions: artifact-metadata: write; the attestation itself is stored)", rec.Name, rec.Digest, repo.Owner, err)
		return
	}
	g.Records = ids
	r.rep.Infof("storage record %s: %s@%s is in %s's linked artifacts", JoinIDs(ids), rec.Name, rec.Digest, repo.Owner)
}

// ownerType is the repository owner's kind from the event payload ("" when
// there is none).
func (r *run) ownerType() (string, error) {
	if path := r.opts.GitHub.Env.EventPath; path != "" {
		return github.OwnerType(path)
	}
	return "", nil
}

// JoinIDs is "1, 2".
func JoinIDs(ids []int64) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.FormatInt(id, 10)
	}
	return strings.Join(s, ", ")
}
