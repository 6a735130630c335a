package oci_test

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"testing"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-attest/oci-attest/internal/oci"
	"github.com/oci-attest/oci-attest/internal/oci/ocitest"
	"github.com/oci-attest/oci-attest/internal/testenv"
)

// ruleCase is an archive and the verdict the archive rules (docs/archives.md,
// "Archive rules") give it: wantErr nil means accepted.
type ruleCase struct {
	name      string
	archive   func(t *testing.T) []byte
	wantErr   error
	wantInMsg []string
}

// ruleCases are the archives of the five refusal classes of the archive
// rules, with the real archives near them that stay accepted. The
// differential test (differential_test.go) replays the accepted ones
// through skopeo, GNU tar and ggcr.
func ruleCases() []ruleCase {
	return []ruleCase{
		// Class 1: index.json and manifest.json of a Docker ≥25 archive.
		{
			name: "1 index.json lacks an image manifest.json lists",
			archive: func(t *testing.T) []byte {
				es := goodEntries(t, "multi-image.tar")
				idx := indexOf(t, es)
				idx["manifests"] = idx["manifests"].([]any)[:1]
				return ocitest.Tar(setIndex(t, es, idx))
			},
			wantErr: oci.ErrAmbiguous, wantInMsg: []string{`entry "manifest.json"`, "manifest.json entry 1", "no image that index.json leads to"},
		},
		{
			name: "1 manifest.json lacks an image index.json leads to",
			archive: func(t *testing.T) []byte {
				es := goodEntries(t, "multi-image.tar")
				m := manifestOf(t, es)
				return ocitest.Tar(setManifest(t, es, m[:2]))
			},
			wantErr: oci.ErrAmbiguous, wantInMsg: []string{"which manifest.json does not list"},
		},
		{
			name: "1 index.json puts the tags on other images",
			archive: func(t *testing.T) []byte {
				es := goodEntries(t, "multi-image.tar")
				idx := indexOf(t, es)
				ds := idx["manifests"].([]any)
				a, b := ds[0].(map[string]any), ds[1].(map[string]any)
				a["annotations"], b["annotations"] = b["annotations"], a["annotations"]
				return ocitest.Tar(setIndex(t, es, idx))
			},
			wantErr: oci.ErrAmbiguous, wantInMsg: []string{"index.json names image manifest", "localhost/oci-attest/second:v2"},
		},
		{
			name: "1 index.json names a tag for content not in the archive",
			archive: func(t *testing.T) []byte {
				es := goodEntries(t, "docker25.tar")
				idx := indexOf(t, es)
				idx["manifests"] = append(idx["manifests"].([]any), map[string]any{
					"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": string(sha([]byte("not saved"))), "size": 9,
					"annotations": map[string]any{"io.containerd.image.name": "docker.io/library/other:1"},
				})
				return ocitest.Tar(setIndex(t, es, idx))
			},
			wantErr: oci.ErrAmbiguous, wantInMsg: []string{"docker.io/library/other:1", "no image under it is complete"},
		},
		{
			name: "1 accepted: a buildx attestation manifest in index.json",
			archive: func(t *testing.T) []byte {
				es := goodEntries(t, "docker25.tar")
				am := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` + string(sha([]byte("{}"))) + `","size":2},"layers":[]}`)
				es = append(es, ocitest.Entry{Name: "blobs/sha256/" + sha(am).Encoded(), Body: am}, ocitest.Entry{Name: "blobs/sha256/" + sha([]byte("{}")).Encoded(), Body: []byte("{}")})
				idx := indexOf(t, es)
				idx["manifests"] = append(idx["manifests"].([]any), map[string]any{
					"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": string(sha(am)), "size": len(am),
					"platform":    map[string]any{"architecture": "unknown", "os": "unknown"},
					"annotations": map[string]any{"vnd.docker.reference.type": "attestation-manifest", "vnd.docker.reference.digest": idx["manifests"].([]any)[0].(map[string]any)["digest"]},
				})
				return ocitest.Tar(setIndex(t, es, idx))
			},
		},

		{
			name: "1 accepted: a referrer containerd's exporter adds to index.json",
			archive: func(t *testing.T) []byte {
				es := goodEntries(t, "docker25.tar")
				cfg := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
				sig := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` + string(sha(cfg)) + `","size":` + fmt.Sprint(len(cfg)) + `},"layers":[]}`)
				es = append(es, ocitest.Entry{Name: "blobs/sha256/" + sha(sig).Encoded(), Body: sig}, ocitest.Entry{Name: "blobs/sha256/" + sha(cfg).Encoded(), Body: cfg})
				idx := indexOf(t, es)
				subject := idx["manifests"].([]any)[0].(map[string]any)["digest"]
				idx["manifests"] = append(idx["manifests"].([]any), map[string]any{
					"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": string(sha(sig)), "size": len(sig),
					"annotations": map[string]any{"io.containerd.manifest.subject": subject},
				})
				return ocitest.Tar(setIndex(t, es, idx))
			},
		},

		{
			name: "1 accepted: a referrers index (regctl's sha256-<hex> ref.name) in index.json",
			archive: func(t *testing.T) []byte {
				return ocitest.Tar(withReferrersIndex(t, goodEntries(t, "docker25.tar")))
			},
		},
		{
			name: "1 a named index that leads to no image, not a referrers index",
			archive: func(t *testing.T) []byte {
				es := withReferrersIndex(t, goodEntries(t, "docker25.tar"))
				idx := indexOf(t, es)
				ds := idx["manifests"].([]any)
				ds[len(ds)-1].(map[string]any)["annotations"] = map[string]any{"org.opencontainers.image.ref.name": "sha256-short"}
				return ocitest.Tar(setIndex(t, es, idx))
			},
			wantErr: oci.ErrAmbiguous, wantInMsg: []string{"sha256-short", "no image under it is complete"},
		},
		{
			name:    "2 accepted: GNU tar's ./ root entry and ./-prefixed names (tar -cf x.tar -C DIR .)",
			archive: func(t *testing.T) []byte { return ocitest.Tar(dotted(goodEntries(t, "oci-multiplatform.tar"))) },
		},
		{
			name: "2 the archive's root is a symbolic link",
			archive: func(t *testing.T) []byte {
				es := dotted(goodEntries(t, "docker25.tar"))
				es[0] = ocitest.Entry{Name: "./", Type: tar.TypeSymlink, Linkname: "elsewhere"}
				return ocitest.Tar(es)
			},
			wantErr: oci.ErrUnsafePath, wantInMsg: []string{`entry "./"`, "symbolic link at the archive's root"},
		},

		// Class 2: entries written through links.
		{
			name: "2 entry written through a symbolic link",
			archive: func(t *testing.T) []byte {
				es := goodEntries(t, "podman.tar")
				return ocitest.Tar(append(es, ocitest.Entry{Name: "d", Type: tar.TypeSymlink, Linkname: "e"}, ocitest.Entry{Name: "d/x", Body: []byte("x")}))
			},
			wantErr: oci.ErrAmbiguous, wantInMsg: []string{`entry "d/x"`, "written through the symbolic link"},
		},
		{
			name: "2 symbolic link replaces a directory earlier entries are in",
			archive: func(t *testing.T) []byte {
				// docker-legacy without its explicit directory entries: the
				// layer directories exist only through the names in them.
				var es []ocitest.Entry
				for _, e := range goodEntries(t, "docker-legacy.tar") {
					if e.Type != tar.TypeDir {
						es = append(es, e)
					}
				}
				m := manifestOf(t, es)
				l0, l1 := m[0]["Layers"].([]any)[0].(string), m[0]["Layers"].([]any)[1].(string)
				// Extraction deletes l0's directory and reads l1's layer there.
				return ocitest.Tar(append(es, ocitest.Entry{Name: path.Dir(l0), Type: tar.TypeSymlink, Linkname: path.Dir(l1)}))
			},
			wantErr: oci.ErrAmbiguous, wantInMsg: []string{"replaces the directory"},
		},
		{
			name: "2 hard link to a symbolic link",
			archive: func(t *testing.T) []byte {
				es := goodEntries(t, "podman-symlinks.tar")
				m := manifestOf(t, es)
				l0 := m[0]["Layers"].([]any)[0].(string)
				es = append(es, ocitest.Entry{Name: "l0.tar", Type: tar.TypeLink, Linkname: l0})
				m[0]["Layers"].([]any)[0] = "l0.tar"
				return ocitest.Tar(setManifest(t, es, m))
			},
			wantErr: oci.ErrAmbiguous, wantInMsg: []string{`entry "l0.tar"`, "hard link to the symbolic link"},
		},
		{
			name: "2 hard link before its target",
			archive: func(t *testing.T) []byte {
				for _, ba := range mustBad(t) {
					if ba.Name == "hardlink-before-target.tar" {
						return ba.Data
					}
				}
				t.Fatal("no hardlink-before-target.tar")
				return nil
			},
			wantErr: oci.ErrAmbiguous, wantInMsg: []string{"not an earlier entry"},
		},
		{
			name: "2 accepted: hard link after its target",
			archive: func(t *testing.T) []byte {
				return ocitest.Tar(goodEntries(t, "hardlink.tar"))
			},
		},
		{
			name: "2 symbolic link named by a digest leads to other content",
			archive: func(t *testing.T) []byte {
				es := goodEntries(t, "docker25.tar")
				fake := sha([]byte("claimed"))
				return ocitest.Tar(append(es, ocitest.Entry{Name: "other", Body: []byte("other")}, ocitest.Entry{Name: "blobs/sha256/" + fake.Encoded(), Type: tar.TypeSymlink, Linkname: "../../other"}))
			},
			wantErr: oci.ErrDigestMismatch, wantInMsg: []string{"leads to \"other\""},
		},
		{
			name: "2 a directory that blobs/sha256 aliases holds a blob of other content",
			archive: func(t *testing.T) []byte {
				es := goodEntries(t, "docker25.tar")
				fake := sha([]byte("claimed"))
				return ocitest.Tar(append(es,
					ocitest.Entry{Name: "data/sha256/" + fake.Encoded(), Body: []byte("other")},
					ocitest.Entry{Name: "alias/blobs", Type: tar.TypeSymlink, Linkname: "../data"}))
			},
			wantErr: oci.ErrDigestMismatch, wantInMsg: []string{"an alias of blobs/sha256"},
		},
		{
			name: "2 symbolic link target with .. after a name",
			archive: func(t *testing.T) []byte {
				es := goodEntries(t, "podman-symlinks.tar")
				l0 := firstLayerPath(t, es)
				i := find(t, es, l0)
				es[i].Linkname = "x/../" + es[i].Linkname
				return ocitest.Tar(es)
			},
			wantErr: oci.ErrAmbiguous, wantInMsg: []string{`".." after a name`},
		},

		// Class 3: header fields that disagree.
		{
			name: "3 typeflag 0 with symbolic link mode bits and a linkname",
			archive: func(t *testing.T) []byte {
				es := goodEntries(t, "podman-symlinks.tar")
				i := find(t, es, firstLayerPath(t, es))
				target := es[find(t, es, path.Clean(path.Join(path.Dir(es[i].Name), es[i].Linkname)))]
				es[i] = ocitest.Entry{Name: es[i].Name, Linkname: es[i].Linkname, Mode: 0o120644, Body: target.Body}
				return ocitest.Tar(es)
			},
			wantErr: oci.ErrAmbiguous, wantInMsg: []string{"typeflag \"0\" but mode 0120644"},
		},
		{
			name: "3 accepted: mode bits that agree with the typeflag",
			archive: func(t *testing.T) []byte {
				es := goodEntries(t, "podman-symlinks.tar")
				for i := range es {
					switch es[i].Type {
					case tar.TypeSymlink:
						es[i].Mode = 0o120777
					case tar.TypeDir:
						es[i].Mode = 0o40755
					default:
						es[i].Mode = 0o100644
					}
				}
				return ocitest.Tar(es)
			},
		},

		// Class 4: one tag, two images.
		{
			name: "4 manifest.json gives one tag to two images",
			archive: func(t *testing.T) []byte {
				return build(t, ocitest.Podman, img("localhost/app:v1", "a"), img("docker.io/library/app:1", "b"), img("localhost/app:v1", "c"))
			},
			wantErr: oci.ErrAmbiguous, wantInMsg: []string{`tag "localhost/app:v1" is claimed by entries 0 and 2`},
		},
		{
			name: "4 manifest.json: one tag, spelled two ways, on two images",
			archive: func(t *testing.T) []byte {
				return build(t, ocitest.Podman, img("app:1", "a"), img("docker.io/library/app:1", "b"))
			},
			wantErr: oci.ErrAmbiguous, wantInMsg: []string{"claimed by entries 0 and 1"},
		},
		{
			name: "4 index.json gives one ref.name to two images",
			archive: func(t *testing.T) []byte {
				return build(t, ocitest.OCI, img("v1", "a"), img("v1", "b"))
			},
			wantErr: oci.ErrAmbiguous, wantInMsg: []string{`name "v1" is claimed by descriptors 0`},
		},
		{
			name: "4 accepted: one image under two tags, and two entries of one image",
			archive: func(t *testing.T) []byte {
				a := img("localhost/app:v1", "a")
				a.RepoTags = append(a.RepoTags, "localhost/app:latest")
				es, err := ocitest.Entries(ocitest.Podman, a)
				if err != nil {
					t.Fatal(err)
				}
				m := manifestOf(t, es)
				return ocitest.Tar(setManifest(t, es, append(m, m[0])))
			},
		},

		// Class 6: a descriptor without mediaType whose blob reads two ways.
		{
			name: "6 index.json descriptor without mediaType to a blob that is both a manifest and an index",
			archive: func(t *testing.T) []byte {
				for _, b := range mustBad(t) {
					if b.Name == "mediatype-both.tar" {
						return b.Data
					}
				}
				t.Fatal("ocitest has no mediatype-both.tar")
				return nil
			},
			wantErr: oci.ErrAmbiguous, wantInMsg: []string{"has no mediaType", "reads both as an image manifest", "containers/image"},
		},
		{
			name: "6 index.json descriptor without mediaType to an index",
			archive: func(t *testing.T) []byte {
				es := goodEntries(t, "oci-multiplatform.tar")
				idx := indexOf(t, es)
				delete(idx["manifests"].([]any)[0].(map[string]any), "mediaType")
				return ocitest.Tar(setIndex(t, es, idx))
			},
			wantErr: oci.ErrAmbiguous, wantInMsg: []string{"has no mediaType", "go-containerregistry skips it"},
		},
		{
			name: "6 nested index descriptor without mediaType to a manifest",
			archive: func(t *testing.T) []byte {
				es := goodEntries(t, "oci-multiplatform.tar")
				idx := indexOf(t, es)
				top := idx["manifests"].([]any)[0].(map[string]any)
				i := find(t, es, "blobs/sha256/"+strings.TrimPrefix(top["digest"].(string), "sha256:"))
				var nested map[string]any
				if err := json.Unmarshal(es[i].Body, &nested); err != nil {
					t.Fatal(err)
				}
				delete(nested["manifests"].([]any)[2].(map[string]any), "mediaType")
				b, _ := json.Marshal(nested)
				es[i] = ocitest.Entry{Name: "blobs/sha256/" + sha(b).Encoded(), Body: b}
				top["digest"], top["size"] = string(sha(b)), len(b)
				return ocitest.Tar(setIndex(t, es, idx))
			},
			wantErr: oci.ErrAmbiguous, wantInMsg: []string{"has no mediaType"},
		},

		{
			name: "6 nested index whose JSON reads as an image manifest too",
			archive: func(t *testing.T) []byte {
				es := goodEntries(t, "oci-multiplatform.tar")
				idx := indexOf(t, es)
				top := idx["manifests"].([]any)[0].(map[string]any)
				i := find(t, es, "blobs/sha256/"+strings.TrimPrefix(top["digest"].(string), "sha256:"))
				var nested map[string]any
				if err := json.Unmarshal(es[i].Body, &nested); err != nil {
					t.Fatal(err)
				}
				nested["layers"] = []any{} // containerd's validateMediaType refuses an index with layers
				b, _ := json.Marshal(nested)
				es[i] = ocitest.Entry{Name: "blobs/sha256/" + sha(b).Encoded(), Body: b}
				top["digest"], top["size"] = string(sha(b)), len(b)
				return ocitest.Tar(setIndex(t, es, idx))
			},
			wantErr: oci.ErrAmbiguous, wantInMsg: []string{"also reads as an image manifest"},
		},

		// Class 5: layers that are no tar stream.
		{
			name: "5 gzip layer that decompresses to no tar",
			archive: func(t *testing.T) []byte {
				return legacyWithLayer(t, bytes.Repeat([]byte("not a tar\n"), 100), oci.CompressionGzip)
			},
			wantErr: oci.ErrNotLayer, wantInMsg: []string{"/layer.tar\"", "decompressed from gzip"},
		},
		{
			name: "5 zstd layer that decompresses to no tar",
			archive: func(t *testing.T) []byte {
				return legacyWithLayer(t, bytes.Repeat([]byte("not a tar\n"), 100), oci.CompressionZstd)
			},
			wantErr: oci.ErrNotLayer, wantInMsg: []string{"decompressed from zstd"},
		},
		{
			name: "5 uncompressed layer that is no tar",
			archive: func(t *testing.T) []byte {
				return legacyWithLayer(t, bytes.Repeat([]byte("not a tar\n"), 100), oci.CompressionNone)
			},
			wantErr: oci.ErrNotLayer, wantInMsg: []string{"/layer.tar\"", "layer is not a tar stream"},
		},
		{
			name: "5 gzip layer whose tar ends inside an entry",
			archive: func(t *testing.T) []byte {
				lt := ocitest.LayerTar([]ocitest.File{{Name: "big", Content: strings.Repeat("x", 5000)}})
				return legacyWithLayer(t, lt[:512+1000], oci.CompressionGzip)
			},
			wantErr: oci.ErrNotLayer, wantInMsg: []string{"ends inside an entry"},
		},
		{
			name:    "5 accepted: an empty gzip layer (no tar entries, as Go's archive/tar reads it)",
			archive: func(t *testing.T) []byte { return legacyWithLayer(t, nil, oci.CompressionGzip) },
		},
		{
			name:    "5 accepted: a layer of one end-of-archive block pair",
			archive: func(t *testing.T) []byte { return legacyWithLayer(t, make([]byte, 1024), oci.CompressionNone) },
		},
	}
}

