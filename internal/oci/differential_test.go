package oci_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	digest "github.com/opencontainers/go-digest"

	"github.com/oci-attest/oci-attest/internal/oci"
	"github.com/oci-attest/oci-attest/internal/oci/ocitest"
)

// The differential property (docs/archives.md, "Archive rules"): for every archive
// Scan accepts, each real loader either refuses it or reads the images
// Scan read — the same config digests and layers, in order. The loaders
// modelled here, in process (fast enough for a fuzz loop):
//   - extraction to a file system as docker load (moby go-archive Unpack)
//     and podman's oci-archive: (containers/storage Untar) do it, then
//     manifest.json, index.json and the blobs read from the directory;
//   - go-containerregistry's tarball.Image (docker archives) and its
//     layout package on the extracted directory (OCI layouts).
// TestDifferentialReplay adds skopeo and GNU tar on a fixed corpus.

// seen is what one loader read for one image.
type seen struct {
	config  digest.Digest
	layers  []digest.Digest // stored digests
	diffIDs []digest.Digest
}

func (s seen) String() string {
	return fmt.Sprintf("config %s, layers %v, diffIDs %v", s.config, s.layers, s.diffIDs)
}

func scanned(img oci.Image) seen {
	s := seen{config: img.ImageID, diffIDs: img.DiffIDs}
	for _, l := range img.Layers {
		s.layers = append(s.layers, l.Digest)
	}
	return s
}

func (s seen) key() string { return fmt.Sprint(s.config, s.layers) }

// sameAsGGCRTarball compares the scanner's image with ggcr's tarball
// reading of it: ggcr reports, for a layer stored uncompressed, the digest
// of the gzip stream it would push, so stored digests are compared only
// for layers stored compressed (ours differ from their diffIDs).
func (s seen) sameAsGGCRTarball(g seen) bool {
	if s.config != g.config || !slices.Equal(s.diffIDs, g.diffIDs) || len(s.layers) != len(g.layers) {
		return false
	}
	for i := range s.layers {
		if s.layers[i] != s.diffIDs[i] && s.layers[i] != g.layers[i] {
			return false
		}
	}
	return true
}

// extract writes an archive into dir as moby's go-archive Unpack does
// (through os.Root): parents created and followed through symbolic links,
// an existing name replaced (a directory merged with a directory), hard
// links made with link(2) of an existing name, symbolic links stored as
// they are. An error is the extractor refusing the archive.
func extract(data []byte, dir string) error {
	data, err := plainTar(data) // docker load decompresses an archive compressed as a whole
	if err != nil {
		return err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if hdr.Typeflag == tar.TypeXGlobalHeader {
			continue
		}
		name := path.Clean(strings.TrimLeft(hdr.Name, "/"))
		if name == "." {
			continue
		}
		if !filepath.IsLocal(name) {
			return fmt.Errorf("entry %q leaves the directory", hdr.Name)
		}
		if d := path.Dir(name); d != "." {
			if err := root.MkdirAll(d, 0o755); err != nil {
				return err
			}
		}
		if fi, err := root.Lstat(name); err == nil && (!fi.IsDir() || hdr.Typeflag != tar.TypeDir) {
			if err := root.RemoveAll(name); err != nil {
				return err
			}
		}
		switch hdr.Typeflag {
		case tar.TypeDir:
			if fi, err := root.Lstat(name); err != nil || !fi.IsDir() {
				if err := root.Mkdir(name, 0o755); err != nil {
					return err
				}
			}
		case tar.TypeReg, tar.TypeRegA: //nolint:staticcheck // old writers
			f, err := root.OpenFile(name, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
			if err != nil {
				return err
			}
			_, err = io.Copy(f, tr)
			f.Close()
			if err != nil {
				return err
			}
		case tar.TypeSymlink:
			if err := root.Symlink(hdr.Linkname, name); err != nil {
				return err
			}
		case tar.TypeLink:
			target := path.Clean(strings.TrimLeft(hdr.Linkname, "/"))
			if !filepath.IsLocal(target) {
				return fmt.Errorf("hard link %q leaves the directory", hdr.Linkname)
			}
			if err := root.Link(target, name); err != nil {
				return err
			}
		}
	}
}

// readFS reads a file of an extracted archive, following symbolic links
// inside it (as docker's safePath and oci/layout's os.Open do).
func readFS(dir, p string) ([]byte, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	f, err := root.Open(path.Clean(p))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", p)
	}
	return io.ReadAll(io.LimitReader(f, 64<<20))
}

