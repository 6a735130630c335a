package attest

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	digest "github.com/opencontainers/go-digest"

	"github.com/oci-attest/oci-attest/internal/oci"
)

func sha(s string) digest.Digest { return digest.FromString(s) }

// testArchive is a hand-assembled scan result; the scanner's own tests cover
// how these values are computed from real archives.
func testArchive() (*oci.Archive, *oci.Image) {
	raw := []byte(`[{"Config":"blobs/sha256/c","RepoTags":["example.com/app:1.0"],"Layers":["blobs/sha256/l1","blobs/sha256/l1"],"LayerSources":{}}]`)
	a := &oci.Archive{
		TarDigest:   sha("tar"),
		Format:      oci.FormatDocker,
		ManifestRaw: raw,
		Manifest: []oci.ManifestEntry{{
			Config: "blobs/sha256/c", RepoTags: []string{"example.com/app:1.0"},
			Layers: []string{"blobs/sha256/l1", "blobs/sha256/l1"},
		}},
	}
	img := oci.Image{
		RepoTags: []string{"example.com/app:1.0"},
		ImageID:  sha("config"),
		DiffIDs:  []digest.Digest{sha("layer"), sha("layer")},
	}
	a.Images = []oci.Image{img}
	return a, &a.Images[0]
}

func TestPredicateShape(t *testing.T) {
	t.Parallel()
	a, img := testArchive()
	b, err := json.Marshal(NewPredicate(a, img))
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(a.ManifestRaw)
	want := map[string]any{
		"tardigest": map[string]any{"sha256": sha("tar").Encoded()},
		"manifest": []any{map[string]any{
			"Config":   "blobs/sha256/c",
			"RepoTags": []any{"example.com/app:1.0"},
			"Layers":   []any{"blobs/sha256/l1", "blobs/sha256/l1"},
		}},
		"imagetags": []any{"example.com/app:1.0"},
		"diffids": []any{
			map[string]any{"sha256": sha("layer").Encoded()},
			map[string]any{"sha256": sha("layer").Encoded()},
		},
		"imageid":        map[string]any{"sha256": sha("config").Encoded()},
		"manifestraw":    base64.StdEncoding.EncodeToString(a.ManifestRaw),
		"manifestdigest": map[string]any{"sha256": hex.EncodeToString(sum[:])},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("NewPredicate() JSON mismatch (-want +got):\n%s", diff)
	}
}

func TestSubjects(t *testing.T) {
	t.Parallel()
	a, img := testArchive()
	p := NewPredicate(a, img)
	var got []string
	for _, s := range p.Subjects() {
		got = append(got, fmt.Sprintf("%s=%s", s.GetName(), s.GetDigest()["sha256"]))
	}
	tagSum := sha256.Sum256([]byte("example.com/app:1.0"))
	md := p.ManifestDigest["sha256"]
	want := []string{
		"manifestdigest:" + md + "=" + md,
		"tardigest:" + sha("tar").Encoded() + "=" + sha("tar").Encoded(),
		"imageid:" + sha("config").Encoded() + "=" + sha("config").Encoded(),
		"imagetag:example.com/app:1.0=" + hex.EncodeToString(tagSum[:]),
		"layerdiffid00:" + sha("layer").Encoded() + "=" + sha("layer").Encoded(),
		"layerdiffid01:" + sha("layer").Encoded() + "=" + sha("layer").Encoded(),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Subjects() mismatch (-want +got):\n%s", diff)
	}
}

