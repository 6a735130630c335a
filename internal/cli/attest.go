package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/oci-attest/oci-attest/internal/actions"
	"github.com/oci-attest/oci-attest/internal/display"
	"github.com/oci-attest/oci-attest/internal/github"
	"github.com/oci-attest/oci-attest/internal/pipeline"
	"github.com/oci-attest/oci-attest/internal/registry"
)

// seams are what tests replace in an attest run. The zero value means the
// defaults.
type seams struct {
	// read overrides when and how often hashing progress is logged.
	read pipeline.ReadOptions
	// githubRetry and githubTimeout override the GitHub API client's.
	githubRetry   github.Policy
	githubTimeout time.Duration
}

// runAttest is the attest command: the pipeline's stages (internal/pipeline),
// then the outputs — to the runner in Actions, on stdout for the CLI.
func runAttest(ctx context.Context, c *Config, log *actions.Logger, stdout io.Writer) error {
	if _, err := attestRun(ctx, c, log, stdout, seams{}); err != nil {
		return err
	}
	if c.Actions || c.DryRun {
		return nil // the runner has the outputs; a dry run printed the statement
	}
	return actions.PrintOutputs(stdout, c.Output, log.Outputs())
}

// attestRun reads the archives, plans, and runs the pipeline (or, for a dry
// run, prints the statements), setting the outputs and the summary from
// what it did. Errors come back as advice naming inputs (advice.go).
func attestRun(ctx context.Context, c *Config, log *actions.Logger, stdout io.Writer, s seams) (*pipeline.Result, error) {
	log.Infof("oci-attest %s: attesting %s", version, strings.Join(c.archives, ", "))
	log.Mask(c.GitHubToken)
	log.Mask(c.IdentityToken)
	names := splitLines(c.SubjectName)
	for i, s := range c.subjects {
		if s.Lowercased {
			log.Infof("subject-name %s is %s: registry repositories are lowercase", names[i], s)
		}
	}
	ro := s.read
	ro.TempDir = c.getenv("RUNNER_TEMP")
	archives, err := pipeline.ReadArchives(ctx, c.archives, ro, log)
	defer func() {
		for _, a := range archives {
			a.Close()
		}
	}()
	if err != nil {
		return nil, c.advice(err)
	}
	plan, err := pipeline.NewPlan(archives, pipeline.Input{Names: c.subjects, Platforms: c.platforms, SubjectDigest: c.SubjectDigest})
	if err != nil {
		return nil, c.advice(err)
	}
	for _, n := range plan.Notes {
		log.Infof("%s", n)
	}
	log.SetOutput("image-id", plan.Units[0].Image.ImageID.String())
	if c.DryRun {
		return nil, c.dryRun(plan, log, stdout)
	}
	res, err := pipeline.Run(ctx, plan, c.pipelineOptions(s), log)
	logGitHub(log, res)
	log.SetOutputs(res, c.paths.toHost, false)
	if err != nil {
		return res, c.advice(err)
	}
	if c.ShowSummary {
		log.WriteSummary(res, c.paths.toHost)
	}
	return res, nil
}

// pipelineOptions are the pipeline's options the inputs give.
func (c *Config) pipelineOptions(s seams) pipeline.Options {
	ua := "oci-attest/" + version
	return pipeline.Options{
		Registry: registry.Options{
			// In a docker action, a DOCKER_CONFIG the job set under
			// runner.temp may still name the host's path.
			DockerConfig:   c.paths.toContainer(c.getenv("DOCKER_CONFIG")),
			GitHubToken:    c.GitHubToken,
			AllowInsecure:  c.AllowInsecureRegistry,
			RequestTimeout: c.RequestTimeout,
			Getenv:         c.getenv,
			UserAgent:      ua,
		},
		Push:          c.PushToRegistry,
		PushImage:     c.PushImage,
		Attach:        registry.AttachOptions{Mode: c.mode, Settle: c.settle},
		Sign:          c.signOptions(c.getenv),
		BundlePath:    c.BundlePath,
		StatementPath: c.StatementPath,
		CarryPath:     c.AttestedArchivePath,
		TempDir:       c.getenv("RUNNER_TEMP"),
		TempBase:      c.getenv("TMPDIR"),
		HandBack:      c.handBack,
		GitHub: pipeline.GitHubOptions{
			Mode:           c.ghMode,
			Env:            c.ghEnv,
			Token:          c.GitHubToken,
			UserAgent:      ua,
			Retry:          s.githubRetry,
			RequestTimeout: c.RequestTimeout,
			Timeout:        s.githubTimeout,
		},
	}
}

// dryRun prints the statement that would be signed, indented — one JSON
// array of them when several images are attested — and writes them to
// statement-path.
func (c *Config) dryRun(plan *pipeline.Plan, log *actions.Logger, stdout io.Writer) error {
	sts, err := pipeline.Statements(plan, c.pipelineOptions(seams{}), log)
	if err != nil {
		return c.advice(err)
	}
	doc := sts[0]
	if len(sts) > 1 {
		doc = append([]byte("["), bytes.Join(sts, []byte(","))...)
		doc = append(doc, ']')
	}
	var out bytes.Buffer
	if err := json.Indent(&out, doc, "", "  "); err != nil {
		return err
	}
	// Names and tags come from the archive: display.JSON escapes what the
	// encoder leaves raw (stdout is the Actions log).
	fmt.Fprintf(stdout, "%s\n", display.JSON(out.Bytes()))
	if len(sts) > 1 {
		log.Infof("dry run: the %d statements above (one JSON array) would be signed; nothing was signed or pushed", len(sts))
	} else {
		log.Infof("dry run: the statement above would be signed; nothing was signed or pushed")
	}
	return nil
}

// logGitHub says, naming the input, what github-attestations: auto did not
// do, and warns of what failed there (the pipeline returns both).
func logGitHub(log *actions.Logger, res *pipeline.Result) {
	for _, u := range res.Units {
		switch g := u.GitHub; {
		case g == nil:
		case g.Skipped != "":
			why := g.Skipped
			if g.Forcible {
				why += " (github-attestations: true tries anyway)"
			}
			log.Infof("github-attestations: auto: not stored in GitHub's attestations API: %s", why)
		case g.Err != nil:
			log.Warnf("could not store the attestation in GitHub's attestations API: %v (github-attestations: auto, so the run goes on; the bundle is at bundle-path and in the registry)", remoteAdvice(g.Err))
		}
	}
}
