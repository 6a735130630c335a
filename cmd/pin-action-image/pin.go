package main

import (
	"bytes"
	_ "crypto/sha256" // go-digest knows an algorithm only when its hash is linked in:
	_ "crypto/sha512" // with these, sha384/sha512 digests parse and are refused as not sha256
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"unicode/utf8"

	digest "github.com/opencontainers/go-digest"
	yaml "go.yaml.in/yaml/v3"

	"github.com/oci-attest/oci-attest/internal/ref"
)

var sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)

// imageValue is the runs.image value for image: docker:// and the reference
// as internal/ref normalises it (lowercase; Docker Hub names spelled out), so
// that what the runner pulls is what the registry serves under that name.
// image must carry a sha256 digest: a tag alone can be moved after the
// release, a digest cannot.
func imageValue(image string) (string, error) {
	if strings.HasPrefix(image, "docker://") {
		return "", fmt.Errorf("%q: give the image without docker:// (it is added)", image)
	}
	r, err := ref.Parse(image)
	if err != nil {
		return "", err
	}
	if r.Digest == "" {
		return "", fmt.Errorf("%q has no digest: pin the image by the digest the release pushed (IMAGE[:TAG]@sha256:<64 hex digits>)", image)
	}
	if r.Digest.Algorithm() != digest.SHA256 || !sha256Hex.MatchString(r.Digest.Encoded()) {
		return "", fmt.Errorf("%q: the digest is not sha256:<64 lowercase hex digits>", image)
	}
	return "docker://" + r.String(), nil
}

// pinned is the result of pin: the new file, the line of runs.image and the
// value it had.
type pinned struct {
	out  []byte
	line int
	old  string
}

// pin returns src with runs.image set to value. src must be a docker action
// (runs.using: docker) with exactly one runs.image, a string on one line.
// Only the bytes of that value change: its quoting style, the comments and
// every other byte stay as they were. The result is parsed again and must be
// the same document with only runs.image changed.
func pin(src []byte, value string) (pinned, error) {
	root, err := parseAction(src)
	if err != nil {
		return pinned{}, err
	}
	image, flow, err := findImage(root)
	if err != nil {
		return pinned{}, err
	}
	start, end, err := scalarSpan(src, image, flow)
	if err != nil {
		return pinned{}, err
	}
	token := value
	switch image.Style {
	case yaml.SingleQuotedStyle:
		token = "'" + value + "'"
	case yaml.DoubleQuotedStyle:
		token = `"` + value + `"`
	}
	out := make([]byte, 0, len(src)+len(token))
	out = append(out, src[:start]...)
	out = append(out, token...)
	out = append(out, src[end:]...)

	// The check: the new file is the old document with runs.image = value.
	res := pinned{out: out, line: image.Line, old: image.Value}
	newRoot, err := parseAction(out)
	if err != nil {
		return pinned{}, fmt.Errorf("line %d: the rewritten runs.image does not parse (%w); edit it by hand", image.Line, err)
	}
	image.Value = value
	if !sameNode(root, newRoot) {
		return pinned{}, fmt.Errorf("line %d: rewriting runs.image in place changed more than runs.image; edit it by hand", image.Line)
	}
	return res, nil
}

// parseAction parses src as one YAML document whose top level is a mapping.
func parseAction(src []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(src))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("is empty: want an action.yml")
		}
		return nil, fmt.Errorf("is not YAML: %w", err)
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == nil:
		return nil, errors.New("holds more than one YAML document; an action.yml is one")
	case !errors.Is(err, io.EOF):
		return nil, fmt.Errorf("is not YAML: %w", err)
	}
	if len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, errors.New("is not a YAML mapping (name:, inputs:, runs: …)")
	}
	return doc.Content[0], nil
}

// findImage finds runs.image in an action's top-level mapping and checks it
// is the one image of a docker action. flow reports that runs is written in
// flow style ({using: docker, image: …}), where a plain value ends at , or }.
func findImage(root *yaml.Node) (image *yaml.Node, flow bool, err error) {
	if err := noMergeKey(root, "the top level"); err != nil {
		return nil, false, err
	}
	runs, err := uniqueKey(root, "", "runs")
	if err != nil {
		return nil, false, err
	}
	if runs == nil {
		return nil, false, errors.New("has no runs: section; is it an action.yml?")
	}
	if runs.Kind != yaml.MappingNode {
		return nil, false, fmt.Errorf("line %d: runs is not a mapping (%s); write it out with using: and image: keys", runs.Line, kindName(runs))
	}
	if err := noMergeKey(runs, "runs"); err != nil {
		return nil, false, err
	}
	using, err := uniqueKey(runs, "runs", "using")
	if err != nil {
		return nil, false, err
	}
	if using == nil {
		return nil, false, fmt.Errorf("line %d: runs has no using:; only a docker action (using: docker) runs an image", runs.Line)
	}
	if using.Kind != yaml.ScalarNode || using.Value != "docker" {
		return nil, false, fmt.Errorf("line %d: runs.using is %s, not docker: only a docker action runs an image", using.Line, describe(using))
	}
	image, err = uniqueKey(runs, "runs", "image")
	if err != nil {
		return nil, false, err
	}
	switch {
	case image == nil:
		return nil, false, fmt.Errorf("line %d: runs has no image:; a docker action names its image (Dockerfile or docker://…)", runs.Line)
	case image.Kind != yaml.ScalarNode:
		return nil, false, fmt.Errorf("line %d: runs.image is %s, not a string", image.Line, kindName(image))
	case image.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0:
		return nil, false, fmt.Errorf("line %d: runs.image is a block scalar (| or >); write it on one line", image.Line)
	case image.ShortTag() != "!!str":
		return nil, false, fmt.Errorf("line %d: runs.image is %s, not a string", image.Line, image.ShortTag())
	}
	return image, runs.Style&yaml.FlowStyle != 0, nil
}

