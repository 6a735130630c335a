package verify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-attest/oci-attest/internal/registry"
	"github.com/oci-attest/oci-attest/internal/sign"
	"github.com/oci-attest/oci-attest/internal/testenv"
)

// wantSource is where a registry's referrers are found.
func wantSource(reg testenv.Registry, subject digest.Digest) string {
	if reg.API {
		return "api"
	}
	return "tag:sha256-" + subject.Encoded()
}

// ignoreVolatile ignores what differs run to run (time, key hints).
var ignoreVolatile = cmpopts.IgnoreFields(Attestation{}, "Created", "Signer", "Timestamps", "LogIndex")

func TestVerifyKeySigned(t *testing.T) {
	t.Parallel()
	for _, reg := range testenv.InProcessRegistries(t) {
		t.Run(reg.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			f := newFixture(t, reg, "verify/keysigned")
			bundle, pub := keySigned(t, f.statement(t))
			art := f.attach(t, bundle, predicateType)

			// By digest and by tag, with the archive: verified and matching.
			for _, image := range []string{f.image(), f.ref} {
				rep, err := Verify(ctx, testenv.Ref(t, image), Options{Client: f.client, Policy: sign.Policy{PublicKey: pub}, SubjectPath: f.archive})
				if err != nil {
					t.Fatalf("Verify(%s) = %v", image, err)
				}
				yes := true
				want := &Report{
					Image:           testenv.Ref(t, image).String(),
					Repository:      f.subject.Repository.Name(),
					Digest:          f.subject.Descriptor.Digest.String(),
					MediaType:       f.subject.Descriptor.MediaType,
					ReferrersSource: wantSource(reg, f.subject.Descriptor.Digest),
					Required:        &Requirements{PredicateType: predicateType, Key: true},
					Referrers:       1,
					Attestations: []Attestation{{
						Digest:   art.String(),
						Source:   wantSource(reg, f.subject.Descriptor.Digest),
						Verified: true,
						Predicate: &PredicateSummary{
							ImageID:   "sha256:" + f.predicate.ImageID["sha256"],
							Tags:      []string{"localhost/verify/app:v1"},
							Layers:    2,
							TarDigest: "sha256:" + f.predicate.TarDigest["sha256"],
						},
						Archive: &ArchiveComparison{Matches: true, SameImage: true},
					}},
					Ignored:        []Ignored{},
					Verified:       1,
					Checked:        1,
					SubjectPath:    f.archive,
					ArchiveMatches: &yes,
				}
				if diff := cmp.Diff(want, rep, ignoreVolatile); diff != "" {
					t.Errorf("Verify(%s) report (-want +got):\n%s", image, diff)
				}
				a := rep.Attestations[0]
				if a.Signer == nil || a.Signer.KeyHint == "" || a.Signer.Identity != "" {
					t.Errorf("Verify() signer = %+v, want a key hint and no identity", a.Signer)
				}
				if a.Created == "" {
					t.Error("Verify() created is empty, want the artifact's created annotation")
				}
			}
		})
	}
}

