package oci_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-attest/oci-attest/internal/oci"
	"github.com/oci-attest/oci-attest/internal/testenv"
)

// pushMem stores every manifest of g in an in-memory go-containerregistry
// registry, children first, and returns the registry.
func pushMem(t *testing.T, g *testenv.IndexGen) *testenv.MemRegistry {
	t.Helper()
	reg := testenv.NewMemRegistry()
	for _, d := range g.Manifests {
		if err := reg.PutManifest("gen", d.Digest.String(), d.MediaType, g.Blobs[d.Digest]); err != nil {
			t.Fatal(err)
		}
	}
	return reg
}

// TestSelectableDifferential is the differential property over generated
// indexes (testenv.IndexGen: hostile orders, spellings, annotations,
// artifactType, missing and unknown media types, nesting, duplicates):
// every entry containerd or go-containerregistry reads, for every platform
// the index names and every host platform, is selectable; Selectable's
// models of them read what they read; and an index with an entry without
// mediaType is refused.
func TestSelectableDifferential(t *testing.T) {
	t.Parallel()
	g := testenv.NewIndexGen(22)
	var tops []ocispec.Descriptor
	for range 300 {
		tops = append(tops, g.Index())
	}
	reg := pushMem(t, g)
	var refused, asked, wider int
	for _, top := range tops {
		ref, err := name.NewDigest("mem.invalid/gen@" + top.Digest.String())
		if err != nil {
			t.Fatal(err)
		}
		sel, err := oci.Selectable(context.Background(), g.Blobs[top.Digest], g.Blobs)
		if err != nil {
			if !errors.Is(err, oci.ErrAmbiguousIndex) || !lacksMediaType(g.Blobs, top) {
				t.Errorf("Selectable(%s) = %v\nindex: %s", top.Digest, err, g.Blobs[top.Digest])
			}
			refused++
			continue
		}
		res := testenv.Differential(t, sel, g.Blobs, top, ref, remote.WithTransport(reg.Transport()))
		if lacksMediaType(g.Blobs, top) {
			t.Errorf("Selectable(%s) accepts an index with an entry without mediaType:\n%s", top.Digest, g.Blobs[top.Digest])
		}
		asked += res.Asked
		wider += res.Wider
	}
	t.Logf("%d indexes (%d refused: an entry without mediaType), %d resolutions, %d where the model reads an entry the resolver fails on", len(tops), refused, asked, wider)
	if refused == 0 || refused > len(tops)/2 || asked < 10*len(tops) {
		t.Errorf("the generator is off: %d of %d indexes refused, %d resolutions", refused, len(tops), asked)
	}
}

// lacksMediaType reports whether the index top, or an index nested in it,
// has an entry without mediaType.
func lacksMediaType(blobs testenv.Blobs, top ocispec.Descriptor) bool {
	var idx ocispec.Index
	if json.Unmarshal(blobs[top.Digest], &idx) != nil {
		return false
	}
	for _, d := range idx.Manifests {
		if d.MediaType == "" || (oci.IsIndexMediaType(d.MediaType) && lacksMediaType(blobs, d)) {
			return true
		}
	}
	return false
}

