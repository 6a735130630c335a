package demo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/oci-attest/oci-attest/internal/actions"
	"github.com/oci-attest/oci-attest/internal/attest"
	"github.com/oci-attest/oci-attest/internal/pipeline"
	"github.com/oci-attest/oci-attest/internal/ref"
	"github.com/oci-attest/oci-attest/internal/registry"
	"github.com/oci-attest/oci-attest/internal/sign"
	"github.com/oci-attest/oci-attest/internal/verify"
)

// against runs the flow against the registry at host: push the image,
// attest it, list the referrers back, verify; with tamper, then catch the
// tampered archive.
func (d *demo) against(ctx context.Context, step int, title, host string, tamper bool) error {
	d.say("%d. %s at %s", step, title, host)
	u, err := d.attest(ctx, step, host)
	if err != nil {
		return err
	}
	d.command("oci-attest --subject-path %s --subject-name %s/demo/app:v1 --push-image \\\n       --signing-key %s --bundle-path %s --statement-path %s",
		d.archive, host, d.keyPath, u.Bundle, d.statementPath(step))
	d.say("   read the archive once: image ID %s, %d layer(s), tags %v", u.Image.ImageID, len(u.Image.DiffIDs), u.Image.RepoTags)
	d.say("   pushed the image and bound it: %s@%s", u.Subject.Repository.Name(), u.Subject.Descriptor.Digest)
	d.say("   in-toto statement (%s) with %d subjects → signed into a Sigstore bundle: %s",
		attest.PredicateType, strings.Count(string(u.Statement), `"digest"`), u.Bundle)
	a := u.Attached
	d.say("   attached the bundle as a referrer manifest %s", a.Artifact.Digest)
	if a.API {
		d.say("   the registry indexes referrers itself: %s; no fallback tag written", a.Reason)
	} else {
		d.say("   %s; the fallback tag %s now lists it", a.Reason, a.ReferrersTag)
	}
	client, err := registry.New(registry.Options{Getenv: d.opts.Getenv})
	if err != nil {
		return err
	}
	refs, source, err := client.Referrers(ctx, u.Subject.Repository, u.Subject.Descriptor, "")
	if err != nil {
		return fmt.Errorf("demo: listing referrers: %w", err)
	}
	d.command("oras discover %s@%s", u.Subject.Repository.Name(), u.Subject.Descriptor.Digest)
	d.say("   listed the referrers back (%s): %d", source, len(refs))
	for _, r := range refs {
		d.say("     %s  %s", r.Digest, r.ArtifactType)
	}
	image := u.Subject.Repository.WithDigest(u.Subject.Descriptor.Digest)
	d.command("oci-attest verify %s --key %s --subject-path %s", image, u.PublicKey, d.archive)
	rep, err := d.verify(ctx, client, image, d.archive)
	if err != nil {
		return fmt.Errorf("demo: verifying: %w", err)
	}
	d.say("   verified: %s\n", rep.Summary())
	if tamper {
		return d.tampered(ctx, step+1, client, image, u.PublicKey)
	}
	return nil
}

// command shows the CLI command a step of the demo stands for.
func (d *demo) command(format string, args ...any) {
	d.say("   $ "+format, args...)
}

// statementPath is where step's statement is written.
func (d *demo) statementPath(step int) string {
	return filepath.Join(d.dir, fmt.Sprintf("statement-%d.json", step))
}

// attest runs the pipeline as the CLI would with --push-image and a key.
func (d *demo) attest(ctx context.Context, step int, host string) (*pipeline.UnitResult, error) {
	var log bytes.Buffer
	rep := actions.New(false, &log, d.opts.Getenv)
	name, err := ref.Parse(host + "/demo/app:v1")
	if err != nil {
		return nil, err
	}
	archives, err := pipeline.ReadArchives(ctx, []string{d.archive}, pipeline.ReadOptions{}, rep)
	if err != nil {
		return nil, err
	}
	plan, err := pipeline.NewPlan(archives, pipeline.Input{Names: []ref.Reference{name}})
	if err != nil {
		return nil, err
	}
	res, err := pipeline.Run(ctx, plan, pipeline.Options{
		Registry:      registry.Options{Getenv: d.opts.Getenv},
		Push:          true,
		PushImage:     true,
		Sign:          sign.Options{SigningKey: d.keyPath, Getenv: d.opts.Getenv},
		BundlePath:    filepath.Join(d.dir, fmt.Sprintf("bundle-%d.sigstore.json", step)),
		StatementPath: d.statementPath(step),
		GitHub:        pipeline.GitHubOptions{Mode: pipeline.GitHubNever},
	}, rep)
	if err != nil {
		return nil, fmt.Errorf("demo against %s: %w\n%s", host, err, log.String())
	}
	return res.Units[0], nil
}

// verify verifies image's attestations with the demo's key and compares
// them with archive.
func (d *demo) verify(ctx context.Context, client *registry.Client, image ref.Reference, archive string) (*verify.Report, error) {
	return verify.Verify(ctx, image, verify.Options{
		Client:      client,
		Policy:      sign.Policy{PublicKey: d.pub},
		SubjectPath: archive,
	})
}

// tampered shows what the attestation is for: the tampered copy of the
// archive verifies as signed, but not as the attested image.
func (d *demo) tampered(ctx context.Context, step int, client *registry.Client, image ref.Reference, pub string) error {
	p := filepath.Join(d.dir, "tampered.tar")
	if err := os.WriteFile(p, tamperedTar, 0o644); err != nil {
		return err
	}
	d.say("%d. A tampered copy: %s (%s changed, the archive rebuilt consistently)", step, p, tamperedFile)
	d.command("oci-attest verify %s --key %s --subject-path %s", image, pub, p)
	rep, err := d.verify(ctx, client, image, p)
	switch {
	case err == nil:
		return errTamperedVerified
	case !errors.Is(err, verify.ErrArchiveDiffers):
		return fmt.Errorf("demo: verifying the tampered archive: %w", err)
	}
	var fields []string
	for _, diff := range rep.Attestations[0].Archive.Differences {
		fields = append(fields, diff.Field)
	}
	d.say("   caught: the signature verifies, but the archive is not the attested image;")
	d.say("   differing fields: %s", strings.Join(fields, ", "))
	d.say("   (the command above exits 5 here: do not docker load it)\n")
	return nil
}