func TestVerifyRejects(t *testing.T) {
	t.Parallel()
	for _, reg := range testenv.InProcessRegistries(t) {
		t.Run(reg.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()

			t.Run("wrong key", func(t *testing.T) {
				t.Parallel()
				f := newFixture(t, reg, "verify/wrongkey")
				bundle, _ := keySigned(t, f.statement(t))
				f.attach(t, bundle, predicateType)
				_, other := keySigned(t, f.statement(t))
				rep, err := Verify(ctx, testenv.Ref(t, f.image()), Options{Client: f.client, Policy: sign.Policy{PublicKey: other}})
				if !errors.Is(err, ErrNoneVerified) {
					t.Fatalf("Verify(other key) = %v, want ErrNoneVerified", err)
				}
				if len(rep.Attestations) != 1 || rep.Attestations[0].Verified || rep.Attestations[0].Error == "" {
					t.Fatalf("Verify(other key) attestations = %+v, want one rejected with a reason", rep.Attestations)
				}
				if rep.Attestations[0].Predicate != nil {
					t.Errorf("Verify(other key) reported the unverified predicate %+v", rep.Attestations[0].Predicate)
				}
			})

			t.Run("tampered bundle", func(t *testing.T) {
				t.Parallel()
				f := newFixture(t, reg, "verify/tampered")
				bundle, pub := keySigned(t, f.statement(t))
				bad := f.attach(t, tamper(t, bundle), predicateType)
				good := f.attach(t, bundle, predicateType)
				rep, err := Verify(ctx, testenv.Ref(t, f.image()), Options{Client: f.client, Policy: sign.Policy{PublicKey: pub}})
				if err != nil {
					t.Fatalf("Verify() = %v, want the untampered one to verify", err)
				}
				got := map[string]Attestation{}
				for _, a := range rep.Attestations {
					got[a.Digest] = a
				}
				if len(got) != 2 || !got[good.String()].Verified || got[bad.String()].Verified {
					t.Fatalf("Verify() attestations = %+v, want %s verified and %s rejected", rep.Attestations, good, bad)
				}
				if reason := got[bad.String()].Error; !strings.Contains(reason, "signature") {
					t.Errorf("tampered bundle rejected with %q, want a signature failure", reason)
				}
			})

			t.Run("statement names another image", func(t *testing.T) {
				t.Parallel()
				f := newFixture(t, reg, "verify/subject-a")
				g := newFixture(t, reg, "verify/subject-b")
				// Same image, other repository: same digest. Make the
				// statement name a different digest instead.
				g.subject.Descriptor.Digest = digest.FromString("another image")
				bundle, pub := keySigned(t, g.statement(t))
				f.attach(t, bundle, predicateType)
				rep, err := Verify(ctx, testenv.Ref(t, f.image()), Options{Client: f.client, Policy: sign.Policy{PublicKey: pub}})
				if !errors.Is(err, ErrNoneVerified) {
					t.Fatalf("Verify() = %v, want ErrNoneVerified", err)
				}
				if reason := rep.Attestations[0].Error; !strings.Contains(reason, "digest") {
					t.Errorf("rejected with %q, want a subject digest mismatch", reason)
				}
			})
		})
	}
}

func TestVerifyIgnoresForeignReferrers(t *testing.T) {
	t.Parallel()
	for _, reg := range testenv.InProcessRegistries(t) {
		t.Run(reg.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			f := newFixture(t, reg, "verify/foreign")
			st := f.statement(t)
			bundle, pub := keySigned(t, st)

			// Only foreign referrers: none found.
			sbom := f.pushForeign(t, "application/spdx+json", "application/spdx+json", []byte(`{"spdxVersion":"SPDX-2.3"}`), nil)
			// cosign's classic signature manifest as an OCI 1.1 referrer.
			cosignSig := f.pushForeign(t, "application/vnd.dev.cosign.artifact.sig.v1+json",
				"application/vnd.dev.cosign.simplesigning.v1+json",
				[]byte(`{"critical":{"identity":{"docker-reference":"x"},"image":{"docker-manifest-digest":"`+f.subject.Descriptor.Digest.String()+`"},"type":"cosign container image signature"},"optional":null}`),
				map[string]string{"dev.cosignproject.cosign/signature": "MEUCIQ=="})
			// cosign v3 `sign`: a bundle referrer of another predicate type.
			cosignBundle, _ := keySigned(t, otherStatement(t, f, "https://sigstore.dev/cosign/sign/v1"))
			cosignNew := f.attach(t, cosignBundle, "https://sigstore.dev/cosign/sign/v1")
			// A bundle without the predicate-type annotation whose statement is
			// SLSA provenance, signed by the same key: still not ours.
			slsaBundle, _ := keySigned(t, otherStatement(t, f, "https://slsa.dev/provenance/v1"))
			slsa := f.attach(t, slsaBundle, "")

			rep, err := Verify(ctx, testenv.Ref(t, f.image()), Options{Client: f.client, Policy: sign.Policy{PublicKey: pub}})
			if !errors.Is(err, ErrNoneFound) {
				t.Fatalf("Verify(only foreign referrers) = %v, want ErrNoneFound", err)
			}
			wantIgnored := map[string]string{
				sbom.String():      `artifact type "application/spdx+json" is not a Sigstore bundle`,
				cosignSig.String(): `artifact type "application/vnd.dev.cosign.artifact.sig.v1+json" is not a Sigstore bundle`,
				cosignNew.String(): `predicate type "https://sigstore.dev/cosign/sign/v1" is not ours`,
				slsa.String():      `predicate type "https://slsa.dev/provenance/v1" is not ours`,
			}
			gotIgnored := map[string]string{}
			for _, ig := range rep.Ignored {
				gotIgnored[ig.Digest] = ig.Reason
			}
			if diff := cmp.Diff(wantIgnored, gotIgnored); diff != "" {
				t.Errorf("Verify() ignored (-want +got):\n%s", diff)
			}

			// Ours among them: exactly ours is verified.
			ours := f.attach(t, bundle, predicateType)
			rep, err = Verify(ctx, testenv.Ref(t, f.image()), Options{Client: f.client, Policy: sign.Policy{PublicKey: pub}})
			if err != nil {
				t.Fatalf("Verify() = %v", err)
			}
			if len(rep.Attestations) != 1 || rep.Attestations[0].Digest != ours.String() || !rep.Attestations[0].Verified {
				t.Errorf("Verify() attestations = %+v, want only %s, verified", rep.Attestations, ours)
			}
			if len(rep.Ignored) != 4 {
				t.Errorf("Verify() ignored %d referrers, want 4: %+v", len(rep.Ignored), rep.Ignored)
			}
		})
	}
}

