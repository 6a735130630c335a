package testenv

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"testing"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// IndexGen generates image indexes for the differential tests of
// oci.Selectable: honest ones (buildx's, with attestation manifests) and
// hostile ones — entries in any order, platforms in every spelling
// containerd normalises (x86_64, aarch64, OS case, arm variants), entries
// without a platform whose config names one, OS versions and features,
// reference annotations and artifactType on runnable images, artifacts,
// missing and unknown media types, nested indexes, duplicates.
type IndexGen struct {
	r *rand.Rand
	n int
	// Blobs holds everything generated: configs, manifests and indexes.
	Blobs Blobs
	// Configs are the configs' descriptors, in order.
	Configs []ocispec.Descriptor
	// Manifests are the manifests' and indexes' descriptors (their media
	// type is the one to push them with), children before parents.
	Manifests []ocispec.Descriptor
}

// NewIndexGen returns a generator seeded with seed (the same seed, the
// same indexes).
func NewIndexGen(seed uint64) *IndexGen {
	return &IndexGen{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), Blobs: Blobs{}}
}

// HostPlatforms are platforms hosts pull as (containerd's
// platforms.DefaultSpec on them) and that users pass to
// go-containerregistry clients.
var HostPlatforms = []ocispec.Platform{
	{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "amd64", Variant: "v2"},
	{OS: "linux", Architecture: "amd64", Variant: "v3"}, {OS: "linux", Architecture: "386"},
	{OS: "linux", Architecture: "arm64"}, {OS: "linux", Architecture: "arm64", Variant: "v8"},
	{OS: "linux", Architecture: "arm64", Variant: "v8.2"}, {OS: "linux", Architecture: "arm64", Variant: "v9"},
	{OS: "linux", Architecture: "arm", Variant: "v7"}, {OS: "linux", Architecture: "arm", Variant: "v6"},
	{OS: "linux", Architecture: "arm"}, {OS: "linux", Architecture: "arm", Variant: "v8"},
	{OS: "linux", Architecture: "riscv64"}, {OS: "linux", Architecture: "s390x"},
	{OS: "windows", Architecture: "amd64", OSVersion: "10.0.17763.1"},
}

// spellings are the platforms entries name.
var spellings = []ocispec.Platform{
	{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "amd64"},
	{OS: "linux", Architecture: "x86_64"}, {OS: "Linux", Architecture: "AMD64"}, {OS: "", Architecture: "amd64"},
	{OS: "linux", Architecture: "amd64", Variant: "v1"}, {OS: "linux", Architecture: "amd64", Variant: "v2"},
	{OS: "linux", Architecture: "amd64", Variant: "v3"}, {OS: "linux", Architecture: "386"}, {OS: "linux", Architecture: "i386"},
	{OS: "linux", Architecture: "arm64"}, {OS: "linux", Architecture: "arm64"}, {OS: "linux", Architecture: "aarch64"},
	{OS: "linux", Architecture: "arm64", Variant: "v8"}, {OS: "LINUX", Architecture: "Arm64", Variant: "V8"},
	{OS: "linux", Architecture: "arm64", Variant: "v8.2"}, {OS: "linux", Architecture: "arm64", Variant: "v9"},
	{OS: "linux", Architecture: "arm64", Variant: "foo"},
	{OS: "linux", Architecture: "arm", Variant: "v7"}, {OS: "linux", Architecture: "arm"}, {OS: "linux", Architecture: "armhf"},
	{OS: "linux", Architecture: "arm", Variant: "7"}, {OS: "linux", Architecture: "arm", Variant: "v6"},
	{OS: "linux", Architecture: "arm", Variant: "v5"}, {OS: "linux", Architecture: "riscv64"}, {OS: "linux", Architecture: "s390x"},
	{OS: "windows", Architecture: "amd64", OSVersion: "10.0.17763.1"}, {OS: "windows", Architecture: "amd64", OSVersion: "10.0.20348.2"},
	{OS: "darwin", Architecture: "arm64"}, {OS: "unknown", Architecture: "unknown"},
}

