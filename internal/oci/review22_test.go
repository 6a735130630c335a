package oci_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-attest/oci-attest/internal/oci"
	"github.com/oci-attest/oci-attest/internal/testenv"
)

// Review of issue 22 (branch h22-review): findings against h22-wire, each a
// test that fails on it. The claims that held are in the review report.

// review22Index stores an OCI index of ds in g and returns its descriptor.
func review22Index(g *testenv.IndexGen, ds ...ocispec.Descriptor) ocispec.Descriptor {
	b, _ := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": ocispec.MediaTypeImageIndex, "manifests": ds})
	d := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageIndex, Digest: digest.FromBytes(b), Size: int64(len(b))}
	g.Blobs[d.Digest] = b
	g.Manifests = append(g.Manifests, d)
	return d
}

// TestReview22ResolveWindowsHostsPick: verify --platform windows/amd64
// (Selection.Resolve) must require what a Windows node pulls, and today it
// does not.
//
// A Windows node's containerd resolves a tag with platforms.Default(), which
// on Windows is &windowsMatchComparer{NewMatcher(DefaultSpec())}
// (containerd/platforms@v1.0.0-rc.5 defaults_windows.go:40): DefaultSpec
// carries the host's OS version, Match keeps the entries whose build
// checkWindowsHostAndContainerCompat accepts (platform_windows_compat.go:
// a host at or above ltsc2022 runs builds from 20348 up to its own), and
// Less prefers the highest os.version (windowsMatchComparer.Less). The
// index below is what Microsoft-style multi-OS-version images look like:
// ltsc2022 first, ltsc2025 second. A Windows Server 2025 node (10.0.26100)
// pulls the ltsc2025 entry. Selectable knows it — its ContainerdWindows
// model picks that entry (resolvers.go containerdWindows) — but
// Selection.Resolve, which verify --platform uses (verify/platforms.go
// resolved), asks only containerd's platforms.Only(windows/amd64), which
// keeps index order and reads the ltsc2022 entry, and go-containerregistry,
// which reads the first. --platform takes no OS version (ParsePlatform), so
// there is no way to ask for the node's: `verify --platform windows/amd64`
// succeeds with only the ltsc2022 entry attested while every Windows Server
// 2025 node runs the unattested ltsc2025 image.
//
// Fix: for a Windows platform, Resolve should add ContainerdWindows's picks
// for every Windows host of that architecture (windowsHosts: the versions
// named, none, and a foreign one), as Selectable does.
func TestReview22ResolveWindowsHostsPick(t *testing.T) {
	t.Parallel()
	g := testenv.NewIndexGen(2201)
	win := func(version string) ocispec.Descriptor {
		p := ocispec.Platform{OS: "windows", Architecture: "amd64", OSVersion: version}
		d := g.Image(&p, false)
		d.Platform = &p
		return d
	}
	ltsc2022, ltsc2025 := win("10.0.20348.2966"), win("10.0.26100.2605")
	top := review22Index(g, ltsc2022, ltsc2025)
	sel, err := oci.Selectable(context.Background(), g.Blobs[top.Digest], g.Blobs)
	if err != nil {
		t.Fatal(err)
	}
	// The model itself says a Windows node reads ltsc2025.
	modelled := slices.ContainsFunc(sel.Picks, func(p oci.Pick) bool {
		c, ok := p.Entry()
		return ok && p.Resolver == oci.ContainerdWindows && c.Descriptor.Digest == ltsc2025.Digest
	})
	if !modelled {
		t.Fatalf("Selectable's ContainerdWindows model never reads the ltsc2025 entry; picks: %+v", sel.Picks)
	}
	p, err := oci.ParsePlatformSpelt("windows/amd64")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	required := false
	for _, pk := range sel.Resolve(p) {
		if c, ok := pk.Entry(); ok {
			got = append(got, string(pk.Resolver)+" → "+c.String())
			required = required || c.Descriptor.Digest == ltsc2025.Digest
		}
	}
	if !required {
		t.Errorf("Resolve(windows/amd64) requires %v: not the ltsc2025 entry %s that a Windows Server 2025 node (containerd, platforms.Default()) pulls", got, ltsc2025.Digest)
	}
}
