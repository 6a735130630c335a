package verify

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-attest/oci-attest/internal/oci"
	"github.com/oci-attest/oci-attest/internal/ref"
)

// ErrNoPlatform is returned by Verify when no runtime reads an entry of
// the index for Options.Platform (or the image is no index).
var ErrNoPlatform = errors.New("no such platform")

// platform is an entry of an index whose attestation Verify requires: one
// that containerd or go-containerregistry reads (ARCHITECTURE.md
// "Verification").
type platform struct {
	desc     ocispec.Descriptor
	platform oci.Platform // as the entry names it
	// by says who reads it ("containerd linux/amd64").
	by []string
	// through is the nested index it is reached through ("" none).
	through string
	// unusual is set when who reads it is worth saying: it names no
	// platform, is spelt otherwise than containerd normalises it, is no
	// plain image or sits in a nested index.
	unusual bool
}

// platforms lists the entries of subject, when it is an index (raw), whose
// attestations Verify requires: every entry the runtimes select
// (oci.Selectable, read through the registry) — or, with want, the
// entries containerd and go-containerregistry read for that platform
// (Selection.Resolve). An image manifest has none.
func platforms(ctx context.Context, reg source, repository ref.Reference, raw []byte, subject ocispec.Descriptor, want string) ([]platform, error) {
	if !oci.IsIndexMediaType(subject.MediaType) {
		if want != "" {
			return nil, fmt.Errorf("%w: platform %s: %s is an image manifest, not an index", ErrNoPlatform, want, subject.Digest)
		}
		return nil, nil
	}
	sel, err := reg.selectable(ctx, repository, raw)
	if err != nil {
		return nil, fmt.Errorf("reading index %s as runtimes read it: %w", subject.Digest, err)
	}
	entries := inIndexOrder(raw, sel.Selectable)
	if want == "" {
		out := make([]platform, 0, len(entries))
		for _, s := range entries {
			out = append(out, platformOf(s.Child, s.Path, s.By))
		}
		return out, nil
	}
	p, err := oci.ParsePlatformSpelt(want)
	if err != nil {
		return nil, err
	}
	return resolved(sel, entries, subject, p, want)
}

// inIndexOrder is the selectable entries in the order the index lists
// them (an entry of a nested index where the index lists that), as the
// report shows them.
func inIndexOrder(raw []byte, sel []oci.Selected) []oci.Selected {
	children, err := oci.Children(raw)
	if err != nil {
		return sel // Selectable read it: not reached
	}
	pos := func(s oci.Selected) int {
		d := s.Descriptor.Digest
		if len(s.Path) > 0 {
			d = s.Path[0].Descriptor.Digest
		}
		return slices.IndexFunc(children, func(c oci.Child) bool { return c.Descriptor.Digest == d })
	}
	out := slices.Clone(sel)
	slices.SortStableFunc(out, func(a, b oci.Selected) int { return pos(a) - pos(b) })
	return out
}

// resolved are the entries the runtimes read for p (spelt want), each
// once, with who reads it; ErrNoPlatform when they read none.
func resolved(sel *oci.Selection, entries []oci.Selected, subject ocispec.Descriptor, p oci.Platform, want string) ([]platform, error) {
	var out []platform
	var reasons []string
	for _, pk := range sel.Resolve(p) {
		c, ok := pk.Entry()
		by := string(pk.Resolver) + " " + pk.Target.String()
		if !ok {
			reasons = append(reasons, by+": "+pk.Reason)
			continue
		}
		i := slices.IndexFunc(out, func(pl platform) bool { return pl.desc.Digest == c.Descriptor.Digest })
		if i >= 0 {
			out[i].by = append(out[i].by, by)
			continue
		}
		out = append(out, platformOf(c, pk.Path[:len(pk.Path)-1], []string{by}))
	}
	if len(out) > 0 {
		return out, nil
	}
	var all []string
	for _, s := range entries {
		all = append(all, orUnknown(oci.PlatformOf(s.Descriptor).String()))
	}
	if len(all) == 0 {
		all = []string{"no entry runtimes read"}
	}
	return nil, fmt.Errorf("%w: platform %s: no runtime reads an entry of index %s for it (%s); it holds %s", ErrNoPlatform, want, subject.Digest, strings.Join(reasons, "; "), strings.Join(all, ", "))
}

// platformOf is the platform of entry c, reached through the nested
// indexes path and read by by.
func platformOf(c oci.Child, path []oci.Child, by []string) platform {
	p := platform{
		desc:     ocispec.Descriptor{MediaType: c.Descriptor.MediaType, Digest: c.Descriptor.Digest, Size: c.Descriptor.Size},
		platform: oci.PlatformOf(c.Descriptor),
		by:       by,
	}
	if len(path) > 0 {
		p.through = path[len(path)-1].Descriptor.Digest.String()
	}
	p.unusual = p.platform.String() == "" || p.platform.OS != c.Platform.OS || p.platform.Architecture != c.Platform.Architecture ||
		c.Kind != oci.KindImage || p.through != ""
	return p
}

func orUnknown(s string) string {
	if s == "" {
		return "(no platform)"
	}
	return s
}

// PlatformReport is what Verify found for one entry of an index that a
// runtime reads.
type PlatformReport struct {
	// Platform is "os/architecture[/variant]" as the index names it (empty
	// when it names none).
	Platform string `json:"platform"`
	// Digest is the entry's manifest digest (what a node pulls).
	Digest string `json:"digest"`
	// SelectedBy says which runtimes read the entry, for which platform
	// ("containerd linux/amd64", "go-containerregistry linux/x86_64").
	SelectedBy []string `json:"selectedBy,omitempty"`
	// Through is the nested index the entry is reached through, if any.
	Through string `json:"through,omitempty"`
	// ReferrersSource says how the platform manifest's own referrers were
	// listed ("api" or "tag:sha256-<hex>").
	ReferrersSource string `json:"referrersSource"`
	// Referrers is how many referrers of any type the platform manifest
	// has.
	Referrers int `json:"referrers"`
	// Attestations is how many oci attestations are of this platform: found
	// on the platform manifest, or on the index naming it.
	Attestations int `json:"attestations"`
	// Verified is how many of them verified.
	Verified int `json:"verified"`
	// ArchiveMatches is whether a verified attestation of this platform
	// matches the local archive; nil when no archive was given.
	ArchiveMatches *bool `json:"archiveMatches,omitempty"`

	// unusual is platform.unusual: the text report says who reads it.
	unusual bool
}