// diffIDOf hashes a layer's bytes after decompression (gzip or zstd, as
// sniffed), as docker's and containerd's appliers do.
func diffIDOf(b []byte) (digest.Digest, error) {
	var r io.Reader = bytes.NewReader(b)
	switch {
	case bytes.HasPrefix(b, []byte("\x1f\x8b")):
		zr, err := gzip.NewReader(r)
		if err != nil {
			return "", err
		}
		r = zr
	case bytes.HasPrefix(b, []byte("\x28\xb5\x2f\xfd")):
		zr, err := zstd.NewReader(r)
		if err != nil {
			return "", err
		}
		defer zr.Close()
		r = zr
	}
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return "", err
	}
	return digest.NewDigest(digest.SHA256, h), nil
}

// fsDocker reads manifest.json's images from an extracted archive as
// docker's classic store loads them (moby image/tarexport Load): config and
// layers by path, each layer's diffID checked against the config. An image
// it cannot load is nil (docker refuses the archive).
func fsDocker(dir string) ([]*seen, []byte, error) {
	raw, err := readFS(dir, "manifest.json")
	if err != nil {
		return nil, nil, err
	}
	var m []struct {
		Config string
		Layers []string
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, raw, err
	}
	out := make([]*seen, len(m))
	for i, e := range m {
		out[i] = fsImage(dir, e.Config, e.Layers)
	}
	return out, raw, nil
}

func fsImage(dir, config string, layers []string) *seen {
	cb, err := readFS(dir, config)
	if err != nil {
		return nil
	}
	var cfg struct {
		RootFS struct {
			DiffIDs []digest.Digest `json:"diff_ids"`
		} `json:"rootfs"`
	}
	if json.Unmarshal(cb, &cfg) != nil || len(cfg.RootFS.DiffIDs) != len(layers) {
		return nil
	}
	s := &seen{config: sha(cb)}
	for i, lp := range layers {
		lb, err := readFS(dir, lp)
		if err != nil {
			return nil
		}
		d, err := diffIDOf(lb)
		if err != nil || d != cfg.RootFS.DiffIDs[i] {
			return nil
		}
		s.layers, s.diffIDs = append(s.layers, sha(lb)), append(s.diffIDs, d)
	}
	return s
}

// fsIndex walks index.json of an extracted archive as containerd's
// importer and containers/image's oci/layout do: blobs by digest under
// blobs/sha256 (a blob that does not hash to its digest is missing, as
// in a content store), nested indexes followed, attestation manifests and
// artifacts skipped. It returns the complete images it reaches.
func fsIndex(dir string) ([]seen, []byte, error) {
	raw, err := readFS(dir, "index.json")
	if err != nil {
		return nil, nil, err
	}
	blob := func(d digest.Digest) []byte {
		if d.Validate() != nil || d.Algorithm() != digest.SHA256 {
			return nil
		}
		b, err := readFS(dir, "blobs/sha256/"+d.Encoded())
		if err != nil || sha(b) != d {
			return nil
		}
		return b
	}
	var out []seen
	done := map[digest.Digest]bool{}
	var walk func(b []byte, depth int)
	walk = func(b []byte, depth int) {
		var m struct {
			MediaType string `json:"mediaType"`
			Manifests []struct {
				MediaType   string            `json:"mediaType"`
				Digest      digest.Digest     `json:"digest"`
				Annotations map[string]string `json:"annotations"`
				Platform    *struct {
					OS           string `json:"os"`
					Architecture string `json:"architecture"`
				} `json:"platform"`
			} `json:"manifests"`
			Config *struct {
				MediaType string        `json:"mediaType"`
				Digest    digest.Digest `json:"digest"`
			} `json:"config"`
			Layers []struct {
				Digest digest.Digest `json:"digest"`
			} `json:"layers"`
		}
		if depth > 8 || json.Unmarshal(b, &m) != nil {
			return
		}
		if m.Config != nil {
			if m.Config.MediaType != "application/vnd.oci.image.config.v1+json" && m.Config.MediaType != "application/vnd.docker.container.image.v1+json" {
				return
			}
			cb := blob(m.Config.Digest)
			if cb == nil {
				return
			}
			s := seen{config: m.Config.Digest}
			for _, l := range m.Layers {
				lb := blob(l.Digest)
				if lb == nil {
					return
				}
				d, err := diffIDOf(lb)
				if err != nil {
					return
				}
				s.layers, s.diffIDs = append(s.layers, l.Digest), append(s.diffIDs, d)
			}
			out = append(out, s)
			return
		}
		for _, d := range m.Manifests {
			if notImage(d.Annotations, d.Platform != nil && d.Platform.OS == "unknown" && d.Platform.Architecture == "unknown") || done[d.Digest] {
				continue
			}
			done[d.Digest] = true
			if cb := blob(d.Digest); cb != nil {
				walk(cb, depth+1)
			}
		}
	}
	walk(raw, 0)
	return out, raw, nil
}

