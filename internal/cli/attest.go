package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	intoto "github.com/in-toto/attestation/go/v1"
	digest "github.com/opencontainers/go-digest"

	"github.com/oci-attest/oci-attest/internal/attest"
	"github.com/oci-attest/oci-attest/internal/oci"
	"github.com/oci-attest/oci-attest/internal/ref"
	"github.com/oci-attest/oci-attest/internal/registry"
	"github.com/oci-attest/oci-attest/internal/sign"
)

// progressThreshold is the archive size above which hashing progress is
// logged every few seconds.
const progressThreshold = 256 << 20

// deps are the seams tests replace. The zero value means the defaults.
type deps struct {
	// progressThreshold and progressInterval override when and how often
	// hashing progress is logged (default: archives over 256 MiB, every 2s;
	// a negative threshold logs for every archive).
	progressThreshold int64
	progressInterval  time.Duration
	// github are the GitHub stage's seams (github.go).
	github githubDeps
}

// attestResult is what one attest run did, for outputs, the summary and the
// demo.
type attestResult struct {
	archive   *oci.Archive
	image     *oci.Image
	statement []byte
	subject   *registry.Subject
	signed    *sign.Result
	bundle    string
	publicKey string // the key-signed bundle's public key file; "" when keyless
	attached  *registry.AttachResult
	github    *githubResult
}

// runAttest runs the pipeline and, on the command line, prints the outputs.
func runAttest(ctx context.Context, c *Config, getenv func(string) string, log *logger, stdout io.Writer) error {
	if _, err := attestFlow(ctx, c, getenv, log, stdout, deps{}); err != nil {
		return err
	}
	if c.Actions || c.DryRun {
		return nil // the runner has the outputs; a dry run printed the statement
	}
	return printOutputs(stdout, c.Output, log.Outputs())
}

// pipeline is one attest run: its inputs, its seams, and what each stage
// has produced so far (ARCHITECTURE.md, "Data flow").
type pipeline struct {
	c      *Config
	getenv func(string) string
	log    *logger
	stdout io.Writer
	d      deps
	res    attestResult
	client *registry.Client
	// target is the registry reference to resolve: subject-name, else the
	// attested image's first RepoTag (defaulted is then true); zero when
	// there is none.
	target    ref.Reference
	defaulted bool
}

// attestFlow reads the archive, resolves and binds the subject, builds the
// statement, signs it, writes the bundle, pushes the referrer and stores the
// attestation in GitHub: one method of pipeline per stage, each reading what
// the ones before it left.
func attestFlow(ctx context.Context, c *Config, getenv func(string) string, log *logger, stdout io.Writer, d deps) (*attestResult, error) {
	p := &pipeline{c: c, getenv: getenv, log: log, stdout: stdout, d: d}
	log.Infof("oci-attest %s: attesting %s", version, c.SubjectPath)
	log.Mask(c.GitHubToken)
	log.Mask(c.IdentityToken)
	if c.subject.Lowercased {
		log.Infof("subject-name %s is %s: registry repositories are lowercase", c.SubjectName, c.subject)
	}
	if err := p.readArchive(ctx); err != nil {
		return nil, err
	}
	if c.DryRun {
		return &p.res, p.dryRun()
	}
	for _, stage := range []func(context.Context) error{p.resolveSubject, p.buildStatement, p.sign, p.writeBundle, p.attach, p.storeOnGitHub} {
		if err := stage(ctx); err != nil {
			return nil, err
		}
	}
	if c.ShowSummary {
		log.Summary(summary(&p.res, c.paths))
	}
	return &p.res, nil
}

