package oci

import (
	"archive/tar"
	"errors"
	"fmt"
	"strings"
)

// The file tree an archive extracts to.
//
// docker load (moby's go-archive Unpack into a temporary directory, then
// paths opened there) and skopeo/podman oci-archive: (containers/storage's
// Untar, then oci/layout opening blobs/<alg>/<hex>) read an archive through
// a file system: an entry is written through whatever its parent path
// resolves to, a later entry replaces an earlier one (a directory
// included, with its contents), a hard link is link(2) of an existing
// path (to a symbolic link it links the symbolic link itself), and paths
// are opened following symbolic links component by component. ggcr's
// tarball package and containers/image's docker-archive: instead match
// header names lexically and follow links by joining names. Both readings
// agree only when no entry is written through a link, no entry replaces a
// directory, and every hard link names an earlier regular file; add
// refuses the rest (docs/archives.md, "Archive rules"), so that the tree below is
// what every extractor builds, and resolve walks it as open(2) would.

// node is one name of the tree: a directory (explicit or implied by the
// names of other entries) or the entry at that name.
type node struct {
	parent *node
	dir    bool
	// e is the entry at this name; nil for a directory no entry declares.
	e *entry
	// path is the node's archive path (a substring of an entry name).
	path string
	// up and down are a symbolic link's target relative to its directory:
	// up parents ("..") then the path down. A link is resolved from where
	// it is, as open(2) does, not from the root.
	up   int
	down string
}

// relative returns target (an archive path) relative to directory dir (an
// archive path, "" for the root): how many levels up, then the path down.
func relative(dir, target string) (int, string) {
	common := 0 // bytes of dir that are whole components of target's start
	for i := 0; i <= len(dir) && i <= len(target); i++ {
		// dir[:i] == target[:i] here: the loop stops at the first difference.
		if (i == len(dir) || dir[i] == '/') && (i == len(target) || target[i] == '/') {
			common = i
		}
		if i == len(dir) || i == len(target) || dir[i] != target[i] {
			break
		}
	}
	up := 0
	if rest := dir[common:]; rest != "" {
		up = strings.Count(strings.TrimPrefix(rest, "/"), "/") + 1
	}
	return up, strings.TrimPrefix(target[common:], "/")
}

// nodeKey names a child of a directory node.
type nodeKey struct {
	parent *node
	name   string
}

// maxDirs bounds the directories the tree holds (memory), counted apart
// from the entries.
const maxDirs = maxEntries

// tree is the extracted-tree view of a table.
type tree struct {
	root  node
	nodes map[nodeKey]*node
	// dirPaths finds a directory node by its archive path.
	dirPaths map[string]*node
	dirs     int
	// links remembers where each symbolic link resolved so far leads;
	// busy holds the links being resolved (a loop comes back to one).
	links map[*node]linkEnd
	busy  map[*node]bool
	// work counts the look-ups (the table's).
	work *work
}

func (t *table) treeOf() *tree {
	if t.tree == nil {
		t.tree = &tree{root: node{dir: true}, nodes: map[nodeKey]*node{}, dirPaths: map[string]*node{}, work: &t.work}
	}
	return t.tree
}

// The tree's look-ups, counted: what placing and resolving cost is tested by
// counting them and the bytes of their keys (hashing a key costs its
// length), never by timing it.

// child returns the node named name in directory parent, nil if none.
func (tr *tree) child(parent *node, name string) *node {
	tr.work.lookup(name)
	return tr.nodes[nodeKey{parent, name}]
}

// dirAt returns the directory node at archive path p, nil if none.
func (tr *tree) dirAt(p string) *node {
	tr.work.lookup(p)
	return tr.dirPaths[p]
}

// entryAt returns the entry named p.
func (t *table) entryAt(p string) (*entry, bool) {
	t.work.lookup(p)
	e, ok := t.byName[p]
	return e, ok
}

