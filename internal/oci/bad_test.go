package oci_test

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oci-attest/oci-attest/internal/oci"
	"github.com/oci-attest/oci-attest/internal/oci/ocitest"
)

// legacyLayer returns the docker-legacy entries and the name of its first
// layer entry (<id>/layer.tar: not named by a digest, so its content can
// change without tripping the name check).
func legacyLayer(t *testing.T) ([]ocitest.Entry, int) {
	t.Helper()
	es := goodEntries(t, "docker-legacy.tar")
	var m []map[string]any
	if err := json.Unmarshal(es[find(t, es, "manifest.json")].Body, &m); err != nil {
		t.Fatal(err)
	}
	return es, find(t, es, m[0]["Layers"].([]any)[0].(string))
}

// manifestOf returns the docker manifest.json of es, decoded.
func manifestOf(t *testing.T, es []ocitest.Entry) []map[string]any {
	t.Helper()
	var m []map[string]any
	if err := json.Unmarshal(es[find(t, es, "manifest.json")].Body, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func setManifest(t *testing.T, es []ocitest.Entry, m any) []ocitest.Entry {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	es[find(t, es, "manifest.json")].Body = b
	return es
}

func firstLayerPath(t *testing.T, es []ocitest.Entry) string {
	t.Helper()
	return manifestOf(t, es)[0]["Layers"].([]any)[0].(string)
}

func tarOf(es ...ocitest.Entry) []byte { return ocitest.Tar(es) }

// TestScanBadInput checks that every kind of malformed archive gives its
// own error, naming the archive and the entry at fault.
func TestScanBadInput(t *testing.T) {
	t.Parallel()
	docker25 := func(t *testing.T) []byte { return ocitest.Tar(goodEntries(t, "docker25.tar")) }
	tests := []struct {
		name      string
		archive   func(t *testing.T) []byte
		opts      oci.ScanOptions
		wantErr   error
		wantInMsg []string // besides the archive path
	}{
		{
			name:    "truncated inside an entry",
			archive: func(t *testing.T) []byte { b := docker25(t); return b[:len(b)/2+100] },
			wantErr: oci.ErrTruncated, wantInMsg: []string{"ends after"},
		},
		{
			name:    "truncated inside a header",
			archive: func(t *testing.T) []byte { b := docker25(t); return b[:512*3+200] },
			wantErr: oci.ErrTruncated,
		},
		{
			name:    "not a tar",
			archive: func(t *testing.T) []byte { return bytes.Repeat([]byte("this is not a tar archive\n"), 100) },
			wantErr: oci.ErrNotArchive, wantInMsg: []string{"not a tar archive"},
		},
		{
			name:    "empty file",
			archive: func(t *testing.T) []byte { return nil },
			wantErr: oci.ErrNotArchive, wantInMsg: []string{"empty"},
		},
		{
			name:    "tar without entries",
			archive: func(t *testing.T) []byte { return ocitest.Tar(nil) },
			wantErr: oci.ErrNotArchive, wantInMsg: []string{"without entries"},
		},
		{
			name:    "xz-compressed archive",
			archive: func(t *testing.T) []byte { return append([]byte("\xfd7zXZ\x00\x00\x04"), docker25(t)...) },
			wantErr: oci.ErrNotArchive, wantInMsg: []string{"xz-compressed", "decompress it first (xz -d)"},
		},
		{
			name:    "gzip-compressed, not a tar inside",
			archive: func(t *testing.T) []byte { return ocitest.Compress([]byte("not a tar archive\n"), oci.CompressionGzip) },
			wantErr: oci.ErrNotArchive, wantInMsg: []string{"gzip-compressed", "not a tar archive"},
		},
		{
			name: "gzip-compressed, corrupt",
			archive: func(t *testing.T) []byte {
				b := ocitest.Compress(docker25(t), oci.CompressionGzip)
				b[len(b)-6] ^= 0xff // the CRC
				return b
			},
			wantErr: oci.ErrNotArchive, wantInMsg: []string{"gzip stream is corrupt", "re-download"},
		},
		{
			name: "gzip-compressed, truncated",
			archive: func(t *testing.T) []byte {
				b := ocitest.Compress(docker25(t), oci.CompressionGzip)
				return b[:len(b)/2]
			},
			wantErr: oci.ErrTruncated,
		},
		{
			name: "zstd-compressed, data after the stream",
			archive: func(t *testing.T) []byte {
				return append(ocitest.Compress(docker25(t), oci.CompressionZstd), "hidden"...)
			},
			wantErr: oci.ErrNotArchive,
		},
		{
			name:    "tar without manifest.json or index.json",
			archive: func(t *testing.T) []byte { return tarOf(ocitest.Entry{Name: "hello.txt", Body: []byte("hi")}) },
			wantErr: oci.ErrNotArchive, wantInMsg: []string{"neither manifest.json nor index.json"},
		},
		{
			name:    "data after the end of the tar",
			archive: func(t *testing.T) []byte { return append(docker25(t), []byte("hidden")...) },
			wantErr: oci.ErrNotArchive, wantInMsg: []string{"follows the end"},
		},
		{
			name: "dot-dot path",
			archive: func(t *testing.T) []byte {
				return ocitest.Tar(append(goodEntries(t, "docker25.tar"), ocitest.Entry{Name: "blobs/../../evil", Body: []byte("x")}))
			},
			wantErr: oci.ErrUnsafePath, wantInMsg: []string{`entry "blobs/../../evil"`, `".."`},
		},
		{
			name: "absolute path",
			archive: func(t *testing.T) []byte {
				return ocitest.Tar(append(goodEntries(t, "docker25.tar"), ocitest.Entry{Name: "/etc/cron.d/evil", Body: []byte("x")}))
			},
			wantErr: oci.ErrUnsafePath, wantInMsg: []string{`entry "/etc/cron.d/evil"`, "absolute"},
		},
		{
			name: "symlink loop",
			archive: func(t *testing.T) []byte {
				es := goodEntries(t, "podman-symlinks.tar")
				l := firstLayerPath(t, es)
				es[find(t, es, l)].Linkname = "loop-b"
				es = append(es, ocitest.Entry{Name: filepath.Dir(l) + "/loop-b", Type: tar.TypeSymlink, Linkname: "layer.tar"})
				return ocitest.Tar(es)
			},
			wantErr: oci.ErrLinkLoop, wantInMsg: []string{"/layer.tar\"", "loop"},
		},
		{
			name: "symlink leaving the archive",
			archive: func(t *testing.T) []byte {
				es := goodEntries(t, "podman-symlinks.tar")
				es[find(t, es, firstLayerPath(t, es))].Linkname = "../../etc/shadow"
				return ocitest.Tar(es)
			},
			wantErr: oci.ErrUnsafePath, wantInMsg: []string{"/layer.tar\"", "leaves the archive"},
		},
		{
			name: "absolute symlink",
			archive: func(t *testing.T) []byte {
				es := goodEntries(t, "podman-symlinks.tar")
				es[find(t, es, firstLayerPath(t, es))].Linkname = "/etc/shadow"
				return ocitest.Tar(es)
			},
			wantErr: oci.ErrUnsafePath, wantInMsg: []string{"leaves the archive"},
		},
		{
			name: "hard link leaving the archive",
			archive: func(t *testing.T) []byte {
				es := goodEntries(t, "hardlink.tar")
				es[find(t, es, firstLayerPath(t, es))].Linkname = "../outside.tar"
				return ocitest.Tar(es)
			},
			wantErr: oci.ErrUnsafePath, wantInMsg: []string{"hard link target", "/layer.tar\""},
		},
		{
			name: "symlink to a missing file",
			archive: func(t *testing.T) []byte {
				es := goodEntries(t, "podman-symlinks.tar")
				es[find(t, es, firstLayerPath(t, es))].Linkname = "../nowhere.tar"
				return ocitest.Tar(es)
			},
			wantErr: oci.ErrMissingBlob, wantInMsg: []string{`"nowhere.tar"`},
		},
		{
			name: "manifest names a missing layer",
			archive: func(t *testing.T) []byte {
				es := goodEntries(t, "docker25.tar")
				l := firstLayerPath(t, es)
				i := find(t, es, l)
				return ocitest.Tar(append(es[:i:i], es[i+1:]...))
			},
			wantErr: oci.ErrMissingBlob, wantInMsg: []string{"manifest.json entry 0 layer 0", "not in the archive"},
		},
		{
			name: "manifest names a missing config",
			archive: func(t *testing.T) []byte {
				es := goodEntries(t, "podman.tar")
				m := manifestOf(t, es)
				m[0]["Config"] = "0000000000000000000000000000000000000000000000000000000000000000.json"
				return ocitest.Tar(setManifest(t, es, m))
			},
			wantErr: oci.ErrMissingBlob, wantInMsg: []string{"Config", "0000000000000000000000000000000000000000000000000000000000000000.json"},
		},
		{
			name: "blob content does not match its digest name",
			archive: func(t *testing.T) []byte {
				es := goodEntries(t, "docker25.tar")
				l := firstLayerPath(t, es)
				es[find(t, es, l)].Body = ocitest.LayerTar([]ocitest.File{{Name: "etc/evil", Content: "swapped"}})
				return ocitest.Tar(es)
			},
			wantErr: oci.ErrDigestMismatch, wantInMsg: []string{"blobs/sha256/", "its name says"},
		},
		{
			name: "config content does not match its <hex>.json name",
			archive: func(t *testing.T) []byte {
				es := goodEntries(t, "docker-legacy.tar")
				c := manifestOf(t, es)[0]["Config"].(string)
				es[find(t, es, c)].Body = bytes.Replace(es[find(t, es, c)].Body, []byte("amd64"), []byte("arm64"), 1)
				return ocitest.Tar(es)
			},
			wantErr: oci.ErrDigestMismatch, wantInMsg: []string{".json\""},
		},
		{
			name: "truncated gzip layer",
			archive: func(t *testing.T) []byte {
				es, i := legacyLayer(t)
				gz := ocitest.Compress(es[i].Body, oci.CompressionGzip)
				es[i].Body = gz[:len(gz)-12]
				return ocitest.Tar(es)
			},
			wantErr: oci.ErrCorruptLayer, wantInMsg: []string{"/layer.tar\"", "gzip"},
		},
		{
			name: "corrupt gzip layer",
			archive: func(t *testing.T) []byte {
				es, i := legacyLayer(t)
				gz := ocitest.Compress(bytes.Repeat(es[i].Body, 50), oci.CompressionGzip)
				for j := 20; j < len(gz)-20; j += 7 {
					gz[j] ^= 0x55
				}
				es[i].Body = gz
				return ocitest.Tar(es)
			},
			wantErr: oci.ErrCorruptLayer, wantInMsg: []string{"/layer.tar\"", "gzip"},
		},
		{
			name: "truncated zstd layer",
			archive: func(t *testing.T) []byte {
				es, i := legacyLayer(t)
				zs := ocitest.Compress(es[i].Body, oci.CompressionZstd)
				es[i].Body = zs[:len(zs)-10]
				return ocitest.Tar(es)
			},
			wantErr: oci.ErrCorruptLayer, wantInMsg: []string{"/layer.tar\"", "zstd"},
		},
		{
			name: "corrupt zstd layer",
			archive: func(t *testing.T) []byte {
				es, i := legacyLayer(t)
				zs := ocitest.Compress(bytes.Repeat(es[i].Body, 50), oci.CompressionZstd)
				for j := 12; j < len(zs)-4; j += 5 {
					zs[j] ^= 0xa5
				}
				es[i].Body = zs
				return ocitest.Tar(es)
			},
			wantErr: oci.ErrCorruptLayer, wantInMsg: []string{"/layer.tar\"", "zstd"},
		},
		{
			name: "data after the gzip stream",
			archive: func(t *testing.T) []byte {
				es, i := legacyLayer(t)
				es[i].Body = append(ocitest.Compress(es[i].Body, oci.CompressionGzip), []byte("trailing junk")...)
				return ocitest.Tar(es)
			},
			wantErr: oci.ErrCorruptLayer, wantInMsg: []string{"/layer.tar\""},
		},
		{
			name: "gzip layer with the wrong diffID",
			archive: func(t *testing.T) []byte {
				es, i := legacyLayer(t)
				es[i].Body = ocitest.Compress(ocitest.LayerTar([]ocitest.File{{Name: "x", Content: "other"}}), oci.CompressionGzip)
				return ocitest.Tar(es)
			},
			wantErr: oci.ErrDiffIDMismatch, wantInMsg: []string{"layer 0 decompresses to"},
		},
		{
			name:    "empty manifest.json",
			archive: func(t *testing.T) []byte { return tarOf(ocitest.Entry{Name: "manifest.json"}) },
			wantErr: oci.ErrBadManifest, wantInMsg: []string{`entry "manifest.json"`, "empty"},
		},
		{
			name:    "manifest.json is []",
			archive: func(t *testing.T) []byte { return tarOf(ocitest.Entry{Name: "manifest.json", Body: []byte("[]")}) },
			wantErr: oci.ErrNoImages, wantInMsg: []string{`entry "manifest.json"`, "no image"},
		},
		{
			name:    "manifest.json is not JSON",
			archive: func(t *testing.T) []byte { return tarOf(ocitest.Entry{Name: "manifest.json", Body: []byte("{nope")}) },
			wantErr: oci.ErrBadManifest, wantInMsg: []string{`entry "manifest.json"`, "not a JSON array"},
		},
		{
			name: "manifest.json entry without Config",
			archive: func(t *testing.T) []byte {
				return tarOf(ocitest.Entry{Name: "manifest.json", Body: []byte(`[{"Layers":[]}]`)})
			},
			wantErr: oci.ErrBadManifest, wantInMsg: []string{"no Config"},
		},
		{
			name: "manifest.json above MaxJSONSize",
			archive: func(t *testing.T) []byte {
				es := goodEntries(t, "docker25.tar")
				i := find(t, es, "manifest.json")
				es[i].Body = append(es[i].Body, bytes.Repeat([]byte(" "), 4096)...)
				return ocitest.Tar(es)
			},
			opts:    oci.ScanOptions{MaxJSONSize: 4096},
			wantErr: oci.ErrTooLarge, wantInMsg: []string{`entry "manifest.json"`, "4096-byte limit"},
		},
		{
			name: "config above MaxJSONSize",
			archive: func(t *testing.T) []byte {
				return ocitest.Tar(goodEntries(t, "podman.tar"))
			},
			opts:    oci.ScanOptions{MaxJSONSize: 400},
			wantErr: oci.ErrTooLarge, wantInMsg: []string{"image config", "400-byte limit"},
		},
		{
			name: "directory where a layer is named",
			archive: func(t *testing.T) []byte {
				es := goodEntries(t, "docker25.tar")
				i := find(t, es, firstLayerPath(t, es))
				es[i] = ocitest.Entry{Name: es[i].Name + "/", Type: tar.TypeDir}
				return ocitest.Tar(es)
			},
			wantErr: oci.ErrNotFile, wantInMsg: []string{"directory"},
		},
		{
			name: "layers out of order",
			archive: func(t *testing.T) []byte {
				es := goodEntries(t, "docker25.tar")
				m := manifestOf(t, es)
				ls := m[0]["Layers"].([]any)
				ls[0], ls[1] = ls[1], ls[0]
				return ocitest.Tar(setManifest(t, es, m))
			},
			wantErr: oci.ErrDiffIDMismatch, wantInMsg: []string{"the config says"},
		},
		{
			name: "config lists other diff_ids",
			archive: func(t *testing.T) []byte {
				es := goodEntries(t, "podman.tar")
				m := manifestOf(t, es)
				ci := find(t, es, m[0]["Config"].(string))
				var cfg map[string]any
				if err := json.Unmarshal(es[ci].Body, &cfg); err != nil {
					t.Fatal(err)
				}
				ids := cfg["rootfs"].(map[string]any)["diff_ids"].([]any)
				ids[1] = string(sha([]byte("another layer")))
				body, _ := json.Marshal(cfg)
				es[ci] = ocitest.Entry{Name: sha(body).Encoded() + ".json", Body: body}
				m[0]["Config"] = es[ci].Name
				return ocitest.Tar(setManifest(t, es, m))
			},
			wantErr: oci.ErrDiffIDMismatch, wantInMsg: []string{"layer 1 decompresses to"},
		},
		{
			name: "config lists fewer diff_ids",
			archive: func(t *testing.T) []byte {
				es := goodEntries(t, "podman.tar")
				m := manifestOf(t, es)
				m[0]["Layers"] = append(m[0]["Layers"].([]any), m[0]["Layers"].([]any)[0])
				return ocitest.Tar(setManifest(t, es, m))
			},
			wantErr: oci.ErrDiffIDMismatch, wantInMsg: []string{"3 layers", "2 diff_ids"},
		},
		{
			name: "duplicate entry",
			archive: func(t *testing.T) []byte {
				es := goodEntries(t, "docker25.tar")
				return ocitest.Tar(append(es, ocitest.Entry{Name: "manifest.json", Body: []byte("[]")}))
			},
			wantErr: oci.ErrDuplicateEntry, wantInMsg: []string{`entry "manifest.json"`},
		},
		{
			name: "index descriptor with the wrong size",
			archive: func(t *testing.T) []byte {
				es := goodEntries(t, "oci-gzip.tar")
				i := find(t, es, "index.json")
				var idx map[string]any
				if err := json.Unmarshal(es[i].Body, &idx); err != nil {
					t.Fatal(err)
				}
				idx["manifests"].([]any)[0].(map[string]any)["size"] = 3
				es[i].Body, _ = json.Marshal(idx)
				return ocitest.Tar(es)
			},
			wantErr: oci.ErrDigestMismatch, wantInMsg: []string{"gives size 3"},
		},
		{
			name: "index names a missing manifest",
			archive: func(t *testing.T) []byte {
				return tarOf(ocitest.Entry{Name: "index.json", Body: []byte(`{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:` + strings.Repeat("ab", 32) + `","size":10}]}`)})
			},
			wantErr: oci.ErrMissingBlob, wantInMsg: []string{"blobs/sha256/abab"},
		},
		{
			name: "index with no image",
			archive: func(t *testing.T) []byte {
				return tarOf(ocitest.Entry{Name: "index.json", Body: []byte(`{"schemaVersion":2,"manifests":[]}`)})
			},
			wantErr: oci.ErrNoImages, wantInMsg: []string{`entry "index.json"`},
		},
		{
			name:    "empty index.json",
			archive: func(t *testing.T) []byte { return tarOf(ocitest.Entry{Name: "index.json"}) },
			wantErr: oci.ErrBadManifest, wantInMsg: []string{`entry "index.json"`, "empty"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := writeTemp(t, "bad.tar", tc.archive(t))
			a, err := oci.Scan(context.Background(), path, tc.opts)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Scan() = %v, %v; want error %v", a, err, tc.wantErr)
			}
			t.Logf("Scan() error: %v", err)
			msg := err.Error()
			for _, s := range append([]string{path}, tc.wantInMsg...) {
				if !strings.Contains(msg, s) {
					t.Errorf("Scan() error %q does not contain %q", msg, s)
				}
			}
		})
	}
}

// TestScanHugeManifest checks that a manifest.json of hundreds of MiB is
// refused from its header, without reading it into memory.
func TestScanHugeManifest(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "huge.tar")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	const size = 300 << 20
	tw := tar.NewWriter(f)
	if err := tw.WriteHeader(&tar.Header{Name: "manifest.json", Size: size, Mode: 0o644, Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	// The content is a hole: the file is sparse, the test writes no 300 MiB.
	if err := f.Truncate(512 + size + 1024); err != nil {
		t.Fatal(err)
	}
	f.Close()
	_, err = oci.Scan(context.Background(), path, oci.ScanOptions{})
	if !errors.Is(err, oci.ErrTooLarge) || !strings.Contains(err.Error(), `entry "manifest.json"`) || !strings.Contains(err.Error(), path) {
		t.Fatalf("Scan() error = %v, want ErrTooLarge naming manifest.json and %s", err, path)
	}
}

// TestScanMissingFile checks the errors for a path that does not exist and
// for a directory.
func TestScanMissingFile(t *testing.T) {
	t.Parallel()
	_, err := oci.Scan(context.Background(), filepath.Join(t.TempDir(), "nope.tar"), oci.ScanOptions{})
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Scan() error = %v, want os.ErrNotExist", err)
	}
	dir := t.TempDir()
	if _, err := oci.Scan(context.Background(), dir, oci.ScanOptions{}); !errors.Is(err, oci.ErrNotArchive) || !strings.Contains(err.Error(), dir) {
		t.Fatalf("Scan(directory) error = %v, want ErrNotArchive naming it", err)
	}
}

// TestScanSparseEntry checks that a PAX sparse entry, whose logical size is
// not backed by the file, is refused rather than hashed as zeros.
func TestScanSparseEntry(t *testing.T) {
	t.Parallel()
	// A PAX sparse file (format 0.1) of 1 TiB of holes and no data.
	records := ""
	for _, kv := range [][2]string{{"GNU.sparse.major", "0"}, {"GNU.sparse.minor", "1"}, {"GNU.sparse.name", "blob"}, {"GNU.sparse.realsize", "1099511627776"}, {"GNU.sparse.numblocks", "1"}, {"GNU.sparse.map", "0,0"}} {
		rec := " " + kv[0] + "=" + kv[1] + "\n"
		n := len(rec) + 2
		if len(fmt.Sprint(n)+rec) != n {
			n++
		}
		records += fmt.Sprint(n) + rec
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	// archive/tar's writer will not write a PAX header by hand: write it as
	// a regular file, then turn its type into 'x' below.
	if err := tw.WriteHeader(&tar.Header{Name: "PaxHeaders/blob", Typeflag: tar.TypeReg, Size: int64(len(records)), Mode: 0o644}); err != nil {
		t.Fatal(err)
	}
	tw.Write([]byte(records))
	if err := tw.WriteHeader(&tar.Header{Name: "blob", Typeflag: tar.TypeReg, Size: 0, Mode: 0o644}); err != nil {
		t.Fatal(err)
	}
	tw.Close()
	raw := buf.Bytes()
	raw[156] = tar.TypeXHeader
	copy(raw[148:156], "        ")
	sum := 0
	for _, c := range raw[:512] {
		sum += int(c)
	}
	copy(raw[148:156], fmt.Sprintf("%06o\x00 ", sum))
	path := writeTemp(t, "s.tar", raw)
	_, err := oci.Scan(context.Background(), path, oci.ScanOptions{})
	if !errors.Is(err, oci.ErrNotArchive) || !strings.Contains(err.Error(), "sparse") {
		t.Fatalf("Scan() error = %v, want ErrNotArchive about a sparse entry", err)
	}
}

// TestScanOcitestBadArchives checks ocitest's malformed archives (which
// other packages' tests use) give the error they promise.
func TestScanOcitestBadArchives(t *testing.T) {
	t.Parallel()
	bads, err := ocitest.BadArchives()
	if err != nil {
		t.Fatal(err)
	}
	for _, ba := range bads {
		t.Run(ba.Name, func(t *testing.T) {
			t.Parallel()
			path := writeTemp(t, ba.Name, ba.Data)
			_, err := oci.Scan(context.Background(), path, oci.ScanOptions{})
			if !errors.Is(err, ba.Err) {
				t.Fatalf("Scan() error = %v, want %v", err, ba.Err)
			}
			want := []string{path}
			if ba.Entry != "" {
				want = append(want, fmt.Sprintf("entry %q", ba.Entry))
			}
			for _, s := range want {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("Scan() error %q does not contain %q", err, s)
				}
			}
		})
	}
}
