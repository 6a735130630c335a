package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	intoto "github.com/in-toto/attestation/go/v1"
	digest "github.com/opencontainers/go-digest"

	"github.com/oci-attest/oci-attest/internal/attest"
	"github.com/oci-attest/oci-attest/internal/oci"
	"github.com/oci-attest/oci-attest/internal/push"
	"github.com/oci-attest/oci-attest/internal/sign"
)

// progressThreshold is the archive size above which hashing progress is
// logged every few seconds.
const progressThreshold = 256 << 20

// deps are the seams run's callers may replace: the demo points them at its
// embedded registries; tests at loopback servers. The zero value means the
// real defaults.
type deps struct {
	httpClient *http.Client
	now        func() time.Time
	// progressThreshold and progressInterval override when and how often
	// hashing progress is logged (default: archives over 256 MiB, every 2s).
	progressThreshold int64
	progressInterval  time.Duration
}

// attestResult is what one attest run did, for outputs, the summary and the
// demo.
type attestResult struct {
	archive   *oci.Archive
	image     *oci.Image
	statement []byte
	subject   *push.Subject
	signed    *sign.Result
	bundle    string
	attached  *push.AttachResult
}

func runAttest(ctx context.Context, c *Config, getenv func(string) string, log *logger, stdout io.Writer) error {
	if _, err := attestFlow(ctx, c, getenv, log, stdout, deps{}); err != nil {
		return err
	}
	if c.Actions || c.DryRun {
		return nil // the runner has the outputs; a dry run printed the statement
	}
	return printOutputs(stdout, c.Output, log.Outputs())
}

