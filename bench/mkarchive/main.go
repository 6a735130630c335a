// Command mkarchive writes a docker-save-style image archive of a given size
// for the archive benchmark (bench/archive.sh; ARCHITECTURE.md, "Limits and budgets").
//
// The archive has the legacy `docker save` layout (< 25): a directory per
// layer holding VERSION, layer.tar and json, then the config blob
// `<hex>.json`, manifest.json and repositories, in that order. Layers come
// first because their diffIDs (which the config records in rootfs.diff_ids)
// are known only after they are written; docker save also writes
// manifest.json last. Every layer is a real tar stream of regular files.
//
//	go run ./bench/mkarchive -size 1GiB -layers 8 -compress none -out bench/out/plain/archive.tar
//
// With -compress none the file contents are random (incompressible) bytes;
// with -compress gzip they are a mix of random words and short random runs
// (gzip -6 shrinks them to roughly a third), and each layer is gzip'ed at
// the default level (the entry keeps the name layer.tar: docker load
// accepts compressed layer.tar files, and scanners sniff the content, never
// the name). -size is the total uncompressed size of the layers, so
// the gzip archive is smaller than -size. Output is deterministic for a
// given -seed. Memory is constant: nothing is buffered beyond 1 MiB.
//
// Crafted archives for the cost benchmarks (BENCHMARKS.md, "Crafted
// archives"); the flags combine:
//
//	-zeros -level 9            layer files are zeros, gzip'ed at level 9
//	                           (1 GiB of zeros stores as about 1 MiB)
//	-tags N                    the image has N RepoTags (-tag, then b/t:<i>)
//	-images N                  manifest.json lists the image N times, each
//	                           under its own tags (a big manifest.json)
//	-tag-pad N                 lengthen the generated tags by N bytes
//	-junk-zstd-frames N        unreferenced entries junk<i>.zst of N zstd frames
//	                           of 1 MiB of zeros each (N MiB from N × 45 bytes)
//	-junk-zstd-entries K       how many such entries (default 1)
//	-junk-entries N            N unreferenced empty files junk/<i>
//
//	go run ./bench/mkarchive -size 1GiB -layers 1 -file-size 1GiB -compress gzip -level 9 -zeros -out zeros.tar
//	go run ./bench/mkarchive -size 64KiB -layers 1 -junk-zstd-entries 30 -junk-zstd-frames 257 -out frames.tar
//	go run ./bench/mkarchive -size 64KiB -layers 1 -tags 600000 -out tags.tar
//
// With -layout oci the archive is an OCI image layout as buildx --output
// type=oci writes one: every blob under blobs/sha256/<hex> (layers, then
// configs and manifests), index.json naming one image index
// (io.containerd.image.name and a bare-tag ref.name) that lists one image
// per platform (-platforms: linux/amd64, linux/arm64, linux/arm/v7, …); the
// -layers layers and -size bytes are shared out among the platforms.
//
//	go run ./bench/mkarchive -layout oci -platforms 2 -size 1GiB -layers 8 -out bench/out/multi/archive.tar
package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"hash"
	"io"
	"math/rand/v2"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "mkarchive:", err)
		os.Exit(1)
	}
}

// options are mkarchive's flags.
type options struct {
	size     int64
	layers   int
	compress string
	out      string
	seed     uint64
	tag      string
	fileSize int64
	// Crafted archives.
	zeros       bool
	text        bool
	level       int
	tags        int
	images      int
	tagPad      int
	zstdFrames  int
	zstdEntries int
	junkEntries int
	// An OCI layout of a multi-platform index.
	layout string
	plats  int
}