func (g *IndexGen) pick() ocispec.Platform {
	p := spellings[g.r.IntN(len(spellings))]
	if g.r.IntN(20) == 0 {
		p.OSFeatures = []string{"sse4", "win32k"}[:1+g.r.IntN(2)]
	}
	return p
}

func (g *IndexGen) chance(pct int) bool { return g.r.IntN(100) < pct }

// add stores raw and returns its descriptor.
func (g *IndexGen) add(raw []byte, mediaType string, manifest bool) ocispec.Descriptor {
	d := ocispec.Descriptor{MediaType: mediaType, Digest: digest.FromBytes(raw), Size: int64(len(raw))}
	if _, ok := g.Blobs[d.Digest]; !ok {
		g.Blobs[d.Digest] = raw
		if manifest {
			g.Manifests = append(g.Manifests, d)
		} else {
			g.Configs = append(g.Configs, d)
		}
	}
	return d
}

func mustMarshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// Image generates an image manifest (OCI or Docker) whose config names
// platform cfg (nothing when nil), or an artifact's when artifact.
func (g *IndexGen) Image(cfg *ocispec.Platform, artifact bool) ocispec.Descriptor {
	g.n++
	c := map[string]any{"rootfs": map[string]any{"type": "layers", "diff_ids": []string{}}, "n": g.n}
	if cfg != nil {
		c["os"], c["architecture"], c["variant"] = cfg.OS, cfg.Architecture, cfg.Variant
	}
	cmt, mt := ocispec.MediaTypeImageConfig, ocispec.MediaTypeImageManifest
	switch {
	case artifact:
		c, cmt = map[string]any{"n": g.n}, "application/vnd.oci.empty.v1+json"
	case g.chance(30):
		cmt, mt = "application/vnd.docker.container.image.v1+json", "application/vnd.docker.distribution.manifest.v2+json"
	}
	config := g.add(mustMarshal(c), cmt, false)
	return g.add(mustMarshal(map[string]any{"schemaVersion": 2, "mediaType": mt, "config": config, "layers": []any{}}), mt, true)
}

// Index generates an image index of one to six entries, nested up to two
// deep, and everything it leads to.
func (g *IndexGen) Index() ocispec.Descriptor { return g.index(0) }

func (g *IndexGen) index(depth int) ocispec.Descriptor {
	var ds []ocispec.Descriptor
	for range 1 + g.r.IntN(6) {
		ds = append(ds, g.entry(depth, ds))
	}
	mt := ocispec.MediaTypeImageIndex
	if g.chance(30) {
		mt = "application/vnd.docker.distribution.manifest.list.v2+json"
	}
	return g.add(mustMarshal(map[string]any{"schemaVersion": 2, "mediaType": mt, "manifests": ds}), mt, true)
}

// entry generates one entry of an index at depth, after prev.
func (g *IndexGen) entry(depth int, prev []ocispec.Descriptor) ocispec.Descriptor {
	var d ocispec.Descriptor
	p := g.pick()
	switch x := g.r.IntN(100); {
	case x < 8 && len(prev) > 0: // a duplicate, perhaps under another platform
		d = prev[g.r.IntN(len(prev))]
		if g.chance(50) {
			d.Platform = &p
		}
		return d
	case x < 18 && depth < 2:
		d = g.index(depth + 1)
		d.Platform = &p
	case x < 26: // a buildx attestation manifest
		d = g.Image(nil, true)
		d.Platform = &ocispec.Platform{OS: "unknown", Architecture: "unknown"}
		subject := d.Digest
		if len(prev) > 0 {
			subject = prev[g.r.IntN(len(prev))].Digest
		}
		d.Annotations = map[string]string{"vnd.docker.reference.type": "attestation-manifest", "vnd.docker.reference.digest": subject.String()}
	case x < 32: // an artifact
		d = g.Image(nil, true)
		d.Platform, d.ArtifactType = &p, "application/spdx+json"
	default:
		cfg := p
		if g.chance(30) {
			cfg = g.pick()
		}
		d = g.Image(&cfg, false)
		d.Platform = &p
	}
	return g.disguise(d)
}