// printOutputs writes the action's outputs for CLI users: name=value lines,
// or one JSON object.
func printOutputs(w io.Writer, format string, outs map[string]string) error {
	if format == "json" {
		b, err := json.MarshalIndent(outs, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	}
	for _, o := range outputs {
		if v, ok := outs[o.name]; ok {
			if _, err := fmt.Fprintf(w, "%s=%s\n", o.name, v); err != nil {
				return err
			}
		}
	}
	return nil
}

// attestFlow runs the data flow (ARCHITECTURE.md, "Data flow"): read the
// archive, resolve and bind the subject, build the statement, sign, write
// the bundle, push the referrer.
func attestFlow(ctx context.Context, c *Config, getenv func(string) string, log *logger, stdout io.Writer, d deps) (*attestResult, error) {
	log.Infof("oci-attest %s: attesting %s", version, c.SubjectPath)
	log.Mask(c.GitHubToken)
	log.Mask(c.IdentityToken)
	r := &attestResult{}

	// 1. Read the archive, once.
	opts := oci.ScanOptions{ProgressInterval: d.progressInterval}
	threshold := int64(progressThreshold)
	if d.progressThreshold != 0 {
		threshold = d.progressThreshold
	}
	if fi, err := os.Stat(c.SubjectPath); err == nil && fi.Size() > threshold {
		start := time.Now()
		opts.Progress = func(read, total int64) {
			mbps := float64(read) / 1e6 / max(time.Since(start).Seconds(), 1e-3)
			log.Infof("hashing: %s of %s (%d%%), %.0f MB/s", humanBytes(read), humanBytes(total), read*100/max(total, 1), mbps)
		}
	}
	// A small archive may hold a layer that expands to many GiB: its
	// decompression after the read logs progress whatever the file's size.
	opts.LayerProgress = func(entry string, read, size, decompressed int64) {
		log.Infof("decompressing layer %s: %s of %s read, %s decompressed", entry, humanBytes(read), humanBytes(size), humanBytes(decompressed))
	}
	a, err := oci.Scan(ctx, c.SubjectPath, opts)
	if err != nil {
		return nil, fmt.Errorf("input subject-path: %w", err)
	}
	img, why, err := a.Select(c.SubjectName)
	if err != nil {
		return nil, fmt.Errorf("input subject-name: %w", err)
	}
	r.archive, r.image = a, img
	log.Infof("read %s archive %s (%s, %d image(s)); %s", a.Format, c.SubjectPath, humanBytes(a.Size), len(a.Images), why)
	log.Infof("image ID %s, %d layer(s), tar digest %s", img.ImageID, len(img.DiffIDs), a.TarDigest)
	log.SetOutput("image-id", img.ImageID.String())
	pred := attest.NewPredicate(a, img)

	if c.DryRun {
		if r.statement, err = statement(c, pred); err != nil {
			return nil, err
		}
		var out bytes.Buffer
		if err := json.Indent(&out, r.statement, "", "  "); err != nil {
			return nil, err
		}
		fmt.Fprintf(stdout, "%s\n", out.Bytes())
		log.Infof("dry run: the statement above would be signed; nothing was signed or pushed")
		return r, nil
	}

	// 2. Resolve the subject in the registry and bind it to the archive.
	var registrySubjects []*intoto.ResourceDescriptor
	var client *push.Client
	ref := subjectRef(c, img)
	// hint explains errors about a reference the user did not write.
	hint := func(err error) error { return err }
	if c.SubjectName == "" && ref != "" {
		if !strings.Contains(ref, "/") {
			return nil, badInput("subject-name", "the archive's image is tagged only %q, which names no registry repository: set subject-name (e.g. ghcr.io/org/app:%s)", ref, ref)
		}
		hint = func(err error) error {
			return fmt.Errorf("%w (subject-name defaulted to the archive's tag %s: set subject-name to the image's registry repository)", err, ref)
		}
	}
	if ref != "" && (c.PushToRegistry || c.SubjectName != "" || c.SubjectDigest != "") {
		client, err = push.New(push.Options{
			// In a docker action, a DOCKER_CONFIG the job set under
			// runner.temp may still name the host's path.
			DockerConfig:  c.paths.toContainer(getenv("DOCKER_CONFIG")),
			GitHubToken:   c.GitHubToken,
			AllowInsecure: c.AllowInsecureRegistry,
			Getenv:        getenv,
			HTTPClient:    d.httpClient,
			UserAgent:     "oci-attest/" + version,
		})
		if err != nil {
			return nil, err
		}
		dg := c.SubjectDigest
		if c.PushImage {
			log.Group("Pushing the image to " + ref)
			desc, err := client.PushImage(ctx, c.SubjectPath, a, img, ref)
			log.EndGroup()
			if err != nil {
				return nil, hint(fmt.Errorf("input push-image: %w", err))
			}
			log.Infof("pushed %s@%s", ref, desc.Digest)
			dg = desc.Digest
		}
		s, err := client.Resolve(ctx, ref, dg, img.ImageID)
		if err != nil {
			return nil, hint(err)
		}
		r.subject = s
		log.Infof("subject %s@%s (%s) is the attested image", s.Repository, s.Descriptor.Digest, s.Descriptor.MediaType)
		registrySubjects = append(registrySubjects, attest.RegistrySubject(s.Repository, s.Descriptor.Digest))
		if s.Image.Digest != s.Descriptor.Digest {
			log.Infof("image index: child %s has the attested config", s.Image.Digest)
			registrySubjects = append(registrySubjects, attest.RegistrySubject(s.Repository, s.Image.Digest))
		}
		log.SetOutput("subject-digest", s.Descriptor.Digest.String())
	} else if c.SubjectDigest != "" {
		return nil, badInput("subject-name", "the archive's image has no RepoTags, so subject-digest names a digest in no known repository: set subject-name (e.g. ghcr.io/org/app)")
	} else if c.PushToRegistry {
		return nil, badInput("subject-name", "the archive's image has no RepoTags, so the registry repository is unknown: set subject-name (e.g. ghcr.io/org/app:1.0), or push-to-registry: false")
	}
	if r.statement, err = statement(c, pred, registrySubjects...); err != nil {
		return nil, err
	}

	// 3. Sign.
	log.Group("Signing")
	res, err := sign.Sign(ctx, r.statement, sign.Options{
		Instance:        c.Sigstore,
		FulcioURL:       c.FulcioURL,
		RekorURL:        c.RekorURL,
		TSAURL:          c.TSAURL,
		TrustedRootPath: c.TrustedRoot,
		SigningKey:      c.SigningKey,
		IdentityToken:   c.IdentityToken,
		Getenv:          getenv,
		Mask:            log.Mask,
	})
	if err != nil {
		log.EndGroup()
		return nil, err
	}
	r.signed = res
	logSignature(log, res)
	log.EndGroup()

	// 4. Write the bundle.
	path, err := bundlePath(c, getenv, img.ImageID)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, res.Bundle, 0o644); err != nil {
		return nil, fmt.Errorf("input bundle-path: writing the bundle: %w", err)
	}
	if err := c.handBack(path); err != nil {
		return nil, fmt.Errorf("input bundle-path: %w", err)
	}
	r.bundle = path
	log.Infof("wrote Sigstore bundle %s", path)
	log.SetOutput("bundle-path", c.paths.toHost(path))

	// 5. Push the referrer.
	if c.PushToRegistry {
		log.Group("Pushing the attestation to " + r.subject.Repository)
		ar, err := client.Attach(ctx, r.subject, res.Bundle, push.AttachOptions{
			Mode:          c.ReferrersMode,
			PredicateType: attest.PredicateType,
			Now:           d.now,
		})
		log.EndGroup()
		if err != nil {
			return nil, err
		}
		r.attached = ar
		log.Infof("attached %s to %s@%s: %s", ar.Artifact.Digest, r.subject.Repository, r.subject.Descriptor.Digest, ar.Reason)
		log.SetOutput("attestation-digest", ar.Artifact.Digest.String())
		log.SetOutput("referrers-tag", ar.ReferrersTag)
	}
	if c.ShowSummary {
		log.Summary(summary(r, c.paths))
	}
	return r, nil
}

