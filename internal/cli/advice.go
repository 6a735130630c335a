package cli

import (
	"errors"
	"fmt"
	"path"
	"strings"
	"syscall"

	"github.com/oci-attest/oci-attest/internal/pipeline"
	"github.com/oci-attest/oci-attest/internal/ref"
	"github.com/oci-attest/oci-attest/internal/registry"
	"github.com/oci-attest/oci-attest/internal/retry"
	"github.com/oci-attest/oci-attest/internal/sign"
)

// pipelineInput maps the fields of pipeline.Input and pipeline.Options that
// its errors name to the inputs that set them.
var pipelineInput = map[string]string{
	"Archives":      "subject-path",
	"Names":         "subject-name",
	"Platforms":     "platforms",
	"SubjectDigest": "subject-digest",
	"BundlePath":    "bundle-path",
	"StatementPath": "statement-path",
	"CarryPath":     "attested-archive-path",
}

// signInput maps sign.Options fields to the inputs that set them.
var signInput = map[string]string{
	"Instance":          "sigstore",
	"FulcioURL":         "fulcio-url",
	"RekorURL":          "rekor-url",
	"TSAURL":            "tsa-url",
	"SigningConfigPath": "signing-config",
	"TrustedRootPath":   "trusted-root",
	"SigningKey":        "signing-key",
}

// optionAdvice is a sign.OptionError as a usage error naming its input, and
// the other input when two exclude each other.
func optionAdvice(oe *sign.OptionError) error {
	if oe.With != "" {
		return badInput(signInput[oe.Field], "%s (%s or %s)", oe.Msg, signInput[oe.Field], signInput[oe.With])
	}
	return badInput(signInput[oe.Field], "%s", oe.Msg)
}

// loginAdvice is what to do about a registry's 401/403.
const loginAdvice = "log in to the registry (in the action: set DOCKER_CONFIG under runner.temp before docker/login-action, see docs/registries.md, \"Logging in for the action\"), or for ghcr.io give the job packages: write so that github-token works"

// advice turns an error of the pipeline (or of a package below it) into one
// that names the input to change and says what to do: the packages below
// cli speak in their own words (ARCHITECTURE.md, "Packages").
func (c *Config) advice(err error) error {
	var fe *pipeline.FieldError
	var se *pipeline.StageError
	var oe *sign.OptionError
	switch {
	case errors.As(err, &oe):
		return optionAdvice(oe)
	case errors.As(err, &fe):
		return c.fieldAdvice(fe.Field, fe.Usage, err)
	case errors.As(err, &se):
		return c.stageAdvice(se, err)
	case errors.Is(err, sign.ErrNoToken) && !c.Actions:
		return fmt.Errorf("%w: pass --identity-token or set SIGSTORE_ID_TOKEN (or sign with --signing-key, which is not keyless)", err)
	}
	return remoteAdvice(err)
}

// fieldAdvice names the input behind a pipeline field: a usage error (exit
// 2) when its value is wrong, else the failure prefixed with the input.
func (c *Config) fieldAdvice(field string, usage bool, err error) error {
	input := pipelineInput[field]
	if !usage {
		return fmt.Errorf("input %s: %w", input, err)
	}
	switch {
	case errors.Is(err, pipeline.ErrNoRepository):
		return badInput(input, "%v: set subject-name (e.g. ghcr.io/org/app:1.0)", err)
	case errors.Is(err, pipeline.ErrUntagged) && c.SubjectDigest != "":
		return badInput(input, "%v, and subject-digest names a digest in it: set subject-name (e.g. ghcr.io/org/app)", err)
	case errors.Is(err, pipeline.ErrUntagged):
		return badInput(input, "%v: set subject-name (e.g. ghcr.io/org/app:1.0), or push-to-registry: false", err)
	case errors.Is(err, pipeline.ErrDigestForMany):
		return badInput(input, "%v: give subject-name with each image's tag or digest instead", err)
	}
	return badInput(input, "%v", err)
}

// stageAdvice adds to a registry or GitHub failure what the user can do
// about it, naming the inputs involved.
func (c *Config) stageAdvice(se *pipeline.StageError, err error) error {
	err = remoteAdvice(err)
	if se.Stage == pipeline.StageGitHub {
		return fmt.Errorf("storing the attestation in GitHub (github-attestations: true): %w", err)
	}
	switch {
	case errors.Is(err, registry.ErrNotFound) && !c.PushImage:
		err = fmt.Errorf("%w (push the image first, or set push-image: true)", err)
	case errors.Is(err, registry.ErrBinding) && c.PushImage:
		err = fmt.Errorf("%w: the archive's image index leads runtimes to an entry that is no image of it: save the image again (docker save, skopeo copy --all) and attest that", err)
	case errors.Is(err, registry.ErrBinding):
		err = fmt.Errorf("%w: push the archived image (push-image: true), or point subject-name/subject-digest at the registry image that is it (a platform manifest's digest binds that platform alone)", err)
	case errors.Is(err, registry.ErrIncomplete):
		err = fmt.Errorf("%w: push-image pushes a whole index; save every platform into the archive, or push the index with another tool and attest without push-image", err)
	case errors.Is(err, registry.ErrUnauthorized):
		err = fmt.Errorf("%w (%s)", err, loginAdvice)
	case errors.Is(err, registry.ErrForeignTag):
		err = fmt.Errorf("%w (it is never overwritten: delete or move it, or use referrers-mode: api)", err)
	}
	if se.DefaultTag != "" {
		err = fmt.Errorf("%w (subject-name defaulted to the archive's tag %s: set subject-name to the image's registry repository)", err, se.DefaultTag)
	}
	if name := c.dockerHubName(se.Target); name != "" {
		err = fmt.Errorf("%w (subject-name %s names no registry, so it is Docker Hub's %s, as docker reads it: write your registry in the name, e.g. ghcr.io/ORG/%s)", err, name, se.Target.Repo(), path.Base(se.Target.Repository))
	}
	if se.Stage == pipeline.StagePush && errors.Is(err, registry.ErrIncomplete) {
		return fmt.Errorf("input push-image: %w", err)
	}
	return err
}

// dockerHubName is the subject-name line that named target without a
// registry ("app:1.0", "myorg/app"), which docker reads as Docker Hub's: ""
// when target is not on Docker Hub or was named with its registry.
func (c *Config) dockerHubName(target ref.Reference) string {
	if target.Registry != ref.DockerHub {
		return ""
	}
	names := splitLines(c.SubjectName)
	for i, s := range c.subjects {
		if i >= len(names) || s.Repo() != target.Repo() {
			continue
		}
		first, _, ok := strings.Cut(names[i], "/")
		if !ok || (!strings.ContainsAny(first, ".:") && first != "localhost") {
			return names[i]
		}
	}
	return ""
}

// remoteAdvice names the input behind a remote's silence or refusal: the
// packages below name the remote and the deadline, not the input.
func remoteAdvice(err error) error {
	switch {
	case errors.Is(err, retry.ErrTimeout):
		return fmt.Errorf("%w: raise request-timeout if it is only slow", err)
	case errors.Is(err, registry.ErrInsecure):
		return fmt.Errorf("%w (set allow-insecure-registry: true to allow it)", err)
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("%w: check that it runs and that this machine can reach it", err)
	}
	return err
}