// TestArchiveRules checks every rule case's verdict, and that a refusal
// names the archive, the rule and what to do.
func TestArchiveRules(t *testing.T) {
	t.Parallel()
	for _, tc := range ruleCases() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := writeTemp(t, "rule.tar", tc.archive(t))
			a, err := oci.Scan(context.Background(), p, oci.ScanOptions{})
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("Scan() error = %v, want the archive accepted", err)
				}
				if len(a.Images) == 0 {
					t.Fatal("Scan() accepted no image")
				}
				return
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Scan() = %v, error %v; want %v", a, err, tc.wantErr)
			}
			t.Logf("Scan() error: %v", err)
			want := append([]string{p}, tc.wantInMsg...)
			if errors.Is(err, oci.ErrAmbiguous) || errors.Is(err, oci.ErrNotLayer) {
				want = append(want, "re-save the image")
			}
			for _, s := range want {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("Scan() error %q does not contain %q", err, s)
				}
			}
		})
	}
}

func mustBad(t *testing.T) []ocitest.BadArchive {
	t.Helper()
	bads, err := ocitest.BadArchives()
	if err != nil {
		t.Fatal(err)
	}
	return bads
}

func indexOf(t testing.TB, es []ocitest.Entry) map[string]any {
	t.Helper()
	var idx map[string]any
	if err := json.Unmarshal(es[find(t, es, "index.json")].Body, &idx); err != nil {
		t.Fatal(err)
	}
	return idx
}