// place puts entry e (already checked for duplicates) into the tree, in
// archive order, refusing what extractors and lexical readers would read
// differently.
func (t *table) place(e *entry) error {
	tr := t.treeOf()
	name := e.name
	dirPath, last := "", name
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		dirPath, last = name[:i], name[i+1:]
	}
	cur, err := t.dirNode(dirPath, e)
	if err != nil {
		return err
	}
	if old := tr.child(cur, last); old != nil {
		// table.add let only a directory repeat, or an explicit directory
		// follow the directory other names imply.
		if e.typ != tar.TypeDir {
			return fail(t.path, e.name, "%w: a %s replaces the directory %q that earlier entries are in: docker and podman extract it after deleting what was written there, a lexical reader still finds the earlier entries; %s", ErrAmbiguous, kindOf(e), e.name, resave)
		}
		if old.e == nil {
			old.e = e
		}
		e.node = old
		return nil
	}
	n := &node{parent: cur, dir: e.typ == tar.TypeDir, e: e, path: name}
	if n.dir {
		tr.dirPaths[name] = n
	}
	if e.typ == tar.TypeSymlink {
		n.up, n.down = relative(cur.path, e.linkname)
	}
	if e.typ == tar.TypeLink {
		target, ok := t.entryAt(e.linkname)
		switch {
		case !ok:
			return fail(t.path, e.name, "%w: hard link to %q, which is not an earlier entry of the archive: extraction (link(2) of an existing file) fails or links another file, and lexical readers disagree; %s", ErrAmbiguous, e.linkname, resave)
		case target.typ == tar.TypeSymlink:
			return fail(t.path, e.name, "%w: hard link to the symbolic link %q: extraction links the symbolic link itself, whose target then resolves from the hard link's directory, lexical readers resolve it from the link's; %s", ErrAmbiguous, e.linkname, resave)
		case target.typ == tar.TypeLink:
			e.hardTarget = target.hardTarget
		case target.regular():
			e.hardTarget = target
		default:
			return fail(t.path, e.name, "%w: hard link to %q, a %s, not a file; %s", ErrAmbiguous, e.linkname, kindOf(target), resave)
		}
	}
	tr.nodes[nodeKey{cur, last}] = n
	e.node = n
	return nil
}

// dirNode returns the directory node at archive path p ("" is the root),
// creating the directories no entry declared; a non-directory on the way is
// an error for entry e. Each directory is created once and then found by
// its path with one map look-up, so placing an entry costs time linear in
// its name's length however deep it is.
func (t *table) dirNode(p string, e *entry) (*node, error) {
	tr := t.treeOf()
	if p == "" {
		return &tr.root, nil
	}
	if n := tr.dirAt(p); n != nil {
		return n, nil
	}
	if old, ok := t.entryAt(p); ok {
		return nil, t.throughNonDir(e, old.node)
	}
	parentPath, comp := "", p
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		parentPath, comp = p[:i], p[i+1:]
	}
	parent, err := t.dirNode(parentPath, e)
	if err != nil {
		return nil, err
	}
	if tr.dirs >= maxDirs {
		return nil, fail(t.path, e.name, "%w: more than %d directories", ErrTooLarge, maxDirs)
	}
	tr.dirs++
	n := &node{parent: parent, dir: true, path: p}
	tr.nodes[nodeKey{parent, comp}] = n
	tr.dirPaths[p] = n
	return n, nil
}

// resave is the advice every archive-rules refusal ends with.
const resave = "re-save the image with the tool that produced it (docker save, podman save, skopeo copy, crane pull, buildx --output type=oci or type=docker) and do not edit the archive"

// throughNonDir is the error for an entry whose parent path is not a
// directory of the tree.
func (t *table) throughNonDir(e *entry, parent *node) error {
	if parent.e != nil && parent.e.typ == tar.TypeSymlink {
		return fail(t.path, e.name, "%w: the entry is written through the symbolic link %q: extractors write it where the link points, lexical readers look it up under its own name; %s", ErrAmbiguous, parent.path, resave)
	}
	return fail(t.path, e.name, "%w: the entry's parent %q is a %s, not a directory: extraction fails or writes elsewhere; %s", ErrAmbiguous, parent.path, kindOf(parent.e), resave)
}