func parseFlags(args []string) (options, error) {
	fs := flag.NewFlagSet("mkarchive", flag.ContinueOnError)
	var o options
	size := fs.String("size", "1GiB", "total uncompressed size of the layers (bytes, or with a KiB/MiB/GiB/KB/MB/GB suffix)")
	fs.IntVar(&o.layers, "layers", 8, "number of layers")
	fs.StringVar(&o.compress, "compress", "none", "layer compression: none (random bytes) or gzip (semi-compressible text, default level)")
	fs.StringVar(&o.out, "out", "", "archive file to write (required)")
	fs.Uint64Var(&o.seed, "seed", 1, "random seed; the same seed gives the same archive")
	fs.StringVar(&o.tag, "tag", "bench.local/archive:latest", "RepoTags entry of the image")
	fileSize := fs.String("file-size", "8MiB", "size of the files inside each layer")
	fs.BoolVar(&o.zeros, "zeros", false, "layer files hold zeros (highly compressible) instead of random content")
	fs.BoolVar(&o.text, "text", false, "with -compress none: layer files hold the semi-compressible text too (gzip shrinks the archive to about a third, as it does docker save of real images)")
	fs.IntVar(&o.level, "level", gzip.DefaultCompression, "gzip level (1-9) with -compress gzip")
	fs.IntVar(&o.tags, "tags", 1, "number of RepoTags: -tag, then b/t:<i> (a crafted archive)")
	fs.IntVar(&o.images, "images", 1, "manifest.json lists the image this many times, each time under its own -tags tags (a crafted archive)")
	fs.IntVar(&o.tagPad, "tag-pad", 0, "lengthen every generated tag's repository by this many bytes (a crafted archive)")
	fs.IntVar(&o.zstdFrames, "junk-zstd-frames", 0, "add unreferenced entries junk<i>.zst of this many zstd frames of 1 MiB of zeros each")
	fs.IntVar(&o.zstdEntries, "junk-zstd-entries", 1, "how many junk<i>.zst entries -junk-zstd-frames adds")
	fs.IntVar(&o.junkEntries, "junk-entries", 0, "add this many unreferenced empty files junk/<i>")
	fs.StringVar(&o.layout, "layout", "docker", "docker (legacy docker save) or oci (an OCI image layout holding a multi-platform image index)")
	fs.IntVar(&o.plats, "platforms", 1, "with -layout oci: how many platform images the index holds (the layers are shared out among them)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	var err error
	if o.size, err = parseSize(*size); err != nil {
		return o, fmt.Errorf("parsing -size: %w", err)
	}
	if o.fileSize, err = parseSize(*fileSize); err != nil {
		return o, fmt.Errorf("parsing -file-size: %w", err)
	}
	switch {
	case o.out == "":
		return o, errors.New("missing -out: name the archive file to write")
	case o.layers < 1:
		return o, fmt.Errorf("invalid -layers %d: need at least 1", o.layers)
	case o.compress != "none" && o.compress != "gzip":
		return o, fmt.Errorf("invalid -compress %q: use none or gzip", o.compress)
	case o.fileSize < 1:
		return o, fmt.Errorf("invalid -file-size %d: must be positive", o.fileSize)
	case o.size < int64(o.layers):
		return o, fmt.Errorf("invalid -size %d: need at least one byte per layer", o.size)
	case strings.LastIndex(o.tag, ":") <= strings.LastIndex(o.tag, "/"):
		return o, fmt.Errorf("invalid -tag %q: want repository:tag", o.tag)
	case o.level != gzip.DefaultCompression && (o.level < gzip.BestSpeed || o.level > gzip.BestCompression):
		return o, fmt.Errorf("invalid -level %d: use 1 to 9", o.level)
	case o.tags < 1 || o.images < 1 || o.zstdEntries < 1 || o.zstdFrames < 0 || o.junkEntries < 0 || o.tagPad < 0:
		return o, errors.New("invalid -tags, -images, -junk-zstd-entries, -junk-zstd-frames, -junk-entries or -tag-pad: the first four must be positive, the others not negative")
	case o.layout != "docker" && o.layout != "oci":
		return o, fmt.Errorf("invalid -layout %q: use docker or oci", o.layout)
	case o.plats < 1 || o.plats > len(platformList):
		return o, fmt.Errorf("invalid -platforms %d: 1 to %d", o.plats, len(platformList))
	case o.plats > 1 && o.layout != "oci":
		return o, errors.New("-platforms needs -layout oci (a docker save archive holds one platform)")
	case o.layers%o.plats != 0:
		return o, fmt.Errorf("invalid -layers %d: not a multiple of -platforms %d", o.layers, o.plats)
	}
	return o, nil
}

// parseSize parses "1073741824", "1GiB", "512MiB", "1GB", "100k".
func parseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{
		{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
		{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9},
		{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30},
		{"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30},
	}
	mult := int64(1)
	num := strings.TrimSpace(s)
	for _, u := range units {
		if strings.HasSuffix(num, u.suffix) {
			num, mult = strings.TrimSpace(strings.TrimSuffix(num, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseFloat(num, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("invalid size %q", s)
	}
	return int64(n * float64(mult)), nil
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	o, err := parseFlags(args)
	if err != nil {
		return err
	}
	start := time.Now()
	f, err := os.Create(o.out)
	if err != nil {
		return fmt.Errorf("creating archive: %w", err)
	}
	w := &archiveWriter{f: f, bw: bufio.NewWriterSize(f, 1<<20)}
	write := writeArchive
	if o.layout == "oci" {
		write = writeOCI
	}
	sum, err := write(ctx, w, o)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("closing %s: %w", o.out, cerr)
	}
	if err != nil {
		_ = os.Remove(o.out)
		return fmt.Errorf("writing %s: %w", o.out, err)
	}
	fmt.Fprintf(stdout, "wrote %s: %d bytes, %d %s layers (%d bytes uncompressed), image id sha256:%s, in %s\n",
		o.out, w.off, o.layers, o.compress, sum.layerBytes, sum.imageID, time.Since(start).Round(time.Millisecond))
	return nil
}

// summary is what writeArchive reports.
type summary struct {
	imageID    string
	layerBytes int64
}

// config is the subset of the image config the archive carries.
type config struct {
	Architecture string        `json:"architecture"`
	OS           string        `json:"os"`
	Created      string        `json:"created"`
	Config       struct{}      `json:"config"`
	RootFS       rootFS        `json:"rootfs"`
	History      []historyItem `json:"history"`
}

type rootFS struct {
	Type    string   `json:"type"`
	DiffIDs []string `json:"diff_ids"`
}

type historyItem struct {
	Created   string `json:"created"`
	CreatedBy string `json:"created_by"`
}

type manifestEntry struct {
	Config   string   `json:"Config"`
	RepoTags []string `json:"RepoTags"`
	Layers   []string `json:"Layers"`
}

// created is the fixed timestamp of every entry, so output is reproducible.
var created = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func writeArchive(ctx context.Context, w *archiveWriter, o options) (summary, error) {
	ch := rand.NewChaCha8(seedBytes(o.seed))
	rng := &source{ch: ch, r: rand.New(ch)}
	cfg := config{Architecture: "amd64", OS: "linux", Created: created.Format(time.RFC3339), RootFS: rootFS{Type: "layers"}}
	var sum summary
	var layerPaths []string
	var lastID string
	if err := writeJunk(w, o); err != nil {
		return sum, err
	}
	per := o.size / int64(o.layers)
	for i := range o.layers {
		if err := ctx.Err(); err != nil {
			return sum, err
		}
		size := per
		if i == o.layers-1 {
			size = o.size - per*int64(o.layers-1)
		}
		id := layerID(o.seed, i)
		if err := w.dir(id + "/"); err != nil {
			return sum, err
		}
		if err := w.file(id+"/VERSION", []byte("1.0")); err != nil {
			return sum, err
		}
		path := id + "/layer.tar"
		diffID, _, n, err := w.layer(func(string) string { return path }, plan(size, o.fileSize), rng, o)
		if err != nil {
			return sum, fmt.Errorf("writing layer %d: %w", i, err)
		}
		legacy := map[string]any{"id": id, "created": created.Format(time.RFC3339)}
		if lastID != "" {
			legacy["parent"] = lastID
		}
		js, _ := json.Marshal(legacy)
		if err := w.file(id+"/json", js); err != nil {
			return sum, err
		}
		sum.layerBytes += n
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, "sha256:"+diffID)
		cfg.History = append(cfg.History, historyItem{Created: cfg.Created, CreatedBy: fmt.Sprintf("mkarchive layer %d", i)})
		layerPaths = append(layerPaths, path)
		lastID = id
	}
	cfgJSON, err := json.Marshal(cfg)
	if err != nil {
		return sum, fmt.Errorf("encoding config: %w", err)
	}
	h := sha256.Sum256(cfgJSON)
	sum.imageID = hex.EncodeToString(h[:])
	cfgPath := sum.imageID + ".json"
	if err := w.file(cfgPath, cfgJSON); err != nil {
		return sum, err
	}
	var entries []manifestEntry
	pad := strings.Repeat("x", o.tagPad)
	for k := range o.images {
		var tags []string
		if k == 0 {
			tags = append(tags, o.tag)
		}
		for i := len(tags); i < o.tags; i++ {
			if k == 0 {
				tags = append(tags, fmt.Sprintf("b/t%s:%d", pad, i))
			} else {
				tags = append(tags, fmt.Sprintf("b/i%d%s:%d", k, pad, i))
			}
		}
		entries = append(entries, manifestEntry{Config: cfgPath, RepoTags: tags, Layers: layerPaths})
	}
	manifest, err := json.Marshal(entries)
	if err != nil {
		return sum, fmt.Errorf("encoding manifest.json: %w", err)
	}
	if err := w.file("manifest.json", manifest); err != nil {
		return sum, err
	}
	i := strings.LastIndex(o.tag, ":")
	repo, tag := o.tag[:i], o.tag[i+1:]
	repos, _ := json.Marshal(map[string]map[string]string{repo: {tag: lastID}})
	if err := w.file("repositories", repos); err != nil {
		return sum, err
	}
	return sum, w.close()
}

func seedBytes(seed uint64) [32]byte {
	var s [32]byte
	copy(s[:], strconv.FormatUint(seed, 10))
	return s
}

// layerID is a legacy (v1) layer ID; docker derives it from the layer chain,
// here it only has to be unique and stable.
func layerID(seed uint64, i int) string {
	h := sha256.Sum256(fmt.Appendf(nil, "mkarchive seed %d layer %d", seed, i))
	return hex.EncodeToString(h[:])
}

// plan splits a layer of about size bytes (its tar stream) into file sizes.
func plan(size, fileSize int64) []int64 {
	var files []int64
	remaining := size - 1024 // the tar end-of-archive blocks
	for remaining > 512 {
		n := min(fileSize, remaining-512)
		files = append(files, n)
		remaining -= 512 + (n+511)/512*512
	}
	if len(files) == 0 {
		files = append(files, 0)
	}
	return files
}

// archiveWriter writes the outer tar. It writes headers itself so that an
// entry whose size is known only afterwards (a gzip layer) can be written
// in one pass: a placeholder header block first, patched when the entry ends.
type archiveWriter struct {
	f   *os.File
	bw  *bufio.Writer
	off int64
	// lastSize is the stored size of the last layer written.
	lastSize int64
}

func (w *archiveWriter) Write(p []byte) (int, error) {
	n, err := w.bw.Write(p)
	w.off += int64(n)
	return n, err
}

func header(name string, typ byte, size int64, mode int64) ([]byte, error) {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	err := tw.WriteHeader(&tar.Header{
		Typeflag: typ, Name: name, Size: size, Mode: mode,
		ModTime: created, Format: tar.FormatUSTAR,
	})
	if err != nil {
		return nil, fmt.Errorf("encoding tar header for %s: %w", name, err)
	}
	if b.Len() != 512 {
		return nil, fmt.Errorf("encoding tar header for %s: got %d bytes, want one block", name, b.Len())
	}
	return b.Bytes(), nil
}

func (w *archiveWriter) pad() error {
	if r := w.off % 512; r != 0 {
		_, err := w.Write(make([]byte, 512-r))
		return err
	}
	return nil
}

func (w *archiveWriter) dir(name string) error {
	h, err := header(name, tar.TypeDir, 0, 0o755)
	if err != nil {
		return err
	}
	_, err = w.Write(h)
	return err
}

func (w *archiveWriter) file(name string, data []byte) error {
	h, err := header(name, tar.TypeReg, int64(len(data)), 0o644)
	if err != nil {
		return err
	}
	if _, err := w.Write(h); err != nil {
		return err
	}
	if _, err := w.Write(data); err != nil {
		return err
	}
	return w.pad()
}

// layer writes one layer entry: a tar stream of files with the given sizes,
// gzip'ed (at o.level) when o.compress is gzip, named name(hex digest of the
// stored bytes) (the header is patched once they are written). It returns
// the diffID and the stored digest (hex) and the uncompressed size.
func (w *archiveWriter) layer(name func(stored string) string, files []int64, rng *source, o options) (string, string, int64, error) {
	gz := o.compress == "gzip"
	if err := w.bw.Flush(); err != nil {
		return "", "", 0, err
	}
	at := w.off
	if _, err := w.Write(make([]byte, 512)); err != nil { // placeholder header
		return "", "", 0, err
	}
	start := w.off

	diff := sha256.New()
	counted := &countingWriter{w: diff}
	stored := diff
	var sink io.Writer = w
	var zw *gzip.Writer
	if gz {
		stored = sha256.New()
		var err error
		if zw, err = gzip.NewWriterLevel(io.MultiWriter(w, stored), o.level); err != nil {
			return "", "", 0, err
		}
		sink = zw
	}
	tw := tar.NewWriter(io.MultiWriter(counted, sink))
	for i, n := range files {
		err := tw.WriteHeader(&tar.Header{
			Typeflag: tar.TypeReg, Name: fmt.Sprintf("data/file%05d", i), Size: n,
			Mode: 0o644, ModTime: created, Format: tar.FormatUSTAR,
		})
		if err != nil {
			return "", "", 0, err
		}
		if err := fill(tw, n, rng, gz || o.text, o.zeros); err != nil {
			return "", "", 0, err
		}
	}
	if err := tw.Close(); err != nil {
		return "", "", 0, err
	}
	if zw != nil {
		if err := zw.Close(); err != nil {
			return "", "", 0, err
		}
	}
	size := w.off - start
	w.lastSize = size
	if err := w.pad(); err != nil {
		return "", "", 0, err
	}
	if err := w.bw.Flush(); err != nil {
		return "", "", 0, err
	}
	storedHex := hex.EncodeToString(stored.Sum(nil))
	h, err := header(name(storedHex), tar.TypeReg, size, 0o644)
	if err != nil {
		return "", "", 0, err
	}
	if _, err := w.f.WriteAt(h, at); err != nil {
		return "", "", 0, fmt.Errorf("patching header of %s: %w", name(storedHex), err)
	}
	return hex.EncodeToString(diff.Sum(nil)), storedHex, counted.n, nil
}

// writeJunk writes the unreferenced entries of a crafted archive: junk<i>.zst
// (zstd frames of 1 MiB of zeros, concatenated: a decoder reads them as one
// stream) and empty files junk/<i>. They come first, before any manifest
// names anything, as an attacker would place them.
func writeJunk(w *archiveWriter, o options) error {
	if o.zstdFrames > 0 {
		var frame bytes.Buffer
		zw, err := zstd.NewWriter(&frame, zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(zstd.SpeedBestCompression))
		if err != nil {
			return err
		}
		if _, err := zw.Write(make([]byte, 1<<20)); err != nil {
			return err
		}
		if err := zw.Close(); err != nil {
			return err
		}
		for i := range o.zstdEntries {
			h, err := header(fmt.Sprintf("junk%d.zst", i), tar.TypeReg, int64(frame.Len()*o.zstdFrames), 0o644)
			if err != nil {
				return err
			}
			if _, err := w.Write(h); err != nil {
				return err
			}
			for range o.zstdFrames {
				if _, err := w.Write(frame.Bytes()); err != nil {
					return err
				}
			}
			if err := w.pad(); err != nil {
				return err
			}
		}
	}
	if o.junkEntries > 0 {
		if err := w.dir("junk/"); err != nil {
			return err
		}
		for i := range o.junkEntries {
			if err := w.file(fmt.Sprintf("junk/%d", i), nil); err != nil {
				return err
			}
		}
	}
	return nil
}

func (w *archiveWriter) close() error {
	if _, err := w.Write(make([]byte, 1024)); err != nil {
		return err
	}
	return w.bw.Flush()
}

type countingWriter struct {
	w hash.Hash
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return c.w.Write(p)
}

// source is the deterministic random source of the content.
type source struct {
	ch *rand.ChaCha8
	r  *rand.Rand
}

// words is the vocabulary of the semi-compressible content.
var words = strings.Fields(`the of and to in is that for it as was with be by on not he this are or his
from at which but have an they you were her she there had been one all we their has would when if so
no will can more about said what out up some into them could than other time only then its two may
these new like over also after first did any people most made where many such very through back
years much before well must our way even because while those same both should each here between
usr lib bin etc var share local include python3 site-packages node_modules index.js package.json
README LICENSE Makefile config yaml json main.go go.mod go.sum libssl.so.3 libc.so.6 ld-linux
x86_64 aarch64 debian bookworm alpine amd64 arm64 sha256 layer image container runtime build`)

// fill writes n bytes of file content: zeros, random bytes, or (text) random
// words with a sprinkling of short random runs, which gzip shrinks to about a
// third.
func fill(w io.Writer, n int64, rng *source, text, zeros bool) error {
	buf := make([]byte, 0, 64<<10)
	for n > 0 {
		buf = buf[:0]
		want := int(min(int64(cap(buf)), n))
		if zeros {
			buf = buf[:want]
			clear(buf)
		} else if !text {
			buf = buf[:want]
			_, _ = rng.ch.Read(buf) // never fails
		} else {
			for len(buf) < want {
				switch r := rng.r.IntN(100); {
				case r < 3: // a short random run, like a hash or binary field
					for range 8 + rng.r.IntN(24) {
						buf = append(buf, "0123456789abcdef"[rng.r.IntN(16)])
					}
				case r < 10:
					buf = append(buf, '\n')
				default:
					buf = append(buf, words[rng.r.IntN(len(words))]...)
				}
				buf = append(buf, ' ')
			}
			buf = buf[:want]
		}
		if _, err := w.Write(buf); err != nil {
			return err
		}
		n -= int64(want)
	}
	return nil
}

// platformList is what -platforms picks from, in order.
var platformList = []struct{ os, arch, variant string }{
	{"linux", "amd64", ""}, {"linux", "arm64", ""}, {"linux", "arm", "v7"}, {"linux", "s390x", ""},
	{"linux", "ppc64le", ""}, {"linux", "riscv64", ""}, {"linux", "386", ""}, {"linux", "arm", "v6"},
}

// descriptor is an OCI content descriptor.
type descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Platform    *platform         `json:"platform,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

type platform struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
	Variant      string `json:"variant,omitempty"`
}

// blob writes data as blobs/sha256/<hex> and returns its descriptor.
func (w *archiveWriter) blob(mediaType string, data []byte) (descriptor, error) {
	h := sha256.Sum256(data)
	d := descriptor{MediaType: mediaType, Digest: "sha256:" + hex.EncodeToString(h[:]), Size: int64(len(data))}
	return d, w.file("blobs/sha256/"+hex.EncodeToString(h[:]), data)
}

// writeOCI writes an OCI image layout whose index.json names one image
// index of o.plats platform images.
func writeOCI(ctx context.Context, w *archiveWriter, o options) (summary, error) {
	ch := rand.NewChaCha8(seedBytes(o.seed))
	rng := &source{ch: ch, r: rand.New(ch)}
	var sum summary
	layerType := "application/vnd.oci.image.layer.v1.tar"
	if o.compress == "gzip" {
		layerType += "+gzip"
	}
	for _, d := range []string{"blobs/", "blobs/sha256/"} {
		if err := w.dir(d); err != nil {
			return sum, err
		}
	}
	per := o.size / int64(o.layers)
	perPlatform := o.layers / o.plats
	var children []descriptor
	for p := range o.plats {
		pl := platformList[p]
		cfg := config{Architecture: pl.arch, OS: pl.os, Created: created.Format(time.RFC3339), RootFS: rootFS{Type: "layers"}}
		var layers []descriptor
		for j := range perPlatform {
			if err := ctx.Err(); err != nil {
				return sum, err
			}
			i := p*perPlatform + j
			size := per
			if i == o.layers-1 {
				size = o.size - per*int64(o.layers-1)
			}
			diffID, storedHex, n, err := w.layer(func(h string) string { return "blobs/sha256/" + h }, plan(size, o.fileSize), rng, o)
			if err != nil {
				return sum, fmt.Errorf("writing layer %d: %w", i, err)
			}
			layers = append(layers, descriptor{MediaType: layerType, Digest: "sha256:" + storedHex, Size: w.lastSize})
			sum.layerBytes += n
			cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, "sha256:"+diffID)
			cfg.History = append(cfg.History, historyItem{Created: cfg.Created, CreatedBy: fmt.Sprintf("mkarchive %s/%s layer %d", pl.os, pl.arch, j)})
		}
		cfgJSON, err := json.Marshal(cfg)
		if err != nil {
			return sum, fmt.Errorf("encoding config: %w", err)
		}
		cd, err := w.blob("application/vnd.oci.image.config.v1+json", cfgJSON)
		if err != nil {
			return sum, err
		}
		if p == 0 {
			sum.imageID = strings.TrimPrefix(cd.Digest, "sha256:")
		}
		m, err := json.Marshal(map[string]any{
			"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
			"config": cd, "layers": layers,
		})
		if err != nil {
			return sum, err
		}
		md, err := w.blob("application/vnd.oci.image.manifest.v1+json", m)
		if err != nil {
			return sum, err
		}
		md.Platform = &platform{Architecture: pl.arch, OS: pl.os, Variant: pl.variant}
		children = append(children, md)
	}
	idx, err := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": children})
	if err != nil {
		return sum, err
	}
	id, err := w.blob("application/vnd.oci.image.index.v1+json", idx)
	if err != nil {
		return sum, err
	}
	id.Annotations = map[string]string{
		"io.containerd.image.name":          o.tag,
		"org.opencontainers.image.ref.name": o.tag[strings.LastIndex(o.tag, ":")+1:],
	}
	top, err := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": []descriptor{id}})
	if err != nil {
		return sum, err
	}
	if err := w.file("index.json", top); err != nil {
		return sum, err
	}
	if err := w.file("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)); err != nil {
		return sum, err
	}
	return sum, w.close()
}
