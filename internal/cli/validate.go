package cli

import (
	"errors"
	"os"
	"path/filepath"

	digest "github.com/opencontainers/go-digest"

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
		c.validateSigning,
		c.validateOutputs,
		c.validateGitHub,
	} {
		if err := check(); err != nil {
			return err
		}
	}
	return nil
}

// validateArchive checks subject-path: a regular file the program can see.
func (c *Config) validateArchive() error {
	if c.SubjectPath == "" {
		return badInput("subject-path", "required: the path of the image archive (e.g. the file docker save -o wrote)")
	}
	fi, err := os.Stat(c.SubjectPath)
	switch {
	case errors.Is(err, os.ErrNotExist) && !c.paths.shared(c.SubjectPath):
		return badInput("subject-path", "%q does not exist in the action's container, which sees only the workspace and runner.temp of the job: save the archive there (docker save IMAGE -o \"$RUNNER_TEMP/image.tar\", subject-path: ${{ runner.temp }}/image.tar)", c.paths.toHost(c.SubjectPath))
	case errors.Is(err, os.ErrNotExist):
		return badInput("subject-path", "%q does not exist: save the image first (docker save IMAGE -o %s)", c.SubjectPath, c.SubjectPath)
	case err != nil:
		return badInput("subject-path", "%v", err)
	case fi.IsDir():
		return badInput("subject-path", "%q is a directory: give the image archive file (for an OCI layout directory, tar it: tar -cf image.tar -C DIR .)", c.SubjectPath)
	case !fi.Mode().IsRegular():
		return badInput("subject-path", "%q is not a regular file", c.SubjectPath)
	}
	return nil
}

// validateSubject parses subject-name and subject-digest with the one
// reference parser every later stage uses, into c.subject.
func (c *Config) validateSubject() error {
	if c.SubjectDigest != "" {
		if err := c.SubjectDigest.Validate(); err != nil || c.SubjectDigest.Algorithm() != digest.SHA256 {
			return badInput("subject-digest", "%q is not a sha256 digest: use sha256:<64 hex digits> (docker buildx's metadata or crane digest print it)", c.SubjectDigest)
		}
	}
	if c.PushImage && c.SubjectDigest != "" {
		return badInput("push-image", "and subject-digest exclude each other: push-image attests the digest it pushes; give subject-digest only for an image another step pushed")
	}
	c.subject = ref.Reference{}
	if c.SubjectName == "" {
		return nil
	}
	r, err := ref.Parse(c.SubjectName)
	if err != nil {
		return badInput("subject-name", "%v: use [registry/]repository[:tag], e.g. ghcr.io/org/app:1.0 (a name without registry is on Docker Hub)", err)
	}
	switch {
	case r.Digest != "" && c.SubjectDigest != "" && r.Digest != c.SubjectDigest:
		return badInput("subject-digest", "%s differs from the digest in subject-name %s: give one of them", c.SubjectDigest, c.SubjectName)
	case c.SubjectDigest != "":
		r.Digest = c.SubjectDigest
	}
	if c.PushImage && (r.Tag == "" || r.Digest != "") {
		return badInput("subject-name", "%q: push-image pushes to a tag: name it without digest, as %s:<tag>", c.SubjectName, r.Repo())
	}
	if r.Tag == "" && r.Digest == "" && !c.DryRun {
		return badInput("subject-name", "%q names no tag and no digest, so there is nothing to resolve in the registry: add :<tag>, or give subject-digest", c.SubjectName)
	}
	c.subject = r
	return nil
}

// validateRegistry checks the inputs of the push stage.
func (c *Config) validateRegistry() error {
	m, err := registry.ParseMode(c.ReferrersMode)
	if err != nil {
		return badInput("referrers-mode", "%v", err)
	}
	c.mode = m
	if c.PushImage && !c.PushToRegistry {
		return badInput("push-image", "needs push-to-registry: true (push-image pushes the image so that the attestation can be attached to it)")
	}
	return nil
}

// validateSigning hands the signing inputs to sign.Check, which decides
// once what the configuration produces (and refuses one whose bundles would
// not verify), and names the input behind the option it refused.
func (c *Config) validateSigning() error {
	if c.DryRun {
		return nil
	}
	err := sign.Check(c.signOptions(nil))
	var oe *sign.OptionError
	if errors.As(err, &oe) {
		return badInput(signInput[oe.Field], "%s", oe.Msg)
	}
	return err
}

// signInput maps sign.Options fields to the inputs that set them.
var signInput = map[string]string{
	"Instance":        "sigstore",
	"FulcioURL":       "fulcio-url",
	"RekorURL":        "rekor-url",
	"TSAURL":          "tsa-url",
	"TrustedRootPath": "trusted-root",
	"SigningKey":      "signing-key",
}

// validateOutputs checks bundle-path and statement-path: files the job's
// other steps will see, in directories that exist.
func (c *Config) validateOutputs() error {
	if c.Output != "" && c.Output != "text" && c.Output != "json" {
		return badInput("output", "%q is not one of text, json", c.Output)
	}
	for _, p := range []struct{ name, val string }{{"bundle-path", c.BundlePath}, {"statement-path", c.StatementPath}} {
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
		Instance:        c.Sigstore,
		FulcioURL:       c.FulcioURL,
		RekorURL:        c.RekorURL,
		TSAURL:          c.TSAURL,
		TrustedRootPath: c.TrustedRoot,
		SigningKey:      c.SigningKey,
		IdentityToken:   c.IdentityToken,
		Getenv:          getenv,
	}
}
