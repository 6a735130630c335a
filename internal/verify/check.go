package verify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	sgverify "github.com/sigstore/sigstore-go/pkg/verify"

	"github.com/oci-attest/oci-attest/internal/attest"
	"github.com/oci-attest/oci-attest/internal/ref"
	"github.com/oci-attest/oci-attest/internal/registry"
	"github.com/oci-attest/oci-attest/internal/sign"
)

// predicateType is the predicate type of the attestations Verify keeps.
const predicateType = attest.PredicateType

// bundleParseError starts the error of a referrer whose layer is no
// Sigstore bundle.
const bundleParseError = "parsing the Sigstore bundle: "

// checker verifies the referrers of one subject.
type checker struct {
	reg        source
	repository ref.Reference
	subject    ocispec.Descriptor
	image      ref.Reference
	opts       Options
	pol        certPolicy
	local      *localArchive
}

// check fetches and verifies one Sigstore bundle referrer. It returns the
// attestation (verified or with the reason it was rejected), or a non-empty
// reason to ignore the referrer when its statement is of another predicate
// type.
func (c checker) check(ctx context.Context, d ocispec.Descriptor, source string, named *[]string) (Attestation, string) {
	a := Attestation{Digest: d.Digest.String(), Source: source, Created: d.Annotations[ocispec.AnnotationCreated]}
	raw, err := c.reg.bundle(ctx, c.repository, d, c.subject)
	if err != nil {
		a.Error = err.Error()
		a.Unreadable = errors.Is(err, errRegistry)
		return a, ""
	}
	annotated := d.Annotations[registry.AnnotationPredicateType]
	why := checkBundle(ctx, raw, &a, bundleCheck{
		opts: c.opts, pol: c.pol, local: c.local, image: c.image,
		subject: c.subject.Digest.String(), annotatedType: annotated, named: named,
	})
	return a, why
}

// bundleCheck is what checkBundle holds a bundle to.
type bundleCheck struct {
	opts  Options
	pol   certPolicy
	local *localArchive
	image ref.Reference
	// subject is the digest the statement must name as a subject; "" when
	// the caller compares the predicate with a local archive instead (a
	// bundle file verified where the archive arrives).
	subject string
	// annotatedType is the predicate type the referrer's annotation claims;
	// "" when there is none (a bundle file, an unannotated referrer).
	annotatedType string
	// named, when set, receives the digests the verified statement names,
	// and predicate its oci attestor predicate.
	named     *[]string
	predicate **attest.Predicate
}

// checkBundle verifies one bundle into a: the signature against the trusted
// material and the signer policy, the certificate's repository and
// workflow, the predicate type and, with a local archive, the predicate
// against it. It returns a non-empty reason to ignore the bundle when its
// statement is of another predicate type and nothing claimed it was ours.
func checkBundle(ctx context.Context, raw []byte, a *Attestation, c bundleCheck) string {
	b := &bundle.Bundle{Bundle: new(protobundle.Bundle)}
	if err := b.UnmarshalJSON(raw); err != nil {
		a.Error = bundleParseError + err.Error()
		return ""
	}
	env := b.GetDsseEnvelope()
	if env == nil {
		if c.annotatedType == "" && c.subject != "" {
			return "the bundle holds a message signature, not an attestation"
		}
		a.Error = "the bundle holds no DSSE envelope"
		return ""
	}
	if why, other := c.otherPredicateType(env.GetPayload(), a); other {
		return why
	}
	a.Signer = claimedSigner(b)
	a.LogIndex = logIndex(b)
	if c.verifySigner(ctx, raw, a) {
		c.readStatement(env.GetPayload(), a)
	}
	return ""
}

// otherPredicateType reports whether the statement in payload is of
// another predicate type than ours, and then why the bundle is ignored
// (nothing claimed it was ours) or, when something did, a.Error. Before
// verification the payload is only looked at to skip statements of other
// predicate types; nothing from it is reported.
func (c bundleCheck) otherPredicateType(payload []byte, a *Attestation) (string, bool) {
	var probe struct {
		PredicateType string `json:"predicateType"`
	}
	if json.Unmarshal(payload, &probe) != nil || probe.PredicateType == "" || probe.PredicateType == predicateType {
		return "", false
	}
	switch {
	case c.annotatedType == "" && c.subject != "":
		return fmt.Sprintf("predicate type %q is not ours", probe.PredicateType), true
	case c.annotatedType == "":
		a.Error = fmt.Sprintf("the statement's predicate type is %q, not the oci attestor's %s", probe.PredicateType, predicateType)
	default:
		a.Error = fmt.Sprintf("the statement's predicate type %q differs from the referrer's annotation %q", probe.PredicateType, c.annotatedType)
	}
	return "", true
}