// TestSelectableCases pins the classes of issue 22 against the real
// resolvers: each index's selectable entries, by the name the test gives
// them.
func TestSelectableCases(t *testing.T) {
	t.Parallel()
	g := testenv.NewIndexGen(1)
	img := func(p string, cfg string) ocispec.Descriptor {
		c := ocispec.Platform{OS: "linux", Architecture: "amd64"}
		if cfg != "" {
			c = parseSpec(t, cfg)
		}
		d := g.Image(&c, false)
		if p != "" {
			s := parseSpec(t, p)
			d.Platform = &s
		}
		return d
	}
	index := func(ds ...ocispec.Descriptor) ocispec.Descriptor {
		b, _ := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": ocispec.MediaTypeImageIndex, "manifests": ds})
		d := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageIndex, Digest: digest.FromBytes(b), Size: int64(len(b))}
		g.Blobs[d.Digest] = b
		g.Manifests = append(g.Manifests, d)
		return d
	}
	with := func(d ocispec.Descriptor, f func(*ocispec.Descriptor)) ocispec.Descriptor { f(&d); return d }
	amd, arm := img("linux/amd64", ""), img("linux/arm64", "linux/arm64")
	att := with(g.Image(nil, true), func(d *ocispec.Descriptor) {
		d.Platform = &ocispec.Platform{OS: "unknown", Architecture: "unknown"}
		d.Annotations = map[string]string{"vnd.docker.reference.type": "attestation-manifest", "vnd.docker.reference.digest": amd.Digest.String()}
	})
	evil := img("linux/amd64", "")
	names := map[digest.Digest]string{amd.Digest: "amd64", arm.Digest: "arm64", att.Digest: "attestation", evil.Digest: "evil"}
	cases := []struct {
		name string
		top  ocispec.Descriptor
		want []string
	}{
		{"buildx index with attestation manifests", index(amd, att, arm), []string{"amd64", "arm64"}},
		{"1 runnable entry disguised as an attestation, first", index(with(evil, func(d *ocispec.Descriptor) {
			d.Annotations = att.Annotations
		}), amd, arm), []string{"evil", "arm64"}},
		{"1 runnable entry with an artifactType, first", index(with(evil, func(d *ocispec.Descriptor) {
			d.ArtifactType = "application/spdx+json"
		}), amd, arm), []string{"evil", "arm64"}},
		{"1 nested index without platform, first: go-containerregistry descends", index(index(evil), amd, arm), []string{"amd64", "arm64", "evil"}},
		{"1 no platform, first: go-containerregistry reads it as linux/amd64", index(with(evil, func(d *ocispec.Descriptor) {
			d.Platform = nil
		}), amd, arm), []string{"amd64", "arm64", "evil"}},
		{"2 spelt x86_64, first", index(with(evil, func(d *ocispec.Descriptor) {
			d.Platform = &ocispec.Platform{OS: "linux", Architecture: "x86_64"}
		}), amd, arm), []string{"evil", "arm64", "amd64"}},
		{"2 spelt Linux/AMD64 after", index(amd, with(evil, func(d *ocispec.Descriptor) {
			d.Platform = &ocispec.Platform{OS: "Linux", Architecture: "AMD64"}
		}), arm), []string{"amd64", "arm64", "evil"}},
		{"2 linux/amd64/v3 wins containerd's ordering for amd64/v3 hosts", index(amd, with(evil, func(d *ocispec.Descriptor) {
			d.Platform = &ocispec.Platform{OS: "linux", Architecture: "amd64", Variant: "v3"}
		})), []string{"amd64", "evil"}},
	}
	reg := pushMem(t, g)
	for _, tc := range cases {
		ref, _ := name.NewDigest("mem.invalid/gen@" + tc.top.Digest.String())
		sel, err := oci.Selectable(context.Background(), g.Blobs[tc.top.Digest], g.Blobs)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		testenv.Differential(t, sel, g.Blobs, tc.top, ref, remote.WithTransport(reg.Transport()))
		var got []string
		for _, s := range sel.Selectable {
			got = append(got, names[s.Descriptor.Digest])
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: selectable %v, want %v", tc.name, got, tc.want)
			for _, s := range sel.Selectable {
				t.Logf("  %s by %v", s.Child, s.By)
			}
		}
	}
	// Class 4 in registries: an entry without mediaType is refused.
	noMT := index(amd, with(arm, func(d *ocispec.Descriptor) { d.MediaType = "" }))
	if _, err := oci.Selectable(context.Background(), g.Blobs[noMT.Digest], g.Blobs); !errors.Is(err, oci.ErrAmbiguousIndex) {
		t.Errorf("Selectable(entry without mediaType) = %v, want ErrAmbiguousIndex", err)
	}
}

