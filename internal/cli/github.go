package cli

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/oci-attest/oci-attest/internal/github"
	"github.com/oci-attest/oci-attest/internal/sign"
)

// The github-attestations modes.
const (
	githubAuto  = "auto"
	githubTrue  = "true"
	githubFalse = "false"
)

// githubEnv is what the GitHub stage reads from the environment, captured
// with the inputs so that Validate can check it before any work.
type githubEnv struct {
	Actions    bool   // GITHUB_ACTIONS is "true"
	APIURL     string // GITHUB_API_URL
	ServerURL  string // GITHUB_SERVER_URL
	Repository string // GITHUB_REPOSITORY (OWNER/REPO)
	EventPath  string // GITHUB_EVENT_PATH
}

func readGitHubEnv(getenv func(string) string) githubEnv {
	return githubEnv{
		Actions:    getenv("GITHUB_ACTIONS") == "true",
		APIURL:     getenv("GITHUB_API_URL"),
		ServerURL:  getenv("GITHUB_SERVER_URL"),
		Repository: getenv("GITHUB_REPOSITORY"),
		EventPath:  getenv("GITHUB_EVENT_PATH"),
	}
}

// githubDeps are the GitHub stage's seams for tests. Zero: the client's
// defaults.
type githubDeps struct {
	retry   github.Policy
	timeout time.Duration
}

// githubResult is what the GitHub stage stored, for the summary.
type githubResult struct {
	id    int64
	url   string
	owner string
	// records are the storage records' IDs; recordNote says why none was
	// posted, or that posting failed.
	records    []int64
	recordNote string
}

// validateGitHub checks github-attestations and, when it is true, what the
// upload needs: a token, the repository, the API URL.
func (c *Config) validateGitHub() error {
	switch c.GitHubAttestations {
	case "", "auto":
		c.ghMode = githubAuto
	case "true", "True", "TRUE":
		c.ghMode = githubTrue
	case "false", "False", "FALSE":
		c.ghMode = githubFalse
	default:
		return badInput("github-attestations", "%q is not one of auto, true, false", c.GitHubAttestations)
	}
	if c.DryRun || c.ghMode != githubTrue {
		return nil
	}
	if c.GitHubToken == "" {
		return badInput("github-token", "is empty, and github-attestations: true stores the attestation in GitHub with it: pass a token that has attestations: write (in a workflow the default ${{ github.token }} does with permissions: attestations: write), or set github-attestations: auto")
	}
	if _, err := github.ParseRepository(c.ghEnv.Repository); err != nil {
		return badInput("github-attestations", "true stores the attestation in the repository GITHUB_REPOSITORY names, which the runner sets: %v; outside a workflow set GITHUB_REPOSITORY=OWNER/REPO, or set github-attestations: false", err)
	}
	if _, err := github.ParseAPIURL(c.ghEnv.APIURL); err != nil {
		return badInput("github-attestations", "true stores the attestation through GITHUB_API_URL, which the runner sets to its GitHub's API: %v (plain HTTP only on loopback)", err)
	}
	return nil
}

// storeOnGitHub stores the bundle in the repository's attestations through
// GitHub's API and, after a push, posts the organisation's storage record
// for the image (ARCHITECTURE.md, "GitHub's attestation store"). With
// github-attestations: auto it runs in GitHub Actions for keyless bundles
// of the public-good and GitHub instances only, and a failure is a warning;
// with true any failure fails the run; with false it does nothing. Every
// attested image's bundle is stored (each platform of an index has its
// own); the outputs name the first image's.
func (p *pipeline) storeOnGitHub(ctx context.Context, u *attestResult) error {
	mode, env, s := p.c.ghMode, p.c.ghEnv, u.signed
	if mode == githubFalse {
		return nil
	}
	strict := mode == githubTrue
	skip := func(why string) error {
		p.log.Infof("github-attestations: auto: not stored in GitHub's attestations API: %s", why)
		return nil
	}
	if !strict {
		switch {
		case !env.Actions:
			return skip("not running in GitHub Actions")
		case s.Identity == "":
			return skip("the bundle is key-signed (signing-key), and GitHub stores keyless bundles only (github-attestations: true tries anyway)")
		case s.Instance != sign.InstancePublicGood && s.Instance != sign.InstanceGitHub:
			return skip("it was signed by a " + s.Instance + " Sigstore instance, and GitHub accepts bundles of the public-good and GitHub instances only (github-attestations: true tries anyway)")
		case p.c.GitHubToken == "":
			return skip("github-token is empty")
		}
	}
	fail := func(err error) error {
		if strict {
			return fmt.Errorf("storing the attestation in GitHub (github-attestations: true): %w", err)
		}
		p.log.Warnf("could not store the attestation in GitHub's attestations API: %v (github-attestations: auto, so the run goes on; the bundle is at bundle-path and in the registry)", err)
		return nil
	}
	repo, err := github.ParseRepository(env.Repository)
	if err != nil {
		return fail(fmt.Errorf("GITHUB_REPOSITORY: %w", err))
	}
	client, err := github.New(github.Options{
		APIURL:         env.APIURL,
		Token:          p.c.GitHubToken,
		UserAgent:      "oci-attest/" + version,
		Retry:          p.d.github.retry,
		RequestTimeout: p.c.RequestTimeout,
		Timeout:        p.d.github.timeout,
	})
	if err != nil {
		return fail(fmt.Errorf("GITHUB_API_URL: %w", err))
	}
	id, err := client.CreateAttestation(ctx, repo, s.Bundle)
	if err != nil {
		return fail(githubAdvice(err, repo))
	}
	url := github.AttestationURL(env.ServerURL, repo, id)
	u.github = &githubResult{id: id, url: url, owner: repo.Owner}
	p.log.Infof("stored the attestation of %s in GitHub's attestations API: %s", u.image.ImageID, url)
	if u.n == 0 {
		p.log.SetOutput("attestation-id", strconv.FormatInt(id, 10))
		p.log.SetOutput("attestation-url", url)
	}
	// One storage record per registry subject: the first image of its
	// binding posts it (the platforms of an index share one).
	if u.bind == nil || len(u.bind.units) == 0 || u.bind.units[0].n == u.n {
		p.storageRecord(ctx, client, repo, u)
	}
	return nil
}

