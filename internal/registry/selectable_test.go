package registry

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-attest/oci-attest/internal/oci"
	"github.com/oci-attest/oci-attest/internal/testenv"
)

// TestSelectableRegistries is the differential property against real
// registries: generated indexes (testenv.IndexGen) pushed to olareg and
// go-containerregistry's registry, read by Client.Selectable through the
// registry, and resolved by go-containerregistry's remote.Image from the
// registry and containerd's images.Manifest over the same content. Every
// entry either reads is selectable; the registry's reading is the one of
// the content itself; an entry without mediaType is refused.
func TestSelectableRegistries(t *testing.T) {
	t.Parallel()
	for _, reg := range testenv.InProcessRegistries(t) {
		t.Run(reg.Name, func(t *testing.T) {
			t.Parallel()
			g := testenv.NewIndexGen(23)
			var tops []ocispec.Descriptor
			for range 60 {
				tops = append(tops, g.Index())
			}
			refused := g.Push(t, reg.Host, "gen")
			c := newTestClient(t, Options{})
			repository := testenv.Ref(t, reg.Host+"/gen")
			var checked, noMediaType int
			for _, top := range tops {
				if slices.ContainsFunc(g.Closure(top.Digest), func(d digest.Digest) bool { return refused[d] != nil }) {
					continue // the registry refused part of it
				}
				sel, err := c.Selectable(context.Background(), repository, g.Blobs[top.Digest])
				local, lerr := oci.Selectable(context.Background(), g.Blobs[top.Digest], g.Blobs)
				if err != nil || lerr != nil {
					if !errors.Is(err, oci.ErrAmbiguousIndex) || !errors.Is(lerr, oci.ErrAmbiguousIndex) {
						t.Errorf("Selectable(%s) = %v (in memory: %v)\nindex: %s", top.Digest, err, lerr, g.Blobs[top.Digest])
					}
					noMediaType++
					continue
				}
				if !slices.EqualFunc(sel.Selectable, local.Selectable, func(a, b oci.Selected) bool { return a.Descriptor.Digest == b.Descriptor.Digest }) {
					t.Errorf("Selectable(%s) through the registry = %v, of the content = %v", top.Digest, sel.Selectable, local.Selectable)
				}
				ref, err := name.NewDigest(reg.Host+"/gen@"+top.Digest.String(), name.Insecure)
				if err != nil {
					t.Fatal(err)
				}
				testenv.Differential(t, sel, g.Blobs, top, ref, remote.WithContext(context.Background()))
				checked++
			}
			t.Logf("%s: %d indexes checked, %d refused by the registry, %d refused by Selectable (an entry without mediaType)", reg.Name, checked, len(tops)-checked-noMediaType, noMediaType)
			if checked < len(tops)/2 {
				t.Errorf("%s: only %d of %d indexes checked", reg.Name, checked, len(tops))
			}
		})
	}
}
