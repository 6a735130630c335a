package verify

import (
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	intoto "github.com/in-toto/attestation/go/v1"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-attest/oci-attest/internal/attest"
	"github.com/oci-attest/oci-attest/internal/oci"
	"github.com/oci-attest/oci-attest/internal/registry"
	"github.com/oci-attest/oci-attest/internal/sign"
	"github.com/oci-attest/oci-attest/internal/testenv"
)

// The differential property of issue 22 end to end: over generated
// indexes (testenv.IndexGen) in an in-process registry, binding and verify
// against the real resolvers — containerd's images.Manifest with
// platforms.Only and go-containerregistry's remote.Image with
// WithPlatform. It fails whenever verify reports success for a platform P
// (every platform, or --platform P) while a resolver reads for P an entry
// without a verified attestation, and whenever binding accepts an index
// that a resolver reads, for some platform, as an image the archive does
// not hold.

// diffEnv is what every generated index is checked against: the registry
// holding the generated content, the client, one predicate and one key.
type diffEnv struct {
	g    *testenv.IndexGen
	reg  testenv.Registry
	repo string
	c    *registry.Client
	pred *attest.Predicate
	key  string
	pub  crypto.PublicKey
	// attested are the manifests an attestation (signed with key, naming
	// the manifest) was attached to, in any check: the registry keeps them.
	attested map[digest.Digest]bool
}

// newDiffEnv starts olareg (the referrers API) and reads a predicate.
func newDiffEnv(t testing.TB, g *testenv.IndexGen) *diffEnv {
	t.Helper()
	reg := testenv.StartOlareg(t)
	f := newFixture(t, reg, "diff/fixture")
	key, pub := signingKey(t)
	return &diffEnv{g: g, reg: reg, repo: reg.Host + "/gen", c: f.client, pred: f.predicate, key: key, pub: pub, attested: map[digest.Digest]bool{}}
}

// diffStats counts what the checks saw, so that a test can tell that they
// bit.
type diffStats struct {
	indexes, ambiguous, bound, partial, refused, verified, platformVerified, picks int
}

func (s *diffStats) add(o diffStats) {
	s.indexes += o.indexes
	s.ambiguous += o.ambiguous
	s.bound += o.bound
	s.partial += o.partial
	s.refused += o.refused
	s.verified += o.verified
	s.platformVerified += o.platformVerified
	s.picks += o.picks
}

// genImage is an image manifest the generator made: its config digest and
// the platform the config names.
type genImage struct {
	desc     ocispec.Descriptor
	config   digest.Digest
	platform oci.Platform
}

// imagesUnder are the image manifests (no artifacts) the index top leads
// to.
func (e *diffEnv) imagesUnder(top digest.Digest) []genImage {
	var out []genImage
	for _, d := range e.g.Closure(top) {
		var m struct {
			MediaType string             `json:"mediaType"`
			Config    ocispec.Descriptor `json:"config"`
		}
		if json.Unmarshal(e.g.Blobs[d], &m) != nil || !oci.IsManifestMediaType(m.MediaType) || m.Config.MediaType == "application/vnd.oci.empty.v1+json" {
			continue
		}
		var cfg struct {
			OS           string `json:"os"`
			Architecture string `json:"architecture"`
			Variant      string `json:"variant"`
		}
		_ = json.Unmarshal(e.g.Blobs[m.Config.Digest], &cfg)
		raw := e.g.Blobs[d]
		out = append(out, genImage{
			desc:     ocispec.Descriptor{MediaType: m.MediaType, Digest: d, Size: int64(len(raw))},
			config:   m.Config.Digest,
			platform: oci.Platform{OS: cfg.OS, Architecture: cfg.Architecture, Variant: cfg.Variant},
		})
	}
	return out
}

// picks is what the real resolvers read from one index, cached by
// platform.
type picks struct {
	e     *diffEnv
	top   ocispec.Descriptor
	ref   name.Reference
	cache map[string][2]digest.Digest
	n     int
}

