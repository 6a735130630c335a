package pipeline

import (
	"context"
	"errors"

	"github.com/oci-attest/oci-attest/internal/attest"
	"github.com/oci-attest/oci-attest/internal/registry"
)

// attach pushes each unit's bundle of one binding as a referrer of its
// subject (Push) and, for a platform of an index, of the platform manifest
// too, in one AttachAll: the fallback tags are then written together, so
// that a run's writers reach the index's tag at once rather than one after
// the other, which keeps the quiet spells the protocol waits for short when
// many jobs attach at once (ARCHITECTURE.md, "Multi-platform and
// multi-image"). Units whose referrers were all pushed get their results
// even when another unit's failed; the first unit that failed is returned
// with the error.
func (r *run) attach(ctx context.Context, units []*UnitResult) (*Unit, error) {
	if !r.opts.Push || units[0].Subject == nil {
		return nil, nil
	}
	var refs []registry.Referrer
	var of []int // the unit of each referrer
	for i, u := range units {
		s := u.Subject
		refs = append(refs, registry.Referrer{Subject: s, Bundle: u.Signed.Bundle})
		of = append(of, i)
		if is := s.ImageSubject(); is != s {
			refs = append(refs, registry.Referrer{Subject: is, Bundle: u.Signed.Bundle})
			of = append(of, i)
		}
	}
	opts := r.opts.Attach
	opts.PredicateType = attest.PredicateType
	res, err := r.client.AttachAll(ctx, refs, opts)
	var failed *Unit
	for i, u := range units {
		r.rep.Group("Pushing the attestation to " + u.Subject.Repository.Name() + r.platformSuffix(u))
		var mine []*registry.AttachResult
		ok := true
		for j, ar := range res {
			switch {
			case of[j] != i:
			case ar == nil:
				ok = false
			default:
				mine = append(mine, ar)
				r.logAttached(ar, u, refs[j].Subject)
			}
		}
		r.rep.EndGroup()
		if !ok || len(mine) == 0 {
			if failed == nil {
				failed = u.Unit
			}
			continue
		}
		u.Attached = mine[0]
		if len(mine) > 1 {
			u.AttachedImage = mine[1]
		}
	}
	if failed == nil && err == nil {
		return nil, nil
	}
	if failed == nil {
		failed = units[0].Unit
	}
	if err == nil {
		err = errors.New("the registry kept no referrer")
	}
	return failed, stageError(StageAttach, units[0].Target, failed.Binding, !failed.Binding.Named, err)
}

// logAttached says what one referrer push did.
func (r *run) logAttached(ar *registry.AttachResult, u *UnitResult, subject *registry.Subject) {
	r.rep.Infof("attached %s to %s@%s: %s", ar.Artifact.Digest, u.Subject.Repository.Name(), subject.Descriptor.Digest, ar.Reason)
	if ar.ReferrersTag != "" {
		how := "If-Match not tested (a new tag, or no strong ETag): two verification reads"
		switch {
		case ar.TagIfMatch && ar.TagReads == 1:
			how = "the registry honours If-Match: conditional write, one verification read"
		case ar.TagIfMatch:
			how = "the registry honours If-Match; the last round's write came after no refused probe: two verification reads"
		case ar.TagIfMatchIgnored:
			how = "the registry ignores If-Match: two verification reads"
		}
		r.rep.Infof("fallback tag %s written and verified in %d round(s) (%s)", ar.ReferrersTag, ar.TagRounds, how)
	}
	if ar.Reuploads > 0 {
		r.rep.Infof("the registry did not know a blob of the referrer while other uploads of it were under way: uploaded it again %d time(s)", ar.Reuploads)
	}
}

// platformSuffix is " (linux/amd64)" when a run attests several images.
func (r *run) platformSuffix(u *UnitResult) string {
	if p := u.Image.Platform.String(); p != "" && r.several {
		return " (" + p + ")"
	}
	return ""
}