func TestVerifyNoneFound(t *testing.T) {
	t.Parallel()
	for _, reg := range testenv.InProcessRegistries(t) {
		t.Run(reg.Name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, reg, "verify/none")
			_, pub := keySigned(t, f.statement(t))
			rep, err := Verify(context.Background(), testenv.Ref(t, f.ref), Options{Client: f.client, Policy: sign.Policy{PublicKey: pub}})
			if !errors.Is(err, ErrNoneFound) {
				t.Fatalf("Verify() = %v, want ErrNoneFound", err)
			}
			if rep == nil || len(rep.Attestations) != 0 || rep.ReferrersSource != wantSource(reg, f.subject.Descriptor.Digest) {
				t.Errorf("Verify() report = %+v, want no attestations, source %s", rep, wantSource(reg, f.subject.Descriptor.Digest))
			}
		})
	}
}

func TestVerifyArchiveDiffers(t *testing.T) {
	t.Parallel()
	for _, reg := range testenv.InProcessRegistries(t) {
		t.Run(reg.Name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, reg, "verify/archive")
			bundle, pub := keySigned(t, f.statement(t))
			f.attach(t, bundle, predicateType)
			changed := writeArchive(t, testImage("two")) // layer 1 differs
			rep, err := Verify(context.Background(), testenv.Ref(t, f.image()), Options{Client: f.client, Policy: sign.Policy{PublicKey: pub}, SubjectPath: changed})
			if !errors.Is(err, ErrArchiveDiffers) {
				t.Fatalf("Verify(changed archive) = %v, want ErrArchiveDiffers", err)
			}
			if rep.ArchiveMatches == nil || *rep.ArchiveMatches || rep.Verified != 1 {
				t.Fatalf("Verify(changed archive) = %+v, want verified and archiveMatches false", rep)
			}
			diffs := map[string]Difference{}
			var fields []string
			for _, d := range rep.Attestations[0].Archive.Differences {
				diffs[d.Field] = d
				fields = append(fields, d.Field)
			}
			// The changed layer changes its diffID and, through the config,
			// the image ID, and the archive's bytes; layer 0 and the tags do
			// not change.
			wantFields := []string{"tardigest", "imageid", "manifestdigest", "manifestraw", "diffids[1]", "manifest"}
			if diff := cmp.Diff(wantFields, fields); diff != "" {
				t.Errorf("differing fields (-want +got):\n%s", diff)
			}
			if d := diffs["diffids[1]"]; d.Attested != "sha256:"+f.predicate.DiffIDs[1]["sha256"] || d.Local == d.Attested || !strings.HasPrefix(d.Local, "sha256:") {
				t.Errorf("diffids[1] difference = %+v, want attested %s and the new layer's diffID", d, f.predicate.DiffIDs[1]["sha256"])
			}
		})
	}
}

