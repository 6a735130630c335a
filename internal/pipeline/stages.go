package pipeline

import (
	"context"
	"time"

	intoto "github.com/in-toto/attestation/go/v1"

	"github.com/oci-attest/oci-attest/internal/attest"
	"github.com/oci-attest/oci-attest/internal/sign"
)

// statement builds the unit's in-toto statement — the registry subjects (the
// image, and the matched child of an index), then the attestor's — and
// writes it to StatementPath when that is set.
func (r *run) statement(_ context.Context, u *UnitResult) error {
	var subjects []*intoto.ResourceDescriptor
	if s := u.Subject; s != nil {
		subjects = append(subjects, attest.RegistrySubject(s.Repository.Name(), s.Descriptor.Digest))
		if s.Image.Digest != s.Descriptor.Digest {
			subjects = append(subjects, attest.RegistrySubject(s.Repository.Name(), s.Image.Digest))
		}
	}
	st, err := r.files.statement(u.Unit, subjects, r.rep)
	u.Statement = st
	return err
}

// sign signs the statement into a verified Sigstore bundle.
func (r *run) sign(ctx context.Context, u *UnitResult) error {
	if r.several {
		r.rep.Group("Signing " + u.Describe())
	} else {
		r.rep.Group("Signing")
	}
	defer r.rep.EndGroup()
	opts := r.opts.Sign
	opts.Mask = r.rep.Mask
	res, err := sign.Sign(ctx, u.Statement, opts)
	if err != nil {
		return err
	}
	u.Signed = res
	switch {
	case res.Identity != "":
		r.rep.Infof("signed keylessly (%s): identity %s, issuer %s", res.Instance, res.Identity, res.Issuer)
	default:
		r.rep.Infof("signed with a key (not keyless): public key hint %s", res.KeyHint)
	}
	if res.LogIndex >= 0 {
		r.rep.Infof("transparency log entry: index %d", res.LogIndex)
	}
	for _, ts := range res.Timestamps {
		r.rep.Infof("timestamp: %s", ts.UTC().Format(time.RFC3339))
	}
	return nil
}

// write writes the bundle (and a key-signed bundle's public key beside it).
func (r *run) write(_ context.Context, u *UnitResult) error {
	bundle, pub, err := r.files.bundle(u.Unit, u.Signed, r.rep)
	u.Bundle, u.PublicKey = bundle, pub
	return err
}
