package oci_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-attest/oci-attest/internal/oci"
	"github.com/oci-attest/oci-attest/internal/oci/ocitest"
)

// multiPlatform is a buildx-style archive's entries: an index of linux/amd64
// and linux/arm64 and an attestation manifest for amd64.
func multiPlatform(t *testing.T) []ocitest.Entry {
	t.Helper()
	amd := ocitest.Image{RepoTags: []string{"localhost/x/multi:v1"}, Layers: []ocitest.Layer{{Files: []ocitest.File{{Name: "a", Content: "amd64"}}}}}
	arm := ocitest.Image{RepoTags: []string{"localhost/x/multi:v1"}, Architecture: "arm64", Layers: []ocitest.Layer{{Files: []ocitest.File{{Name: "a", Content: "arm64"}}}}}
	es, err := ocitest.Entries(ocitest.OCIMultiPlatform, amd, arm)
	if err != nil {
		t.Fatal(err)
	}
	return es
}

// scanEntries scans an archive of es and returns its first image's index.
func scanEntries(t *testing.T, es []ocitest.Entry) (*oci.Archive, *oci.Index) {
	t.Helper()
	a, err := oci.Scan(context.Background(), writeTemp(t, "a.tar", ocitest.Tar(es)), oci.ScanOptions{})
	if err != nil {
		t.Fatalf("Scan() = %v", err)
	}
	if a.Images[0].ImageIndex == nil {
		t.Fatal("the image was not reached through an index")
	}
	return a, a.Images[0].ImageIndex
}

// body is the content of entry name.
func body(t *testing.T, es []ocitest.Entry, name string) []byte {
	t.Helper()
	for _, e := range es {
		if e.Name == name {
			return e.Body
		}
	}
	t.Fatalf("no entry %q", name)
	return nil
}

// without is es without the blobs ds.
func without(es []ocitest.Entry, ds ...digest.Digest) []ocitest.Entry {
	var out []ocitest.Entry
outer:
	for _, e := range es {
		for _, d := range ds {
			if e.Name == "blobs/sha256/"+d.Encoded() {
				continue outer
			}
		}
		out = append(out, e)
	}
	return out
}

// children parses the index in blob d.
func children(t *testing.T, es []ocitest.Entry, d digest.Digest) []ocispec.Descriptor {
	t.Helper()
	var idx ocispec.Index
	if err := json.Unmarshal(body(t, es, "blobs/sha256/"+d.Encoded()), &idx); err != nil {
		t.Fatal(err)
	}
	return idx.Manifests
}

// relisted is es whose nested index lists what list returns instead of its
// children; add adds a blob and returns its descriptor.
func relisted(t *testing.T, es []ocitest.Entry, list func(old []ocispec.Descriptor, add func(mt string, b []byte) ocispec.Descriptor) []ocispec.Descriptor) []ocitest.Entry {
	t.Helper()
	var top ocispec.Index
	if err := json.Unmarshal(body(t, es, "index.json"), &top); err != nil {
		t.Fatal(err)
	}
	add := func(mt string, b []byte) ocispec.Descriptor {
		es = append(es, ocitest.Entry{Name: "blobs/sha256/" + digest.FromBytes(b).Encoded(), Body: b})
		return ocispec.Descriptor{MediaType: mt, Digest: digest.FromBytes(b), Size: int64(len(b))}
	}
	ms := list(children(t, es, top.Manifests[0].Digest), add)
	raw, err := json.Marshal(ocispec.Index{Versioned: top.Versioned, MediaType: ocispec.MediaTypeImageIndex, Manifests: ms})
	if err != nil {
		t.Fatal(err)
	}
	d := add(ocispec.MediaTypeImageIndex, raw)
	d.Annotations = top.Manifests[0].Annotations
	top.Manifests[0] = d
	if raw, err = json.Marshal(top); err != nil {
		t.Fatal(err)
	}
	for i := range es {
		if es[i].Name == "index.json" {
			es[i].Body = raw
		}
	}
	return es
}

