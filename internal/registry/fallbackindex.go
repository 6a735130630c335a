package registry

import (
	"encoding/json"
	"fmt"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// fallbackIndex is a fallback-tag index kept byte-faithful: unknown
// top-level fields and every entry are preserved exactly.
type fallbackIndex struct {
	fields  map[string]json.RawMessage
	entries []json.RawMessage
	digests []digest.Digest // digests of entries, same order
}

// newFallbackIndex returns an empty OCI image index.
func newFallbackIndex() *fallbackIndex {
	v, _ := json.Marshal(2)
	mt, _ := json.Marshal(ocispec.MediaTypeImageIndex)
	return &fallbackIndex{fields: map[string]json.RawMessage{"schemaVersion": v, "mediaType": mt}}
}

// parseFallbackIndex parses what the fallback tag holds; anything that is
// not an OCI image index is ErrForeignTag.
func parseFallbackIndex(f *fetched) (*fallbackIndex, error) {
	if f.Desc.MediaType != ocispec.MediaTypeImageIndex {
		return nil, fmt.Errorf("%w: it is %s %q", ErrForeignTag, f.Desc.Digest, f.Desc.MediaType)
	}
	idx := &fallbackIndex{}
	if err := json.Unmarshal(f.Raw, &idx.fields); err != nil {
		return nil, fmt.Errorf("%w: %s does not parse: %w", ErrForeignTag, f.Desc.Digest, err)
	}
	var sv int
	if err := json.Unmarshal(idx.fields["schemaVersion"], &sv); err != nil || sv != 2 {
		return nil, fmt.Errorf("%w: %s has schemaVersion %s", ErrForeignTag, f.Desc.Digest, idx.fields["schemaVersion"])
	}
	if m, ok := idx.fields["manifests"]; ok && string(m) != "null" {
		if err := json.Unmarshal(m, &idx.entries); err != nil {
			return nil, fmt.Errorf("%w: %s has a malformed manifests list: %w", ErrForeignTag, f.Desc.Digest, err)
		}
	}
	for i, e := range idx.entries {
		var d struct {
			Digest digest.Digest `json:"digest"`
		}
		if err := json.Unmarshal(e, &d); err != nil || d.Digest.Validate() != nil {
			return nil, fmt.Errorf("%w: %s entry %d has no valid digest", ErrForeignTag, f.Desc.Digest, i)
		}
		idx.digests = append(idx.digests, d.Digest)
	}
	return idx, nil
}

// has reports whether an entry with digest d is present.
func (x *fallbackIndex) has(d digest.Digest) bool {
	for _, e := range x.digests {
		if e == d {
			return true
		}
	}
	return false
}

// with returns the index bytes with every existing entry, then restore
// (entries known to be absent), then desc appended (when absent).
func (x *fallbackIndex) with(desc ocispec.Descriptor, restore ...json.RawMessage) ([]byte, error) {
	entries := append(x.entries[:len(x.entries):len(x.entries)], restore...)
	present := x.has(desc.Digest)
	for _, e := range restore {
		var d struct {
			Digest digest.Digest `json:"digest"`
		}
		if json.Unmarshal(e, &d) == nil && d.Digest == desc.Digest {
			present = true
		}
	}
	if !present {
		e, err := json.Marshal(desc)
		if err != nil {
			return nil, err
		}
		entries = append(entries[:len(entries):len(entries)], e)
	}
	fields := make(map[string]json.RawMessage, len(x.fields)+1)
	for k, v := range x.fields {
		fields[k] = v
	}
	m, err := json.Marshal(entries)
	if err != nil {
		return nil, err
	}
	if len(entries) == 0 {
		m = []byte("[]")
	}
	fields["manifests"] = m
	return json.Marshal(fields)
}

// seenEntries are the entries of every fallback index read during one
// update, by digest, in the order first seen. Writers only ever add
// entries, so one that was read and is gone was dropped by a write merged
// from an older index — a write whose client gave up on it but which the
// registry still committed, possibly our own — and is put back.
type seenEntries struct {
	order []digest.Digest
	raw   map[digest.Digest]json.RawMessage
}

// add records the entries of idx.
func (s *seenEntries) add(idx *fallbackIndex) {
	if s.raw == nil {
		s.raw = map[digest.Digest]json.RawMessage{}
	}
	for i, d := range idx.digests {
		if _, ok := s.raw[d]; !ok {
			s.raw[d] = idx.entries[i]
			s.order = append(s.order, d)
		}
	}
}

// missingFrom returns the seen entries idx lacks.
func (s *seenEntries) missingFrom(idx *fallbackIndex) []json.RawMessage {
	var out []json.RawMessage
	for _, d := range s.order {
		if !idx.has(d) {
			out = append(out, s.raw[d])
		}
	}
	return out
}
