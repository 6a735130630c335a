package cli

import (
	"github.com/oci-attest/oci-attest/internal/github"
	"github.com/oci-attest/oci-attest/internal/pipeline"
)

// validateGitHub checks github-attestations and, when it is true, what the
// upload needs: a token, the repository, the API URL (ARCHITECTURE.md,
// "GitHub's attestation store").
func (c *Config) validateGitHub() error {
	switch c.GitHubAttestations {
	case "", "auto":
		c.ghMode = pipeline.GitHubAuto
	case "true", "True", "TRUE":
		c.ghMode = pipeline.GitHubAlways
	case "false", "False", "FALSE":
		c.ghMode = pipeline.GitHubNever
	default:
		return badInput("github-attestations", "%q is not one of auto, true, false", c.GitHubAttestations)
	}
	if c.DryRun || c.ghMode != pipeline.GitHubAlways {
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
