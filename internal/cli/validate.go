package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	digest "github.com/opencontainers/go-digest"

	"github.com/oci-attest/oci-attest/internal/oci"
	"github.com/oci-attest/oci-attest/internal/ref"
	"github.com/oci-attest/oci-attest/internal/registry"
	"github.com/oci-attest/oci-attest/internal/sign"
)

// Validate checks every input before any work is done — no network access,
// no hashing — and derives what later stages use (the parsed subject, the
// referrers mode). Every error names the input and says what to do, and
// wraps errUsage (exit 2).
func (c *Config) Validate() error {
	for _, check := range []func() error{
		c.validateArchive,
		c.validateSubject,
		c.validateRegistry,
		c.validateOutputs,
		c.validateGitHub,
		// Last: its token check is about the environment, not an input.
		c.validateSigning,
	} {
		if err := check(); err != nil {
			return err
		}
	}
	return nil
}

// validateArchive checks subject-path: a list of archives and globs, each
// path a regular file the program can see, each glob matching at least one
// (ARCHITECTURE.md, "Multi-platform and multi-image"); and platforms.
func (c *Config) validateArchive() error {
	items := splitList(c.SubjectPath)
	if len(items) == 0 {
		return badInput("subject-path", "required: the path of the image archive (e.g. the file docker save -o wrote)")
	}
	c.archives = nil
	seen := map[string]bool{}
	var excluded []string
	for _, item := range items {
		if strings.HasPrefix(item, "!") {
			excluded = append(excluded, strings.TrimPrefix(item, "!"))
			continue
		}
		if isGlob(item) {
			files, err := expandGlob(item)
			if err != nil {
				return badInput("subject-path", "%q is not a valid pattern: %v", c.paths.toHost(item), err)
			}
			if len(files) == 0 {
				return badInput("subject-path", "%q matches no file: save the archives first, or fix the pattern", c.paths.toHost(item))
			}
			for _, f := range files {
				if !seen[f] {
					seen[f] = true
					c.archives = append(c.archives, f)
				}
			}
			continue
		}
		if err := c.checkArchiveFile(item); err != nil {
			return err
		}
		if !seen[item] {
			seen[item] = true
			c.archives = append(c.archives, item)
		}
	}
	if len(excluded) > 0 {
		c.archives = slices.DeleteFunc(c.archives, func(f string) bool {
			return slices.ContainsFunc(excluded, func(pat string) bool {
				ok, _ := filepath.Match(pat, f)
				return ok || matchDoublestar(filepath.ToSlash(pat), filepath.ToSlash(f))
			})
		})
		if len(c.archives) == 0 {
			return badInput("subject-path", "its exclusions (!…) leave no archive")
		}
	}
	c.platforms = nil
	for _, item := range splitList(c.Platforms) {
		p, err := oci.ParsePlatform(item)
		if err != nil {
			return badInput("platforms", "%v", err)
		}
		c.platforms = append(c.platforms, p)
	}
	return nil
}

// checkArchiveFile checks one subject-path: a regular file the program can
// see.
func (c *Config) checkArchiveFile(p string) error {
	fi, err := os.Stat(p)
	switch {
	case errors.Is(err, os.ErrNotExist) && !c.paths.shared(p):
		return badInput("subject-path", "%q does not exist in the action's container, which sees only the workspace and runner.temp of the job: save the archive there (docker save IMAGE -o \"$RUNNER_TEMP/image.tar\", subject-path: ${{ runner.temp }}/image.tar)", c.paths.toHost(p))
	case errors.Is(err, os.ErrNotExist):
		return badInput("subject-path", "%q does not exist: save the image first (docker save IMAGE -o %s)", p, p)
	case err != nil:
		return badInput("subject-path", "%v", err)
	case fi.IsDir():
		return badInput("subject-path", "%q is a directory: give the image archive file (for an OCI layout directory, tar it: tar -cf image.tar -C DIR .)", p)
	case !fi.Mode().IsRegular():
		return badInput("subject-path", "%q is not a regular file", p)
	}
	return nil
}

// validateSubject parses subject-name's names and subject-digest with the
// one reference parser every later stage uses, into c.subjects.
func (c *Config) validateSubject() error {
	if c.SubjectDigest != "" {
		if err := c.SubjectDigest.Validate(); err != nil || c.SubjectDigest.Algorithm() != digest.SHA256 {
			return badInput("subject-digest", "%q is not a sha256 digest: use sha256:<64 hex digits> (docker buildx's metadata or crane digest print it)", c.SubjectDigest)
		}
	}
	if c.PushImage && c.SubjectDigest != "" {
		return badInput("push-image", "and subject-digest exclude each other: push-image attests the digest it pushes; give subject-digest only for an image another step pushed")
	}
	c.subjects = nil
	names := splitLines(c.SubjectName)
	if len(names) > 1 && c.SubjectDigest != "" {
		return badInput("subject-digest", "names one image or index, but subject-name names %d: give each image's digest in its name (%s@sha256:…) instead", len(names), names[0])
	}
	for _, name := range names {
		r, err := ref.Parse(name)
		if err != nil {
			if errors.Is(err, ref.ErrURL) {
				return badInput("subject-name", "%v", err)
			}
			return badInput("subject-name", "%v: use [registry/]repository[:tag], e.g. ghcr.io/org/app:1.0 (a name without registry is on Docker Hub)", err)
		}
		switch {
		case r.Digest != "" && c.SubjectDigest != "" && r.Digest != c.SubjectDigest:
			return badInput("subject-digest", "%s differs from the digest in subject-name %s: give one of them", c.SubjectDigest, name)
		case c.SubjectDigest != "":
			r.Digest = c.SubjectDigest
		}
		if c.PushImage && (r.Tag == "" || r.Digest != "") {
			return badInput("subject-name", "%q: push-image pushes to a tag: name it without digest, as %s:<tag>", name, r.Repo())
		}
		if r.Tag == "" && r.Digest == "" {
			return badInput("subject-name", "%q names no tag and no digest, so there is nothing to resolve in the registry: add :<tag>, or give subject-digest", name)
		}
		c.subjects = append(c.subjects, r)
	}
	return nil
}