// TestIndexLacks: the scan records what an index leads to and the archive
// lacks — a platform's manifest (docker save with the containerd store), a
// layer of a manifest the image walk skips (a buildx attestation) — in
// index order, the first eight and a count; and every blob the index leads to that it holds reads back
// through OpenBlob.
func TestIndexLacks(t *testing.T) {
	t.Parallel()
	es := multiPlatform(t)
	a, idx := scanEntries(t, es)
	if idx.LackCount != 0 || len(idx.Lacks) != 0 {
		t.Errorf("complete index: Lacks = %v (%d), want none", idx.Lacks, idx.LackCount)
	}
	ms := children(t, es, idx.Digest)
	if len(ms) != 3 || ms[1].Annotations["vnd.docker.reference.type"] == "" {
		t.Fatalf("the generated index is not amd64, its attestation, arm64: %+v", ms)
	}
	attestation, arm := ms[1], ms[2]
	var attLayer digest.Digest
	for _, m := range ms {
		raw, err := readBlob(t, a, m.Digest)
		var im ocispec.Manifest
		if err == nil {
			err = json.Unmarshal(raw, &im)
		}
		if err != nil {
			t.Fatalf("manifest %s: %v", m.Digest, err)
		}
		for _, b := range append([]ocispec.Descriptor{im.Config}, im.Layers...) {
			if _, err := readBlob(t, a, b.Digest); err != nil {
				t.Errorf("blob %s of manifest %s: %v", b.Digest, m.Digest, err)
			}
		}
		if m.Digest == attestation.Digest {
			attLayer = im.Layers[0].Digest
		}
	}

	var chain []ocispec.Descriptor
	var ambiguous ocispec.Descriptor
	for _, tc := range []struct {
		name  string
		es    []ocitest.Entry
		count int
		want  []string
	}{
		{"platform", without(es, arm.Digest), 1, []string{fmt.Sprintf("manifest %s (linux/arm64)", arm.Digest)}},
		{"attestation layer and platform", without(es, attLayer, arm.Digest), 2, []string{
			fmt.Sprintf("blob %s of manifest %s (unknown/unknown)", attLayer, attestation.Digest),
			fmt.Sprintf("manifest %s (linux/arm64)", arm.Digest),
		}},
		{"twenty", relisted(t, es, func(old []ocispec.Descriptor, _ func(string, []byte) ocispec.Descriptor) []ocispec.Descriptor {
			out := old[:1]
			for i := range 20 {
				out = append(out, ocispec.Descriptor{MediaType: "application/x-absent", Digest: digest.FromString(fmt.Sprint(i)), Size: 1})
			}
			return out
		}), 20, []string{
			"application/x-absent " + digest.FromString("0").String(), "application/x-absent " + digest.FromString("1").String(),
			"application/x-absent " + digest.FromString("2").String(), "application/x-absent " + digest.FromString("3").String(),
			"application/x-absent " + digest.FromString("4").String(), "application/x-absent " + digest.FromString("5").String(),
			"application/x-absent " + digest.FromString("6").String(), "application/x-absent " + digest.FromString("7").String(),
		}},
		{"too deep", relisted(t, es, func(old []ocispec.Descriptor, add func(string, []byte) ocispec.Descriptor) []ocispec.Descriptor {
			// An attestation-annotated chain of ten indexes (the image walk
			// skips it) at depth 1 to 10, the amd64 manifest at its end.
			d := old[0]
			for range 10 {
				raw, _ := json.Marshal(ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{d}})
				d = add(ocispec.MediaTypeImageIndex, raw)
				chain = append(chain, d)
			}
			d.Annotations = map[string]string{"vnd.docker.reference.type": "attestation-manifest"}
			return append(old[:1], d)
		}), 1, nil},
		{"ambiguous nested index", relisted(t, es, func(old []ocispec.Descriptor, add func(string, []byte) ocispec.Descriptor) []ocispec.Descriptor {
			// An attestation-annotated index (the image walk skips it)
			// whose JSON has layers too: containerd refuses it, so a
			// pusher cannot read it as the index its media type says.
			raw, _ := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": ocispec.MediaTypeImageIndex, "manifests": old[:1], "layers": []any{}})
			d := add(ocispec.MediaTypeImageIndex, raw)
			ambiguous = d
			d.Annotations = map[string]string{"vnd.docker.reference.type": "attestation-manifest"}
			return append(old[:1], d)
		}), 1, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			switch tc.name {
			case "too deep", "ambiguous nested index":
				// Runtimes read the index these entries are under as
				// Selectable reads it, which refuses an index tree nested
				// deeper than the bound, or with an index that reads as a
				// manifest too, as binding and push-image do: the scan now
				// refuses the archive (loaded.go checkSelectable) before
				// the lack walk's bound is reached.
				want, in := oci.ErrTooLarge, chain[len(chain)-1].Digest
				if tc.name == "ambiguous nested index" {
					want, in = oci.ErrAmbiguous, ambiguous.Digest
				}
				_, err := oci.Scan(context.Background(), writeTemp(t, "a.tar", ocitest.Tar(tc.es)), oci.ScanOptions{})
				if !errors.Is(err, want) || !strings.Contains(fmt.Sprint(err), in.String()) {
					t.Errorf("Scan() = %v; want %v naming %s", err, want, in)
				}
				return
			}
			_, idx := scanEntries(t, tc.es)
			var got []string
			for _, l := range idx.Lacks {
				got = append(got, l.String())
			}
			if idx.LackCount != tc.count || (strings.Join(got, "\n") != strings.Join(tc.want, "\n")) {
				t.Errorf("Lacks = %d:\n%s\nwant %d:\n%s", idx.LackCount, strings.Join(got, "\n"), tc.count, strings.Join(tc.want, "\n"))
			}
		})
	}
}