// of is what containerd and go-containerregistry read for tg ("" for
// none): containerd normalises tg, go-containerregistry takes it as spelt.
func (p *picks) of(t testing.TB, tg oci.Target) [2]digest.Digest {
	if r, ok := p.cache[tg.String()]; ok {
		return r
	}
	var r [2]digest.Digest
	if d, err := testenv.ContainerdPick(context.Background(), p.e.g.Blobs, p.top, tg.Platform); err == nil {
		r[0] = d
	}
	gp := v1.Platform{OS: tg.Platform.OS, Architecture: tg.Platform.Architecture, Variant: tg.Platform.Variant,
		OSVersion: tg.Platform.OSVersion, OSFeatures: tg.Platform.OSFeatures, Features: tg.Features}
	if d, err := testenv.GGCRPick(p.ref, gp, remote.WithContext(context.Background())); err == nil {
		r[1] = d
	}
	p.cache[tg.String()] = r
	p.n++
	return r
}

// targets are the platforms the index names (as Selectable asks them) and
// the host platforms.
func targets(sel *oci.Selection) []oci.Target {
	out := slices.Clone(sel.Targets)
	for _, h := range testenv.HostPlatforms {
		out = append(out, oci.Target{Platform: h})
	}
	return out
}

// check runs the property on the generated index top; rng chooses what
// the archive holds and attests, and which entries get an attestation of
// their own.
func (e *diffEnv) check(t *testing.T, top ocispec.Descriptor, rng *rand.Rand) diffStats {
	t.Helper()
	ctx := context.Background()
	st := diffStats{indexes: 1}
	at := testenv.Ref(t, e.repo+"@"+top.Digest.String())
	sel, err := oci.Selectable(ctx, e.g.Blobs[top.Digest], e.g.Blobs)
	if err != nil {
		if !errors.Is(err, oci.ErrAmbiguousIndex) {
			t.Fatalf("Selectable(%s) = %v", top.Digest, err)
		}
		st.ambiguous++
		if _, err := Verify(ctx, at, Options{Client: e.c, Policy: sign.Policy{PublicKey: e.pub}}); !errors.Is(err, oci.ErrAmbiguousIndex) {
			t.Errorf("Verify(ambiguous index %s) = %v, want it refused", top.Digest, err)
		}
		return st
	}
	ref, err := name.NewDigest(e.repo+"@"+top.Digest.String(), name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	p := &picks{e: e, top: top, ref: ref, cache: map[string][2]digest.Digest{}}
	attested := e.attested
	st.add(e.bind(t, sel, p, top, rng, attested))
	e.strays(t, top, rng, attested)
	st.add(e.verify(t, sel, p, top, rng, attested))
	st.picks = p.n
	return st
}

// bind binds a random archive — every image under top, or some; an index
// it holds whole or in part, or one image saved alone — and checks that an
// index it accepts is read by every resolver, for every platform, as an
// image of the archive. The bound subjects are attested as attest does.
func (e *diffEnv) bind(t *testing.T, sel *oci.Selection, p *picks, top ocispec.Descriptor, rng *rand.Rand, attested map[digest.Digest]bool) diffStats {
	t.Helper()
	var st diffStats
	images := e.imagesUnder(top.Digest)
	if len(images) == 0 {
		return st
	}
	ix := &oci.Index{Digest: top.Digest, Raw: e.g.Blobs[top.Digest], MediaType: top.MediaType}
	if rng.IntN(3) == 0 {
		ix.LackCount = 1
	}
	var held []*oci.Image
	for _, im := range images {
		if rng.IntN(10) < 7 || len(held) == 0 {
			held = append(held, &oci.Image{ImageID: im.config, ManifestDigest: im.desc.Digest, Platform: im.platform, ImageIndex: ix})
		}
	}
	if rng.IntN(5) == 0 {
		held = held[:1]
		held[0].ImageIndex = nil
	}
	var imgs []*oci.Image
	for _, h := range held {
		if rng.IntN(10) < 7 {
			imgs = append(imgs, h)
		}
	}
	if len(imgs) == 0 {
		imgs = held[:1]
	}
	at := testenv.Ref(t, e.repo+"@"+top.Digest.String())
	ss, err := e.c.ResolveIndex(context.Background(), at, imgs, held)
	if err != nil {
		// ErrBinding, or the registry's refusal to serve an entry whose
		// index gives it another media type (olareg answers by the
		// index's): nothing is accepted either way.
		st.refused++
		return st
	}
	ids := map[digest.Digest]bool{}
	for _, h := range held {
		ids[h.ImageID] = true
	}
	for i, s := range ss {
		if cfg := e.configOf(s.Image.Digest); cfg != imgs[i].ImageID {
			t.Errorf("ResolveIndex(%s) bound %s (config %s) to the image %s", top.Digest, s.Image.Digest, cfg, imgs[i].ImageID)
		}
	}
	if ss[0].Partial != nil {
		st.partial++
	} else {
		st.bound++
		for _, tg := range targets(sel) {
			for r, d := range p.of(t, tg) {
				if d != "" && !ids[e.configOf(d)] {
					t.Errorf("ResolveIndex accepted index %s, which %s reads for %s as %s, no image of the archive (held %v)\nindex: %s",
						top.Digest, []string{"containerd", "go-containerregistry"}[r], tg, d, ids, e.g.Blobs[top.Digest])
				}
			}
		}
	}
	e.attach(t, ss)
	for _, s := range ss {
		attested[s.Image.Digest] = true
	}
	return st
}

// configOf is the config digest of the generated manifest d.
func (e *diffEnv) configOf(d digest.Digest) digest.Digest {
	var m struct {
		Config ocispec.Descriptor `json:"config"`
	}
	_ = json.Unmarshal(e.g.Blobs[d], &m)
	return m.Config.Digest
}

// attach signs and attaches each subject's statement as attest does: to
// the subject, and to its platform manifest when the subject is an index.
func (e *diffEnv) attach(t testing.TB, ss []*registry.Subject) {
	t.Helper()
	var refs []registry.Referrer
	for _, s := range ss {
		subjects := []ocispec.Descriptor{s.Descriptor}
		if s.Image.Digest != s.Descriptor.Digest {
			subjects = append(subjects, s.Image)
		}
		b := e.sign(t, s.Repository, subjects...)
		refs = append(refs, registry.Referrer{Subject: s, Bundle: b})
		if is := s.ImageSubject(); is != s {
			refs = append(refs, registry.Referrer{Subject: is, Bundle: b})
		}
	}
	if _, err := e.c.AttachAll(context.Background(), refs, registry.AttachOptions{PredicateType: predicateType, Settle: 20 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
}

// sign is a key-signed bundle of the predicate naming subjects.
func (e *diffEnv) sign(t testing.TB, repository interface{ Name() string }, subjects ...ocispec.Descriptor) []byte {
	t.Helper()
	var rs []*intoto.ResourceDescriptor
	for _, d := range subjects {
		rs = append(rs, attest.RegistrySubject(repository.Name(), d.Digest))
	}
	st, err := attest.NewStatement(e.pred, rs...)
	if err != nil {
		t.Fatal(err)
	}
	b, err := attest.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	res, err := sign.Sign(context.Background(), b, sign.Options{SigningKey: e.key})
	if err != nil {
		t.Fatal(err)
	}
	return res.Bundle
}

// strays attest some image manifests under top on their own, as someone
// who attests platform digests might: the attestations verify finds need
// not come from a binding.
func (e *diffEnv) strays(t testing.TB, top ocispec.Descriptor, rng *rand.Rand, attested map[digest.Digest]bool) {
	t.Helper()
	repository := testenv.Ref(t, e.repo)
	var refs []registry.Referrer
	for _, im := range e.imagesUnder(top.Digest) {
		if attested[im.desc.Digest] || rng.IntN(2) == 0 {
			continue
		}
		s := &registry.Subject{Repository: repository, Descriptor: im.desc, Image: im.desc}
		refs = append(refs, registry.Referrer{Subject: s, Bundle: e.sign(t, repository, im.desc)})
		attested[im.desc.Digest] = true
	}
	if len(refs) == 0 {
		return
	}
	if _, err := e.c.AttachAll(context.Background(), refs, registry.AttachOptions{PredicateType: predicateType, Settle: 20 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
}

// verify runs Verify on top — for every platform, and for some platforms
// with --platform — and checks that whenever it succeeds every resolver
// reads, for the platforms it covers, an entry with a verified
// attestation.
func (e *diffEnv) verify(t *testing.T, sel *oci.Selection, p *picks, top ocispec.Descriptor, rng *rand.Rand, attested map[digest.Digest]bool) diffStats {
	t.Helper()
	var st diffStats
	at := testenv.Ref(t, e.repo+"@"+top.Digest.String())
	opts := Options{Client: e.c, Policy: sign.Policy{PublicKey: e.pub}}
	if _, err := Verify(context.Background(), at, opts); err == nil {
		st.verified++
		for _, tg := range targets(sel) {
			e.requireAttested(t, p, tg, attested, "every platform")
		}
	}
	all := targets(sel)
	for range 3 {
		tg := all[rng.IntN(len(all))]
		pl := oci.Platform{OS: tg.Platform.OS, Architecture: tg.Platform.Architecture, Variant: tg.Platform.Variant}
		if _, err := oci.ParsePlatform(pl.String()); err != nil {
			continue // --platform takes os/arch[/variant]
		}
		opts.Platform = pl.String()
		if _, err := Verify(context.Background(), at, opts); err == nil {
			st.platformVerified++
			e.requireAttested(t, p, oci.Target{Platform: ocispec.Platform{OS: pl.OS, Architecture: pl.Architecture, Variant: pl.Variant}}, attested, "--platform "+pl.String())
		}
	}
	return st
}

// requireAttested fails when a resolver reads, for tg, an entry without a
// verified attestation after Verify succeeded (for what).
func (e *diffEnv) requireAttested(t *testing.T, p *picks, tg oci.Target, attested map[digest.Digest]bool, what string) {
	t.Helper()
	for r, d := range p.of(t, tg) {
		if d != "" && !attested[d] {
			t.Errorf("Verify(%s, %s) succeeded, but %s reads %s for %s, which has no attestation\nindex: %s",
				p.top.Digest, what, []string{"containerd", "go-containerregistry"}[r], d, tg, e.g.Blobs[p.top.Digest])
		}
	}
}

// TestBindVerifyDifferential is the property over generated indexes, in
// olareg, key-signed: count-bounded, so it is part of the suite.
func TestBindVerifyDifferential(t *testing.T) {
	t.Parallel()
	g := testenv.NewIndexGen(2222)
	var tops []ocispec.Descriptor
	for range 40 {
		tops = append(tops, g.Index())
	}
	e := newDiffEnv(t, g)
	refused := g.Push(t, e.reg.Host, "gen")
	var st diffStats
	rng := rand.New(rand.NewPCG(22, 2222))
	for _, top := range tops {
		if slices.ContainsFunc(g.Closure(top.Digest), func(d digest.Digest) bool { return refused[d] != nil }) {
			continue // the registry refused part of it
		}
		st.add(e.check(t, top, rng))
	}
	t.Logf("%d indexes: %d ambiguous (refused), bindings %d of the index, %d partial, %d refused; verify succeeded %d times, %d with --platform; %d platforms resolved",
		st.indexes, st.ambiguous, st.bound, st.partial, st.refused, st.verified, st.platformVerified, st.picks)
	if st.indexes < len(tops)/2 || st.bound == 0 || st.partial == 0 || st.refused == 0 || st.verified == 0 || st.platformVerified == 0 {
		t.Errorf("the property did not bite: %+v", st)
	}
}

// FuzzBindVerify is the property over fuzzed generator seeds: one index
// each, with its own choices of what the archive holds and attests.
func FuzzBindVerify(f *testing.F) {
	for _, s := range []uint64{1, 22, 333, 4444} {
		f.Add(s)
	}
	e := newDiffEnv(f, nil)
	f.Fuzz(func(t *testing.T, seed uint64) {
		g := testenv.NewIndexGen(seed)
		top := g.Index()
		e.g = g
		refused := g.Push(t, e.reg.Host, "gen")
		if slices.ContainsFunc(g.Closure(top.Digest), func(d digest.Digest) bool { return refused[d] != nil }) {
			return
		}
		e.check(t, top, rand.New(rand.NewPCG(seed, 22)))
	})
}