// kindOf names an entry's type for errors.
func kindOf(e *entry) string {
	switch {
	case e == nil:
		return "directory"
	case e.regular():
		return "regular file"
	case e.typ == tar.TypeSymlink:
		return "symbolic link"
	case e.typ == tar.TypeLink:
		return "hard link"
	case e.typ == tar.TypeDir:
		return "directory"
	}
	return fmt.Sprintf("tar entry of type %q", string(e.typ))
}

// resolve finds the regular entry a path names, as open(2) would in the
// extracted tree: component by component, following symbolic links (at
// most 40 on the way, a loop is an error) and hard links. what says who
// named it (for errors). Each component is looked up once, and each
// symbolic link is resolved once per scan (tree.links keeps where it
// leads), so the cost is linear in the bytes walked.
func (t *table) resolve(name, what string) (*entry, error) {
	clean, err := cleanName(name)
	if err != nil {
		return nil, fail(t.path, name, "%s: %w", what, err)
	}
	n, _, werr := t.treeOf().walk(clean, 0)
	if werr != nil {
		return nil, t.walkError(name, clean, what, werr)
	}
	e := n.e
	switch {
	case n.dir:
		return nil, fail(t.path, name, "%w: %s names %q, which is a directory", ErrNotFile, what, clean)
	case e.regular():
		return e, nil
	case e.typ == tar.TypeLink && e.hardTarget != nil:
		return e.hardTarget, nil
	}
	return nil, fail(t.path, name, "%w: %s names %q, a tar entry of type %q", ErrNotFile, what, n.path, string(e.typ))
}

// walkErr is why a walk failed: kind is ErrMissingBlob (at is missing),
// ErrNotFile (at is not a directory) or ErrLinkLoop (at is the link where
// the walk gave up).
type walkErr struct {
	kind error
	at   *node
	path string
}

func (t *table) walkError(name, clean, what string, w *walkErr) error {
	switch {
	case errors.Is(w.kind, ErrLinkLoop):
		return fail(t.path, name, "%w: %s names a path whose links do not end (loop at %q)", ErrLinkLoop, what, w.path)
	case errors.Is(w.kind, ErrNotFile):
		return fail(t.path, name, "%w: %s names %q, which passes through %q, a %s", ErrNotFile, what, clean, w.path, kindOf(w.at.e))
	case w.path == clean:
		return fail(t.path, name, "%w: %s names %q, which is not in the archive", ErrMissingBlob, what, clean)
	}
	return fail(t.path, name, "%w: %s names %q, which resolves to %q, which is not in the archive", ErrMissingBlob, what, clean, w.path)
}

// linkEnd is where a symbolic link leads and how many links that takes
// (itself included).
type linkEnd struct {
	n    *node
	hops int
	err  *walkErr
}

// walk resolves an archive path from the root; hops links were followed
// before it. It returns the node reached and the links followed in all.
func (tr *tree) walk(p string, hops int) (*node, int, *walkErr) {
	return tr.walkFrom(&tr.root, p, hops)
}