func parseSpec(t *testing.T, s string) ocispec.Platform {
	t.Helper()
	p, err := oci.ParsePlatform(s)
	if err != nil {
		t.Fatal(err)
	}
	return ocispec.Platform{OS: p.OS, Architecture: p.Architecture, Variant: p.Variant}
}

// FuzzSelectable is the differential property over fuzzed index bytes:
// the top index is the input, its entries may name a fixed pool of
// generated images and nested indexes (the seeds are generated indexes
// over it). Whatever Selectable accepts, every entry containerd and
// go-containerregistry read is selectable. In memory: a map for
// containerd, go-containerregistry's registry handler for remote.Image.
func FuzzSelectable(f *testing.F) {
	g := testenv.NewIndexGen(9)
	var seeds []ocispec.Descriptor
	for range 40 {
		seeds = append(seeds, g.Index())
	}
	reg := testenv.NewMemRegistry()
	for _, d := range g.Manifests {
		if err := reg.PutManifest("gen", d.Digest.String(), d.MediaType, g.Blobs[d.Digest]); err != nil {
			f.Fatal(err)
		}
	}
	for _, d := range seeds {
		f.Add(g.Blobs[d.Digest])
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if len(raw) > 16<<10 {
			return // cheap iterations: a few dozen entries at most
		}
		var probe struct {
			MediaType string `json:"mediaType"`
		}
		if json.Unmarshal(raw, &probe) != nil {
			return
		}
		top := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageIndex, Digest: digest.FromBytes(raw), Size: int64(len(raw))}
		if oci.IsIndexMediaType(probe.MediaType) {
			top.MediaType = probe.MediaType
		}
		blobs := testenv.Blobs{top.Digest: raw}
		for d, b := range g.Blobs {
			blobs[d] = b
		}
		sel, err := oci.Selectable(context.Background(), raw, blobs)
		if err != nil {
			if !errors.Is(err, oci.ErrAmbiguousIndex) && !errors.Is(err, oci.ErrBadManifest) && !errors.Is(err, oci.ErrTooLarge) &&
				!errors.Is(err, testenv.ErrNoBlob) && !errors.Is(err, oci.ErrDigestMismatch) {
				t.Fatalf("Selectable() = %v", err)
			}
			return
		}
		if len(sel.Targets) > 64 {
			return // each platform costs the real resolvers a few requests
		}
		if reg.PutManifest("gen", top.Digest.String(), top.MediaType, raw) != nil {
			return // the registry refuses it (a child it does not have)
		}
		ref, err := name.NewDigest("mem.invalid/gen@" + top.Digest.String())
		if err != nil {
			t.Fatal(fmt.Errorf("%s: %w", top.Digest, err))
		}
		testenv.Differential(t, sel, blobs, top, ref, remote.WithTransport(reg.Transport()))
	})
}

