package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-attest/oci-attest/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

const testPredicate = "https://aflock.ai/attestations/oci/v0.1"

var fixedNow = func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }

// testBundle returns a small JSON document standing in for a bundle.
func testBundle(i int) []byte {
	return []byte(fmt.Sprintf(`{"mediaType":%q,"n":%d}`, BundleMediaType, i))
}

func TestArtifactGolden(t *testing.T) {
	t.Parallel()
	subject := ocispec.Descriptor{
		MediaType: ocispec.MediaTypeImageManifest,
		Digest:    digest.FromString("subject"),
		Size:      1234,
	}
	art, err := buildArtifact(subject, testBundle(1), testPredicate, fixedNow())
	if err != nil {
		t.Fatalf("buildArtifact() = %v", err)
	}
	golden := filepath.Join("testdata", "artifact.golden.json")
	if *update {
		if err := os.WriteFile(golden, art.raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("reading golden file (run with -update to create it): %v", err)
	}
	if diff := cmp.Diff(string(want), string(art.raw)); diff != "" {
		t.Errorf("artifact manifest bytes (-want +got):\n%s", diff)
	}
	if bytes.Contains(art.raw, []byte(`"data"`)) {
		t.Errorf("artifact manifest has a data field: %s", art.raw)
	}
	if _, err := buildArtifact(subject, []byte("not json"), testPredicate, fixedNow()); err == nil {
		t.Errorf("buildArtifact(non-JSON bundle) = nil error, want an error")
	}
	// Kyverno's limit, in JSON: at it, a referrer; one byte more, none.
	pad := func(n int) []byte { return []byte(`"` + strings.Repeat("a", n-2) + `"`) }
	if _, err := buildArtifact(subject, pad(MaxBundleSize), testPredicate, fixedNow()); err != nil {
		t.Errorf("buildArtifact(%d bytes) = %v, want a referrer", MaxBundleSize, err)
	}
	if _, err := buildArtifact(subject, pad(MaxBundleSize+1), testPredicate, fixedNow()); !errors.Is(err, ErrBundleTooLarge) {
		t.Errorf("buildArtifact(%d bytes) = %v, want ErrBundleTooLarge", MaxBundleSize+1, err)
	}
}

func TestAttach(t *testing.T) {
	t.Parallel()
	for _, reg := range testenv.InProcessRegistries(t) {
		for _, mode := range []Mode{ModeAuto, ModeAPI, ModeTag} {
			t.Run(reg.Name+"/"+string(mode), func(t *testing.T) {
				t.Parallel()
				ctx := context.Background()
				repository := reg.Host + "/attach-" + string(mode)
				img := pushRandomImage(t, repository+":v1")
				c := newTestClient(t, Options{})
				s, err := c.Resolve(ctx, testenv.Ref(t, repository+":v1"), imageID(t, img))
				if err != nil {
					t.Fatalf("Resolve() = %v", err)
				}
				if got, want := s.Descriptor.Digest, manifestDigest(t, img); got != want || (s.Descriptor.Digest != s.Image.Digest) || s.Tag != "v1" {
					t.Fatalf("Resolve() = %+v, want digest %s", s, want)
				}
				bundle := testBundle(1)
				res, err := c.Attach(ctx, s, bundle, AttachOptions{Mode: mode, PredicateType: testPredicate, Now: fixedNow, Settle: testSettle})
				if err != nil {
					t.Fatalf("Attach() = %v", err)
				}
				t.Logf("%s/%s: API=%v tag=%q requests=%d reason: %s", reg.Name, mode, res.API, res.ReferrersTag, res.Requests, res.Reason)
				if res.API != reg.API && mode != ModeTag {
					t.Errorf("Attach().API = %v, want %v", res.API, reg.API)
				}
				wantTag := ""
				if mode == ModeTag || (mode == ModeAuto && !reg.API) {
					wantTag = "sha256-" + s.Descriptor.Digest.Encoded()
				}
				if res.ReferrersTag != wantTag {
					t.Errorf("Attach().ReferrersTag = %q, want %q", res.ReferrersTag, wantTag)
				}
				tags := tagList(t, repository)
				if got := slices.Contains(tags, "sha256-"+s.Descriptor.Digest.Encoded()); got != (wantTag != "") {
					t.Errorf("tags %v: fallback tag present = %v, want %v", tags, got, wantTag != "")
				}
				if budget := requestBudget(res); res.Requests > budget || res.Requests == 0 {
					t.Errorf("Attach() made %d registry requests in %d tag round(s), budget %d (ARCHITECTURE.md, \"Limits and budgets\")", res.Requests, res.TagRounds, budget)
				}

				// The pushed manifest is the referrer artifact of ARCHITECTURE.md.
				raw, desc, err := c.FetchManifest(ctx, testenv.Ref(t, repository), res.Artifact.Digest.String())
				if err != nil {
					t.Fatalf("FetchManifest() = %v", err)
				}
				want, _ := buildArtifact(s.Descriptor, bundle, testPredicate, fixedNow())
				if diff := cmp.Diff(string(want.raw), string(raw)); diff != "" {
					t.Errorf("pushed manifest (-want +got):\n%s", diff)
				}
				if desc.MediaType != ocispec.MediaTypeImageManifest {
					t.Errorf("pushed manifest media type = %q", desc.MediaType)
				}
				var m ocispec.Manifest
				if err := json.Unmarshal(raw, &m); err != nil {
					t.Fatal(err)
				}
				got, err := c.FetchBlob(ctx, testenv.Ref(t, repository), m.Layers[0])
				if err != nil || !bytes.Equal(got, bundle) {
					t.Errorf("FetchBlob(bundle) = %q, %v; want %q", got, err, bundle)
				}
				if cfg, err := c.FetchBlob(ctx, testenv.Ref(t, repository), m.Config); err != nil || string(cfg) != "{}" {
					t.Errorf("FetchBlob(config) = %q, %v; want {}", cfg, err)
				}

				// Discovery finds it, from the API or from the tag.
				refs, source, err := c.Referrers(ctx, testenv.Ref(t, repository), s.Descriptor, BundleMediaType)
				if err != nil {
					t.Fatalf("Referrers() = %v", err)
				}
				wantSource := "api"
				if !reg.API {
					wantSource = "tag:sha256-" + s.Descriptor.Digest.Encoded()
				}
				if source != wantSource {
					t.Errorf("Referrers() source = %q, want %q", source, wantSource)
				}
				if !reg.API && mode == ModeAPI {
					if len(refs) != 0 {
						t.Errorf("Referrers() = %v, want none (api mode on a registry without the API writes no tag)", refs)
					}
					return
				}
				if len(refs) != 1 || refs[0].Digest != res.Artifact.Digest || refs[0].ArtifactType != BundleMediaType {
					t.Fatalf("Referrers() = %+v, want the artifact %s", refs, res.Artifact.Digest)
				}
				if refs[0].Annotations[AnnotationPredicateType] != testPredicate {
					t.Errorf("Referrers()[0].Annotations = %v, want the predicate type", refs[0].Annotations)
				}
				if other, _, err := c.Referrers(ctx, testenv.Ref(t, repository), s.Descriptor, "application/x-other"); err != nil || len(other) != 0 {
					t.Errorf("Referrers(other type) = %v, %v; want none", other, err)
				}
			})
		}
	}
}

func TestResolveBinding(t *testing.T) {
	t.Parallel()
	for _, reg := range testenv.InProcessRegistries(t) {
		t.Run(reg.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			repository := reg.Host + "/bind"
			img := pushRandomImage(t, repository+":v1")
			other := pushRandomImage(t, repository+":other")
			c := newTestClient(t, Options{})

			// Wrong image under the tag: both digests named, nothing pushed.
			tagsBefore := tagList(t, repository)
			_, err := c.Resolve(ctx, testenv.Ref(t, repository+":v1"), imageID(t, other))
			if !errors.Is(err, ErrBinding) {
				t.Fatalf("Resolve(wrong image) = %v, want ErrBinding", err)
			}
			for _, d := range []digest.Digest{imageID(t, img), imageID(t, other)} {
				if !strings.Contains(err.Error(), d.String()) {
					t.Errorf("Resolve(wrong image) error %q does not name %s", err, d)
				}
			}
			if diff := cmp.Diff(tagsBefore, tagList(t, repository)); diff != "" {
				t.Errorf("tags changed by a failed Resolve (-before +after):\n%s", diff)
			}

			// By digest. (A subject-digest that contradicts the name's digest
			// is an input error of the command layer, tested there.)
			s, err := c.Resolve(ctx, testenv.Ref(t, repository).WithDigest(manifestDigest(t, img)), imageID(t, img))
			if err != nil || s.Descriptor.Digest != manifestDigest(t, img) || s.Tag != "" {
				t.Errorf("Resolve(by digest) = %+v, %v", s, err)
			}
			// A missing tag names the remote; the command layer adds what to
			// do (push-image) on ErrNotFound.
			_, err = c.Resolve(ctx, testenv.Ref(t, repository+":missing"), imageID(t, img))
			if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), repository+":missing") {
				t.Errorf("Resolve(missing tag) = %v", err)
			}
			if _, err := c.Resolve(ctx, testenv.Ref(t, repository), imageID(t, img)); !errors.Is(err, ErrNoReference) {
				t.Errorf("Resolve(no tag, no digest) = %v, want ErrNoReference", err)
			}

			// Multi-arch index: the matched child is found; the subject stays the index.
			idx := pushRandomIndex(t, repository+":multi", 3)
			im, err := idx.IndexManifest()
			if err != nil {
				t.Fatal(err)
			}
			child, err := idx.Image(im.Manifests[2].Digest)
			if err != nil {
				t.Fatal(err)
			}
			s, err = c.Resolve(ctx, testenv.Ref(t, repository+":multi"), imageID(t, child))
			if err != nil {
				t.Fatalf("Resolve(index) = %v", err)
			}
			if s.Descriptor.Digest != manifestDigest(t, idx) || s.Descriptor.MediaType != ocispec.MediaTypeImageIndex {
				t.Errorf("Resolve(index).Descriptor = %+v, want the index %s", s.Descriptor, manifestDigest(t, idx))
			}
			if s.Image.Digest != digest.Digest(im.Manifests[2].Digest.String()) || s.Image.Size != im.Manifests[2].Size || s.Descriptor.Digest == s.Image.Digest {
				t.Errorf("Resolve(index).Image = %+v, want child %v", s.Image, im.Manifests[2].Digest)
			}
			_, err = c.Resolve(ctx, testenv.Ref(t, repository+":multi"), imageID(t, img))
			if !errors.Is(err, ErrBinding) || !strings.Contains(err.Error(), manifestDigest(t, idx).String()) || !strings.Contains(err.Error(), imageID(t, img).String()) {
				t.Errorf("Resolve(index, no match) = %v, want ErrBinding naming the index and the image ID", err)
			}
			// An index as crane/ko/mutate.AppendManifests write it (entries carry
			// artifactType = their config media type) binds too.
			aidx, aimgs := pushAppendedIndex(t, repository+":appended", 3)
			as, err := c.Resolve(ctx, testenv.Ref(t, repository+":appended"), imageID(t, aimgs[1]))
			if err != nil {
				t.Fatalf("Resolve(appended index) = %v", err)
			}
			if as.Descriptor.Digest != manifestDigest(t, aidx) || as.Image.Digest != manifestDigest(t, aimgs[1]) {
				t.Errorf("Resolve(appended index) = %+v, want index %s child %s", as, manifestDigest(t, aidx), manifestDigest(t, aimgs[1]))
			}
			res, err := c.Attach(ctx, s, testBundle(7), AttachOptions{Now: fixedNow, Settle: testSettle})
			if err != nil {
				t.Fatalf("Attach(index subject) = %v", err)
			}
			refs, _, err := c.Referrers(ctx, testenv.Ref(t, repository), s.Descriptor, BundleMediaType)
			if err != nil || len(refs) != 1 || refs[0].Digest != res.Artifact.Digest {
				t.Errorf("Referrers(index) = %v, %v; want %s", refs, err, res.Artifact.Digest)
			}
		})
	}
}