// githubAdvice adds to an error of the API client what to do about it.
func githubAdvice(err error, repo github.Repository) error {
	switch {
	case errors.Is(err, github.ErrForbidden):
		return fmt.Errorf("%w: the token may not store attestations: give the job permissions: attestations: write (with id-token: write and contents: read), or pass a github-token that has it", err)
	case errors.Is(err, github.ErrUnauthorized):
		return fmt.Errorf("%w: GitHub refused github-token: pass a valid token (in a workflow the default is ${{ github.token }})", err)
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
func (p *pipeline) storageRecord(ctx context.Context, client *github.Client, repo github.Repository, u *attestResult) {
	g, s := u.github, u.subject
	note := func(why string) {
		g.recordNote = why
		p.log.Infof("storage record: not posted: %s", why)
	}
	if u.attached == nil {
		note("nothing was pushed to a registry (push-to-registry: false)")
		return
	}
	owner := ""
	if path := p.c.ghEnv.EventPath; path != "" {
		var err error
		if owner, err = github.OwnerType(path); err != nil {
			note(fmt.Sprintf("the owner %s's kind is unknown: %v", repo.Owner, err))
			return
		}
	}
	switch owner {
	case github.OwnerOrganization:
	case github.OwnerUser:
		note(repo.Owner + " is a user account, and storage records are for organisations' repositories")
		return
	default:
		note("the event payload (GITHUB_EVENT_PATH) does not say whether " + repo.Owner + " is an organisation")
		return
	}
	version := ""
	if u.bind != nil {
		version = u.bind.target.Tag
	}
	rec := github.StorageRecord{
		Name:    s.Repository.Name(),
		Digest:  s.Descriptor.Digest.String(),
		Version: version,
		// The registry's origin, always https as actions/attest sends it
		// (plain-HTTP loopback registries exist only in tests).
		RegistryURL: "https://" + s.Repository.Registry,
	}
	ids, err := client.CreateStorageRecord(ctx, repo.Owner, rec)
	if err != nil {
		g.recordNote = "posting it failed (see the warning in the log)"
		p.log.Warnf("could not post the storage record that links %s@%s to %s's linked artifacts: %v (the token needs permissions: artifact-metadata: write; the attestation itself is stored)", rec.Name, rec.Digest, repo.Owner, err)
		return
	}
	g.records = ids
	p.log.Infof("storage record %s: %s@%s is in %s's linked artifacts", joinIDs(ids), rec.Name, rec.Digest, repo.Owner)
}

// joinIDs is "1, 2".
func joinIDs(ids []int64) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.FormatInt(id, 10)
	}
	return strings.Join(s, ", ")
}

// githubSummary is the job summary's part for the GitHub stage: a row
// linking the attestation, a row for the storage record.
func githubSummary(g *githubResult, row func(k, v string)) {
	if g == nil {
		return
	}
	// The URL is ours (server URL, repository, a numeric ID); escaped all
	// the same, as everything in the summary.
	row("GitHub attestation", fmt.Sprintf("<a href=\"%s\">%s</a>", attr(g.url), md(g.url)))
	switch {
	case len(g.records) > 0:
		row("Storage record", md(joinIDs(g.records))+" (the image is in "+code(g.owner)+"'s linked artifacts)")
	case g.recordNote != "":
		row("Storage record", "not posted: "+md(g.recordNote))
	}
}