// readArchive scans the archive (one read) and selects the image to attest.
func (p *pipeline) readArchive(ctx context.Context) error {
	opts := oci.ScanOptions{ProgressInterval: p.d.progressInterval}
	threshold := int64(progressThreshold)
	if p.d.progressThreshold != 0 {
		threshold = p.d.progressThreshold
	}
	if fi, err := os.Stat(p.c.SubjectPath); err == nil && fi.Size() > threshold {
		start := time.Now()
		opts.Progress = func(read, total int64) {
			mbps := float64(read) / 1e6 / max(time.Since(start).Seconds(), 1e-3)
			p.log.Infof("hashing: %s of %s (%d%%), %.0f MB/s", humanBytes(read), humanBytes(total), read*100/max(total, 1), mbps)
		}
	}
	// A small archive may hold a layer that expands to many GiB: its
	// decompression after the read logs progress whatever the file's size.
	opts.LayerProgress = func(entry string, read, size, decompressed int64) {
		p.log.Infof("decompressing layer %s: %s of %s read, %s decompressed", entry, humanBytes(read), humanBytes(size), humanBytes(decompressed))
	}
	a, err := oci.Scan(ctx, p.c.SubjectPath, opts)
	if err != nil {
		return archiveError(err)
	}
	img, why, err := a.Select(p.c.subject)
	if err != nil {
		return badInput("subject-name", "%v", err)
	}
	p.res.archive, p.res.image = a, img
	p.log.Infof("read %s archive %s (%s, %d image(s)); %s", a.Format, p.c.SubjectPath, humanBytes(a.Size), len(a.Images), why)
	p.log.Infof("image ID %s, %d layer(s), tar digest %s", img.ImageID, len(img.DiffIDs), a.TarDigest)
	p.log.SetOutput("image-id", img.ImageID.String())
	return nil
}

// archiveError names subject-path in an error of the archive reader. An
// archive that is not what the reader accepts is the user's to fix (exit 2);
// a failure to read the file is not.
func archiveError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("input subject-path: %w", err)
	}
	return badInput("subject-path", "%v", err)
}

// dryRun prints the statement that would be signed, indented.
func (p *pipeline) dryRun() error {
	if err := p.writeStatement(nil); err != nil {
		return err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, p.res.statement, "", "  "); err != nil {
		return err
	}
	fmt.Fprintf(p.stdout, "%s\n", out.Bytes())
	p.log.Infof("dry run: the statement above would be signed; nothing was signed or pushed")
	return nil
}

// resolveSubject finds the registry image the attestation is bound to —
// pushing the archived image first with push-image — and checks that its
// config digest is the archive's image ID.
func (p *pipeline) resolveSubject(ctx context.Context) error {
	c, img := p.c, p.res.image
	p.target = c.subject
	if p.target.IsZero() && len(img.RepoTags) > 0 {
		tag := img.RepoTags[0]
		r, err := ref.Parse(tag)
		if err != nil || !strings.Contains(tag, "/") {
			// A bare name ("app:1") is a Docker Hub official image to
			// docker: surely not where this image is meant to go.
			return badInput("subject-name", "the archive's image is tagged only %q, which names no registry repository: set subject-name (e.g. ghcr.io/org/app:1.0)", tag)
		}
		if !c.PushToRegistry && c.SubjectDigest == "" {
			return nil // only the archive is attested; nothing asks for the registry
		}
		p.target, p.defaulted = r, true
		p.target.Digest = c.SubjectDigest
	}
	switch {
	case p.target.IsZero() && c.SubjectDigest != "":
		return badInput("subject-name", "the archive's image has no RepoTags, so subject-digest names a digest in no known repository: set subject-name (e.g. ghcr.io/org/app)")
	case p.target.IsZero() && c.PushToRegistry:
		return badInput("subject-name", "the archive's image has no RepoTags, so the registry repository is unknown: set subject-name (e.g. ghcr.io/org/app:1.0), or push-to-registry: false")
	case p.target.IsZero():
		return nil // nothing to bind: the statement names the archive only
	}
	client, err := registry.New(registry.Options{
		// In a docker action, a DOCKER_CONFIG the job set under
		// runner.temp may still name the host's path.
		DockerConfig:  c.paths.toContainer(p.getenv("DOCKER_CONFIG")),
		GitHubToken:   c.GitHubToken,
		AllowInsecure: c.AllowInsecureRegistry,
		Getenv:        p.getenv,
		UserAgent:     "oci-attest/" + version,
	})
	if err != nil {
		return err
	}
	p.client = client
	if c.PushImage {
		p.log.Group("Pushing the image to " + p.target.String())
		desc, err := client.PushImage(ctx, c.SubjectPath, p.res.archive, img, p.target)
		if err == nil {
			p.log.Infof("pushed %s@%s", p.target, desc.Digest)
		}
		p.log.EndGroup()
		if err != nil {
			return p.registryError("input push-image: ", err)
		}
		p.target.Digest = desc.Digest
	}
	s, err := client.Resolve(ctx, p.target, img.ImageID)
	if err != nil {
		return p.registryError("", err)
	}
	p.res.subject = s
	p.log.Infof("subject %s@%s (%s) is the attested image", s.Repository.Name(), s.Descriptor.Digest, s.Descriptor.MediaType)
	if s.Image.Digest != s.Descriptor.Digest {
		p.log.Infof("image index: child %s has the attested config", s.Image.Digest)
	}
	p.log.SetOutput("subject-digest", s.Descriptor.Digest.String())
	return nil
}