// BenchmarkSelectableLarge is Selectable on the largest index it reads:
// 256 entries, each a platform of its own (an architecture per entry, a
// Windows build per entry, or linux/amd64 in another spelling each) —
// what a hostile index costs (ARCHITECTURE.md "Limits and budgets").
func BenchmarkSelectableLarge(b *testing.B) {
	spell := func(i int) string { // linux/amd64, with letters' case from i's bits
		s := []byte("linuxamd64")
		for j := range s {
			if i>>j&1 != 0 && s[j] >= 'a' {
				s[j] -= 'a' - 'A'
			}
		}
		return string(s)
	}
	for name, platform := range map[string]func(int) ocispec.Platform{
		"architectures": func(i int) ocispec.Platform {
			return ocispec.Platform{OS: "linux", Architecture: fmt.Sprintf("arch%d", i)}
		},
		"windows": func(i int) ocispec.Platform {
			return ocispec.Platform{OS: "windows", Architecture: "amd64", OSVersion: fmt.Sprintf("10.0.%d.1", 17000+i)}
		},
		"spellings": func(i int) ocispec.Platform { s := spell(i); return ocispec.Platform{OS: s[:5], Architecture: s[5:]} },
	} {
		var ds []ocispec.Descriptor
		for i := range 256 {
			p := platform(i)
			ds = append(ds, ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromString(fmt.Sprint(i)), Size: 1, Platform: &p})
		}
		raw, _ := json.Marshal(ocispec.Index{Manifests: ds})
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if _, err := oci.Selectable(context.Background(), raw, testenv.Blobs{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// storeIndex stores an OCI index of ds in g and returns its descriptor.
func storeIndex(g *testenv.IndexGen, ds ...ocispec.Descriptor) ocispec.Descriptor {
	b, _ := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": ocispec.MediaTypeImageIndex, "manifests": ds})
	d := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageIndex, Digest: digest.FromBytes(b), Size: int64(len(b))}
	g.Blobs[d.Digest] = b
	g.Manifests = append(g.Manifests, d)
	return d
}

// TestResolveWindowsRequiresEveryHostsPick: verify --platform windows/amd64
// (Selection.Resolve) must require what a Windows node pulls (review of
// issue 22: it did not).
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
// Resolve of a Windows platform adds ContainerdWindows's picks for every
// Windows host of that architecture (windowsHosts: the versions named,
// none, and a foreign one), as Selectable does.
func TestResolveWindowsRequiresEveryHostsPick(t *testing.T) {
	t.Parallel()
	g := testenv.NewIndexGen(2201)
	win := func(version string) ocispec.Descriptor {
		p := ocispec.Platform{OS: "windows", Architecture: "amd64", OSVersion: version}
		d := g.Image(&p, false)
		d.Platform = &p
		return d
	}
	ltsc2022, ltsc2025 := win("10.0.20348.2966"), win("10.0.26100.2605")
	top := storeIndex(g, ltsc2022, ltsc2025)
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

// TestSelectableConfigWithoutOSIsWindowsToo: an entry without platform
// whose config names no OS is what a Windows node runs when no entry names
// its platform; Selectable must list it, and today it does not.
//
// containerd's images.Manifest reads an entry without platform only when
// its config's platform matches (core/images/image.go Manifest →
// ConfigPlatform), and ConfigPlatform returns platforms.Normalize of it,
// whose normalizeOS maps an empty OS to runtime.GOOS
// (containerd/platforms database.go normalizeOS): "windows" on a Windows
// node, where platforms.Default() (defaults_windows.go) matches
// windows/amd64 with any OS version when the entry names none. Below, L
// (linux/amd64) is the only entry with a platform and N has none, its
// config {"architecture":"amd64"}: a Windows node's filter keeps only N
// (entries without platform are kept, L does not match), and N's config
// reads as windows/amd64 there: it runs N. Selectable reads the empty OS
// as linux on every host (selectable.go noPlatform: normalizeSpec;
// resolvers.go onLinux) and asks no Windows host because no entry names
// Windows, so N — which go-containerregistry (L first for linux/amd64) and
// containerd on Linux (L) never read — is not selectable, and `verify`
// succeeds with only L attested.
//
// Selectable reads an empty OS, in the config of an entry without platform
// and in an entry's platform, as each node's own: Windows hosts are asked
// for windows/ARCH too and read it as windows (named, onHost).
func TestSelectableConfigWithoutOSIsWindowsToo(t *testing.T) {
	t.Parallel()
	g := testenv.NewIndexGen(2202)
	linux := ocispec.Platform{OS: "linux", Architecture: "amd64"}
	l := g.Image(&linux, false)
	l.Platform = &linux
	n := g.Image(&ocispec.Platform{Architecture: "amd64"}, false) // config: "os": ""
	top := storeIndex(g, l, n)
	sel, err := oci.Selectable(context.Background(), g.Blobs[top.Digest], g.Blobs)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(sel.Selectable, func(s oci.Selected) bool { return s.Descriptor.Digest == n.Digest }) {
		var got []string
		for _, s := range sel.Selectable {
			got = append(got, s.Child.String())
		}
		t.Errorf("Selectable = %v: not N %s, which a Windows node's containerd runs (its config names no OS: windows there)", got, n.Digest)
	}
}