// notImage says an index descriptor is a buildx attestation or a
// containerd-exported referrer, which containerd's import does not make an
// image of (client/import.go) unless it is named.
func notImage(ann map[string]string, unknownPlatform bool) bool {
	if ann["io.containerd.image.name"] != "" || ann["org.opencontainers.image.ref.name"] != "" {
		return false
	}
	return ann["vnd.docker.reference.type"] != "" || ann["io.containerd.manifest.subject"] != "" || unknownPlatform
}

// ggcrTarball reads image i of a docker archive with ggcr's tarball
// package; nil when ggcr refuses it (or cannot select it: ggcr selects by
// tag only).
func ggcrTarball(data []byte, a *oci.Archive, i int) *seen {
	var tag *name.Tag
	switch {
	case len(a.Images[i].RepoTags) > 0:
		tg, err := name.NewTag(a.Images[i].RepoTags[0])
		if err != nil {
			return nil
		}
		tag = &tg
	case len(a.Images) > 1:
		return nil
	}
	img, err := tarball.Image(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }, tag)
	if err != nil {
		return nil
	}
	return ggcrSeen(img)
}

func ggcrSeen(img v1.Image) *seen {
	raw, err := img.RawConfigFile()
	if err != nil {
		return nil
	}
	ls, err := img.Layers()
	if err != nil {
		return nil
	}
	s := &seen{config: sha(raw)}
	for _, l := range ls {
		d, err := l.Digest()
		if err != nil {
			return nil
		}
		rc, err := l.Uncompressed()
		if err != nil {
			return nil
		}
		h := sha256.New()
		_, err = io.Copy(h, rc)
		rc.Close()
		if err != nil {
			return nil
		}
		s.layers, s.diffIDs = append(s.layers, digest.Digest(d.String())), append(s.diffIDs, digest.NewDigest(digest.SHA256, h))
	}
	return s
}

// ggcrLayout walks an extracted OCI layout with ggcr's layout package.
func ggcrLayout(dir string) ([]seen, error) {
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, err
	}
	var out []seen
	var walk func(ii v1.ImageIndex, depth int) error
	walk = func(ii v1.ImageIndex, depth int) error {
		im, err := ii.IndexManifest()
		if err != nil || depth > 8 {
			return fmt.Errorf("index (depth %d): %w", depth, err)
		}
		for _, d := range im.Manifests {
			if notImage(d.Annotations, d.Platform != nil && d.Platform.OS == "unknown" && d.Platform.Architecture == "unknown") {
				continue
			}
			switch {
			case d.MediaType.IsIndex():
				child, err := ii.ImageIndex(d.Digest)
				if err != nil {
					continue // not in the layout
				}
				if err := walk(child, depth+1); err != nil {
					return err
				}
			case d.MediaType.IsImage():
				img, err := ii.Image(d.Digest)
				if err != nil {
					continue
				}
				if cf, err := img.Manifest(); err != nil || (cf.Config.MediaType != "application/vnd.oci.image.config.v1+json" && cf.Config.MediaType != "application/vnd.docker.container.image.v1+json") {
					continue
				}
				if s := ggcrSeen(img); s != nil {
					out = append(out, *s)
				}
			}
		}
		return nil
	}
	if err := walk(idx, 0); err != nil {
		return nil, err
	}
	return out, nil
}

