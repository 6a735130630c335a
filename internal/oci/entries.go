package oci

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"strings"

	digest "github.com/opencontainers/go-digest"
)

const (
	// maxEntries bounds the number of tar entries (and so the memory the
	// entry table takes). Image archives hold a few entries per layer.
	// 65536 entries keep the table and the scan's buffers within the
	// 64 MiB budget (ARCHITECTURE.md, "Limits and budgets").
	maxEntries = 1 << 16
	// maxLinkHops bounds link resolution.
	maxLinkHops = 40
	// maxPathLen bounds archive paths, link targets and the paths
	// manifests name (Linux's PATH_MAX). Resolving a path costs time
	// quadratic in its length (each parent is looked up as a link).
	maxPathLen = 4096
)

// entry is what the pass records about one tar entry. It is kept small
// (digests as bytes, not strings): an archive may have 65536 of them.
type entry struct {
	name     string
	linkname string // cleaned archive path of a link's target
	size     int64
	// offset is where the entry's data starts in the file.
	offset int64
	// json is the entry's content when it looked like JSON and was kept.
	json []byte
	// decompressErr is why decompression failed; reported only if the entry
	// is used as a layer.
	decompressErr error
	compression   Compression
	// sum is the sha256 of the stored bytes (digest()).
	sum [sha256.Size]byte
	// diff is the sha256 of the decompressed bytes (diffID()) when hasDiff:
	// = sum when stored uncompressed; unset when decompression failed or
	// was deferred.
	diff    [sha256.Size]byte
	hasDiff bool
	typ     byte
	// deferred says decompressing the entry did not fit the pass's budget:
	// its diffID is computed after the pass (table.inflate), only if it is
	// a layer.
	deferred bool
	// jsonDropped says the entry looked like JSON but was too large to keep.
	jsonDropped bool
}

// digest is the sha256 digest of the entry's stored bytes.
func (e *entry) digest() digest.Digest { return sha256Digest(e.sum) }

// diffID is the sha256 digest of the entry's decompressed bytes, or "" when
// they were not computed.
func (e *entry) diffID() digest.Digest {
	if !e.hasDiff {
		return ""
	}
	return sha256Digest(e.diff)
}

// setDiff records the diffID.
func (e *entry) setDiff(sum [sha256.Size]byte) { e.diff, e.hasDiff = sum, true }

func sha256Digest(sum [sha256.Size]byte) digest.Digest {
	return digest.NewDigestFromEncoded(digest.SHA256, hex.EncodeToString(sum[:]))
}

// sumOf returns the sha256 sum digest d names, if it is a sha256 digest.
func sumOf(d digest.Digest) (sum [sha256.Size]byte, ok bool) {
	if d.Algorithm() != digest.SHA256 {
		return sum, false
	}
	n, err := hex.Decode(sum[:], []byte(d.Encoded()))
	return sum, err == nil && n == sha256.Size
}

// regular reports whether e holds file content.
func (e *entry) regular() bool {
	return e.typ == tar.TypeReg || e.typ == tar.TypeRegA //nolint:staticcheck // old writers use TypeRegA
}

// table is the set of entries of an archive, by cleaned name.
type table struct {
	path    string // the archive, for errors
	byName  map[string]*entry
	ordered []*entry
	// configs caches parsed image configs: manifest.json entries may all
	// name one config, which is parsed once.
	configs map[*entry]*imageConfig
	// inflate decompresses a deferred entry after the pass (scanner.inflate).
	inflate func(*entry) error
	// blobs are the entries of the images' configs, layers and stored
	// manifests, by digest (for Archive.OpenBlob).
	blobs map[digest.Digest]*entry
	// unchecked are deferred entries whose name claims a digest other than
	// their stored one: checked once layers are decompressed.
	unchecked []*entry
}

// useBlob records e as the blob of digest d of an image.
func (t *table) useBlob(d digest.Digest, e *entry) {
	if t.blobs == nil {
		t.blobs = map[digest.Digest]*entry{}
	}
	t.blobs[d] = e
}

