package oci

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode"
	"unicode/utf8"
)

// parseManifestJSON parses a docker-archive manifest.json. It reads what
// json.Unmarshal into []ManifestEntry reads (docker load decodes it so):
// keys match Config, RepoTags and Layers case-insensitively, other keys are
// ignored, the last of repeated keys wins, null leaves a field empty, and
// nothing may follow the array. But it parses token by token, so that its
// limits stop it before memory grows with the archive: at most maxTags
// RepoTags per entry, and maxManifestNames images, tags and layer paths in
// all (ARCHITECTURE.md, "Limits and budgets").
func parseManifestJSON(b []byte, maxTags int) ([]ManifestEntry, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, fmt.Errorf("%w: manifest.json is empty", ErrBadManifest)
	}
	p := &manifestParser{dec: json.NewDecoder(bytes.NewReader(b)), maxTags: maxTags}
	m, err := p.parse()
	if err != nil {
		var limit *limitError
		if errors.As(err, &limit) {
			return nil, fmt.Errorf("%w: %s", ErrTooLarge, limit.msg)
		}
		return nil, fmt.Errorf("%w: manifest.json is not a JSON array of images: %w", ErrBadManifest, err)
	}
	if len(m) == 0 {
		return nil, fmt.Errorf("%w: manifest.json lists no image", ErrNoImages)
	}
	for i, e := range m {
		if e.Config == "" {
			return nil, fmt.Errorf("%w: manifest.json entry %d has no Config", ErrBadManifest, i)
		}
		for _, tag := range e.RepoTags {
			if !validTag(tag) {
				return nil, fmt.Errorf("%w: manifest.json entry %d has RepoTags element %.64q, which is no image reference", ErrBadManifest, i, tag)
			}
		}
	}
	return m, nil
}

// limitError is a limit parseManifestJSON stopped at.
type limitError struct{ msg string }

func (e *limitError) Error() string { return e.msg }

// manifestParser reads manifest.json's tokens.
type manifestParser struct {
	dec     *json.Decoder
	maxTags int
	// names counts images, tags and layer paths so far.
	names int
}

func (p *manifestParser) parse() ([]ManifestEntry, error) {
	tok, err := p.dec.Token()
	if err != nil {
		return nil, err
	}
	var m []ManifestEntry
	switch tok {
	case nil: // null: no images
	case json.Delim('['):
		m = []ManifestEntry{}
		for i := 0; p.dec.More(); i++ {
			var e ManifestEntry
			if err := p.count(); err != nil {
				return nil, err
			}
			if err := p.entry(&e, i); err != nil {
				return nil, err
			}
			m = append(m, e)
		}
		if _, err := p.dec.Token(); err != nil { // ']'
			return nil, err
		}
	default:
		return nil, fmt.Errorf("it starts with %v", tok)
	}
	if _, err := p.dec.Token(); !errors.Is(err, io.EOF) {
		if err == nil {
			err = errors.New("data follows the array")
		}
		return nil, err
	}
	return m, nil
}

// count counts one more name.
func (p *manifestParser) count() error {
	p.names++
	if p.names > maxManifestNames {
		return &limitError{msg: fmt.Sprintf("manifest.json lists more than %d images, tags and layer paths in all, the most an archive may (README \"Limits\"); save fewer images in one archive", maxManifestNames)}
	}
	return nil
}

// entry parses one element of the array into e (null leaves it empty).
func (p *manifestParser) entry(e *ManifestEntry, i int) error {
	tok, err := p.dec.Token()
	if err != nil {
		return err
	}
	switch tok {
	case nil:
		return nil
	case json.Delim('{'):
	default:
		return fmt.Errorf("entry %d is %v, not an object", i, tok)
	}
	for p.dec.More() {
		tok, err := p.dec.Token()
		if err != nil {
			return err
		}
		key, _ := tok.(string)
		switch foldKey(key) {
		case "CONFIG":
			if err := p.str(&e.Config, i, key); err != nil {
				return err
			}
		case "REPOTAGS":
			if err := p.list(&e.RepoTags, i, key, p.maxTags); err != nil {
				return err
			}
		case "LAYERS":
			if err := p.list(&e.Layers, i, key, 0); err != nil {
				return err
			}
		default:
			if err := p.skip(); err != nil {
				return err
			}
		}
	}
	_, err = p.dec.Token() // '}'
	return err
}

// str reads a string or null (which leaves s as it is).
func (p *manifestParser) str(s *string, i int, key string) error {
	tok, err := p.dec.Token()
	if err != nil {
		return err
	}
	switch v := tok.(type) {
	case nil:
	case string:
		*s = v
	default:
		return fmt.Errorf("entry %d: %s is %v, not a string", i, key, tok)
	}
	return nil
}

// list reads an array of strings (null elements are "") or null (nil), of
// at most max elements when max > 0.
func (p *manifestParser) list(l *[]string, i int, key string, max int) error {
	tok, err := p.dec.Token()
	if err != nil {
		return err
	}
	switch tok {
	case nil:
		*l = nil
		return nil
	case json.Delim('['):
	default:
		return fmt.Errorf("entry %d: %s is %v, not an array", i, key, tok)
	}
	out := []string{}
	for p.dec.More() {
		if max > 0 && len(out) == max {
			return &limitError{msg: fmt.Sprintf("manifest.json entry %d has more than %d RepoTags, the most an image may have (README \"Limits\"); save the image under fewer tags", i, max)}
		}
		if err := p.count(); err != nil {
			return err
		}
		var s string
		if err := p.str(&s, i, key+" element"); err != nil {
			return err
		}
		out = append(out, s)
	}
	*l = out
	_, err = p.dec.Token() // ']'
	return err
}

// skip reads one value of any kind.
func (p *manifestParser) skip() error {
	depth := 0
	for {
		tok, err := p.dec.Token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
		if depth == 0 {
			return nil
		}
	}
}

// foldKey folds a JSON object key the way encoding/json matches keys to
// field names case-insensitively (ASCII letters and unicode.ToUpper).
func foldKey(k string) string {
	var b []byte
	for i := 0; i < len(k); {
		if c := k[i]; c < utf8.RuneSelf {
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			b = append(b, c)
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(k[i:])
		b = utf8.AppendRune(b, unicode.ToUpper(r))
		i += n
	}
	return string(b)
}