func setIndex(t testing.TB, es []ocitest.Entry, idx map[string]any) []ocitest.Entry {
	t.Helper()
	b, err := json.Marshal(idx)
	if err != nil {
		t.Fatal(err)
	}
	es[find(t, es, "index.json")].Body = b
	return es
}

// img is a one-layer image tagged tag whose layer holds content.
func img(tag, content string) ocitest.Image {
	return ocitest.Image{RepoTags: []string{tag}, Layers: []ocitest.Layer{{Files: []ocitest.File{{Name: "f", Content: content}}}}}
}

func build(t *testing.T, l ocitest.Layout, imgs ...ocitest.Image) []byte {
	t.Helper()
	b, err := ocitest.Build(l, imgs...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// legacyWithLayer is docker-legacy.tar with its first layer's bytes
// replaced by body compressed with c, and the config's first diff_id (and
// so the config's name) made to match body.
func legacyWithLayer(t *testing.T, body []byte, c oci.Compression) []byte {
	t.Helper()
	es, li := legacyLayer(t)
	es[li].Body = ocitest.Compress(body, c)
	m := manifestOf(t, es)
	ci := find(t, es, m[0]["Config"].(string))
	var cfg map[string]any
	if err := json.Unmarshal(es[ci].Body, &cfg); err != nil {
		t.Fatal(err)
	}
	cfg["rootfs"].(map[string]any)["diff_ids"].([]any)[0] = string(sha(body))
	cb, _ := json.Marshal(cfg)
	es[ci] = ocitest.Entry{Name: sha(cb).Encoded() + ".json", Body: cb}
	m[0]["Config"] = es[ci].Name
	return ocitest.Tar(setManifest(t, es, m))
}

// TestScanRepeatedIndexChildren: nested image indexes (8 levels), each
// listing its child 200 times, lead to one image, found with work linear in
// the descriptors listed (collecting the images under each index once per
// way they are reached would take 200^7 steps). Counted: at most two steps
// per descriptor.
func TestScanRepeatedIndexChildren(t *testing.T) {
	t.Parallel()
	a, cost, err := oci.ScanCounted(context.Background(), nestedIndexArchive(t), oci.ScanOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("cost %+v", cost)
	if descriptors := 1 + 8*200; cost.IndexSteps > 2*descriptors {
		t.Errorf("Scan() took %d steps to walk %d descriptors; want at most %d", cost.IndexSteps, descriptors, 2*descriptors)
	}
	if len(a.Images) != 1 {
		t.Errorf("Scan() found %d images, want 1", len(a.Images))
	}
}

// nestedIndexArchive writes an OCI layout whose index.json leads through 8
// nested image indexes, each listing its child 200 times, to one image.
func nestedIndexArchive(t testing.TB) string {
	t.Helper()
	es := goodEntries(t, "oci-gzip.tar")
	idx := indexOf(t, es)
	top := idx["manifests"].([]any)[0].(map[string]any)
	child := map[string]any{"mediaType": top["mediaType"], "digest": top["digest"], "size": top["size"]}
	for range 8 {
		ms := make([]any, 200)
		for i := range ms {
			ms[i] = child
		}
		b, _ := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": ms})
		es = append(es, ocitest.Entry{Name: "blobs/sha256/" + sha(b).Encoded(), Body: b})
		child = map[string]any{"mediaType": "application/vnd.oci.image.index.v1+json", "digest": string(sha(b)), "size": len(b)}
	}
	child["annotations"] = top["annotations"]
	idx["manifests"] = []any{child}
	return writeTemp(t, "nested.tar", ocitest.Tar(setIndex(t, es, idx)))
}

// TestRuleRunnableAnnotatedEntryRefused: the archive reader must not skip
// an index entry that runtimes select (review of issue 22: it did).
//
// Issue 22 gives internal/oci one definition of what an index lists
// (Children: KindAttestation is an entry of platform unknown/unknown AND
// with the reference annotations, "the only entry no runtime selects") and
// asks that the archive reader use it. The archive walker did not: its
// skipDescriptor (layout.go) skips any descriptor with a
// vnd.docker.reference.type (or io.containerd.manifest.subject)
// annotation, whatever its platform, at every depth. Below, a buildx-style
// OCI archive whose index lists U — a runnable linux/amd64 image annotated
// as an attestation manifest — before A (linux/amd64). After `docker load`
// / `ctr import` of this archive, containerd resolves the index with
// images.Manifest(platforms.Only(linux/amd64)) (core/images/image.go: the
// entries Only matches, sorted stably, the first walked; annotations never
// looked at) and runs U. The scan read only A, so attest signed a
// predicate saying the archive's tag is image A while the image a loader
// runs from it is U, which nobody attested. (Binding to a registry and
// push-image refuse this index — Selectable sees U — but an archive-only
// attestation, verified later with --subject-path, did not.)
//
// The scan now reads with oci.Selectable every image index under which the
// walk skipped an entry (loaded.go checkSelectable), and refuses the
// archive (ErrAmbiguous, naming the entry) when a runtime reads an entry
// the archive holds that the walk did not read as an image.
func TestRuleRunnableAnnotatedEntryRefused(t *testing.T) {
	t.Parallel()
	disguisedEntryRefused(t, func(_ *testing.T, _ testenv.Blobs, u, a ocispec.Descriptor) (ocispec.Descriptor, []ocitest.Entry) {
		u.Annotations = map[string]string{"vnd.docker.reference.type": "attestation-manifest", "vnd.docker.reference.digest": a.Digest.String()}
		return u, nil
	})
}

// TestRuleRunnableArtifactEntryRefused: the same for an entry the walk
// skips as an artifact because its config's media type is no image
// config's: runtimes choose it by platform all the same (containerd's
// images.Manifest never looks at the config's media type), so a loaded
// archive runs it.
func TestRuleRunnableArtifactEntryRefused(t *testing.T) {
	t.Parallel()
	disguisedEntryRefused(t, func(t *testing.T, blobs testenv.Blobs, u, _ ocispec.Descriptor) (ocispec.Descriptor, []ocitest.Entry) {
		var m map[string]any
		if err := json.Unmarshal(blobs[u.Digest], &m); err != nil {
			t.Fatal(err)
		}
		m["config"].(map[string]any)["mediaType"] = "application/vnd.example.config.v1+json"
		raw, _ := json.Marshal(m)
		u.Digest, u.Size = digest.FromBytes(raw), int64(len(raw))
		blobs[u.Digest] = raw
		return u, []ocitest.Entry{{Name: "blobs/sha256/" + u.Digest.Encoded(), Body: raw}}
	})
}

// disguisedEntryRefused builds a buildx-style OCI archive (index: A
// linux/amd64, A's attestation manifest, U arm64), lists U first as
// linux/amd64 disguised by disguise (which may rewrite U and returns the
// entries to add), checks that containerd reads U for linux/amd64, and
// that Scan either reads U or refuses the archive naming it.
func disguisedEntryRefused(t *testing.T, disguise func(t *testing.T, blobs testenv.Blobs, u, a ocispec.Descriptor) (ocispec.Descriptor, []ocitest.Entry)) {
	t.Helper()
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
	a, att, u := idx.Manifests[0], idx.Manifests[1], idx.Manifests[2]
	u.Platform = &ocispec.Platform{OS: "linux", Architecture: "amd64"}
	u, more := disguise(t, blobs, u, a)
	es = append(es, more...)
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
	arch, err := oci.Scan(context.Background(), writeTemp(t, "disguised.tar", ocitest.Tar(es)), oci.ScanOptions{})
	if err != nil {
		if !errors.Is(err, oci.ErrAmbiguous) || !strings.Contains(err.Error(), u.Digest.String()) {
			t.Errorf("Scan() = %v; want ErrAmbiguous naming U %s", err, u.Digest)
		}
		return
	}
	if !slices.ContainsFunc(arch.Images, func(img oci.Image) bool { return img.ManifestDigest == u.Digest }) {
		var got []string
		for _, img := range arch.Images {
			got = append(got, img.Platform.String()+" "+img.ManifestDigest.String())
		}
		t.Errorf("Scan reads the archive as %v and accepts it, but containerd, after loading it, runs U %s for linux/amd64 (an entry the scan skipped)", got, u.Digest)
	}
}

// dotted is es as GNU tar writes a directory with tar -cf x.tar -C DIR .:
// the root entry "./" first, every name under "./".
func dotted(es []ocitest.Entry) []ocitest.Entry {
	out := []ocitest.Entry{{Name: "./", Type: tar.TypeDir}}
	for _, e := range es {
		e.Name = "./" + e.Name
		out = append(out, e)
	}
	return out
}

// withReferrersIndex adds to an archive with index.json what regctl image
// copy --referrers writes into a layout: a Sigstore bundle referrer of the
// first image and the image index named sha256-<its digest> that lists it.
func withReferrersIndex(t *testing.T, es []ocitest.Entry) []ocitest.Entry {
	t.Helper()
	idx := indexOf(t, es)
	subject := idx["manifests"].([]any)[0].(map[string]any)
	bundle := []byte(`{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"}`)
	empty := []byte("{}")
	art := []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/vnd.dev.sigstore.bundle.v0.3+json","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"%s","size":2},"layers":[{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","digest":"%s","size":%d}],"subject":{"mediaType":%q,"digest":%q,"size":%v}}`,
		sha(empty), sha(bundle), len(bundle), subject["mediaType"], subject["digest"], subject["size"]))
	ri := []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/vnd.dev.sigstore.bundle.v0.3+json","digest":"%s","size":%d}]}`, sha(art), len(art)))
	for _, b := range [][]byte{bundle, empty, art, ri} {
		es = append(es, ocitest.Entry{Name: "blobs/sha256/" + sha(b).Encoded(), Body: b})
	}
	idx["manifests"] = append(idx["manifests"].([]any), map[string]any{
		"mediaType": "application/vnd.oci.image.index.v1+json", "digest": string(sha(ri)), "size": len(ri),
		"annotations": map[string]any{"org.opencontainers.image.ref.name": "sha256-" + digest.Digest(subject["digest"].(string)).Encoded()},
	})
	return setIndex(t, es, idx)
}