// checkDifferential checks the property for an archive Scan accepted,
// after extracting it into dir with extractor (the in-process model, or
// GNU tar); extractor's error means that loader refuses the archive.
func checkDifferential(t *testing.T, data []byte, a *oci.Archive, dir string, extractor func(data []byte, dir string) error) {
	t.Helper()
	var want []seen
	for _, img := range a.Images {
		want = append(want, scanned(img))
	}
	// ggcr's tarball reads the tar itself.
	if a.Format == oci.FormatDocker {
		for i := range a.Images {
			if got := ggcrTarball(data, a, i); got != nil && !want[i].sameAsGGCRTarball(*got) {
				t.Errorf("ggcr tarball.Image reads image %d as %s; the scanner read %s", i, got, want[i])
			}
		}
	}
	if err := extractor(data, dir); err != nil {
		return // this extractor refuses the archive: docker and podman fail
	}
	// A loader that opens a FIFO or a device waits or reads something else
	// than the archive: such files read as missing here.
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.Type().IsRegular() && !d.IsDir() && d.Type()&os.ModeSymlink == 0 {
			os.Remove(p)
		}
		return nil
	})
	if a.Format == oci.FormatDocker {
		got, raw, err := fsDocker(dir)
		if err == nil && !bytes.Equal(raw, a.ManifestRaw) {
			t.Errorf("extracted manifest.json differs from the one the scanner read:\n%s\n%s", raw, a.ManifestRaw)
		}
		if err == nil && len(got) == len(want) {
			for i := range got {
				if got[i] != nil && got[i].key() != want[i].key() {
					t.Errorf("docker (extracted, manifest.json) reads image %d as %s; the scanner read %s", i, got[i], want[i])
				}
			}
		} else if err == nil {
			t.Errorf("extracted manifest.json has %d images, the scanner %d", len(got), len(want))
		}
	}
	if _, err := os.Lstat(filepath.Join(dir, "index.json")); err != nil {
		return
	}
	got, raw, err := fsIndex(dir)
	if err != nil {
		return
	}
	if a.Format == oci.FormatOCILayout && !bytes.Equal(raw, a.ManifestRaw) {
		t.Errorf("extracted index.json differs from the one the scanner read")
	}
	if _, lerr := os.Lstat(filepath.Join(dir, "oci-layout")); a.Format == oci.FormatDocker && lerr != nil {
		return // containerd reads manifest.json without oci-layout
	}
	wantKeys, gotKeys := keysOf(want), keysOf(got)
	if !slices.Equal(wantKeys, gotKeys) {
		t.Errorf("containerd/oci-archive (extracted, index.json) reach images\n%v\nthe scanner read\n%v", got, want)
	}
	if lg, err := ggcrLayout(dir); err == nil && !slices.Equal(keysOf(lg), wantKeys) {
		t.Errorf("ggcr layout reaches images\n%v\nthe scanner read\n%v", lg, want)
	}
}

func keysOf(ss []seen) []string {
	var ks []string
	for _, s := range ss {
		ks = append(ks, s.key())
	}
	slices.Sort(ks)
	return slices.Compact(ks)
}

// differentialSeeds are the archives mutations start from: the committed
// fixtures' entries, and each as GNU tar's tar -C DIR . writes it (a "./"
// root entry, every name under "./").
func differentialSeeds(tb testing.TB) [][]ocitest.Entry {
	var out [][]ocitest.Entry
	for _, a := range ocitest.Archives() {
		es, err := ocitest.Entries(a.Layout, a.Images...)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, es, dotted(es))
	}
	return out
}

// program reads a mutation program: bytes, then zeros.
type program struct {
	b []byte
	i int
}

func (p *program) next() int {
	if p.i >= len(p.b) {
		return 0
	}
	p.i++
	return int(p.b[p.i-1])
}

func (p *program) pick(n int) int {
	if n <= 0 {
		return 0
	}
	return p.next() % n
}