// TestVerifySameImageOtherArchive: the attested image saved again under
// another tag (another file, the same config and layers) is reported as the
// same image in a different archive file — and still exits as "differs",
// since the file is not the attested one.
func TestVerifySameImageOtherArchive(t *testing.T) {
	t.Parallel()
	reg := testenv.StartGGCR(t)
	f := newFixture(t, reg, "verify/sameimage")
	bundle, pub := keySigned(t, f.statement(t))
	f.attach(t, bundle, predicateType)
	retagged := testImage("one")
	retagged.RepoTags = []string{"localhost/verify/app:v2"}
	other := writeArchive(t, retagged)
	rep, err := Verify(context.Background(), testenv.Ref(t, f.image()), Options{Client: f.client, Policy: sign.Policy{PublicKey: pub}, SubjectPath: other})
	if !errors.Is(err, ErrArchiveDiffers) || !strings.Contains(err.Error(), "holds the attested image") {
		t.Fatalf("Verify(same image, other archive) = %v, want ErrArchiveDiffers saying it holds the attested image", err)
	}
	c := rep.Attestations[0].Archive
	if c == nil || c.Matches || !c.SameImage {
		t.Fatalf("archive comparison = %+v, want same image, not matching", c)
	}
	for _, d := range c.Differences {
		if d.Field == "imageid" || strings.HasPrefix(d.Field, "diffids") {
			t.Errorf("same image reported as differing in %s", d.Field)
		}
	}
	// Another image is not the same image.
	rep, err = Verify(context.Background(), testenv.Ref(t, f.image()), Options{Client: f.client, Policy: sign.Policy{PublicKey: pub}, SubjectPath: writeArchive(t, testImage("two"))})
	if !errors.Is(err, ErrArchiveDiffers) || rep.Attestations[0].Archive.SameImage {
		t.Errorf("Verify(another image) = %v, same image %v; want it not the same image", err, rep.Attestations[0].Archive.SameImage)
	}
}

// otherStatement is an in-toto statement of another predicate type about the
// fixture's image.
func otherStatement(t testing.TB, f *fixture, predicateType string) []byte {
	t.Helper()
	return []byte(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"` + f.subject.Repository.Name() +
		`","digest":{"sha256":"` + f.subject.Descriptor.Digest.Encoded() + `"}}],"predicateType":"` + predicateType + `","predicate":{}}`)
}

// TestVerifyFallbackEntryForAnotherImage: anyone who can push to the
// repository can list another image's attestation in the fallback tag; it
// must not count for this image.
func TestVerifyFallbackEntryForAnotherImage(t *testing.T) {
	t.Parallel()
	reg := testenv.InProcessRegistries(t)[1]
	if reg.API {
		t.Fatal("want the registry without the referrers API")
	}
	ctx := context.Background()
	a := newFixtureTag(t, reg, "verify/poison", "a", "one")
	b := newFixtureTag(t, reg, "verify/poison", "b", "two")
	bundle, pub := keySigned(t, b.statement(t))
	art := b.attach(t, bundle, predicateType)

	// Copy b's fallback index to a's fallback tag.
	tagB := "sha256-" + b.subject.Descriptor.Digest.Encoded()
	tagA := "sha256-" + a.subject.Descriptor.Digest.Encoded()
	idx, _, err := b.client.FetchManifest(ctx, b.subject.Repository, tagB)
	if err != nil {
		t.Fatal(err)
	}
	testenv.PutManifest(t, reg.Host, "verify/poison", tagA, ocispec.MediaTypeImageIndex, idx)

	rep, err := Verify(ctx, testenv.Ref(t, a.image()), Options{Client: a.client, Policy: sign.Policy{PublicKey: pub}})
	if !errors.Is(err, ErrNoneVerified) {
		t.Fatalf("Verify() = %v, want ErrNoneVerified", err)
	}
	want := "referrer " + art.String() + ": the manifest's subject is " + b.subject.Descriptor.Digest.String() + ", not the image " + a.subject.Descriptor.Digest.String()
	if len(rep.Attestations) != 1 || rep.Attestations[0].Error != want {
		t.Errorf("Verify() attestations = %+v, want one rejected with %q", rep.Attestations, want)
	}
	// b itself still verifies.
	if _, err := Verify(ctx, testenv.Ref(t, b.image()), Options{Client: b.client, Policy: sign.Policy{PublicKey: pub}}); err != nil {
		t.Errorf("Verify(b) = %v", err)
	}
}

