package oci

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// What runtimes run from an archive once it is loaded (docker load, ctr
// import, skopeo copy oci-archive:): containerd and go-containerregistry
// read the image indexes index.json names as they read a registry's, by
// platform alone (ARCHITECTURE.md "Multi-platform and multi-image"). The
// walk skips, inside those indexes, what it reads as no image — entries
// annotated as attestation manifests or referrers, manifests whose config
// is no image config, other media types — so an index under which it
// skipped an entry is read with Selectable, and every entry a runtime
// reads must be an image the walk read under it, or one the archive does
// not hold (nothing runs from it). index.json's own descriptors keep
// issue 9's rules (walkIndex, skipDescriptor).

// skip records that the walk skipped a descriptor below the index.json
// descriptor top (depth > 0: inside an image index).
func (w *walker) skip(top ocispec.Descriptor, depth int) {
	if depth == 0 {
		return
	}
	if w.skipped == nil {
		w.skipped = map[digest.Digest]bool{}
	}
	w.skipped[top.Digest] = true
}

// checkSelectable refuses (ErrAmbiguous) an image index index.json names
// when runtimes read an entry of it that the archive holds and the walk
// did not read as an image under it. It reads only the JSON the scan
// holds, and only for the indexes under which the walk skipped an entry
// and read an image: an index leading to no image claims none (a
// referrers index, regctl's sha256-<hex>, lists referrers, which the walk
// skips by design; another named one is refused by the archive rules
// as leading to no complete image), so nothing attested is read through it.
func (w *walker) checkSelectable() error {
	for _, idx := range w.order {
		if !w.skipped[idx.Digest] || len(w.under[idx.Digest]) == 0 {
			continue
		}
		name := blobPath(idx.Digest)
		// The fetcher reads the scan's memory only: nothing to cancel.
		sel, err := Selectable(context.Background(), idx.Raw, tableFetcher{w})
		switch {
		case errors.Is(err, ErrAmbiguousIndex):
			return fail(w.t.path, name, "%w: image index %s: %w; %s", ErrAmbiguous, idx.Digest, err, resave)
		case err != nil:
			return fail(w.t.path, name, "image index %s: %w", idx.Digest, err)
		}
		for _, s := range sel.Selectable {
			if slices.ContainsFunc(w.under[idx.Digest], func(fm *foundManifest) bool { return fm.desc.Digest == s.Descriptor.Digest }) {
				continue
			}
			_, err := w.t.blob(s.Descriptor.Digest, s.Descriptor.Size, "descriptor "+s.Descriptor.Digest.String())
			if errors.Is(err, ErrMissingBlob) {
				continue // not in the archive: a runtime that reads it runs nothing
			}
			return fail(w.t.path, name, "%w: image index %s lists %s, which runtimes run once the archive is loaded (%s), but which oci-attest reads as no image (annotated as an attestation manifest or a referrer though its platform runs, or no image config): what runs would be unattested; %s",
				ErrAmbiguous, idx.Digest, s.Child, readers(s.By), resave)
		}
	}
	return nil
}

// readers names who reads an entry (Selected.By), the first four.
func readers(by []string) string {
	if len(by) > 4 {
		return strings.Join(by[:4], ", ") + fmt.Sprintf(" and %d more", len(by)-4)
	}
	return strings.Join(by, ", ")
}

// tableFetcher is a Fetcher over the JSON blobs the scan holds.
type tableFetcher struct{ w *walker }

func (f tableFetcher) Manifest(_ context.Context, d ocispec.Descriptor) ([]byte, error) {
	return f.read(d)
}

func (f tableFetcher) Blob(_ context.Context, d ocispec.Descriptor) ([]byte, error) {
	return f.read(d)
}

func (f tableFetcher) read(d ocispec.Descriptor) ([]byte, error) {
	what := "descriptor " + d.Digest.String()
	e, err := f.w.t.blob(d.Digest, d.Size, what)
	if err != nil {
		return nil, err
	}
	b, err := f.w.t.jsonOf(e, what, f.w.opts.maxJSON())
	if err == nil {
		f.w.t.work.parsed(b)
	}
	return b, err
}
