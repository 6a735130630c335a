package oci

import (
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/containerd/platforms"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// The two resolvers, as their source reads (ARCHITECTURE.md
// "Multi-platform and multi-image" has the findings): containerd v2
// core/images/image.go Manifest, with github.com/containerd/platforms'
// Only; go-containerregistry v0.22.1 pkg/v1/remote/index.go
// childByPlatform and matchesPlatform, descriptor.go Image.

// Target is a platform a resolver is asked for.
type Target struct {
	// Platform is the platform, spelt as asked.
	Platform ocispec.Platform
	// Features is go-containerregistry's Platform.Features, which
	// image-spec's Platform lacks.
	Features []string
}

// String is the platform as containerd formats it (platforms.FormatAll:
// "os(version+features)/architecture/variant"), with go-containerregistry's
// features after "+features:".
func (t Target) String() string {
	s := platforms.FormatAll(t.Platform)
	if t.Platform.OS == "" {
		s = "/" + t.Platform.Architecture
		if t.Platform.Variant != "" {
			s += "/" + t.Platform.Variant
		}
	}
	if len(t.Features) > 0 {
		s += "+features:" + strings.Join(t.Features, ",")
	}
	return s
}

// onHost is p with an empty OS read as the host's, os: containerd's
// matcher normalises it to runtime.GOOS (platforms.Normalize). The Linux
// resolvers read it as linux wherever oci-attest runs; a Windows node
// reads it as windows.
func onHost(p ocispec.Platform, os string) ocispec.Platform {
	if p.OS == "" {
		p.OS = os
	}
	return p
}

// runnable reports whether a normalised platform is one a host can be:
// containerd's images.Platforms skips unknown OS and architecture (buildx
// attestation manifests), and no host has an empty one.
func runnable(p ocispec.Platform) bool {
	return p.OS != "" && p.Architecture != "" && p.OS != "unknown" && p.Architecture != "unknown"
}

// each calls fn for the tree's indexes, the top first.
func (t *indexTree) each(fn func(*indexNode)) {
	fn(t.top)
	for _, n := range t.nested {
		fn(n)
	}
}

// containerdTargets are the platforms containerd is asked for: every
// runnable platform an entry names, normalised (Only normalises anyway),
// with and without its OS features (containerd before 2.3 ignores them),
// and the config platform of each index's first entry without a platform;
// for Windows, with every OS version an entry names, none, and one no
// entry's matches. Under Only(H) a host H reads the first entry that the
// best-ranked element of H's platform vector matches; asked for that
// entry's own platform, Only reads the same entry, so these cover every
// Linux host; Windows hosts match OS versions by build ranges, which the
// versions named, none and a foreign one cover.
func (t *indexTree) containerdTargets() []Target {
	var out []Target
	seen := map[string]bool{}
	add := func(p ocispec.Platform) {
		if p = normalizeSpec(p); !runnable(p) {
			return
		}
		for _, q := range []ocispec.Platform{p, {OS: p.OS, Architecture: p.Architecture, Variant: p.Variant, OSVersion: p.OSVersion}} {
			if tg := (Target{Platform: q}); !seen[tg.String()] {
				seen[tg.String()] = true
				out = append(out, tg)
			}
		}
	}
	named := t.named()
	for _, p := range named {
		add(p)
	}
	for _, p := range windowsHosts(named) {
		add(p)
	}
	sortTargets(out)
	return out
}

// named is every platform an entry names, and the config platform of each
// index's first entry without one; a platform without OS, which each node
// reads as its own, both as linux and as windows.
func (t *indexTree) named() []ocispec.Platform {
	var out []ocispec.Platform
	add := func(p ocispec.Platform) {
		if p.OS == "" {
			out = append(out, onHost(p, "windows"))
		}
		out = append(out, p)
	}
	t.each(func(n *indexNode) {
		for _, c := range n.children {
			if c.Descriptor.Platform != nil {
				add(*c.Descriptor.Platform)
			}
		}
		if n.noPlatform != nil {
			add(*n.noPlatform)
		}
	})
	return out
}

// windowsHosts are the Windows hosts that read the index differently: for
// each Windows architecture named, every OS version named of an entry it
// runs, none (a host whose matcher takes every version), and a foreign
// version that no entry's matches: 1.0.N, N the smallest build no entry
// names as 1.0.N. Real Windows versions are 10.0.*, and a host's
// major.minor must equal the entry's; below build 20348 containerd also
// requires the same build (checkWindowsHostAndContainerCompat), so the
// foreign host matches only the entries that name no version.
func windowsHosts(named []ocispec.Platform) []ocispec.Platform {
	type key struct{ arch, variant, version string }
	archs, versions := map[key]bool{}, map[key]bool{}
	taken := map[uint64]bool{}
	for _, p := range named {
		if p = normalizeSpec(p); p.OS == "windows" {
			archs[key{p.Architecture, p.Variant, ""}] = true
			versions[key{p.Architecture, p.Variant, p.OSVersion}] = true
			if b, ok := oneDotZeroBuild(p.OSVersion); ok {
				taken[b] = true
			}
		}
	}
	foreign := uint64(1)
	for taken[foreign] {
		foreign++
	}
	var out []ocispec.Platform
	for a := range archs {
		host := func(version string) ocispec.Platform {
			return ocispec.Platform{OS: "windows", Architecture: a.arch, Variant: a.variant, OSVersion: version}
		}
		runs := platforms.Only(host(""))
		out = append(out, host(""), host("1.0."+strconv.FormatUint(foreign, 10)))
		for v := range versions {
			if runs.Match(ocispec.Platform{OS: "windows", Architecture: v.arch, Variant: v.variant}) {
				out = append(out, host(v.version))
			}
		}
	}
	return out
}

// oneDotZeroBuild is the build of a Windows OS version of major.minor 1.0
// as containerd parses it (getWindowsOSVersion: the first three numbers).
func oneDotZeroBuild(v string) (uint64, bool) {
	s := strings.SplitN(v, ".", 4)
	if len(s) < 3 {
		return 0, false
	}
	major, err1 := strconv.ParseUint(s[0], 10, 8)
	minor, err2 := strconv.ParseUint(s[1], 10, 8)
	build, err3 := strconv.ParseUint(s[2], 10, 16)
	return build, err1 == nil && err2 == nil && err3 == nil && major == 1 && minor == 0
}

// ggcrDefault is the platform go-containerregistry gives an entry without
// one (remote/options.go defaultPlatform), and asks for when not told.
var ggcrDefault = ocispec.Platform{OS: "linux", Architecture: "amd64"}

// ggcrTargets are the platforms go-containerregistry is asked for. It
// compares strings, and an empty variant, OS version or feature list in
// the platform asked matches any: so for each entry's platform, as spelt
// and normalised, every combination of with and without its variant, OS
// version, OS features and features; and linux/amd64 when an entry names
// no platform. Asked for P, it reads the first entry P matches; that entry
// is also the first one that its own platform, with P's choice of variant
// and OS version, matches.
func (t *indexTree) ggcrTargets() []Target {
	var out []Target
	seen := map[string]bool{}
	add := func(tg Target) {
		if s := tg.String(); !seen[s] && runnable(normalizeSpec(tg.Platform)) {
			seen[s] = true
			out = append(out, tg)
		}
	}
	t.each(func(n *indexNode) {
		for _, c := range n.children {
			if c.Descriptor.Platform == nil {
				add(Target{Platform: ggcrDefault})
				continue
			}
			for _, p := range []ocispec.Platform{*c.Descriptor.Platform, normalizeSpec(*c.Descriptor.Platform)} {
				for mask := range 16 {
					q := ocispec.Platform{OS: p.OS, Architecture: p.Architecture}
					var f []string
					if mask&1 != 0 {
						q.Variant = p.Variant
					}
					if mask&2 != 0 {
						q.OSVersion = p.OSVersion
					}
					if mask&4 != 0 {
						q.OSFeatures = p.OSFeatures
					}
					if mask&8 != 0 {
						f = c.features
					}
					add(Target{Platform: q, Features: f})
				}
			}
		}
	})
	sortTargets(out)
	return out
}

func sortTargets(ts []Target) {
	sort.SliceStable(ts, func(i, j int) bool { return ts[i].String() < ts[j].String() })
}

// containerd is containerd's pick for tg: images.Manifest(ctx, provider,
// index, platforms.Only(tg)) walks the index with a handler that keeps the
// entries without a platform or that the matcher matches, sorts them
// stably (sort.SliceStable: without a platform last, then Less) and
// descends into the first only; an image manifest without a platform is
// read only if its config's platform matches; any other media type fails.
func (t *indexTree) containerd(tg Target) Pick {
	return t.containerdWith(platforms.Only(tg.Platform), "linux", Pick{Resolver: Containerd, Target: tg})
}

// containerdWindows is containerd's pick on a Windows host of platform
// tg: platforms.Default() there (defaults_windows.go) is the host's own
// matcher — no other architecture — and prefers the highest OS version
// among the entries it matches (windowsMatchComparer.Less), where Only
// keeps the index's order.
func (t *indexTree) containerdWindows(tg Target) Pick {
	return t.containerdWith(windowsDefault{platforms.NewMatcher(tg.Platform)}, "windows", Pick{Resolver: ContainerdWindows, Target: tg})
}

// windowsDefault is platforms.Default() on a Windows host, which the
// library builds only when it runs there.
type windowsDefault struct{ platforms.Matcher }

func (w windowsDefault) Less(p1, p2 ocispec.Platform) bool {
	m1, m2 := w.Match(p1), w.Match(p2)
	if m1 && m2 {
		return p1.OSVersion > p2.OSVersion
	}
	return m1 && !m2
}

// containerdWith is images.Manifest's walk with matcher m on a host of OS
// os.
func (t *indexTree) containerdWith(m platforms.MatchComparer, os string, pick Pick) Pick {
	n := t.top
	for {
		if n.absent {
			return noPick(pick, "the nested index is not there")
		}
		var descs []Child
		for _, c := range n.children {
			if c.Descriptor.Platform == nil || m.Match(onHost(*c.Descriptor.Platform, os)) {
				descs = append(descs, c)
			}
		}
		sort.SliceStable(descs, func(i, j int) bool {
			if descs[i].Descriptor.Platform == nil {
				return false
			}
			if descs[j].Descriptor.Platform == nil {
				return true
			}
			return m.Less(onHost(*descs[i].Descriptor.Platform, os), onHost(*descs[j].Descriptor.Platform, os))
		})
		if len(descs) == 0 {
			return noPick(pick, "no entry matches")
		}
		c := descs[0]
		pick.Path = append(pick.Path, c)
		switch mt := c.Descriptor.MediaType; {
		case IsIndexMediaType(mt):
			n = t.nested[c.Descriptor.Digest]
		case !IsManifestMediaType(mt):
			return noPick(pick, "unexpected media type "+mt)
		case c.Descriptor.Platform != nil:
			return pick
		case n.noPlatform == nil:
			return noPick(pick, "the entry without platform cannot be read: "+n.noPlatErr)
		case !m.Match(onHost(*n.noPlatform, os)):
			return noPick(pick, "the config of the entry without platform names "+platforms.Format(onHost(*n.noPlatform, os)))
		default:
			return pick
		}
	}
}

// ggcr is go-containerregistry's pick for tg: remote.Image resolves an
// index with childByPlatform — the first entry whose platform (linux/amd64
// when it has none) matchesPlatform tg — and Descriptor.Image descends into
// it if its media type is an index's, fails on schema 1, and otherwise
// reads it as an image, whatever its media type.
func (t *indexTree) ggcr(tg Target) Pick {
	pick := Pick{Resolver: GoContainerregistry, Target: tg}
	n := t.top
	for {
		if n.absent {
			return noPick(pick, "the nested index is not there")
		}
		i := slices.IndexFunc(n.children, func(c Child) bool { return ggcrMatches(c, tg) })
		if i < 0 {
			return noPick(pick, "no entry matches")
		}
		c := n.children[i]
		pick.Path = append(pick.Path, c)
		switch mt := c.Descriptor.MediaType; {
		case IsIndexMediaType(mt):
			n = t.nested[c.Descriptor.Digest]
		case mt == mediaTypeDockerSchema1 || mt == mediaTypeDockerSchema1Signed:
			return noPick(pick, "schema 1 manifest")
		default:
			return pick
		}
	}
}

// Docker schema 1 manifests, which go-containerregistry refuses.
const (
	mediaTypeDockerSchema1       = "application/vnd.docker.distribution.manifest.v1+json"
	mediaTypeDockerSchema1Signed = "application/vnd.docker.distribution.manifest.v1+prettyjws"
)

// ggcrMatches is go-containerregistry's matchesPlatform(given, required):
// the entry's platform as spelt (linux/amd64 when none) against tg.
func ggcrMatches(c Child, tg Target) bool {
	given, features := ggcrDefault, []string(nil)
	if c.Descriptor.Platform != nil {
		given, features = *c.Descriptor.Platform, c.features
	}
	req := tg.Platform
	return given.OS == req.OS && given.Architecture == req.Architecture &&
		(req.OSVersion == "" || given.OSVersion == req.OSVersion) &&
		(req.Variant == "" || given.Variant == req.Variant) &&
		subset(req.OSFeatures, given.OSFeatures) && subset(tg.Features, features)
}

// subset reports whether every element of want is in have.
func subset(want, have []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

// noPick ends a pick that reads nothing.
func noPick(p Pick, reason string) Pick {
	p.Path, p.Reason = nil, reason
	return p
}