// validateRegistry checks the inputs of the push stage.
func (c *Config) validateRegistry() error {
	m, err := registry.ParseMode(c.ReferrersMode)
	if err != nil {
		return badInput("referrers-mode", "%v", err)
	}
	c.mode = m
	if c.settle, err = parseSettle(c.FallbackSettle); err != nil {
		return err
	}
	if c.PushImage && !c.PushToRegistry {
		return badInput("push-image", "needs push-to-registry: true (push-image pushes the image so that the attestation can be attached to it)")
	}
	if c.AttestedArchivePath != "" && !c.PushToRegistry && !c.DryRun {
		return badInput("attested-archive-path", "needs push-to-registry: true (the archive holds the images as the registry holds them, and the attestations attached to them)")
	}
	return nil
}

// validateSigning hands the signing inputs to sign.Check, which decides
// once what the configuration produces (and refuses one whose bundles would
// not verify), and names the input behind the option it refused.
func (c *Config) validateSigning() error {
	// The environment the run will sign in (GITHUB_SERVER_URL picks
	// GitHub's services, GITHUB_EVENT_PATH resolves auto), so that Check
	// refuses here what Sign would refuse after hashing and pushing.
	err := sign.Check(c.signOptions(c.getenv))
	var oe *sign.OptionError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &oe):
		return optionAdvice(oe)
	case c.DryRun && (errors.Is(err, sign.ErrNoToken) || errors.Is(err, sign.ErrTokenRequest)):
		return nil // the token is the environment's, and a dry run needs none (docs/inputs.md, "dry-run")
	case errors.Is(err, sign.ErrNoToken) && c.Actions:
		return fmt.Errorf("%w: %w", errUsage, err)
	case errors.Is(err, sign.ErrNoToken):
		return fmt.Errorf("%w: %w: pass --identity-token or set SIGSTORE_ID_TOKEN (or sign with --signing-key, which is not keyless)", errUsage, err)
	}
	return err
}

// validateOutputs checks bundle-path, statement-path and
// attested-archive-path: files the job's other steps will see, in
// directories that exist.
func (c *Config) validateOutputs() error {
	if c.Output != "" && c.Output != "text" && c.Output != "json" {
		return badInput("output", "%q is not one of text, json", c.Output)
	}
	for _, p := range []struct{ name, val string }{{"bundle-path", c.BundlePath}, {"statement-path", c.StatementPath}, {"attested-archive-path", c.AttestedArchivePath}} {
		if p.val == "" {
			continue
		}
		if !c.paths.shared(p.val) {
			return badInput(p.name, "%q is outside the workspace and runner.temp, the only directories the action's container shares with the job: later steps would never see the file; write it under ${{ runner.temp }} or the workspace", c.paths.toHost(p.val))
		}
		if fi, err := os.Stat(p.val); err == nil && fi.IsDir() {
			return badInput(p.name, "%q is a directory: give a file path", p.val)
		}
		dir := filepath.Dir(p.val)
		if fi, err := os.Stat(dir); err != nil {
			return badInput(p.name, "the directory %q of %q does not exist: create it first (mkdir -p %s), or write the file elsewhere", c.paths.toHost(dir), c.paths.toHost(p.val), c.paths.toHost(dir))
		} else if !fi.IsDir() {
			return badInput(p.name, "%q is not a directory", c.paths.toHost(dir))
		}
	}
	return nil
}

// signOptions are the signing options the inputs give, reading the
// environment through getenv (nil: an empty one).
func (c *Config) signOptions(getenv func(string) string) sign.Options {
	return sign.Options{
		Instance:          c.Sigstore,
		FulcioURL:         c.FulcioURL,
		RekorURL:          c.RekorURL,
		TSAURL:            c.TSAURL,
		SigningConfigPath: c.SigningConfig,
		TrustedRootPath:   c.TrustedRoot,
		SigningKey:        c.SigningKey,
		IdentityToken:     c.IdentityToken,
		RequestTimeout:    c.RequestTimeout,
		Getenv:            getenv,
	}
}

// Bounds of fallback-settle: below the minimum a tag write on loopback can
// already miss its deadline of half the settle; above the maximum a run
// waits for minutes.
const (
	minSettle = 200 * time.Millisecond
	maxSettle = 10 * time.Minute
)

// parseSettle parses fallback-settle ("" is the default).
func parseSettle(v string) (time.Duration, error) {
	return parseDuration("fallback-settle", v, minSettle, maxSettle, "tag writes must land within half of it; the verification waits as long")
}