func TestStatementRoundTrip(t *testing.T) {
	t.Parallel()
	a, img := testArchive()
	p := NewPredicate(a, img)
	reg := RegistrySubject("registry.example.com/app", sha("manifest"))
	st, err := NewStatement(p, reg)
	if err != nil {
		t.Fatalf("NewStatement() error = %v", err)
	}
	b1, err := Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	// protojson varies white space between runs; Marshal must not.
	for range 5 {
		b2, err := Marshal(st)
		if err != nil {
			t.Fatal(err)
		}
		if string(b1) != string(b2) {
			t.Fatalf("Marshal() is not deterministic:\n%s\n%s", b1, b2)
		}
	}
	if !strings.HasPrefix(string(b1), `{"_type":"https://in-toto.io/Statement/v1"`) {
		t.Errorf("Marshal() = %.80s…, want an in-toto v1 statement", b1)
	}
	st2, p2, err := ParseStatement(b1)
	if err != nil {
		t.Fatalf("ParseStatement() error = %v", err)
	}
	if got := st2.GetSubject()[0].GetName(); got != "registry.example.com/app" {
		t.Errorf("first subject = %q, want the registry subject", got)
	}
	if diff := cmp.Diff(p, p2); diff != "" {
		t.Errorf("ParseStatement() predicate mismatch (-want +got):\n%s", diff)
	}
	if d := Diff(p, p2); d != nil {
		t.Errorf("Diff(p, parsed p) = %v, want none", d)
	}
}

func TestParseStatementOtherPredicate(t *testing.T) {
	t.Parallel()
	b := []byte(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"x","digest":{"sha256":"` +
		sha("x").Encoded() + `"}}],"predicateType":"https://slsa.dev/provenance/v1","predicate":{}}`)
	st, p, err := ParseStatement(b)
	if err != nil || st == nil || p != nil {
		t.Errorf("ParseStatement(slsa) = %v, %v, %v; want statement, nil predicate, nil error", st, p, err)
	}
	if _, _, err := ParseStatement([]byte(`{"_type":"nope"}`)); err == nil {
		t.Error("ParseStatement(invalid) error = nil, want an error")
	}
}

func TestDiff(t *testing.T) {
	t.Parallel()
	a, img := testArchive()
	want := NewPredicate(a, img)
	img2 := *img
	img2.DiffIDs = []digest.Digest{sha("layer"), sha("changed")}
	got := NewPredicate(a, &img2)
	d := Diff(want, got)
	wantDiff := []FieldDiff{{Field: "diffids[1]", Want: sha("layer").String(), Got: sha("changed").String()}}
	if diff := cmp.Diff(wantDiff, d); diff != "" {
		t.Errorf("Diff() mismatch (-want +got):\n%s", diff)
	}
	img3 := *img
	img3.DiffIDs = img.DiffIDs[:1]
	if d := Diff(want, NewPredicate(a, &img3)); len(d) != 1 || d[0].Got != "(absent)" {
		t.Errorf("Diff(missing layer) = %v, want diffids[1] absent", d)
	}
}

// TestStatementSizeBound (issue 9, class 7): a statement beyond
// MaxStatementSize is refused with ErrStatementTooLarge — before anything
// is encoded when the predicate's own bytes already pass it (a 600,000-tag
// archive made a 97 MB statement), else once encoded — and one within it
// is built.
func TestStatementSizeBound(t *testing.T) {
	t.Parallel()
	a, img := testArchive()
	build := func(raw []byte, entries int) error {
		aa := *a
		aa.ManifestRaw = raw
		aa.Manifest = nil
		for range entries {
			aa.Manifest = append(aa.Manifest, a.Manifest[0])
		}
		st, err := NewStatement(NewPredicate(&aa, img))
		if err != nil {
			return err
		}
		_, err = Marshal(st)
		return err
	}
	if err := build(make([]byte, 1<<20), 1); err != nil {
		t.Errorf("statement of a 1 MiB manifest.json: %v", err)
	}
	for _, tc := range []struct {
		name    string
		raw     int
		entries int
		want    string
	}{
		{"manifestraw alone", 3 << 20, 1, "would be"},
		{"manifest entries", 1 << 10, 40_000, "would be"},
		{"all together", base64.StdEncoding.DecodedLen(MaxStatementSize - 600), 1, "the statement is"},
	} {
		err := build(make([]byte, tc.raw), tc.entries)
		if !errors.Is(err, ErrStatementTooLarge) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), `README "Limits"`) || !strings.Contains(err.Error(), "docker save IMAGE:TAG") {
			t.Errorf("%s: error = %v, want ErrStatementTooLarge (%s …)", tc.name, err, tc.want)
		}
	}
}