// registryError adds to an error of the registry client what the user can
// do about it, naming the inputs involved.
func (p *pipeline) registryError(prefix string, err error) error {
	switch {
	case errors.Is(err, registry.ErrNotFound) && !p.c.PushImage:
		err = fmt.Errorf("%w (push the image first, or set push-image: true)", err)
	case errors.Is(err, registry.ErrBinding):
		err = fmt.Errorf("%w: push the archived image (push-image: true) or point subject-name/subject-digest at it", err)
	case errors.Is(err, registry.ErrUnauthorized):
		err = fmt.Errorf("%w (%s)", err, loginAdvice)
	case errors.Is(err, registry.ErrForeignTag):
		err = fmt.Errorf("%w (it is never overwritten: delete or move it, or use referrers-mode: api)", err)
	}
	if p.defaulted {
		err = fmt.Errorf("%w (subject-name defaulted to the archive's tag %s: set subject-name to the image's registry repository)", err, p.res.image.RepoTags[0])
	}
	if prefix != "" {
		return fmt.Errorf("%s%w", prefix, err)
	}
	return err
}

// loginAdvice is what to do about a registry's 401/403.
const loginAdvice = "log in to the registry (in the action: set DOCKER_CONFIG under runner.temp before docker/login-action, see the README's \"Logging in for the action\"), or for ghcr.io give the job packages: write so that github-token works"

// buildStatement builds the in-toto statement: the registry subjects (the
// image, and the matched child of an index), then the attestor's.
func (p *pipeline) buildStatement(context.Context) error {
	var subjects []*intoto.ResourceDescriptor
	if s := p.res.subject; s != nil {
		subjects = append(subjects, attest.RegistrySubject(s.Repository.Name(), s.Descriptor.Digest))
		if s.Image.Digest != s.Descriptor.Digest {
			subjects = append(subjects, attest.RegistrySubject(s.Repository.Name(), s.Image.Digest))
		}
	}
	return p.writeStatement(subjects)
}

// writeStatement builds the statement's bytes and, with statement-path,
// writes them there.
func (p *pipeline) writeStatement(registrySubjects []*intoto.ResourceDescriptor) error {
	st, err := attest.NewStatement(attest.NewPredicate(p.res.archive, p.res.image), registrySubjects...)
	if err != nil {
		return err
	}
	if p.res.statement, err = attest.Marshal(st); err != nil {
		return err
	}
	if path := p.c.StatementPath; path != "" {
		if err := os.WriteFile(path, append(p.res.statement, '\n'), 0o644); err != nil {
			return fmt.Errorf("input statement-path: writing the statement: %w", err)
		}
		if err := p.c.handBack(path); err != nil {
			return fmt.Errorf("input statement-path: %w", err)
		}
	}
	return nil
}

// sign signs the statement into a verified Sigstore bundle.
func (p *pipeline) sign(ctx context.Context) error {
	p.log.Group("Signing")
	defer p.log.EndGroup()
	opts := p.c.signOptions(p.getenv)
	opts.Mask = p.log.Mask
	res, err := sign.Sign(ctx, p.res.statement, opts)
	if err != nil {
		return signError(err, p.c.Actions)
	}
	p.res.signed = res
	switch {
	case res.Identity != "":
		p.log.Infof("signed keylessly (%s): identity %s, issuer %s", res.Instance, res.Identity, res.Issuer)
	default:
		p.log.Infof("signed with a key (not keyless): public key hint %s", res.KeyHint)
	}
	if res.LogIndex >= 0 {
		p.log.Infof("transparency log entry: index %d", res.LogIndex)
	}
	for _, ts := range res.Timestamps {
		p.log.Infof("timestamp: %s", ts.UTC().Format(time.RFC3339))
	}
	return nil
}

