package testenv

import (
	"context"
	"slices"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-attest/oci-attest/internal/oci"
)

// Resolution is what one differential check of a Selection found.
type Resolution struct {
	// Asked counts the real resolvers' resolutions.
	Asked int
	// Wider counts the platforms for which Selectable's model of a resolver
	// reads an entry and the resolver itself fails (the model's set is
	// then wider, never narrower).
	Wider int
}

// Differential checks sel, Selectable's reading of the index top (in
// blobs; the same content is in the registry ref names, reached with
// opts), against the real resolvers: for every platform sel asked and
// every host platform, the entry containerd's images.Manifest with
// platforms.Only and go-containerregistry's remote.Image with
// WithPlatform read is selectable — and for the platforms sel asked, it
// is the entry Selectable's model of that resolver reads.
func Differential(t testing.TB, sel *oci.Selection, blobs Blobs, top ocispec.Descriptor, ref name.Reference, opts ...remote.Option) Resolution {
	t.Helper()
	ctx := context.Background()
	var res Resolution
	selectable := func(d digest.Digest) bool {
		return slices.ContainsFunc(sel.Selectable, func(s oci.Selected) bool { return s.Descriptor.Digest == d })
	}
	model := map[string]oci.Pick{}
	for _, p := range sel.Picks {
		model[string(p.Resolver)+" "+p.Target.String()] = p
	}
	targets := slices.Clone(sel.Targets)
	for _, h := range HostPlatforms {
		targets = append(targets, oci.Target{Platform: h})
	}
	for _, tg := range targets {
		real := map[oci.Resolver]digest.Digest{}
		if d, err := ContainerdPick(ctx, blobs, top, tg.Platform); err == nil {
			real[oci.Containerd] = d
		}
		gp := v1.Platform{OS: tg.Platform.OS, Architecture: tg.Platform.Architecture, Variant: tg.Platform.Variant,
			OSVersion: tg.Platform.OSVersion, OSFeatures: tg.Platform.OSFeatures, Features: tg.Features}
		if d, err := GGCRPick(ref, gp, opts...); err == nil {
			real[oci.GoContainerregistry] = d
		}
		for _, r := range []oci.Resolver{oci.Containerd, oci.GoContainerregistry} {
			res.Asked++
			d, picked := real[r]
			if picked && !selectable(d) {
				t.Errorf("%s reads %s for %s, which Selectable does not list (%v)\nindex: %s", r, d, tg, sel.Selectable, blobs[top.Digest])
			}
			p, modelled := model[string(r)+" "+tg.String()]
			if !modelled {
				continue
			}
			switch c, ok := p.Entry(); {
			case ok && !picked:
				res.Wider++
			case !ok && picked:
				t.Errorf("%s reads %s for %s; Selectable's model reads nothing (%s)\nindex: %s", r, d, tg, p.Reason, blobs[top.Digest])
			case ok && c.Descriptor.Digest != d:
				t.Errorf("%s reads %s for %s; Selectable's model reads %s\nindex: %s", r, d, tg, c.Descriptor.Digest, blobs[top.Digest])
			}
		}
	}
	return res
}