// subjectRef is the registry reference to resolve: subject-name, else the
// attested image's first RepoTag.
func subjectRef(c *Config, img *oci.Image) string {
	if c.SubjectName != "" {
		return c.SubjectName
	}
	if len(img.RepoTags) > 0 {
		return img.RepoTags[0]
	}
	return ""
}

// statement builds the in-toto statement's bytes and, with statement-path,
// writes them there.
func statement(c *Config, pred *attest.Predicate, registry ...*intoto.ResourceDescriptor) ([]byte, error) {
	st, err := attest.NewStatement(pred, registry...)
	if err != nil {
		return nil, err
	}
	b, err := attest.Marshal(st)
	if err != nil {
		return nil, err
	}
	if c.StatementPath != "" {
		if err := os.WriteFile(c.StatementPath, append(b, '\n'), 0o644); err != nil {
			return nil, fmt.Errorf("input statement-path: writing the statement: %w", err)
		}
		if err := c.handBack(c.StatementPath); err != nil {
			return nil, fmt.Errorf("input statement-path: %w", err)
		}
	}
	return b, nil
}

// bundlePath is bundle-path, else $RUNNER_TEMP/oci-attest/<image-id
// hex>.sigstore.json, else the same name in a new temporary directory.
func bundlePath(c *Config, getenv func(string) string, id digest.Digest) (string, error) {
	if c.BundlePath != "" {
		return c.BundlePath, nil
	}
	name := id.Encoded() + ".sigstore.json"
	if rt := getenv("RUNNER_TEMP"); rt != "" {
		dir := filepath.Join(rt, "oci-attest")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", fmt.Errorf("input bundle-path: creating %s: %w", dir, err)
		}
		if err := c.handBack(dir); err != nil {
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

func logSignature(log *logger, res *sign.Result) {
	switch {
	case res.Identity != "":
		log.Infof("signed keylessly (%s): identity %s, issuer %s", res.Instance, res.Identity, res.Issuer)
	default:
		log.Infof("signed with a key (not keyless): public key hint %s", res.KeyHint)
	}
	if res.LogIndex >= 0 {
		log.Infof("transparency log entry: index %d", res.LogIndex)
	}
	for _, ts := range res.Timestamps {
		log.Infof("timestamp: %s", ts.UTC().Format(time.RFC3339))
	}
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