// disguise drops an entry's platform, media type, or gives it another
// one, annotations or an artifactType, now and then.
func (g *IndexGen) disguise(d ocispec.Descriptor) ocispec.Descriptor {
	if d.Platform != nil && d.Platform.OS != "unknown" && g.chance(15) {
		d.Platform = nil
	}
	switch {
	case g.chance(3):
		d.MediaType = ""
	case g.chance(4):
		d.MediaType = []string{"application/vnd.oci.artifact.manifest.v1+json", "application/octet-stream", "application/vnd.docker.distribution.manifest.v1+json"}[g.r.IntN(3)]
	}
	if g.chance(10) {
		d.Annotations = map[string]string{"vnd.docker.reference.type": "attestation-manifest", "vnd.docker.reference.digest": d.Digest.String()}
	}
	if d.ArtifactType == "" && g.chance(8) {
		d.ArtifactType = []string{ocispec.MediaTypeImageConfig, "application/vnd.dev.sigstore.bundle.v0.3+json"}[g.r.IntN(2)]
	}
	return d
}

// Push uploads everything generated to repo on the registry at host
// (plain HTTP): the configs as blobs, then the manifests and indexes by
// digest, children first. It returns the manifests the registry refused
// (some registries refuse some hostile indexes), each with its error.
func (g *IndexGen) Push(t testing.TB, host, repo string) map[digest.Digest]error {
	t.Helper()
	for _, d := range g.Configs {
		PushBlob(t, host, repo, g.Blobs[d.Digest])
	}
	refused := map[digest.Digest]error{}
	for _, d := range g.Manifests {
		if err := putManifest(host, repo, d.Digest.String(), d.MediaType, g.Blobs[d.Digest]); err != nil {
			refused[d.Digest] = err
		}
	}
	return refused
}

// Closure is every manifest and index the index top leads to, top
// included.
func (g *IndexGen) Closure(top digest.Digest) []digest.Digest {
	out := []digest.Digest{top}
	var idx ocispec.Index
	if json.Unmarshal(g.Blobs[top], &idx) == nil {
		for _, d := range idx.Manifests {
			if _, ok := g.Blobs[d.Digest]; ok && !slices.Contains(out, d.Digest) {
				out = append(out, g.Closure(d.Digest)...)
			}
		}
	}
	return out
}

// PushBlob uploads b to repo on the registry at host (plain HTTP) in one
// POST and PUT.
func PushBlob(t testing.TB, host, repo string, b []byte) {
	t.Helper()
	ctx := context.Background()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+host+"/v2/"+repo+"/blobs/uploads/", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusAccepted || err != nil {
		t.Fatalf("starting an upload to %s/%s: %s %v", host, repo, resp.Status, err)
	}
	u := (&url.URL{Scheme: "http", Host: host}).ResolveReference(loc)
	q := u.Query()
	q.Set("digest", digest.FromBytes(b).String())
	u.RawQuery = q.Encode()
	req, err = http.NewRequestWithContext(ctx, http.MethodPut, u.String(), bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("uploading a blob to %s/%s: %s", host, repo, resp.Status)
	}
}

// putManifest PUTs raw as repo:reference with mediaType.
func putManifest(host, repo, reference, mediaType string, raw []byte) error {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPut, "http://"+host+"/v2/"+repo+"/manifests/"+reference, bytes.NewReader(raw))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", mediaType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("PUT %s/%s:%s: %s", host, repo, reference, resp.Status)
	}
	return nil
}