// TestVerifyCandidateLimit: every bundle referrer is checked, whatever
// its unsigned created annotation says, up to maxCandidates: a thousand
// newer forged referrers do not crowd out the real one; beyond the limit,
// referrers are reported as not checked.
func TestVerifyCandidateLimit(t *testing.T) {
	t.Parallel()
	reg := testenv.StartGGCR(t) // the fallback tag lists referrers in the order they were added
	ctx := context.Background()
	f := newFixture(t, reg, "verify/many")
	bundle, pub := keySigned(t, f.statement(t))
	real := f.attach(t, bundle, predicateType)
	later := time.Now().Add(time.Hour)
	entries := []string{}
	raw, _, err := f.client.FetchManifest(ctx, f.subject.Repository, "sha256-"+f.subject.Descriptor.Digest.Encoded())
	if err != nil {
		t.Fatal(err)
	}
	var idx ocispec.Index
	if err := json.Unmarshal(raw, &idx); err != nil || len(idx.Manifests) != 1 {
		t.Fatalf("fallback index = %s, %v", raw, err)
	}
	first, _ := json.Marshal(idx.Manifests[0])
	entries = append(entries, string(first))
	for i := range maxCandidates {
		// Distinct forged bundles (an unknown field: they never verify),
		// all claiming to be newer than the real one.
		b := bytes.Replace(bundle, []byte(`{`), []byte(fmt.Sprintf(`{"n%d":0,`, i)), 1)
		res, err := f.client.Attach(ctx, f.subject, b, registry.AttachOptions{Mode: registry.ModeAPI, PredicateType: predicateType, Now: func() time.Time { return later }})
		if err != nil {
			t.Fatal(err)
		}
		e, _ := json.Marshal(res.Artifact)
		entries = append(entries, string(e))
	}
	testenv.PutManifest(t, reg.Host, "verify/many", "sha256-"+f.subject.Descriptor.Digest.Encoded(), ocispec.MediaTypeImageIndex,
		[]byte(`{"schemaVersion":2,"mediaType":"`+ocispec.MediaTypeImageIndex+`","manifests":[`+strings.Join(entries, ",")+`]}`))
	rep, err := Verify(ctx, testenv.Ref(t, f.image()), Options{Client: f.client, Policy: sign.Policy{PublicKey: pub}})
	if err != nil {
		t.Fatalf("Verify() = %v, want the real attestation verified among the forged ones", err)
	}
	if rep.Verified != 1 || rep.Attestations[0].Digest != real.String() || !rep.Attestations[0].Verified {
		t.Errorf("Verify() verified %d, first %+v; want the real %s", rep.Verified, rep.Attestations[0], real)
	}
	if rep.Checked != maxCandidates || rep.Unchecked != 1 || len(rep.Attestations) != maxCandidates {
		t.Errorf("Verify() checked %d, unchecked %d, %d attestations; want %d, 1, %d", rep.Checked, rep.Unchecked, len(rep.Attestations), maxCandidates, maxCandidates)
	}
	if n := len(rep.Ignored); n != 1 || !strings.Contains(rep.Ignored[0].Reason, "not checked") {
		t.Errorf("Verify() ignored %+v, want the last one not checked", rep.Ignored)
	}
}