// cleanName normalises an archive path ("./a//b/" → "a/b") and rejects
// absolute paths and "..".
func cleanName(name string) (string, error) {
	if name == "" {
		return "", fmt.Errorf("%w: empty name", ErrUnsafePath)
	}
	if len(name) > maxPathLen {
		return "", fmt.Errorf("%w: path of %d bytes, longer than %d", ErrUnsafePath, len(name), maxPathLen)
	}
	if strings.HasPrefix(name, "/") || strings.HasPrefix(name, `\`) || (len(name) > 1 && name[1] == ':' && strings.ContainsAny(name[:1], "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")) {
		return "", fmt.Errorf("%w: absolute path", ErrUnsafePath)
	}
	for _, part := range strings.FieldsFunc(name, func(r rune) bool { return r == '/' || r == '\\' }) {
		if part == ".." {
			return "", fmt.Errorf("%w: path contains \"..\"", ErrUnsafePath)
		}
	}
	c := path.Clean(name)
	if c == "." {
		return "", fmt.Errorf("%w: empty name", ErrUnsafePath)
	}
	return c, nil
}

// symlinkTarget returns the archive path a symlink at name pointing to
// target refers to; it must stay inside the archive.
func symlinkTarget(name, target string) (string, error) {
	if len(target) > maxPathLen {
		return "", fmt.Errorf("%w: link target of %d bytes, longer than %d", ErrUnsafePath, len(target), maxPathLen)
	}
	if target == "" || strings.HasPrefix(target, "/") {
		return "", fmt.Errorf("%w: link target %q leaves the archive", ErrUnsafePath, target)
	}
	j := path.Join(path.Dir(name), target)
	if j == ".." || strings.HasPrefix(j, "../") || j == "." {
		return "", fmt.Errorf("%w: link target %q leaves the archive", ErrUnsafePath, target)
	}
	return j, nil
}

// add records e; names must be unique (directories may repeat).
func (t *table) add(e *entry) error {
	if old, ok := t.byName[e.name]; ok {
		if old.typ == tar.TypeDir && e.typ == tar.TypeDir {
			return nil
		}
		return fail(t.path, e.name, "%w: the archive holds two entries named %q", ErrDuplicateEntry, e.name)
	}
	if len(t.ordered) >= maxEntries {
		return fail(t.path, e.name, "%w: more than %d entries, the most an archive may have (README \"Limits\"); image archives hold a few entries per layer: save the image with docker save, podman save or skopeo copy", ErrTooLarge, maxEntries)
	}
	t.byName[e.name] = e
	t.ordered = append(t.ordered, e)
	return nil
}

// resolve finds the regular entry a path names, following symbolic and hard
// links. what says who named it (for errors).
func (t *table) resolve(name, what string) (*entry, error) {
	cur, err := cleanName(name)
	if err != nil {
		return nil, fail(t.path, name, "%s: %w", what, err)
	}
	for hops := 0; ; hops++ {
		if hops > maxLinkHops {
			return nil, fail(t.path, name, "%w: %s names a path whose links do not end (loop at %q)", ErrLinkLoop, what, cur)
		}
		if len(cur) > maxPathLen {
			return nil, fail(t.path, name, "%w: %s names a path that links lengthen beyond %d bytes", ErrUnsafePath, what, maxPathLen)
		}
		e, ok := t.byName[cur]
		if !ok {
			if alt, ok := t.throughDirLink(cur); ok {
				cur = alt
				continue
			}
			if cur == name {
				return nil, fail(t.path, name, "%w: %s names %q, which is not in the archive", ErrMissingBlob, what, name)
			}
			return nil, fail(t.path, name, "%w: %s names %q, a link to %q, which is not in the archive", ErrMissingBlob, what, name, cur)
		}
		switch {
		case e.regular():
			return e, nil
		case e.typ == tar.TypeSymlink, e.typ == tar.TypeLink:
			cur = e.linkname
		case e.typ == tar.TypeDir:
			return nil, fail(t.path, name, "%w: %s names %q, which is a directory", ErrNotFile, what, cur)
		default:
			return nil, fail(t.path, name, "%w: %s names %q, a tar entry of type %q", ErrNotFile, what, cur, string(e.typ))
		}
	}
}

// throughDirLink rewrites p when one of its parent directories is a link
// ("a/b/c" with "a" a symlink to "x" is "x/b/c").
func (t *table) throughDirLink(p string) (string, bool) {
	for i := 0; i < len(p); i++ {
		if p[i] != '/' {
			continue
		}
		if e, ok := t.byName[p[:i]]; ok && (e.typ == tar.TypeSymlink || e.typ == tar.TypeLink) {
			return path.Join(e.linkname, p[i+1:]), true
		}
	}
	return "", false
}

// digestFromName returns the digest an entry's name claims for its content,
// if it has that form: blobs/sha256/<hex>, <hex>.tar, <hex>.tar.gz,
// <hex>.json, sha256:<hex> (the last component of the name).
func digestFromName(name string) (digest.Digest, bool) {
	dir, base := path.Split(name)
	var hex string
	switch {
	case strings.HasSuffix(dir, "blobs/sha256/"):
		hex = base
	case strings.HasPrefix(base, "sha256:"):
		hex = strings.TrimPrefix(base, "sha256:")
	case strings.HasSuffix(base, ".tar.gz"):
		hex = strings.TrimSuffix(base, ".tar.gz")
	case strings.HasSuffix(base, ".tar"):
		hex = strings.TrimSuffix(base, ".tar")
	case strings.HasSuffix(base, ".json"):
		hex = strings.TrimSuffix(base, ".json")
	default:
		return "", false
	}
	d := digest.NewDigestFromEncoded(digest.SHA256, hex)
	if d.Validate() != nil {
		return "", false
	}
	return d, true
}

// checkNames checks that every regular entry named by a digest hashes to
// it. A layer named <hex>.tar or <hex>.tar.gz may be named by its stored
// digest or by its diffID. Entries whose diffID the pass deferred are left
// for checkDeferredNames.
func (t *table) checkNames() error {
	for _, e := range t.ordered {
		if !e.regular() {
			continue
		}
		want, ok := digestFromName(e.name)
		if !ok {
			continue
		}
		if sum, _ := sumOf(want); sum == e.sum {
			continue
		}
		if layerName(e.name) && e.deferred {
			t.unchecked = append(t.unchecked, e)
			continue
		}
		if layerName(e.name) && want == e.diffID() {
			continue
		}
		return fail(t.path, e.name, "%w: its name says %s but its content hashes to %s; the archive is corrupt or was altered", ErrDigestMismatch, want, e.digest())
	}
	return nil
}

// checkDeferredNames finishes checkNames once the images' layers are
// decompressed: an entry named by a digest that is neither its stored digest
// nor its diffID is refused, and so is one whose diffID was never computed
// because no image uses it as a layer (decompressing it could cost anything).
func (t *table) checkDeferredNames() error {
	for _, e := range t.unchecked {
		want, _ := digestFromName(e.name)
		switch {
		case e.deferred:
			return fail(t.path, e.name, "%w: its name says %s but its content hashes to %s, and no image uses it as a layer, so its diffID was not computed; the archive is corrupt or was altered", ErrDigestMismatch, want, e.digest())
		case want != e.diffID():
			return fail(t.path, e.name, "%w: its name says %s but its content hashes to %s; the archive is corrupt or was altered", ErrDigestMismatch, want, e.digest())
		}
	}
	return nil
}

// layerName reports whether an entry's name may give its diffID.
func layerName(name string) bool {
	return strings.HasSuffix(name, ".tar") || strings.HasSuffix(name, ".tar.gz")
}

// blob returns the entry for a descriptor's digest (blobs/<alg>/<hex>),
// checking its size when size ≥ 0.
func (t *table) blob(d digest.Digest, size int64, what string) (*entry, error) {
	if err := d.Validate(); err != nil {
		return nil, fail(t.path, "", "%w: %s has an invalid digest %q: %v", ErrBadManifest, what, d, err)
	}
	p := "blobs/" + d.Algorithm().String() + "/" + d.Encoded()
	e, err := t.resolve(p, what)
	if err != nil {
		return nil, err
	}
	if d.Algorithm() != digest.SHA256 {
		return nil, fail(t.path, p, "%w: %s uses digest algorithm %q; only sha256 is supported", ErrDigestMismatch, what, d.Algorithm())
	}
	if sum, _ := sumOf(d); sum != e.sum {
		return nil, fail(t.path, p, "%w: %s names %s but the blob hashes to %s", ErrDigestMismatch, what, d, e.digest())
	}
	if size >= 0 && e.size != size {
		return nil, fail(t.path, p, "%w: %s gives size %d but the blob has %d bytes", ErrDigestMismatch, what, size, e.size)
	}
	return e, nil
}

// jsonOf returns the kept JSON content of e.
func (t *table) jsonOf(e *entry, what string, max int64) ([]byte, error) {
	if e.json == nil {
		if e.jsonDropped || e.size > max {
			return nil, fail(t.path, e.name, "%w: %s is %d bytes, more than the %d-byte limit for JSON", ErrTooLarge, what, e.size, max)
		}
		return nil, fail(t.path, e.name, "%w: %s is not JSON", ErrBadManifest, what)
	}
	return e.json, nil
}
