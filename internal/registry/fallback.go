package registry

import (
	"context"
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
	u := &fallbackUpdate{r: r, tag: tag, entry: entry, settle: settle}
	var last error
	var wait time.Duration // what the registry asked for (Retry-After)
	for attempt := 0; attempt < fallbackAttempts; attempt++ {
		u.st.rounds++
		if attempt > 0 {
			if err := retry.Sleep(ctx, max(wait, roundBackoff(attempt, settle))); err != nil {
				return u.st, fmt.Errorf("updating fallback tag %s:%s: %w (last: %w)", r.name(), tag, err, last)
			}
		}
		wait = 0
		idx, cur, readAt, err := u.read(ctx) // 1. Read.
		if err != nil {
			return u.st, err
		}
		cas := false
		if restore := u.seen.missingFrom(idx); !idx.has(entry.Digest) || len(restore) > 0 {
			raw, err := idx.with(entry, restore...) // 2. Merge.
			if err != nil {
				return u.st, fmt.Errorf("merging fallback index %s:%s: %w", r.name(), tag, err)
			}
			if cas, err = u.write(ctx, raw, cur, readAt); err != nil { // 3. Write.
				if last, wait, err = u.writeFailed(ctx, err); err != nil {
					return u.st, err
				}
				continue
			}
		}
		// 4. Verify: one read after a compare-and-swap, else reads.
		u.st.reads = reads
		if cas {
			u.st.reads = 1
		}
		ok, err := r.verifyFallback(ctx, tag, entry.Digest, &u.seen, settle, u.st.reads, &u.st.waits)
		if err != nil {
			return u.st, err
		}
		if ok {
			return u.st, nil
		}
		last = fmt.Errorf("verifying fallback tag %s:%s: our entry %s and every entry read before were not stably present", r.name(), tag, entry.Digest)
	}
	return u.st, fmt.Errorf("%w: %s:%s after %d rounds: %w (the referrer manifest %s is pushed; rerun to retry the tag)", ErrFallbackLost, r.name(), tag, u.st.rounds, last, entry.Digest)
}

// fallbackUpdate is what the rounds of one updateFallback share.
type fallbackUpdate struct {
	r      repo
	tag    string
	entry  ocispec.Descriptor
	settle time.Duration
	probed bool        // the If-Match probe has been sent
	seen   seenEntries // every entry a read of this update showed
	st     fallbackStats
}

// read is step 1: it GETs the tag and adds its entries to u.seen. The
// registry answered from its state at some moment after the read was sent,
// so the write deadline counts from readAt, the send of the read's last
// attempt, not from the arrival of its answer (premise P1). readAt carries
// the monotonic clock of a reading taken just before the read, so a step of
// the wall clock after the read does not move the deadline.
func (u *fallbackUpdate) read(ctx context.Context) (idx *fallbackIndex, cur *fetched, readAt time.Time, err error) {
	start := time.Now()
	var sent atomic.Int64
	sent.Store(start.UnixNano())
	idx, cur, err = u.r.readFallback(withSentAt(ctx, &sent), u.tag)
	if err != nil {
		return nil, nil, time.Time{}, err
	}
	u.seen.add(idx)
	return idx, cur, start.Add(time.Duration(sent.Load() - start.UnixNano())), nil
}

// write is step 3: it PUTs raw, merged from the read that served cur and
// was sent at readAt. The PUT is sent once and must land within settle/2 of
// that read: a retry of a failed write starts again from a fresh read. The
// update's first write after a strong ETag is the If-Match probe; cas
// reports that the probe was refused (412) just before raw was PUT with the
// real ETag, which therefore was a compare-and-swap. Only such a PUT counts
// as one: a 412 shows that something checked the header then, not that
// every later write is checked (a proxy, a fleet mid-upgrade), so later
// rounds verify in full.
func (u *fallbackUpdate) write(ctx context.Context, raw []byte, cur *fetched, readAt time.Time) (cas bool, err error) {
	put := func(ifMatch string) error {
		hdr := http.Header{}
		if ifMatch != "" {
			hdr.Set("If-Match", ifMatch)
		}
		pctx, cancel := context.WithDeadline(retry.Once(ctx), readAt.Add(u.settle/2))
		defer cancel()
		_, err := u.r.putManifest(pctx, u.tag, ocispec.MediaTypeImageIndex, raw, hdr)
		return err
	}
	// A weak ETag (a proxy that compressed the answer weakens it) never
	// matches under If-Match's strong comparison: sending it would fail
	// every round, so the write relies on the timing protocol instead; so
	// does one after a 404.
	strong := cur != nil && cur.ETag != "" && !strings.HasPrefix(cur.ETag, "W/")
	switch {
	case !strong:
		return false, put("")
	case !u.probed:
		u.probed = true
		err := put(ifMatchProbe)
		switch {
		case err == nil:
			u.st.ignored = true
		case errors.Is(err, errPreconditionFailed) && ctx.Err() == nil:
			u.st.ifMatch = true
			return true, put(cur.ETag)
		}
		return false, err
	}
	return false, put(cur.ETag)
}

// writeFailed sorts out a failed write: another writer's change (412), a
// write that missed its deadline and a transient failure start a new round,
// with last saying why and wait what the registry asked for (Retry-After);
// anything else, or the end of ctx, ends the update with fatal.
func (u *fallbackUpdate) writeFailed(ctx context.Context, err error) (last error, wait time.Duration, fatal error) {
	if ctx.Err() != nil {
		return nil, 0, fmt.Errorf("writing fallback tag %s:%s: %w", u.r.name(), u.tag, err)
	}
	ok, ra := transient(err)
	switch {
	case errors.Is(err, errPreconditionFailed):
		return fmt.Errorf("writing fallback tag %s:%s: another writer changed it (412)", u.r.name(), u.tag), 0, nil
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("writing fallback tag %s:%s: the write took longer than %v after its read", u.r.name(), u.tag, u.settle/2), 0, nil
	case ok:
		return err, ra, nil
	}
	return nil, 0, err
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