// walkFrom resolves path p from directory node cur.
func (tr *tree) walkFrom(cur *node, p string, hops int) (*node, int, *walkErr) {
	// A directory an entry's name created is real (no link on its path),
	// and so are its parents: jump to the deepest real directory p starts
	// with, found by binary search over p's slashes.
	var slashes []int
	for i := 0; i < len(p); i++ {
		if p[i] == '/' {
			slashes = append(slashes, i)
		}
	}
	lo, hi := 0, len(slashes) // slashes[:lo] are real, slashes[hi:] are not
	var deepest *node
	for lo < hi {
		mid := (lo + hi) / 2
		if d := tr.dirAt(joinPath(cur.path, p[:slashes[mid]])); d != nil {
			deepest, lo = d, mid+1
		} else {
			hi = mid
		}
	}
	if deepest != nil {
		cur, p = deepest, p[slashes[lo-1]+1:]
	}
	for p != "" {
		comp, rest, _ := strings.Cut(p, "/")
		p = rest
		if !cur.dir {
			return nil, hops, &walkErr{kind: ErrNotFile, at: cur, path: cur.path}
		}
		n := tr.child(cur, comp)
		if n == nil {
			return nil, hops, &walkErr{kind: ErrMissingBlob, path: joinPath(cur.path, comp)}
		}
		if n.e != nil && n.e.typ == tar.TypeSymlink {
			end := tr.link(n, hops+1)
			if end.err != nil {
				return nil, hops, end.err
			}
			if hops += end.hops; hops > maxLinkHops {
				return nil, hops, &walkErr{kind: ErrLinkLoop, path: n.path}
			}
			n = end.n
		}
		cur = n
	}
	return cur, hops, nil
}

// link resolves symbolic link n, reached after base-1 other links.
// Successes and failures other than loops are remembered: they do not
// depend on the way n was reached.
func (tr *tree) link(n *node, base int) linkEnd {
	if end, ok := tr.links[n]; ok {
		return end
	}
	if base > maxLinkHops || tr.busy[n] {
		return linkEnd{err: &walkErr{kind: ErrLinkLoop, path: n.path}}
	}
	if tr.links == nil {
		tr.links, tr.busy = map[*node]linkEnd{}, map[*node]bool{}
	}
	tr.busy[n] = true
	from := n.parent
	for range n.up {
		from = from.parent
	}
	final, hops, err := tr.walkFrom(from, n.down, base)
	delete(tr.busy, n)
	end := linkEnd{n: final, hops: hops - base + 1, err: err}
	if err == nil || !errors.Is(err.kind, ErrLinkLoop) {
		tr.links[n] = end
	}
	return end
}

// name is the node's last path component.
func (n *node) name() string {
	if n.parent == nil || n.parent.path == "" {
		return n.path
	}
	return n.path[len(n.parent.path)+1:]
}

// joinPath joins a directory path (empty for the root) and a name.
func joinPath(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}

// Mode type bits (the S_IFMT part of a tar header's mode).
const (
	modeTypeMask = 0o170000
	modeDir      = 0o040000
	modeFifo     = 0o010000
	modeReg      = 0o100000
	modeSymlink  = 0o120000
	modeBlock    = 0o060000
	modeChar     = 0o020000
)

// headerType refuses a header whose mode says another file type than its
// typeflag. Writers set no type bits (GNU tar, Go's archive/tar) or the
// ones of the typeflag (older writers); docker and containerd go by the
// typeflag, containers/image's docker-archive: reader by the mode (a
// typeflag '0' entry with mode 0120000 and a linkname is a symbolic link
// to it).
func headerType(h *tar.Header) error {
	bits := h.Mode &^ 0o7777
	if bits == 0 {
		return nil
	}
	var want int64
	switch h.Typeflag {
	case tar.TypeReg, tar.TypeRegA, tar.TypeCont, tar.TypeLink: //nolint:staticcheck // old writers use TypeRegA
		want = modeReg
	case tar.TypeSymlink:
		want = modeSymlink
	case tar.TypeDir:
		want = modeDir
	case tar.TypeChar:
		want = modeChar
	case tar.TypeBlock:
		want = modeBlock
	case tar.TypeFifo:
		want = modeFifo
	}
	if bits == want {
		return nil
	}
	return fmt.Errorf("%w: typeflag %q but mode %#o: docker and containerd go by the typeflag, containers/image by the mode, so they read different files; %s", ErrAmbiguous, string(h.Typeflag), h.Mode, resave)
}