// noMergeKey refuses a mapping with a merge key (<<): it could bring in
// runs, using or image from elsewhere in the file.
func noMergeKey(m *yaml.Node, where string) error {
	for i := 0; i < len(m.Content); i += 2 {
		if k := m.Content[i]; k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			return fmt.Errorf("line %d: %s has a merge key (<<); write it out, so that runs.using and runs.image are what they say", k.Line, where)
		}
	}
	return nil
}

// uniqueKey returns the value of key in the mapping m (section names m in
// messages: "" for the top level), nil when it is absent, and an error when
// the key is there twice (which of the two a reader keeps depends on the
// reader) or the value is an alias.
func uniqueKey(m *yaml.Node, section, key string) (*yaml.Node, error) {
	name := key
	if section != "" {
		name = section + "." + key
	}
	var found *yaml.Node
	var lines []int
	for i := 0; i+1 < len(m.Content); i += 2 {
		if k := m.Content[i]; k.Kind == yaml.ScalarNode && k.Value == key {
			found = m.Content[i+1]
			lines = append(lines, m.Content[i].Line)
		}
	}
	if len(lines) > 1 {
		return nil, fmt.Errorf("%s is given %d times (lines %s); keep one", name, len(lines), joinInts(lines))
	}
	if found != nil && found.Kind == yaml.AliasNode {
		return nil, fmt.Errorf("line %d: %s is an alias (*%s); write the value out", found.Line, name, found.Value)
	}
	return found, nil
}

// scalarSpan returns the byte offsets of the scalar n's token in src: from
// its first character (its opening quote, if quoted) to just after its last.
// The token must be on one line.
func scalarSpan(src []byte, n *yaml.Node, flow bool) (start, end int, err error) {
	lineStart := 0
	for l := 1; l < n.Line; l++ {
		i := bytes.IndexByte(src[lineStart:], '\n')
		if i < 0 {
			return 0, 0, fmt.Errorf("line %d: runs.image is past the end of the file", n.Line)
		}
		lineStart += i + 1
	}
	lineEnd := len(src)
	if i := bytes.IndexByte(src[lineStart:], '\n'); i >= 0 {
		lineEnd = lineStart + i
	}
	if lineEnd > lineStart && src[lineEnd-1] == '\r' {
		lineEnd--
	}
	line := src[lineStart:lineEnd]
	// Column is 1-based and counts characters, not bytes.
	col := 0
	for c := 1; c < n.Column && col < len(line); c++ {
		_, w := utf8.DecodeRune(line[col:])
		col += w
	}
	multiLine := fmt.Errorf("line %d: runs.image continues on the next line; write it on one line", n.Line)
	if col >= len(line) {
		return 0, 0, multiLine
	}
	switch n.Style {
	case yaml.DoubleQuotedStyle, yaml.SingleQuotedStyle:
		q := line[col]
		for i := col + 1; i < len(line); i++ {
			switch {
			case q == '"' && line[i] == '\\':
				i++
			case q == '\'' && line[i] == '\'' && i+1 < len(line) && line[i+1] == '\'':
				i++
			case line[i] == q:
				return lineStart + col, lineStart + i + 1, nil
			}
		}
		return 0, 0, multiLine
	}
	stop := len(line)
	for i := col; i < len(line); i++ {
		if line[i] == '#' && i > col && (line[i-1] == ' ' || line[i-1] == '\t') {
			stop = i
			break
		}
		if flow && (line[i] == ',' || line[i] == '}' || line[i] == ']') {
			stop = i
			break
		}
	}
	token := strings.TrimRight(string(line[col:stop]), " \t")
	if token != n.Value {
		return 0, 0, multiLine
	}
	return lineStart + col, lineStart + col + len(token), nil
}

// sameNode reports whether a and b are the same YAML tree: kinds, tags,
// styles, values, anchors, aliases and comments (positions may differ).
func sameNode(a, b *yaml.Node) bool {
	if a.Kind != b.Kind || a.Style != b.Style || a.Tag != b.Tag || a.Value != b.Value || a.Anchor != b.Anchor ||
		a.HeadComment != b.HeadComment || a.LineComment != b.LineComment || a.FootComment != b.FootComment ||
		len(a.Content) != len(b.Content) {
		return false
	}
	if (a.Alias == nil) != (b.Alias == nil) || (a.Alias != nil && a.Alias.Anchor != b.Alias.Anchor) {
		return false
	}
	for i := range a.Content {
		if !sameNode(a.Content[i], b.Content[i]) {
			return false
		}
	}
	return true
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		return "a scalar"
	}
	return "empty"
}

func describe(n *yaml.Node) string {
	if n.Kind == yaml.ScalarNode {
		return fmt.Sprintf("%q", n.Value)
	}
	return kindName(n)
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = fmt.Sprint(n)
	}
	return strings.Join(s, ", ")
}