// verifySigner verifies the bundle's signature against the trusted
// material and the signer policy, and the certificate's repository and
// workflow against the certificate policy, recording the verified signer
// and timestamps in a. It reports whether the bundle passed; if not, it
// set a.Error.
func (c bundleCheck) verifySigner(ctx context.Context, raw []byte, a *Attestation) bool {
	pol := c.opts.Policy
	pol.Digest = c.subject
	pol.SkipArtifact = c.subject == ""
	res, err := sign.Verify(ctx, raw, c.opts.TrustedMaterial, pol)
	if err != nil {
		a.Error, a.KeySigned = err.Error(), errors.Is(err, sign.ErrKeySigned)
		return false
	}
	if cert := res.Signature.Certificate; cert != nil {
		a.Signer = &Signer{
			Identity:         cert.SubjectAlternativeName,
			Issuer:           cert.Extensions.Issuer,
			SourceRepository: cert.Extensions.SourceRepositoryURI,
			BuildSigner:      cert.Extensions.BuildSignerURI,
			BuildConfig:      cert.Extensions.BuildConfigURI,
		}
		if err := c.pol.check(cert.Extensions.SourceRepositoryURI, cert.Extensions.BuildSignerURI); err != nil {
			a.Error = err.Error()
			return false
		}
	} else if !c.pol.empty() {
		a.Error = "the bundle is key-signed: it has no certificate to check the repository or workflow against"
		return false
	}
	a.Timestamps = timestamps(res.VerifiedTimestamps)
	return true
}

// readStatement reads the verified statement in payload into a: the
// digests it names (into c.named), its oci attestor predicate and, with a
// local archive, how the predicate compares with it. a is Verified when
// the statement carries our predicate; else it gets an Error.
func (c bundleCheck) readStatement(payload []byte, a *Attestation) {
	st, p, err := attest.ParseStatement(payload)
	if err != nil {
		a.Error = err.Error()
		return
	}
	if c.named != nil {
		for _, s := range st.GetSubject() {
			if d := s.GetDigest()["sha256"]; d != "" {
				*c.named = append(*c.named, "sha256:"+d)
			}
		}
	}
	if p == nil {
		a.Error = fmt.Sprintf("the statement's predicate is not %s", predicateType)
		return
	}
	a.Verified = true
	if c.predicate != nil {
		*c.predicate = p
	}
	a.Predicate = &PredicateSummary{
		ImageID:   "sha256:" + p.ImageID["sha256"],
		Tags:      append([]string{}, p.ImageTags...),
		Layers:    len(p.DiffIDs),
		TarDigest: "sha256:" + p.TarDigest["sha256"],
	}
	if c.local != nil {
		a.Archive = c.local.compare(p, c.image)
	}
}

// claimedSigner is what the bundle says about its signer before
// verification (replaced by the verified certificate summary afterwards).
func claimedSigner(b *bundle.Bundle) *Signer {
	vm := b.GetVerificationMaterial()
	if h := vm.GetPublicKey().GetHint(); h != "" {
		return &Signer{KeyHint: h}
	}
	return nil
}

// logIndex is the index of the bundle's first transparency log entry.
func logIndex(b *bundle.Bundle) *int64 {
	es := b.GetVerificationMaterial().GetTlogEntries()
	if len(es) == 0 {
		return nil
	}
	i := es[0].GetLogIndex()
	return &i
}

// timestamps converts sigstore-go's verified timestamps, oldest first.
func timestamps(vs []sgverify.TimestampVerificationResult) []Timestamp {
	var ts []Timestamp
	for _, v := range vs {
		kind := strings.ToLower(v.Type)
		switch v.Type {
		case "TimestampAuthority":
			kind = "rfc3161"
		case "Tlog":
			kind = "tlog"
		}
		ts = append(ts, Timestamp{Kind: kind, Time: v.Timestamp.UTC(), URI: v.URI})
	}
	slices.SortStableFunc(ts, func(x, y Timestamp) int { return x.Time.Compare(y.Time) })
	return ts
}
