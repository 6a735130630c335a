package oci

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// manifestJSONCases are manifest.json texts whose reading by
// parseManifestJSON must equal json.Unmarshal's (what docker load does).
var manifestJSONCases = []string{
	`[{"Config":"c.json","RepoTags":["a:1","b:2"],"Layers":["l1","l2"]}]`,
	`[{"config":"c.json","repotags":["a:1"],"LAYERS":["l"]}]`,
	`[{"Config":"a.json","Config":"b.json","Layers":["x"],"Layers":["y","z"]}]`,
	`[{"Config":"c.json","RepoTags":null,"Layers":null}]`,
	`[{"Config":"c.json","RepoTags":[],"Layers":[]}]`,
	`[{"Config":"c.json","Config":null}]`,
	`[{"Config":"c.json","LayerSources":{"sha256:x":{"mediaType":"m","size":1,"digest":"sha256:x","urls":[1,[2,{"a":null}]]}},"Parent":"","Layers":["l"]}]`,
	`[{"Config":"c.json"},{"Config":"d.json","RepoTags":["x:1"]}]`,
	`[{"Config":"c.json","RepoTagſ":["a:1"]}]`,
	`[{"Config":"c.json","RepoTags":["a:1",null]}]`,
	` [ { "Config" : "c.json" } ] ` + "\n",
	`null`,
	`[]`,
	`[null]`,
	`[{"Config":"c.json"}] x`,
	`[{"Config":"c.json"}][]`,
	`[{"Config":5}]`,
	`[{"Config":"c.json","Layers":"l"}]`,
	`[{"Config":"c.json","Layers":[1]}]`,
	`{"Config":"c.json"}`,
	`["c.json"]`,
	`[{"Config":"c.json",}]`,
	`[{"Config":"c.json"}`,
	`[{"Config":"\u00e9\ud800.json"}]`,
}

// TestParseManifestJSONReadsLikeUnmarshal: the streaming parser reads every
// case as json.Unmarshal into []ManifestEntry does, and fails where it
// fails.
func TestParseManifestJSONReadsLikeUnmarshal(t *testing.T) {
	t.Parallel()
	for _, c := range manifestJSONCases {
		compareWithUnmarshal(t, []byte(c))
	}
}

func compareWithUnmarshal(t *testing.T, b []byte) {
	t.Helper()
	var want []ManifestEntry
	werr := json.Unmarshal(b, &want)
	p := &manifestParser{dec: json.NewDecoder(strings.NewReader(string(b))), maxTags: 1 << 30}
	got, gerr := p.parse()
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("%q: json.Unmarshal error %v, parser error %v", b, werr, gerr)
	}
	if werr == nil {
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%q: (-json.Unmarshal +parser):\n%s", b, diff)
		}
	}
}

// FuzzManifestJSONReadsLikeUnmarshal checks the same on arbitrary input.
func FuzzManifestJSONReadsLikeUnmarshal(f *testing.F) {
	for _, c := range manifestJSONCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		compareWithUnmarshal(t, b)
	})
}

// TestManifestJSONLimits (issue 9, class 7): more than maxTags tags on one
// image, or more than maxManifestNames images, tags and layer paths in all,
// is an ErrTooLarge error that says what to do; the limits themselves are
// accepted.
func TestManifestJSONLimits(t *testing.T) {
	t.Parallel()
	list := func(n int, f string) string {
		s := make([]string, n)
		for i := range s {
			s[i] = fmt.Sprintf(f, i)
		}
		b, _ := json.Marshal(s)
		return string(b)
	}
	entry := func(tags, layers int) string {
		return fmt.Sprintf(`{"Config":"c.json","RepoTags":%s,"Layers":%s}`, list(tags, "r/t:%d"), list(layers, "l%d"))
	}
	tests := []struct {
		raw  string
		max  int
		want string // "" = accepted
	}{
		{"[" + entry(1024, 1) + "]", 1024, ""},
		{"[" + entry(1025, 1) + "]", 1024, "manifest.json entry 0 has more than 1024 RepoTags"},
		{"[" + entry(1, 0) + "," + entry(3, 0) + "]", 2, "manifest.json entry 1 has more than 2 RepoTags"},
		{"[" + entry(0, maxManifestNames-1) + "]", 1024, ""},
		{"[" + entry(0, maxManifestNames) + "]", 1024, "more than 65536 images, tags and layer paths"},
		{"[" + strings.Repeat(entry(2, 0)+",", maxManifestNames/3) + entry(0, 1) + "]", 1024, "more than 65536 images, tags and layer paths"},
	}
	for _, tc := range tests {
		m, err := parseManifestJSON([]byte(tc.raw), tc.max)
		if tc.want == "" {
			if err != nil || len(m) == 0 {
				t.Errorf("parseManifestJSON(%.80s…) = %v", tc.raw, err)
			}
			continue
		}
		if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), `README "Limits"`) {
			t.Errorf("parseManifestJSON(%.80s…) error = %v, want ErrTooLarge: %s…", tc.raw, err, tc.want)
		}
	}
}
