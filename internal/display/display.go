// Package display makes text from archives, registries and services safe to
// show: on one line of a log, in a job summary's markdown, in a shell
// command, in JSON that reaches a log or stdout whole. Everything that comes
// from outside passes through it before it is shown (ARCHITECTURE.md,
// "Packages"). It also formats sizes and digests for people.
package display

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Clean makes s safe to show on one line of a log, a job summary, an
// output or a report: every control character (C0, DEL, C1 — which includes
// the \r the runner also breaks lines on), the Unicode line and paragraph
// separators, the bidirectional formatting characters (which can make text
// read differently from what it is) and invalid UTF-8 are written as Go
// escapes (\n, \r, \x1b, \u2028, …). Everything that comes from an archive,
// a registry or a service passes through it before it is shown: the logger
// cleans every argument of a message, the summary every value, the verify
// report every remote string.
func Clean(s string) string {
	if !needsClean(s) {
		return s
	}
	var b strings.Builder
	for i, w := 0, 0; i < len(s); i += w {
		r, n := utf8.DecodeRuneInString(s[i:])
		w = n
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case unsafeRune(r):
			q := fmt.Sprintf("%+q", string(r)) // "\n", "\x1b", "\u2028"
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func needsClean(s string) bool {
	for i, w := 0, 0; i < len(s); i += w {
		r, n := utf8.DecodeRuneInString(s[i:])
		w = n
		if (r == utf8.RuneError && n == 1) || unsafeRune(r) {
			return true
		}
	}
	return false
}

// unsafeRune reports whether r may not be shown as itself.
func unsafeRune(r rune) bool {
	switch {
	case unicode.IsControl(r): // C0, DEL, C1 (NEL among them)
		return true
	case r == '\u2028', r == '\u2029': // line and paragraph separators
		return true
	case r >= '\u202a' && r <= '\u202e', r >= '\u2066' && r <= '\u2069', r == '\u200e', r == '\u200f', r == '\u061c':
		return true // bidirectional formatting
	}
	return false
}

// Args returns args with every string, error and fmt.Stringer cleaned
// (slices of strings element by element), so that a message's format — ours
// — is the only source of line breaks.
func Args(args []any) []any {
	out := make([]any, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case string:
			out[i] = Clean(v)
		case []string:
			c := make([]string, len(v))
			for j, s := range v {
				c[j] = Clean(s)
			}
			out[i] = c
		case error:
			out[i] = cleanError{v}
		case fmt.Stringer:
			out[i] = Clean(v.String())
		default:
			// A named string type without a String method (oci.Format)
			// is a string all the same.
			if rv := reflect.ValueOf(a); rv.Kind() == reflect.String {
				out[i] = Clean(rv.String())
			} else {
				out[i] = a
			}
		}
	}
	return out
}

// cleanError shows a cleaned error message and still unwraps to the error.
type cleanError struct{ err error }

func (e cleanError) Error() string { return Clean(e.err.Error()) }
func (e cleanError) Unwrap() error { return e.err }

// Attr makes s safe inside a double-quoted HTML attribute of the job
// summary: Markdown, with & and " escaped first (Markdown's own entities come after).
func Attr(s string) string {
	return Markdown(strings.NewReplacer("&", "&amp;", `"`, "&quot;").Replace(s))
}

// Markdown makes s safe inside a markdown table cell or inline code span of the
// job summary: cleaned, with the characters that end a cell or a span, or
// start markup, escaped as HTML entities.
func Markdown(s string) string {
	return strings.NewReplacer(
		"|", "&#124;", "`", "&#96;", "<", "&lt;", ">", "&gt;", "*", "&#42;",
		"_", "&#95;", "[", "&#91;", "]", "&#93;", "\\", "&#92;",
	).Replace(Clean(s))
}

// JSON rewrites JSON text, as encoding/json or protojson write it, so
// that it shows nothing Clean would escape while it still decodes to the
// same value: every such rune inside a string (DEL, C1, the line
// separators, the bidirectional formatting characters, which the encoders
// leave as they are) becomes a \uXXXX escape. Raw \n, \t and \r are kept:
// the encoders escape them inside strings, so where they appear they are
// the indentation. Invalid UTF-8 (which the encoders never write) becomes
// \ufffd. Used for JSON that reaches a log, an output or stdout whole,
// where Clean's Go escapes would make it invalid JSON.
func JSON(b []byte) []byte {
	if !needsClean(string(b)) {
		return b
	}
	var out bytes.Buffer
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		switch {
		case r == '\n' || r == '\t' || r == '\r':
			out.WriteByte(b[i])
		case r == utf8.RuneError && n == 1:
			out.WriteString(`\ufffd`)
		case unsafeRune(r): // all of them in the Basic Multilingual Plane
			fmt.Fprintf(&out, `\u%04x`, r)
		default:
			out.Write(b[i : i+n])
		}
		i += n
	}
	return out.Bytes()
}
