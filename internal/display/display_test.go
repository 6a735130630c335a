package display

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// TestJSON: JSON that reaches an output or stdout whole keeps decoding to
// the same value while no rune Clean would escape shows raw; the
// indentation's line breaks stay.
func TestJSON(t *testing.T) {
	t.Parallel()
	in := map[string]string{"platform": "linux/\x7f\u0085arm\u2028\u202e64", "tag": "app:v1"}
	for _, indent := range []bool{false, true} {
		b, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		if indent {
			var buf bytes.Buffer
			if err := json.Indent(&buf, b, "", "  "); err != nil {
				t.Fatal(err)
			}
			b = buf.Bytes()
		}
		got := JSON(b)
		var back map[string]string
		if err := json.Unmarshal(got, &back); err != nil || back["platform"] != in["platform"] || back["tag"] != in["tag"] {
			t.Errorf("JSON(%q) = %q decodes to %q (%v), want %q", b, got, back, err, in)
		}
		if strings.Contains(Clean(string(got)), `\x`) || (!indent && Clean(string(got)) != string(got)) {
			t.Errorf("JSON(%q) = %q still holds runes Clean escapes", b, got)
		}
		if indent && !bytes.Contains(got, []byte("{\n  ")) {
			t.Errorf("JSON(%q) = %q lost the indentation", b, got)
		}
	}
	if b := []byte(`{"a":"plain"}`); string(JSON(b)) != string(b) {
		t.Errorf("JSON changed plain JSON: %q", JSON(b))
	}
}

// TestArgsNamedString: a named string type without a String method is
// cleaned like a string.
func TestArgsNamedString(t *testing.T) {
	t.Parallel()
	type format string
	if got := fmt.Sprintf("%s", Args([]any{format("a\nb")})...); got != `a\nb` {
		t.Errorf("Args(format) printed %q, want %q", got, `a\nb`)
	}
}

// TestAttr: a URL in the summary's href cannot end the attribute.
func TestAttr(t *testing.T) {
	t.Parallel()
	if got, want := Attr(`https://x/a?b=1&c="d"<e>`), `https://x/a?b=1&amp;c=&quot;d&quot;&lt;e&gt;`; got != want {
		t.Errorf("Attr() = %q, want %q", got, want)
	}
}

func TestShell(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"ghcr.io/org/app@sha256:ab": "ghcr.io/org/app@sha256:ab",
		"it's":                      `'it'\''s'`,
		"":                          "''",
		"a b\n;rm":                  `'a b\n;rm'`,
	} {
		if got := Shell(in); got != want {
			t.Errorf("Shell(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestBytesAndShort(t *testing.T) {
	t.Parallel()
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 3 << 30: "3.0 GiB"} {
		if got := Bytes(n); got != want {
			t.Errorf("Bytes(%d) = %q, want %q", n, got, want)
		}
	}
	if got := Short("sha256:0123456789abcdef"); got != "sha256:0123456789ab…" {
		t.Errorf("Short() = %q", got)
	}
	if got := Short("sha256:0123"); got != "sha256:0123" {
		t.Errorf("Short() = %q", got)
	}
}
