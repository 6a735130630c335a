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
	// defaultSettle is the default settle: writes must land within
	// D = settle/2 of their read, and each verification read waits D (plus
	// jitter) after the answer before it.
	defaultSettle = 3 * time.Second
	// fallbackAttempts bounds the read–merge–write–verify rounds.
	fallbackAttempts = 10
	// defaultVerifyReads is how many verification reads, each D after the
	// answer before it, must see the same index with our entry.
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

// ifMatchProbe is the If-Match of an update's first conditional write: no
// registry's ETag is this string (they are quoted digests), so a registry
// that honours If-Match answers 412 and one that ignores it commits the
// write.
const ifMatchProbe = `"oci-attest-if-match-probe"`

// fallbackStats says how an update of the fallback tag went.
type fallbackStats struct {
	// rounds is the number of read–merge–write–verify rounds.
	rounds int
	// ifMatch reports that the registry answered the If-Match probe with
	// 412: it honours conditional writes.
	ifMatch bool
	// ignored reports that the registry accepted the If-Match probe (201):
	// it ignores conditional writes. Neither this nor ifMatch is set when no
	// probe was answered: the tag was new, its ETag weak or absent, or the
	// probe failed otherwise.
	ignored bool
	// reads is the number of verification reads of the last round.
	reads int
	// waits are the waits before the verification reads, every round's,
	// as decided (tests check them against D rather than time them).
	waits []time.Duration
}