// mutate applies the mutation program prog to one of seeds: header fields
// (typeflag, mode, linkname, name), duplicates, order, deletions, added
// links, and edits of manifest.json and index.json. The same program
// always gives the same archive.
func mutate(seeds [][]ocitest.Entry, prog []byte) []byte {
	p := &program{b: prog}
	es := slices.Clone(seeds[p.pick(len(seeds))])
	names := func() []string {
		var ns []string
		for _, e := range es {
			ns = append(ns, strings.TrimSuffix(e.Name, "/"))
		}
		return ns
	}
	for ops := 1 + p.pick(4); ops > 0; ops-- {
		if len(es) == 0 {
			break
		}
		i, ns := p.pick(len(es)), names()
		other := ns[p.pick(len(ns))]
		switch p.pick(11) {
		case 0: // typeflag
			es[i].Type = []byte{tar.TypeReg, tar.TypeLink, tar.TypeSymlink, tar.TypeDir, tar.TypeFifo}[p.pick(5)]
			if es[i].Type == tar.TypeLink || es[i].Type == tar.TypeSymlink {
				es[i].Linkname = linkTo(es[i].Name, other, es[i].Type, p.pick(2) == 0)
			}
		case 1: // mode
			es[i].Mode = []int64{0o644, 0o100644, 0o120777, 0o40755, 0o10644, 0o140644}[p.pick(6)]
		case 2: // linkname
			es[i].Linkname = linkTo(es[i].Name, other, es[i].Type, p.pick(2) == 0)
		case 3: // name
			switch p.pick(3) {
			case 0:
				es[i].Name = other
			case 1:
				es[i].Name = other + "/" + path.Base(es[i].Name)
			default:
				es[i].Name = path.Join(path.Dir(other), path.Base(es[i].Name))
			}
		case 4: // duplicate
			j := p.pick(len(es) + 1)
			es = slices.Insert(es, j, es[i])
		case 5: // order
			j := p.pick(len(es))
			es[i], es[j] = es[j], es[i]
		case 6: // delete
			es = slices.Delete(es, i, i+1)
		case 7: // a symbolic link
			at := []string{other, "blobs", path.Dir(other) + "/x", "x"}[p.pick(4)]
			es = slices.Insert(es, p.pick(len(es)+1), ocitest.Entry{Name: at, Type: tar.TypeSymlink, Linkname: linkTo(at, ns[p.pick(len(ns))], tar.TypeSymlink, true)})
		case 8: // a hard link
			es = slices.Insert(es, p.pick(len(es)+1), ocitest.Entry{Name: path.Join(path.Dir(other), "h"), Type: tar.TypeLink, Linkname: ns[p.pick(len(ns))]})
		case 9:
			editJSON(es, "manifest.json", p, ns)
		case 10:
			editJSON(es, "index.json", p, ns)
		}
	}
	return tarLoose(es)
}

// linkTo is a link target at name pointing to target: relative to name's
// directory for a symbolic link (or, with abs, the archive path as is),
// the archive path for a hard link.
func linkTo(at, target string, typ byte, rel bool) string {
	if typ != tar.TypeSymlink || !rel {
		return target
	}
	up := strings.Repeat("../", strings.Count(path.Clean(at), "/"))
	return up + target
}

// editJSON edits a manifest.json or index.json entry: swaps, drops and
// duplicates list items, moves tags and annotations, points paths and
// digests at other entries.
func editJSON(es []ocitest.Entry, file string, p *program, ns []string) {
	i := slices.IndexFunc(es, func(e ocitest.Entry) bool { return path.Clean(e.Name) == file })
	if i < 0 {
		return
	}
	var list []map[string]any
	var top map[string]any
	if file == "index.json" {
		if json.Unmarshal(es[i].Body, &top) != nil {
			return
		}
		ms, _ := top["manifests"].([]any)
		for _, m := range ms {
			if mm, ok := m.(map[string]any); ok {
				list = append(list, mm)
			}
		}
	} else if json.Unmarshal(es[i].Body, &list) != nil {
		return
	}
	if len(list) == 0 {
		return
	}
	a, b := p.pick(len(list)), p.pick(len(list))
	other := ns[p.pick(len(ns))]
	switch p.pick(6) {
	case 0:
		list = slices.Delete(list, a, a+1)
	case 1:
		list = slices.Insert(list, b, list[a])
	case 2:
		list[a], list[b] = list[b], list[a]
	case 3: // names: one image's on another
		for _, k := range []string{"RepoTags", "annotations"} {
			if v, ok := list[a][k]; ok {
				c := maps(list[b])
				c[k] = v
				list[b] = c
			}
		}
	case 4: // point at another entry
		c := maps(list[a])
		if file == "index.json" {
			if strings.HasPrefix(other, "blobs/sha256/") {
				c["digest"] = "sha256:" + path.Base(other)
			}
		} else if ls, ok := c["Layers"].([]any); ok && len(ls) > 0 && p.pick(2) == 0 {
			ls = slices.Clone(ls)
			ls[p.pick(len(ls))] = other
			c["Layers"] = ls
		} else {
			c["Config"] = other
		}
		list[a] = c
	case 5: // layers out of order
		c := maps(list[a])
		if ls, ok := c["Layers"].([]any); ok && len(ls) > 1 {
			ls = slices.Clone(ls)
			ls[0], ls[len(ls)-1] = ls[len(ls)-1], ls[0]
			c["Layers"] = ls
		}
		list[a] = c
	}
	var body []byte
	if file == "index.json" {
		anyList := make([]any, len(list))
		for k, m := range list {
			anyList[k] = m
		}
		top["manifests"] = anyList
		body, _ = json.Marshal(top)
	} else {
		body, _ = json.Marshal(list)
	}
	es[i].Body = body
}