// signError names the input behind a signing error where there is one.
func signError(err error, actions bool) error {
	var oe *sign.OptionError
	switch {
	case errors.As(err, &oe):
		return badInput(signInput[oe.Field], "%s", oe.Msg)
	case errors.Is(err, sign.ErrNoToken) && !actions:
		return fmt.Errorf("%w: pass --identity-token or set SIGSTORE_ID_TOKEN (or sign with --signing-key, which is not keyless)", err)
	}
	return err
}

// writeBundle writes the bundle to bundle-path.
func (p *pipeline) writeBundle(context.Context) error {
	path, err := p.bundlePath(p.res.image.ImageID)
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, p.res.signed.Bundle, 0o644); err != nil {
		return fmt.Errorf("input bundle-path: writing the bundle: %w", err)
	}
	if err := p.c.handBack(path); err != nil {
		return fmt.Errorf("input bundle-path: %w", err)
	}
	p.res.bundle = path
	p.log.Infof("wrote Sigstore bundle %s", path)
	p.log.SetOutput("bundle-path", p.c.paths.toHost(path))
	p.log.SetOutput("public-key-path", "") // keyless: no key to verify with
	if pem := p.res.signed.PublicKeyPEM; pem != "" {
		// A key-signed bundle verifies only with its public key: for an
		// ephemeral key this file is the only copy there will ever be.
		pub := path + ".pub"
		if err := os.WriteFile(pub, []byte(pem), 0o644); err != nil {
			return fmt.Errorf("input bundle-path: writing the public key beside the bundle: %w", err)
		}
		if err := p.c.handBack(pub); err != nil {
			return fmt.Errorf("input bundle-path: %w", err)
		}
		p.res.publicKey = pub
		p.log.Infof("wrote the signing key's public key %s (verify with --key %s)", pub, p.c.paths.toHost(pub))
		p.log.SetOutput("public-key-path", p.c.paths.toHost(pub))
	}
	return nil
}

// bundlePath is bundle-path, else $RUNNER_TEMP/oci-attest/<image-id
// hex>.sigstore.json, else the same name in a new temporary directory.
func (p *pipeline) bundlePath(id digest.Digest) (string, error) {
	if p.c.BundlePath != "" {
		return p.c.BundlePath, nil
	}
	name := id.Encoded() + ".sigstore.json"
	if rt := p.getenv("RUNNER_TEMP"); rt != "" {
		dir := filepath.Join(rt, "oci-attest")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", fmt.Errorf("input bundle-path: creating %s: %w", dir, err)
		}
		if err := p.c.handBack(dir); err != nil {
			return "", fmt.Errorf("input bundle-path: %w", err)
		}
		return filepath.Join(dir, name), nil
	}
	dir, err := os.MkdirTemp("", "oci-attest-")
	if err != nil {
		return "", fmt.Errorf("input bundle-path: %w", err)
	}
	return filepath.Join(dir, name), nil
}

// attach pushes the bundle as a referrer of the subject (push-to-registry).
func (p *pipeline) attach(ctx context.Context) error {
	if !p.c.PushToRegistry {
		return nil
	}
	s := p.res.subject
	p.log.Group("Pushing the attestation to " + s.Repository.Name())
	ar, err := p.client.Attach(ctx, s, p.res.signed.Bundle, registry.AttachOptions{
		Mode:          p.c.mode,
		PredicateType: attest.PredicateType,
	})
	if err == nil {
		p.log.Infof("attached %s to %s@%s: %s", ar.Artifact.Digest, s.Repository.Name(), s.Descriptor.Digest, ar.Reason)
	}
	p.log.EndGroup()
	if err != nil {
		return p.registryError("", err)
	}
	p.res.attached = ar
	p.log.SetOutput("attestation-digest", ar.Artifact.Digest.String())
	p.log.SetOutput("referrers-tag", ar.ReferrersTag)
	return nil
}
