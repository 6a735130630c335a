package oci_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-attest/oci-attest/internal/oci"
	"github.com/oci-attest/oci-attest/internal/oci/ocitest"
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

// TestReview22ArchiveSkipsRunnableAnnotatedEntry: the archive reader must
// not skip an index entry that runtimes select, and today it does.
//
// Issue 22 gives internal/oci one definition of what an index lists
// (Children: KindAttestation is an entry of platform unknown/unknown AND
// with the reference annotations, "the only entry no runtime selects") and
// asks that the archive reader use it. The archive walker does not: its
// skipDescriptor (layout.go) skips any descriptor with a
// vnd.docker.reference.type (or io.containerd.manifest.subject)
// annotation, whatever its platform, at every depth. Below, a buildx-style
// OCI archive whose index lists U — a runnable linux/amd64 image annotated
// as an attestation manifest — before A (linux/amd64). After `docker load`
// / `ctr import` of this archive, containerd resolves the index with
// images.Manifest(platforms.Only(linux/amd64)) (core/images/image.go: the
// entries Only matches, sorted stably, the first walked; annotations never
// looked at) and runs U. The scan reads only A, so attest signs a
// predicate saying the archive's tag is image A while the image a loader
// runs from it is U, which nobody attested. (Binding to a registry and
// push-image refuse this index — Selectable sees U — but an archive-only
// attestation, verified later with --subject-path, does not.)
//
// Fix: the walker skips exactly oci.KindAttestation (and containerd's
// exported referrers where they are no platform entry: an entry with
// io.containerd.manifest.subject and no runnable platform), or refuses an
// index whose selectable entries (oci.Selectable over the archive) are not
// all images the scan read.
func TestReview22ArchiveSkipsRunnableAnnotatedEntry(t *testing.T) {
	t.Parallel()
	es, err := ocitest.Entries(ocitest.OCIMultiPlatform,
		ocitest.Image{RepoTags: []string{"localhost:5000/app:v1"}, Layers: []ocitest.Layer{{Files: []ocitest.File{{Name: "a", Content: "attested"}}, Compression: oci.CompressionGzip}}},
		ocitest.Image{Layers: []ocitest.Layer{{Files: []ocitest.File{{Name: "u", Content: "unattested"}}, Compression: oci.CompressionGzip}}, Architecture: "arm64"})
	if err != nil {
		t.Fatal(err)
	}
	blobs := testenv.Blobs{}
	for _, e := range es {
		if hex, ok := strings.CutPrefix(e.Name, "blobs/sha256/"); ok && hex != "" {
			blobs[digest.NewDigestFromEncoded(digest.SHA256, hex)] = e.Body
		}
	}
	var top ocispec.Index
	ij := slices.IndexFunc(es, func(e ocitest.Entry) bool { return e.Name == "index.json" })
	if err := json.Unmarshal(es[ij].Body, &top); err != nil {
		t.Fatal(err)
	}
	var idx ocispec.Index
	if err := json.Unmarshal(blobs[top.Manifests[0].Digest], &idx); err != nil {
		t.Fatal(err)
	}
	// idx: A (amd64), A's attestation manifest, U (arm64). Disguise U as an
	// attestation manifest of A, on linux/amd64, and list it first.
	a, att, u := idx.Manifests[0], idx.Manifests[1], idx.Manifests[2]
	u.Platform = &ocispec.Platform{OS: "linux", Architecture: "amd64"}
	u.Annotations = map[string]string{"vnd.docker.reference.type": "attestation-manifest", "vnd.docker.reference.digest": a.Digest.String()}
	idx.Manifests = []ocispec.Descriptor{u, a, att}
	raw, _ := json.Marshal(idx)
	d := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageIndex, Digest: digest.FromBytes(raw), Size: int64(len(raw)), Annotations: top.Manifests[0].Annotations}
	blobs[d.Digest] = raw
	es = append(es, ocitest.Entry{Name: "blobs/sha256/" + d.Digest.Encoded(), Body: raw})
	top.Manifests = []ocispec.Descriptor{d}
	es[ij].Body, _ = json.Marshal(top)

	picked, err := testenv.ContainerdPick(context.Background(), blobs, d, ocispec.Platform{OS: "linux", Architecture: "amd64"})
	if err != nil || picked != u.Digest {
		t.Fatalf("containerd reads %s, %v for linux/amd64; the test means it to read U %s", picked, err, u.Digest)
	}
	path := filepath.Join(t.TempDir(), "disguised.tar")
	if err := os.WriteFile(path, ocitest.Tar(es), 0o644); err != nil {
		t.Fatal(err)
	}
	arch, err := oci.Scan(context.Background(), path, oci.ScanOptions{})
	if err != nil {
		return // refused: what the fix may do
	}
	if !slices.ContainsFunc(arch.Images, func(img oci.Image) bool { return img.ManifestDigest == u.Digest }) {
		var got []string
		for _, img := range arch.Images {
			got = append(got, img.Platform.String()+" "+img.ManifestDigest.String())
		}
		t.Errorf("Scan reads the archive as %v and accepts it, but containerd, after loading it, runs U %s for linux/amd64 (an entry the scan skipped for its annotations)", got, u.Digest)
	}
}

// TestReview22NoPlatformConfigWithoutOSOnWindows: an entry without platform
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
// Fix: read an empty OS in an entry-less config (and in an entry's
// platform) as every OS a node may have — at least linux and windows — and
// ask ContainerdWindows for windows/ARCH when an entry without platform has
// a config without OS; or refuse such an index (ErrAmbiguousIndex).
func TestReview22NoPlatformConfigWithoutOSOnWindows(t *testing.T) {
	t.Parallel()
	g := testenv.NewIndexGen(2202)
	linux := ocispec.Platform{OS: "linux", Architecture: "amd64"}
	l := g.Image(&linux, false)
	l.Platform = &linux
	n := g.Image(&ocispec.Platform{Architecture: "amd64"}, false) // config: "os": ""
	top := review22Index(g, l, n)
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
