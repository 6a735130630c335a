// Package attest turns a scanned image archive into the oci attestor
// predicate and an in-toto Statement v1 (ARCHITECTURE.md, "The predicate and the statement").
package attest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	intoto "github.com/in-toto/attestation/go/v1"
	digest "github.com/opencontainers/go-digest"

	"github.com/oci-attest/oci-attest/internal/oci"
)

// PredicateType is the oci attestor's predicate type
// (https://aflock.ai/attestations/oci/v0.1).
const PredicateType = "https://aflock.ai/attestations/oci/v0.1"

// DigestSet is an in-toto digest set. It only ever carries "sha256": other
// keys break sigstore-go's subject check.
type DigestSet map[string]string

// Predicate is the oci attestor predicate, field for field the seed's
// "Output shape". The derived fields (imagetags, diffids, imageid) describe
// the image that is attested; manifest keeps every entry of the archive.
type Predicate struct {
	TarDigest      DigestSet           `json:"tardigest"`
	Manifest       []oci.ManifestEntry `json:"manifest"`
	ImageTags      []string            `json:"imagetags"`
	DiffIDs        []DigestSet         `json:"diffids"`
	ImageID        DigestSet           `json:"imageid"`
	ManifestRaw    []byte              `json:"manifestraw"`
	ManifestDigest DigestSet           `json:"manifestdigest"`
}

// NewPredicate builds the predicate for img, one of a's images.
// manifestdigest is the sha256 of manifestraw (manifest.json's bytes, or
// index.json's for an OCI-layout archive).
func NewPredicate(a *oci.Archive, img *oci.Image) *Predicate {
	sum := sha256.Sum256(a.ManifestRaw)
	p := &Predicate{
		TarDigest:      digestSet(a.TarDigest),
		Manifest:       a.Manifest,
		ImageTags:      append([]string{}, img.RepoTags...),
		DiffIDs:        make([]DigestSet, 0, len(img.DiffIDs)),
		ImageID:        digestSet(img.ImageID),
		ManifestRaw:    a.ManifestRaw,
		ManifestDigest: DigestSet{"sha256": hex.EncodeToString(sum[:])},
	}
	if p.Manifest == nil {
		p.Manifest = []oci.ManifestEntry{}
	}
	for _, d := range img.DiffIDs {
		p.DiffIDs = append(p.DiffIDs, digestSet(d))
	}
	return p
}

func digestSet(d digest.Digest) DigestSet {
	return DigestSet{"sha256": d.Encoded()}
}

// Subjects returns the attestor's own subjects, named as the seed names them:
// manifestdigest:<hex>, tardigest:<hex>, imageid:<hex>, one imagetag:<tag>
// per tag (digest = sha256 of the tag string) and layerdiffidNN:<hex> per
// layer (zero-padded, zero-based index, as go-witness numbers them).
func (p *Predicate) Subjects() []*intoto.ResourceDescriptor {
	subs := []*intoto.ResourceDescriptor{
		subject("manifestdigest:"+p.ManifestDigest["sha256"], p.ManifestDigest),
		subject("tardigest:"+p.TarDigest["sha256"], p.TarDigest),
		subject("imageid:"+p.ImageID["sha256"], p.ImageID),
	}
	for _, tag := range p.ImageTags {
		sum := sha256.Sum256([]byte(tag))
		subs = append(subs, subject("imagetag:"+tag, DigestSet{"sha256": hex.EncodeToString(sum[:])}))
	}
	for i, d := range p.DiffIDs {
		subs = append(subs, subject(fmt.Sprintf("layerdiffid%02d:%s", i, d["sha256"]), d))
	}
	return subs
}

// RegistrySubject is the subject that names the image in its registry:
// name is "<registry>/<repository>" and d its manifest (or index) digest.
// cosign verify-attestation and gh attestation verify look for it.
func RegistrySubject(name string, d digest.Digest) *intoto.ResourceDescriptor {
	return subject(name, digestSet(d))
}

func subject(name string, d DigestSet) *intoto.ResourceDescriptor {
	return &intoto.ResourceDescriptor{Name: name, Digest: map[string]string(d)}
}
