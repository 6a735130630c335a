package pipeline

import (
	"context"
	"errors"
	"strings"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-attest/oci-attest/internal/ref"
	"github.com/oci-attest/oci-attest/internal/registry"
)

// bind finds the registry subject of b — pushing the archived image (or its
// whole index) first with PushImage — and checks that it is the archived
// image: for an index, every attested platform (registry.ResolveIndex). It
// returns the registry name bound (zero when the run needs no registry) and
// one subject per unit of b (nil then).
func (r *run) bind(ctx context.Context, b *Binding) (ref.Reference, []*registry.Subject, error) {
	target, defaulted, err := r.target(b)
	if err != nil || target.IsZero() {
		return target, nil, err
	}
	fail := func(stage string, err error) (ref.Reference, []*registry.Subject, error) {
		return target, nil, stageError(stage, target, b, defaulted, err)
	}
	if r.client == nil {
		if r.client, err = registry.New(r.opts.Registry); err != nil {
			return target, nil, err
		}
	}
	if r.opts.PushImage {
		pushed, err := r.push(ctx, b, target)
		if err != nil {
			return fail(StagePush, err)
		}
		target.Digest = pushed
	}
	ss, err := r.client.ResolveIndex(ctx, target, b.Images)
	if err != nil {
		return fail(StageBind, err)
	}
	r.rep.Infof("subject %s@%s (%s) is the attested image", ss[0].Repository.Name(), ss[0].Descriptor.Digest, ss[0].Descriptor.MediaType)
	for i, s := range ss {
		if s.Image.Digest != s.Descriptor.Digest {
			r.rep.Infof("image index: %s is child %s, whose config is the attested image ID", DescribeImage(b.Images[i]), s.Image.Digest)
		}
	}
	return target, ss, nil
}

// target is the registry name b is bound to: the caller's, else the image's
// RepoTag (defaulted). Zero when nothing asks for the registry.
func (r *run) target(b *Binding) (target ref.Reference, defaulted bool, err error) {
	target = b.Target
	if tag := b.DefaultTag; target.IsZero() && tag != "" {
		t, err := ref.Parse(tag)
		if err != nil || !strings.Contains(tag, "/") {
			// A bare name ("app:1") is a Docker Hub official image to
			// docker: surely not where this image is meant to go.
			return target, false, &FieldError{Field: "Names", Usage: true, Err: errorf(ErrNoRepository, "the archive's image is tagged only %q, which names no registry repository", tag)}
		}
		if !r.opts.Push && b.Digest == "" {
			return target, false, nil // only the archive is attested; nothing asks for the registry
		}
		target, defaulted = t, true
		target.Digest = b.Digest
	}
	if target.IsZero() && (b.Digest != "" || r.opts.Push) {
		return target, false, &FieldError{Field: "Names", Usage: true, Err: ErrUntagged}
	}
	return target, defaulted, nil
}

// push pushes a binding's image to target (PushImage): an index whole and
// byte for byte when the archive holds all of it, else the one image. It
// returns the pushed digest.
func (r *run) push(ctx context.Context, b *Binding, target ref.Reference) (digest.Digest, error) {
	r.rep.Group("Pushing the image to " + target.String())
	defer r.rep.EndGroup()
	if b.Index != nil {
		d, err := r.client.PushIndex(ctx, b.Archive, b.Index, target)
		switch {
		case err == nil:
			r.rep.Infof("pushed image index %s@%s byte for byte (%d attested platform(s) in it)", target, d.Digest, len(b.Images))
			return d.Digest, nil
		case errors.Is(err, registry.ErrIncomplete) && len(b.Images) == 1:
			r.rep.Infof("the archive holds only %s of its index (%v): pushing that image alone", DescribeImage(b.Images[0]), err)
		default:
			return "", err
		}
	}
	var d ocispec.Descriptor
	d, err := r.client.PushImage(ctx, b.Archive, b.Images[0], target)
	if err != nil {
		return "", err
	}
	r.rep.Infof("pushed %s@%s", target, d.Digest)
	return d.Digest, nil
}
