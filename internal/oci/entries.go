package oci

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"strings"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
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
	// linear in its length and in the length of the links it follows.
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
	// notTar is why an uncompressed entry is not a tar stream; reported
	// only if the entry is used as a layer.
	notTar error
	// hardTarget is the regular entry a hard link links (set by place).
	hardTarget *entry
	// node is the entry's place in the extracted tree (set by place).
	node *node
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
	// tree is the file tree the entries extract to (tree.go).
	tree *tree
	// emptyTops are the index.json descriptors that lead to no image in
	// the archive, and topNames the names index.json gives each top-level
	// digest (set by walkIndex).
	emptyTops []ocispec.Descriptor
	topNames  map[digest.Digest][]string
	// inflate decompresses a deferred entry after the pass (scanner.inflate).
	inflate func(*entry) error
	// blobs are the entries of the images' configs, layers and stored
	// manifests, by digest (for Archive.OpenBlob).
	blobs map[digest.Digest]*entry
	// unchecked are claims of a digest, by a name, that only a deferred
	// entry's diffID can satisfy: checked once layers are decompressed.
	unchecked []claim
	// work counts what reading the archive's structure cost (work.go).
	work work
}

// claim is a path at which an entry is seen that claims a digest by its
// form.
type claim struct {
	e    *entry // the file the path leads to
	at   string // the path, as errors name it
	from *entry // the entry whose name or directory makes the claim
	want digest.Digest
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

// root reports whether a tar entry name is the archive's root ("./", ".").
func root(name string) bool {
	return name != "" && !strings.HasPrefix(name, "/") && path.Clean(name) == "."
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
	// ".." after a name: an extractor goes up from wherever that name
	// leads (a symbolic link, perhaps), a lexical reader cancels the name.
	named := false
	for _, part := range strings.Split(target, "/") {
		switch part {
		case "", ".":
		case "..":
			if named {
				return "", fmt.Errorf("%w: link target %q has \"..\" after a name: extractors and lexical readers resolve it differently; %s", ErrAmbiguous, target, resave)
			}
		default:
			named = true
		}
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
	if err := t.place(e); err != nil {
		return err
	}
	t.byName[e.name] = e
	t.ordered = append(t.ordered, e)
	return nil
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

// checkNames checks that every path that claims a digest by its form
// reads content hashing to it, as a file system reader opening it would: a
// regular entry named by a digest; a symbolic or hard link named by one
// (checked against the file it leads to); and every entry of a directory
// that a path ending in blobs/sha256 leads to through links (an alias of
// blobs/sha256: oci/layout and docker open blobs/sha256/<hex> there). A
// layer named <hex>.tar or <hex>.tar.gz may be named by its stored digest
// or by its diffID; where the pass deferred that diffID, the claim is left
// for checkDeferredNames.
func (t *table) checkNames() error {
	for _, e := range t.ordered {
		want, ok := digestFromName(e.name)
		if !ok {
			continue
		}
		if err := t.checkClaim(e, e.name, want); err != nil {
			return err
		}
	}
	aliases, err := t.blobDirAliases()
	if err != nil || len(aliases) == 0 {
		return err
	}
	for _, e := range t.ordered {
		n := e.node
		if aliases[n.parent] == "" {
			continue
		}
		want := digest.NewDigestFromEncoded(digest.SHA256, n.name())
		if want.Validate() != nil {
			continue
		}
		if err := t.checkClaim(e, aliases[n.parent]+"/"+n.name()+" (an alias of blobs/sha256)", want); err != nil {
			return err
		}
	}
	return nil
}

// checkClaim checks that entry e, seen at a path claiming digest want,
// reads content hashing to it. A link that leads nowhere claims nothing:
// it is an error only where something names it.
func (t *table) checkClaim(e *entry, at string, want digest.Digest) error {
	target := e
	switch {
	case e.regular():
	case e.typ == tar.TypeLink:
		target = e.hardTarget
	case e.typ == tar.TypeSymlink:
		r, err := t.resolve(e.name, "the link")
		if err != nil {
			return nil
		}
		target = r
	default:
		return nil
	}
	if target == nil || want == target.digest() {
		return nil
	}
	c := claim{e: target, at: at, from: e, want: want}
	if layerName(at) && target.deferred {
		t.unchecked = append(t.unchecked, c)
		return nil
	}
	if layerName(at) && want == target.diffID() {
		return nil
	}
	return c.mismatch(t.path)
}

// blobDirAliases finds the directories that a path ending in
// ".../blobs/sha256" leads to through symbolic links, other than those
// whose own path ends so (their entries claim digests by their names). The
// map's values are such a path, for errors.
func (t *table) blobDirAliases() (map[*node]string, error) {
	tr := t.treeOf()
	var out map[*node]string
	dirOf := func(n *node) (*node, error) {
		if n.e == nil || n.e.typ != tar.TypeSymlink {
			return n, nil
		}
		end := tr.link(n, 1)
		if end.err != nil {
			return nil, t.walkError(n.path, n.path, "the link", end.err)
		}
		return end.n, nil
	}
	for _, b := range t.ordered {
		bn := b.node
		if !strings.HasSuffix(bn.name(), "blobs") || (!bn.dir && b.typ != tar.TypeSymlink) {
			continue
		}
		if err := t.aliasFrom(bn, dirOf, &out); err != nil {
			return nil, err
		}
	}
	// Directories no entry declares (implied by names) can be "blobs" too.
	for k, n := range tr.nodes {
		if n.e == nil && strings.HasSuffix(k.name, "blobs") {
			if err := t.aliasFrom(n, dirOf, &out); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// aliasFrom adds the directory blobs node bn's sha256 child leads to, when
// that is an alias.
func (t *table) aliasFrom(bn *node, dirOf func(*node) (*node, error), out *map[*node]string) error {
	d, err := dirOf(bn)
	if err != nil || d == nil || !d.dir {
		return err
	}
	s := t.tree.nodes[nodeKey{d, "sha256"}]
	if s == nil {
		return nil
	}
	r, err := dirOf(s)
	if err != nil || r == nil || !r.dir || strings.HasSuffix(r.path, "blobs/sha256") {
		return err
	}
	if *out == nil {
		*out = map[*node]string{}
	}
	if (*out)[r] == "" {
		(*out)[r] = joinPath(bn.path, "sha256")
	}
	return nil
}

// checkDeferredNames finishes checkNames once the images' layers are
// decompressed: an entry named by a digest that is neither its stored digest
// nor its diffID is refused, and so is one whose diffID was never computed
// because no image uses it as a layer (decompressing it could cost anything).
func (t *table) checkDeferredNames() error {
	for _, c := range t.unchecked {
		switch {
		case c.e.deferred:
			return fail(t.path, c.from.name, "%w: %s says %s but its content hashes to %s, and no image uses it as a layer, so its diffID was not computed; the archive is corrupt or was altered", ErrDigestMismatch, c.at, c.want, c.e.digest())
		case c.want != c.e.diffID():
			return c.mismatch(t.path)
		}
	}
	return nil
}

// mismatch is the error for a claim the content does not satisfy.
func (c claim) mismatch(archive string) error {
	if c.e != c.from || c.at != c.from.name {
		return fail(archive, c.from.name, "%w: %s says %s but leads to %q, whose content hashes to %s; the archive is corrupt or was altered", ErrDigestMismatch, c.at, c.want, c.e.name, c.e.digest())
	}
	return fail(archive, c.from.name, "%w: its name says %s but its content hashes to %s; the archive is corrupt or was altered", ErrDigestMismatch, c.want, c.e.digest())
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
