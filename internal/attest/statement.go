package attest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	intoto "github.com/in-toto/attestation/go/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"
)

// MaxStatementSize bounds a statement's encoded size (README "Limits"). The
// DSSE envelope carries the statement base64-encoded, and a Rekor v2 log
// refuses requests over 4 MiB by default (its max-request-body-size): 2 MiB
// of statement is 2.7 MiB of base64, with room for the signature and the
// certificate. It also keeps the memory that building and signing the
// statement takes well inside the 64 MiB budget.
const MaxStatementSize = 2 << 20

// ErrStatementTooLarge is returned by NewStatement and Marshal when the
// statement would exceed MaxStatementSize.
var ErrStatementTooLarge = errors.New("statement too large")

// minSize is a lower bound of p's JSON encoding plus its subjects, computed
// without encoding anything: the predicate's strings as they are, the
// manifest's raw bytes as base64.
func (p *Predicate) minSize() int {
	n := base64.StdEncoding.EncodedLen(len(p.ManifestRaw))
	for _, e := range p.Manifest {
		n += len(e.Config) + 3
		for _, s := range e.RepoTags {
			n += len(s) + 3
		}
		for _, s := range e.Layers {
			n += len(s) + 3
		}
	}
	for _, s := range p.ImageTags {
		// in imagetags, then as a subject: "imagetag:<tag>" and its digest
		n += 2*len(s) + 64
	}
	return n + 160*len(p.DiffIDs)
}

// tooLarge is the error for a statement of n bytes.
func (p *Predicate) tooLarge(n int) error {
	return fmt.Errorf("%w: the statement would be %d bytes or more, beyond the %d bytes a statement may have (README \"Limits\": the transparency log refuses larger entries); manifest.json is %d bytes and lists %d image(s) and the image %d tag(s): attest an archive of this image alone, under fewer tags (docker save IMAGE:TAG)", ErrStatementTooLarge, n, MaxStatementSize, len(p.ManifestRaw), len(p.Manifest), len(p.ImageTags))
}

// NewStatement builds the in-toto Statement v1 for p. The registry subjects
// (RegistrySubject; added once the image is resolved in its registry) come
// first, then the attestor's own subjects (Predicate.Subjects).
func NewStatement(p *Predicate, registry ...*intoto.ResourceDescriptor) (*intoto.Statement, error) {
	// Refuse before encoding: encoding a huge predicate is what would take
	// the memory.
	if n := p.minSize(); n > MaxStatementSize {
		return nil, p.tooLarge(n)
	}
	raw, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("encoding predicate: %w", err)
	}
	pred := &structpb.Struct{}
	if err := protojson.Unmarshal(raw, pred); err != nil {
		return nil, fmt.Errorf("encoding predicate: %w", err)
	}
	st := &intoto.Statement{
		Type:          intoto.StatementTypeUri,
		Subject:       append(append([]*intoto.ResourceDescriptor{}, registry...), p.Subjects()...),
		PredicateType: PredicateType,
		Predicate:     pred,
	}
	if err := st.Validate(); err != nil {
		return nil, fmt.Errorf("validating statement: %w", err)
	}
	return st, nil
}

// Marshal returns the statement's canonical bytes: protojson with every
// object's keys sorted and no insignificant white space, so the same
// statement always yields the same bytes (protojson alone varies its
// white space on purpose).
func Marshal(st *intoto.Statement) ([]byte, error) {
	b, err := protojson.Marshal(st)
	if err != nil {
		return nil, fmt.Errorf("encoding statement: %w", err)
	}
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		return nil, fmt.Errorf("encoding statement: %w", err)
	}
	if out.Len() > MaxStatementSize {
		return nil, fmt.Errorf("%w: the statement is %d bytes, beyond the %d bytes a statement may have (README \"Limits\": the transparency log refuses larger entries); attest an archive of this image alone, under fewer tags (docker save IMAGE:TAG)", ErrStatementTooLarge, out.Len(), MaxStatementSize)
	}
	return out.Bytes(), nil
}

// ParseStatement decodes an in-toto statement and, when its predicate type
// is PredicateType, its predicate. A statement of another predicate type
// returns a nil Predicate and no error.
func ParseStatement(b []byte) (*intoto.Statement, *Predicate, error) {
	st := &intoto.Statement{}
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(b, st); err != nil {
		return nil, nil, fmt.Errorf("decoding in-toto statement: %w", err)
	}
	if err := st.Validate(); err != nil {
		return nil, nil, fmt.Errorf("validating in-toto statement: %w", err)
	}
	if st.GetPredicateType() != PredicateType {
		return st, nil, nil
	}
	raw, err := protojson.Marshal(st.GetPredicate())
	if err != nil {
		return nil, nil, fmt.Errorf("decoding %s predicate: %w", PredicateType, err)
	}
	p := &Predicate{}
	if err := json.Unmarshal(raw, p); err != nil {
		return nil, nil, fmt.Errorf("decoding %s predicate: %w", PredicateType, err)
	}
	return st, p, nil
}