// TestVerifyRegistryFailureIsNotRejection: when the registry fails to serve
// a referrer (persistent 503), the result is an error to retry (exit 1), not
// "none verifies" (exit 4); once the registry recovers, it verifies.
func TestVerifyRegistryFailureIsNotRejection(t *testing.T) {
	t.Parallel()
	gg := testenv.StartGGCR(t)
	proxy := testenv.StartFaultProxy(t, gg.URL)
	reg := testenv.Registry{Name: "ggcr-behind-proxy", Host: proxy.Host, API: false}
	ctx := context.Background()
	f := newFixture(t, reg, "verify/flaky")
	bundle, pub := keySigned(t, f.statement(t))
	f.attach(t, bundle, predicateType)

	proxy.Add(testenv.Fault{Method: http.MethodGet, Path: regexp.MustCompile(`/blobs/`), Kind: testenv.Fault503, Times: -1})
	rep, err := Verify(ctx, testenv.Ref(t, f.image()), Options{Client: f.client, Policy: sign.Policy{PublicKey: pub}})
	if err == nil || errors.Is(err, ErrNoneVerified) || errors.Is(err, ErrNoneFound) {
		t.Fatalf("Verify(registry failing) = %v, want a plain error, not a verdict", err)
	}
	if !strings.Contains(err.Error(), "failed to serve") || rep == nil || rep.Verified != 0 {
		t.Errorf("Verify(registry failing) = %+v, %v", rep, err)
	}

	proxy.Clear()
	if _, err := Verify(ctx, testenv.Ref(t, f.image()), Options{Client: f.client, Policy: sign.Policy{PublicKey: pub}}); err != nil {
		t.Errorf("Verify(registry recovered) = %v, want verified", err)
	}
}

// TestVerifyHostileFallbackIndex: a fallback index (anyone who can push may
// write it) whose entries name no digest, or name one referrer twice, is no
// reason to fail: bad entries are skipped with a reason, a repeated one is
// checked and counted once.
func TestVerifyHostileFallbackIndex(t *testing.T) {
	t.Parallel()
	reg := testenv.StartGGCR(t)
	f := newFixture(t, reg, "verify/hostile")
	bundle, pub := keySigned(t, f.statement(t))
	art := f.attach(t, bundle, predicateType)
	tag := "sha256-" + f.subject.Descriptor.Digest.Encoded()
	raw, _, err := f.client.FetchManifest(context.Background(), f.subject.Repository, tag)
	if err != nil {
		t.Fatal(err)
	}
	var idx struct {
		SchemaVersion int               `json:"schemaVersion"`
		MediaType     string            `json:"mediaType"`
		Manifests     []json.RawMessage `json:"manifests"`
	}
	if err := json.Unmarshal(raw, &idx); err != nil || len(idx.Manifests) != 1 {
		t.Fatalf("fallback index %s: %v", raw, err)
	}
	bad := json.RawMessage(`{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:../../other/manifests/evil","size":10,"artifactType":"application/vnd.dev.sigstore.bundle.v0.3+json"}`)
	idx.Manifests = append(idx.Manifests, idx.Manifests[0], bad)
	forged, err := json.Marshal(idx)
	if err != nil {
		t.Fatal(err)
	}
	// The registry refuses such an index: a proxy in front of it serves it.
	proxy := testenv.StartFaultProxy(t, reg.URL)
	proxy.Add(testenv.Fault{Method: http.MethodGet, Path: regexp.MustCompile(`/manifests/` + tag + `$`), Kind: testenv.FaultRewrite, Times: -1,
		Rewrite: func(http.Header, []byte) []byte { return forged }})
	image := testenv.Ref(t, proxy.Host+"/"+f.subject.Repository.Repository+"@"+f.subject.Descriptor.Digest.String())
	rep, err := Verify(context.Background(), image, Options{Client: f.client, Policy: sign.Policy{PublicKey: pub}})
	if err != nil {
		t.Fatalf("Verify() = %v, want the one real attestation verified", err)
	}
	if rep.Verified != 1 || len(rep.Attestations) != 1 || rep.Attestations[0].Digest != art.String() {
		t.Errorf("Verify() = %d of %d verified (%+v), want %s once", rep.Verified, len(rep.Attestations), rep.Attestations, art)
	}
	var reasons []string
	for _, ig := range rep.Ignored {
		reasons = append(reasons, ig.Reason)
	}
	if joined := strings.Join(reasons, "|"); !strings.Contains(joined, "not a valid digest") || !strings.Contains(joined, "listed again") {
		t.Errorf("ignored reasons = %q, want the bad digest and the repeat named", reasons)
	}
}
