package attach

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-attest/oci-attest/internal/ref"
	"github.com/oci-attest/oci-attest/internal/registry"
	"github.com/oci-attest/oci-attest/internal/verify"
)

// maxExisting bounds the referrers of one subject read to find a bundle
// already attached (Verify checks as many).
const maxExisting = 1024

// push attaches the planned referrers that are not attached yet, in one
// AttachAll (the referrer manifests one after the other, then the fallback
// tags together, as the attest pipeline does), and records each in rep.
func push(ctx context.Context, client *registry.Client, repo ref.Reference, plan []planned, opts registry.AttachOptions, rep *Report) error {
	var refs []registry.Referrer
	var todo []planned
	first := map[string]int{} // subject and bundle digest → its index in todo
	type dup struct {
		p     planned
		first int
	}
	var dups []dup // the same bundle for the same subject again (two copies in a directory)
	for _, p := range plan {
		att := Attached{Source: p.bundle.Source, Subject: p.subject.Digest.String(), Signer: p.att.Signer}
		bundle := digest.FromBytes(p.bundle.Raw)
		key := p.subject.Digest.String() + " " + bundle.String()
		if i, ok := first[key]; ok {
			dups = append(dups, dup{p, i})
			continue
		}
		d, via, err := attachedAlready(ctx, client, repo, p.subject, bundle)
		if err != nil {
			return err
		}
		if d != "" {
			att.Referrer, att.Via, att.Already = d.String(), via, true
			rep.Attached = append(rep.Attached, att)
			continue
		}
		s := &registry.Subject{Repository: repo, Descriptor: p.subject, Image: p.subject}
		refs = append(refs, registry.Referrer{Subject: s, Bundle: p.bundle.Raw, Created: p.created})
		first[key] = len(todo)
		todo = append(todo, p)
	}
	if len(refs) == 0 {
		return nil
	}
	opts.PredicateType = predicateType
	res, err := client.AttachAll(ctx, refs, opts)
	done := make([]Attached, len(res))
	for i, r := range res {
		if r == nil {
			continue
		}
		p := todo[i]
		att := Attached{Source: p.bundle.Source, Subject: p.subject.Digest.String(), Signer: p.att.Signer,
			Referrer: r.Artifact.Digest.String(), Via: "api", Reason: r.Reason}
		if r.ReferrersTag != "" {
			att.Via = "tag:" + r.ReferrersTag
		}
		done[i] = att
		rep.Attached = append(rep.Attached, att)
	}
	for _, d := range dups {
		if d.first >= len(res) || res[d.first] == nil {
			continue
		}
		att := done[d.first]
		att.Source, att.Signer, att.Already = d.p.bundle.Source, d.p.att.Signer, true
		att.Reason = "the same bundle as " + todo[d.first].bundle.Source
		rep.Attached = append(rep.Attached, att)
	}
	return err
}

// attachedAlready finds a referrer of subject holding the bundle whose
// digest is bundle, and says where it was listed ("api" or
// "tag:sha256-<hex>"); "" when there is none.
func attachedAlready(ctx context.Context, client *registry.Client, repo ref.Reference, subject ocispec.Descriptor, bundle digest.Digest) (digest.Digest, string, error) {
	descs, via, err := client.Referrers(ctx, repo, subject, registry.BundleMediaType)
	if err != nil {
		return "", "", fmt.Errorf("listing the referrers of %s@%s: %w", repo.Name(), subject.Digest, err)
	}
	for i, d := range descs {
		if i == maxExisting {
			break
		}
		raw, _, err := client.FetchManifest(ctx, repo, d.Digest.String())
		if errors.Is(err, registry.ErrNotFound) {
			continue // a dangling entry holds nothing
		}
		if err != nil {
			return "", "", fmt.Errorf("reading the referrer %s of %s@%s: %w", d.Digest, repo.Name(), subject.Digest, err)
		}
		var m ocispec.Manifest
		if json.Unmarshal(raw, &m) != nil || m.Subject == nil || m.Subject.Digest != subject.Digest {
			continue
		}
		// Only a referrer verify would check counts: one that holds this
		// bundle as its one Sigstore bundle layer, and that neither its
		// listing nor its manifest says is of another predicate type.
		if verify.Foreign(d) != "" || verify.Foreign(ocispec.Descriptor{ArtifactType: d.ArtifactType, Annotations: m.Annotations}) != "" {
			continue
		}
		if len(m.Layers) == 1 && m.Layers[0].MediaType == registry.BundleMediaType && m.Layers[0].Digest == bundle {
			return d.Digest, via, nil
		}
	}
	return "", "", nil
}