func maps(m map[string]any) map[string]any {
	c := make(map[string]any, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// tarLoose writes entries like ocitest.Tar but never panics: a header
// archive/tar will not write is dropped.
func tarLoose(es []ocitest.Entry) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range es {
		typ := e.Type
		if typ == 0 {
			typ = tar.TypeReg
		}
		h := &tar.Header{Name: e.Name, Typeflag: typ, Linkname: e.Linkname, ModTime: ocitest.Epoch, Mode: 0o644}
		if typ == tar.TypeDir {
			h.Mode = 0o755
		}
		if e.Mode != 0 {
			h.Mode = e.Mode
		}
		body := e.Body
		if typ != tar.TypeReg {
			body = nil
		}
		h.Size = int64(len(body))
		if tw.WriteHeader(h) != nil {
			continue
		}
		tw.Write(body)
	}
	tw.Close()
	return buf.Bytes()
}

// FuzzDifferential mutates the fixtures deterministically from the fuzz
// input and checks, for every mutant Scan accepts, that the in-process
// loaders (extraction to a file system, ggcr's tarball and layout) read
// the same images or refuse.
func FuzzDifferential(f *testing.F) {
	seeds := differentialSeeds(f)
	for i := range seeds {
		f.Add([]byte{byte(i)})
		for op := range 11 {
			f.Add([]byte{byte(i), 1, byte(op), 3, 5, 7})
		}
	}
	dir := f.TempDir()
	last := os.Getenv("OCI_ATTEST_FUZZ_LAST") // debugging: the input in progress
	f.Fuzz(func(t *testing.T, prog []byte) {
		if last != "" {
			os.WriteFile(last, prog, 0o600)
		}
		data := mutate(seeds, prog)
		a, p := scanBytes(t, dir, data)
		if a == nil {
			return
		}
		out, err := os.MkdirTemp(dir, "x-*")
		if err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(out)
		defer os.Remove(p)
		checkDifferential(t, data, a, out, extract)
	})
}

// scanBytes scans data from a file in dir; nil when Scan refuses it.
func scanBytes(t *testing.T, dir string, data []byte) (*oci.Archive, string) {
	t.Helper()
	fh, err := os.CreateTemp(dir, "d-*.tar")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fh.Write(data); err != nil {
		t.Fatal(err)
	}
	fh.Close()
	a, err := oci.Scan(context.Background(), fh.Name(), oci.ScanOptions{MaxJSONSize: 1 << 20})
	if err != nil {
		os.Remove(fh.Name())
		return nil, ""
	}
	return a, fh.Name()
}

// TestDifferentialFixtures checks the property on every committed fixture
// and every accepted rule case.
func TestDifferentialFixtures(t *testing.T) {
	t.Parallel()
	cases := map[string][]byte{}
	for _, a := range ocitest.Archives() {
		b, err := os.ReadFile(filepath.Join(archivesDir, a.Name))
		if err != nil {
			t.Fatal(err)
		}
		cases[a.Name] = b
	}
	for _, rc := range ruleCases() {
		if rc.wantErr == nil {
			cases[rc.name] = rc.archive(t)
		}
	}
	for _, a := range ocitest.Archives() {
		for _, c := range []oci.Compression{oci.CompressionGzip, oci.CompressionZstd} {
			cases[a.Name+"."+string(c)] = ocitest.Compress(cases[a.Name], c)
		}
	}
	for n, data := range cases {
		t.Run(n, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			a, _ := scanBytes(t, dir, data)
			if a == nil {
				t.Fatal("Scan refused the archive")
			}
			checkDifferential(t, data, a, t.TempDir(), extract)
		})
	}
}
