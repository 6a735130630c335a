package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-attest/oci-attest/internal/retry"
)

// Fallback protocol parameters (ARCHITECTURE.md, "The fallback tag").
const (
	// defaultSettle is the default settle delay before each verification
	// read of the fallback tag.
	defaultSettle = 3 * time.Second
	// fallbackAttempts bounds the read–merge–write–verify rounds.
	fallbackAttempts = 10
	// defaultVerifyReads is how many verification reads, a settle delay
	// apart, must see the same index with our entry.
	defaultVerifyReads = 2
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

// readFallback GETs the fallback tag: (nil, "", nil) when it is absent.
func (r repo) readFallback(ctx context.Context, tag string) (*fallbackIndex, *fetched, error) {
	f, err := r.getManifest(ctx, tag)
	if errors.Is(err, ErrNotFound) {
		return newFallbackIndex(), nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	idx, err := parseFallbackIndex(f)
	if err != nil {
		return nil, nil, fmt.Errorf("reading fallback tag %s:%s: %w", r.name(), tag, err)
	}
	return idx, f, nil
}

// updateFallback adds entry to the fallback index of subject without losing
// any other writer's entry (ARCHITECTURE.md, "The fallback tag", where the argument
// below is written out):
//
//  1. GET the tag, keeping its ETag; 404 → empty index; not an OCI index →
//     ErrForeignTag (never overwritten).
//  2. Merge: keep every entry byte for byte, add ours once, and put back
//     any entry an earlier read of this update showed (see seenEntries).
//  3. PUT with If-Match when a strong ETag was served; 412 → back to 1. The PUT
//     must land within settle/2 of the read it is based on (its context
//     deadline, counted from when the read was sent); a slower round is
//     abandoned and re-read.
//  4. Verify: after a randomized settle delay (settle..1.5·settle), GET the
//     tag twice, a settle delay apart; every read must show the
//     same index digest, our entry and every entry read before. Otherwise back to 1 after a jittered
//     backoff; after fallbackAttempts rounds, ErrFallbackLost.
//  5. Superseded indexes are left alone.
//
// Why it is lossless without If-Match: every writer's PUT lands at most D =
// settle/2 after the read it merged. A writer returns only after seeing the
// same index I (with its entry) at two reads v1 < v2 with v2-v1 ≥ settle > D.
// A PUT landing after v2 was merged from a read after v2-D > v1, i.e. from I
// (or from an index that derived from I and kept its entries, since every
// writer keeps every entry it reads); a PUT based on a read before our own
// write landed has already landed by v1 (v1 is ≥ settle after our write) and,
// had it dropped us, v1 would not have seen us. The residual gap is an ABA
// between two verification reads (I replaced and restored byte-identically
// within one settle), which needs two writes between samples and still leaves
// the later writers verifying; the package test runs 16+ processes against
// one tag to measure it.
//
// The bound D is the client's: a write it gave up on can still be committed
// later by a slow registry, merged from an old index. Entries this update
// read and such a write dropped are put back (seenEntries) as long as the
// late write lands before our last verification read; one landing later
// still can drop entries (If-Match, where the registry honours it, is the
// only full guard).
//
// It returns how many read–merge–write–verify rounds it took.
func (r repo) updateFallback(ctx context.Context, tag string, entry ocispec.Descriptor, settle time.Duration, reads int) (int, error) {
	if settle <= 0 {
		settle = defaultSettle
	}
	if reads <= 0 {
		reads = defaultVerifyReads
	}
	rounds := 0
	var seen seenEntries
	var last error
	var wait time.Duration // what the registry asked for (Retry-After)
	for attempt := 0; attempt < fallbackAttempts; attempt++ {
		rounds++
		if attempt > 0 {
			if err := sleep(ctx, max(wait, roundBackoff(attempt, settle))); err != nil {
				return rounds, fmt.Errorf("updating fallback tag %s:%s: %w (last: %w)", r.name(), tag, err, last)
			}
		}
		wait = 0
		// The registry answered from its state at some moment after the
		// read was sent: the write deadline counts from the send of the
		// read's last attempt, not from the arrival of its answer.
		var sent atomic.Int64
		sent.Store(time.Now().UnixNano())
		idx, cur, err := r.readFallback(withSentAt(ctx, &sent), tag)
		if err != nil {
			return rounds, err
		}
		readAt := time.Unix(0, sent.Load())
		seen.add(idx)
		if restore := seen.missingFrom(idx); !idx.has(entry.Digest) || len(restore) > 0 {
			raw, err := idx.with(entry, restore...)
			if err != nil {
				return rounds, fmt.Errorf("merging fallback index %s:%s: %w", r.name(), tag, err)
			}
			hdr := http.Header{}
			// A weak ETag (a proxy that compressed the answer weakens
			// it) never matches under If-Match's strong comparison:
			// sending it would fail every round, so the write relies on
			// the timing protocol instead.
			if cur != nil && cur.ETag != "" && !strings.HasPrefix(cur.ETag, "W/") {
				hdr.Set("If-Match", cur.ETag)
			}
			// Sent once, and it must land within settle/2 of its read: a
			// retry of a failed write starts again from a fresh read.
			pctx, cancel := context.WithDeadline(retry.Once(ctx), readAt.Add(settle/2))
			_, err = r.putManifest(pctx, tag, ocispec.MediaTypeImageIndex, raw, hdr)
			cancel()
			if err != nil {
				if ctx.Err() != nil {
					return rounds, fmt.Errorf("writing fallback tag %s:%s: %w", r.name(), tag, err)
				}
				ok, ra := transient(err)
				switch {
				case errors.Is(err, errPreconditionFailed):
					last = fmt.Errorf("writing fallback tag %s:%s: another writer changed it (412)", r.name(), tag)
				case errors.Is(err, context.DeadlineExceeded):
					last = fmt.Errorf("writing fallback tag %s:%s: the write took longer than %v after its read", r.name(), tag, settle/2)
				case ok:
					last, wait = err, ra
				default:
					return rounds, err
				}
				continue
			}
		}
		ok, err := r.verifyFallback(ctx, tag, entry.Digest, &seen, settle, reads)
		if err != nil {
			return rounds, err
		}
		if ok {
			return rounds, nil
		}
		last = fmt.Errorf("verifying fallback tag %s:%s: our entry %s and every entry read before were not stably present", r.name(), tag, entry.Digest)
	}
	return rounds, fmt.Errorf("%w: %s:%s after %d rounds: %w (the referrer manifest %s is pushed; rerun to retry the tag)", ErrFallbackLost, r.name(), tag, rounds, last, entry.Digest)
}

// verifyFallback reads the tag reads times, a randomized settle delay
// apart, and reports whether every read showed the same index holding d and
// every entry seen so far.
func (r repo) verifyFallback(ctx context.Context, tag string, d digest.Digest, known *seenEntries, settle time.Duration, reads int) (bool, error) {
	var first digest.Digest
	for i := 0; i < reads; i++ {
		if err := sleep(ctx, settle+time.Duration(rand.Int64N(int64(settle/2)+1))); err != nil { //nolint:gosec // jitter
			return false, err
		}
		idx, f, err := r.readFallback(ctx, tag)
		if err != nil {
			return false, err
		}
		if f == nil || !idx.has(d) || len(known.missingFrom(idx)) > 0 {
			return false, nil
		}
		known.add(idx)
		if i == 0 {
			first = f.Desc.Digest
		} else if f.Desc.Digest != first {
			return false, nil
		}
	}
	return true, nil
}

// roundBackoff is a full-jitter exponential backoff between rounds,
// 100 ms·2^attempt capped at settle.
func roundBackoff(attempt int, settle time.Duration) time.Duration {
	d := 100 * time.Millisecond << attempt
	if d > settle || d <= 0 {
		d = settle
	}
	return time.Duration(rand.Int64N(int64(d)) + 1) //nolint:gosec // jitter
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