// updateFallback adds entry to the fallback index of subject without losing
// any other writer's entry (ARCHITECTURE.md, "The fallback tag", where the
// argument below is written out in full, with its limits):
//
//  1. GET the tag, keeping its ETag; 404 → empty index; not an OCI index →
//     ErrForeignTag (never overwritten).
//  2. Merge: keep every entry byte for byte, add ours once, and put back
//     any entry an earlier read of this update showed (see seenEntries).
//  3. PUT. The first PUT of an update after a read that served a strong ETag
//     carries If-Match: ifMatchProbe, which cannot match: 412 proves the
//     registry honours If-Match, and the same index is PUT at once with the
//     real ETag (412 to that → back to 1); a 201 means it ignores If-Match
//     and the probe was an ordinary write merged from a fresh read. Later
//     PUTs carry the real ETag. A weak ETag is never sent, nor is If-Match
//     without an ETag (absent tag). Every PUT is sent once and must land
//     within D = settle/2 of the read it merged (its context deadline,
//     counted from when the read was sent); a slower round is abandoned and
//     re-read.
//  4. Verify. After a conditional PUT right after a refused probe: one read, D (plus
//     up to D/10 of jitter) after the PUT's answer arrived. Otherwise two
//     reads: the first D (+ jitter) after our PUT's answer arrived (or after
//     the round's read, when nothing needed writing), the second D (+
//     jitter) after the first one's answer arrived. Every read must show our
//     entry and every entry read before, and the two reads the same index
//     digest. Otherwise back to 1 after a jittered backoff; after
//     fallbackAttempts rounds, ErrFallbackLost.
//  5. Superseded indexes are left alone.
//
// Why two reads D apart suffice without If-Match: every writer's PUT lands
// at most D after the state it merged was read, and keeps every entry of
// that state. Let v1, v2 be our two reads, answered from the states at σ1,
// σ2, and showing the same index I. v2 is sent at least D after v1's answer
// arrived, so σ2 − D ≥ σ1. A PUT landing after σ2 was merged from a state
// read after σ2 − D ≥ σ1: a state the tag held between σ1 and σ2 (I, if it
// did not change and change back unseen, the ABA between our samples) or a
// later one, which by induction over the PUTs landing after σ2 keeps every
// entry of I. So no PUT landing after our return drops an entry of I. The
// first wait is not needed by that induction; it makes every PUT merged from
// a state older than our own write (the writes racing ours, the ones that
// can drop us without ever having seen us) land before σ1, so that they
// cannot be the unseen change between v1 and v2.
//
// Why one read suffices after an honoured conditional PUT: such a PUT is a
// compare-and-swap, and so is every other writer's PUT after a read that
// served a strong ETag: each keeps the whole state it replaces. The only
// unconditional PUTs are those after a 404: the tag did not exist when they
// read it, so they land within D of its creation, which was before our read.
// Our read, D after our PUT's answer, comes after every one of them; from
// then on only supersets follow. (A writer that is served a weak ETag by a
// proxy in front of such a registry writes unconditionally at any time and
// is outside this argument; it verifies its own entry with two reads.)
//
// Durations are only ever measured on our own clock (from when our request
// was sent or its answer arrived), so clock skew between us, other writers
// and the registry does not enter. The bound D is the client's: a PUT the
// client gave up on may still be committed later by a slow registry,
// merged from an old index. Entries this update read and such a write
// dropped are put back (seenEntries) as long as the late write lands before
// our last verification read; one landing later still can drop entries
// (If-Match, where the registry honours it, is the only full guard). Writers
// of one tag must use the same settle: our waits cover other writers' PUTs
// only as long as their D is not longer than ours.
func (r repo) updateFallback(ctx context.Context, tag string, entry ocispec.Descriptor, settle time.Duration, reads int) (fallbackStats, error) {
	if settle <= 0 {
		settle = defaultSettle
	}
	if reads <= 0 {
		reads = defaultVerifyReads
	}
	var st fallbackStats
	probed := false // the If-Match probe has been sent
	var seen seenEntries
	var last error
	var wait time.Duration // what the registry asked for (Retry-After)
	for attempt := 0; attempt < fallbackAttempts; attempt++ {
		st.rounds++
		if attempt > 0 {
			if err := retry.Sleep(ctx, max(wait, roundBackoff(attempt, settle))); err != nil {
				return st, fmt.Errorf("updating fallback tag %s:%s: %w (last: %w)", r.name(), tag, err, last)
			}
		}
		wait = 0
		// The registry answered from its state at some moment after the
		// read was sent: the write deadline counts from the send of the
		// read's last attempt, not from the arrival of its answer. start
		// carries the monotonic clock, so a step of the wall clock after
		// the read does not move the deadline.
		start := time.Now()
		var sent atomic.Int64
		sent.Store(start.UnixNano())
		idx, cur, err := r.readFallback(withSentAt(ctx, &sent), tag)
		if err != nil {
			return st, err
		}
		readAt := start.Add(time.Duration(sent.Load() - start.UnixNano()))
		seen.add(idx)
		// cas: this round's probe was refused (412) just before our PUT with
		// the real ETag, which therefore was a compare-and-swap. Only such
		// a PUT counts as one: a 412 shows that something checked the header
		// then, not that every later write is checked (a proxy, a fleet
		// mid-upgrade). Later rounds verify in full.
		cas := false
		if restore := seen.missingFrom(idx); !idx.has(entry.Digest) || len(restore) > 0 {
			raw, err := idx.with(entry, restore...)
			if err != nil {
				return st, fmt.Errorf("merging fallback index %s:%s: %w", r.name(), tag, err)
			}
			// Sent once, and it must land within settle/2 of its read: a
			// retry of a failed write starts again from a fresh read.
			put := func(ifMatch string) error {
				hdr := http.Header{}
				if ifMatch != "" {
					hdr.Set("If-Match", ifMatch)
				}
				pctx, cancel := context.WithDeadline(retry.Once(ctx), readAt.Add(settle/2))
				defer cancel()
				_, err := r.putManifest(pctx, tag, ocispec.MediaTypeImageIndex, raw, hdr)
				return err
			}
			// A weak ETag (a proxy that compressed the answer weakens
			// it) never matches under If-Match's strong comparison:
			// sending it would fail every round, so the write relies on
			// the timing protocol instead; so does one after a 404.
			strong := cur != nil && cur.ETag != "" && !strings.HasPrefix(cur.ETag, "W/")
			switch {
			case !strong:
				err = put("")
			case !probed:
				probed = true
				err = put(ifMatchProbe)
				switch {
				case err == nil:
					st.ignored = true
				case errors.Is(err, errPreconditionFailed) && ctx.Err() == nil:
					st.ifMatch, cas = true, true
					err = put(cur.ETag)
				}
			default:
				err = put(cur.ETag)
			}
			if err != nil {
				if ctx.Err() != nil {
					return st, fmt.Errorf("writing fallback tag %s:%s: %w", r.name(), tag, err)
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
					return st, err
				}
				continue
			}
		}
		st.reads = reads
		if cas {
			st.reads = 1
		}
		ok, err := r.verifyFallback(ctx, tag, entry.Digest, &seen, settle, st.reads, &st.waits)
		if err != nil {
			return st, err
		}
		if ok {
			return st, nil
		}
		last = fmt.Errorf("verifying fallback tag %s:%s: our entry %s and every entry read before were not stably present", r.name(), tag, entry.Digest)
	}
	return st, fmt.Errorf("%w: %s:%s after %d rounds: %w (the referrer manifest %s is pushed; rerun to retry the tag)", ErrFallbackLost, r.name(), tag, st.rounds, last, entry.Digest)
}

// verifyWait is the wait before a verification read: D = settle/2, counted
// from the arrival of the answer before it, plus up to D/10 of jitter so
// that writers that started together do not read in step.
func verifyWait(settle time.Duration) time.Duration {
	d := settle / 2
	return d + time.Duration(rand.Int64N(int64(d/10)+1)) //nolint:gosec // jitter
}

// verifyFallback reads the tag reads times, each verifyWait after the
// previous answer arrived (appended to waits), and reports whether every
// read showed the same index holding d and every entry seen so far.
func (r repo) verifyFallback(ctx context.Context, tag string, d digest.Digest, known *seenEntries, settle time.Duration, reads int, waits *[]time.Duration) (bool, error) {
	var first digest.Digest
	for i := 0; i < reads; i++ {
		w := verifyWait(settle)
		*waits = append(*waits, w)
		if err := retry.Sleep(ctx, w); err != nil {
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
