package verify

import (
	"context"
	"fmt"
	"slices"
	"sync"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-attest/oci-attest/internal/registry"
)

// maxCandidates bounds how many Sigstore bundle referrers one Verify
// fetches and verifies, those of an index and of its platforms together:
// far more than an image carries (one per attest run and platform), so that
// pushing referrers cannot crowd the real attestation out before this many
// are pushed (docs/verify.md, "The report").
const maxCandidates = 1024

// checkWorkers is how many referrers are fetched and verified at once.
const checkWorkers = 8

// candidate is a referrer that may be an oci attestation, and, once
// checkAll has run, what checking it found.
type candidate struct {
	d      ocispec.Descriptor
	source string // how it was listed ("api" or "tag:sha256-…")
	c      checker
	plat   int // index into the platforms; -1: a referrer of the image itself

	a     Attestation
	why   string   // non-empty: a referrer to ignore, and why
	named []string // the digests its verified statement names
}

// candidates lists the referrers of the image (subject) and, for an index,
// of each platform manifest — attest attaches to both (ARCHITECTURE.md,
// "Multi-platform and multi-image") — in listing order. It records in rep
// where each subject's referrers were listed, and the referrers that are no
// candidates in rep.Ignored.
func candidates(ctx context.Context, base checker, subject ocispec.Descriptor, plats []platform, rep *Report) ([]candidate, error) {
	subjects := []ocispec.Descriptor{subject}
	for _, pl := range plats {
		subjects = append(subjects, pl.desc)
	}
	var out []candidate
	listed := map[digest.Digest]string{}
	for i, s := range subjects {
		if source, ok := listed[s.Digest]; ok {
			// An entry listed twice (or the index itself): its referrers
			// once, attributed to the first.
			rep.Platforms[i-1].ReferrersSource = source
			continue
		}
		refs, source, err := base.reg.referrers(ctx, base.repository, s, "")
		if err != nil {
			return nil, err
		}
		listed[s.Digest] = source
		if i == 0 {
			rep.ReferrersSource, rep.Referrers = source, len(refs)
		} else {
			rep.Platforms[i-1].ReferrersSource, rep.Platforms[i-1].Referrers = source, len(refs)
		}
		c := base
		c.subject = s
		for _, d := range bundleReferrers(refs, rep) {
			out = append(out, candidate{d: d, source: source, c: c, plat: i - 1})
		}
	}
	return out, nil
}

// bundleReferrers keeps the entries of one subject's referrer listing that
// may be oci attestations, each once; the others go to rep.Ignored with the
// reason.
func bundleReferrers(refs []ocispec.Descriptor, rep *Report) []ocispec.Descriptor {
	var keep []ocispec.Descriptor
	seen := map[digest.Digest]bool{}
	for _, d := range refs {
		// A listing is remote data: an entry whose digest is no digest
		// would become a URL path; one listed twice is one referrer.
		if err := d.Digest.Validate(); err != nil {
			rep.Ignored = append(rep.Ignored, Ignored{Digest: string(d.Digest), ArtifactType: d.ArtifactType, Reason: fmt.Sprintf("not a valid digest: %v", err)})
			continue
		}
		if seen[d.Digest] {
			rep.Ignored = append(rep.Ignored, Ignored{Digest: d.Digest.String(), ArtifactType: d.ArtifactType, Reason: "listed again (the same referrer is checked once)"})
			continue
		}
		seen[d.Digest] = true
		if why := Foreign(d); why != "" {
			rep.Ignored = append(rep.Ignored, Ignored{Digest: d.Digest.String(), ArtifactType: d.ArtifactType, Reason: why})
			continue
		}
		keep = append(keep, d)
	}
	return keep
}

// Foreign says why a referrer descriptor is not an oci attestation, judging
// by what the index entry says (its artifactType and annotations); "" when
// it may be one. attach counts a referrer as already there only where this
// is "" (of its listing and of its manifest's annotations).
func Foreign(d ocispec.Descriptor) string {
	if d.ArtifactType != registry.BundleMediaType {
		return fmt.Sprintf("artifact type %q is not a Sigstore bundle", d.ArtifactType)
	}
	if pt, ok := d.Annotations[registry.AnnotationPredicateType]; ok && pt != predicateType {
		return fmt.Sprintf("predicate type %q is not ours", pt)
	}
	return ""
}

// capCandidates keeps the first maxCandidates candidates and records the
// others in rep as unchecked. Every candidate is checked, in the order the
// registry lists them (the fallback tag: oldest first), up to
// maxCandidates: anyone who can push to the repository can add referrers,
// and none of what a referrer says about itself before verification is
// trusted to choose among them.
func capCandidates(rep *Report, cands []candidate) []candidate {
	if len(cands) <= maxCandidates {
		return cands
	}
	for _, x := range cands[maxCandidates:] {
		rep.Ignored = append(rep.Ignored, Ignored{Digest: x.d.Digest.String(), ArtifactType: x.d.ArtifactType,
			Reason: fmt.Sprintf("not checked: more than %d Sigstore bundle referrers", maxCandidates)})
	}
	rep.Unchecked = len(cands) - maxCandidates
	return cands[:maxCandidates]
}

// checkAll fetches and verifies every candidate, checkWorkers at a time,
// into the candidate.
func checkAll(ctx context.Context, cands []candidate) {
	work := make(chan int)
	var wg sync.WaitGroup
	for range min(checkWorkers, len(cands)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				x := &cands[i]
				x.a, x.why = x.c.check(ctx, x.d, x.source, &x.named)
			}
		}()
	}
	for i := range cands {
		work <- i
	}
	close(work)
	wg.Wait()
}

// record adds the checked candidates to rep, in order: one to ignore to
// rep.Ignored, every other as an attestation of the image — of the platform
// whose referrer it is, else of the first platform its statement names.
func record(rep *Report, subject ocispec.Descriptor, plats []platform, cands []candidate) {
	for _, x := range cands {
		a := x.a
		if x.why != "" {
			rep.Ignored = append(rep.Ignored, Ignored{Digest: a.Digest, ArtifactType: x.d.ArtifactType, Reason: x.why})
			continue
		}
		if len(plats) > 0 {
			a.Subject = subject.Digest.String()
		}
		if p := x.plat; p >= 0 {
			a.Subject = plats[p].desc.Digest.String()
			a.Platform, a.PlatformDigest = plats[p].platform.String(), a.Subject
		}
		for _, pl := range plats {
			if a.PlatformDigest == "" && slices.Contains(x.named, pl.desc.Digest.String()) {
				a.Platform, a.PlatformDigest = pl.platform.String(), pl.desc.Digest.String()
			}
		}
		if a.Verified {
			rep.Verified++
		}
		rep.Attestations = append(rep.Attestations, a)
	}
}
