package attest

import (
	"bytes"
	"encoding/json"
	"fmt"

	intoto "github.com/in-toto/attestation/go/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"
)

// NewStatement builds the in-toto Statement v1 for p. The registry subjects
// (RegistrySubject; added once the image is resolved in its registry) come
// first, then the attestor's own subjects (Predicate.Subjects).
func NewStatement(p *Predicate, registry ...*intoto.ResourceDescriptor) (*intoto.Statement, error) {
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
