package oci_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	digest "github.com/opencontainers/go-digest"

	"github.com/oci-attest/oci-attest/internal/oci"
	"github.com/oci-attest/oci-attest/internal/testenv"
)

// realTools runs buildah and skopeo with storage, policy and temporary
// files confined to a test directory, so they need no configuration of the
// machine (they run as root here; vfs needs no kernel overlay support, and
// from/copy/commit never start a container, so no isolation flag is needed).
type realTools struct {
	buildah, skopeo   string
	root, run, policy string
	tmp               string
}

func newRealTools(t *testing.T) *realTools {
	t.Helper()
	rt := &realTools{buildah: testenv.RequireBin(t, "buildah"), skopeo: testenv.RequireBin(t, "skopeo")}
	dir := t.TempDir()
	rt.root, rt.run, rt.tmp = filepath.Join(dir, "root"), filepath.Join(dir, "runroot"), filepath.Join(dir, "tmp")
	rt.policy = filepath.Join(dir, "policy.json")
	if err := os.MkdirAll(rt.tmp, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(rt.policy, []byte(`{"default":[{"type":"insecureAcceptAnything"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// vfs layers may hold read-only directories; remove them as root.
		exec.Command(rt.buildah, rt.storage("rm", "--all")...).Run()
	})
	return rt
}

func (rt *realTools) storage(args ...string) []string {
	return append([]string{"--storage-driver", "vfs", "--root", rt.root, "--runroot", rt.run}, args...)
}

// cmd runs a tool and returns its standard output.
func (rt *realTools) cmd(t *testing.T, bin string, args ...string) []byte {
	t.Helper()
	c := testenv.Command(bin, args...)
	c.Env = append(os.Environ(), "TMPDIR="+rt.tmp)
	var stderr bytes.Buffer
	c.Stderr = &stderr
	out, err := c.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(bin), strings.Join(args, " "), err, stderr.String())
	}
	return out
}

func (rt *realTools) buildahCmd(t *testing.T, args ...string) string {
	t.Helper()
	return strings.TrimSpace(string(rt.cmd(t, rt.buildah, rt.storage(args...)...)))
}

func (rt *realTools) skopeoCmd(t *testing.T, args ...string) []byte {
	t.Helper()
	return rt.cmd(t, rt.skopeo, append([]string{"--policy", rt.policy, "--tmpdir", rt.tmp}, args...)...)
}

// TestRealTools builds a two-layer image with buildah, exports it with
// buildah push and skopeo copy as docker-archive, oci-archive (gzip) and
// oci-archive (zstd), scans each, and compares the tar digest with the
// file's sha256, the image ID, layer digests and manifest digest with
// `skopeo inspect --raw`, the diffIDs with `skopeo inspect --config`, and the
// diffIDs again with the layers decompressed by tar, gzip/zstd and
// sha256sum.
func TestRealTools(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds images with buildah")
	}
	rt := newRealTools(t)
	cli := buildCLI(t)
	dir := t.TempDir()
	for i, content := range []string{"first layer\n", "second layer\n"} {
		f := filepath.Join(dir, "file"+string(rune('1'+i)))
		if err := os.WriteFile(f, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	const ref = "localhost/oci-attest/rt:v1"
	c := rt.buildahCmd(t, "from", "scratch")
	rt.buildahCmd(t, "copy", c, filepath.Join(dir, "file1"), "/file1")
	rt.buildahCmd(t, "commit", "--signature-policy", rt.policy, c, "localhost/oci-attest/rt:base")
	c2 := rt.buildahCmd(t, "from", "--pull-never", "localhost/oci-attest/rt:base")
	rt.buildahCmd(t, "copy", c2, filepath.Join(dir, "file2"), "/file2")
	rt.buildahCmd(t, "commit", "--signature-policy", rt.policy, c2, ref)

	out := t.TempDir()
	docker := filepath.Join(out, "docker.tar")
	ociGzip := filepath.Join(out, "oci-gzip.tar")
	ociZstd := filepath.Join(out, "oci-zstd.tar")
	dockerFromOCI := filepath.Join(out, "docker-from-oci.tar")
	rt.buildahCmd(t, "push", "--signature-policy", rt.policy, ref, "docker-archive:"+docker+":"+ref)
	rt.buildahCmd(t, "push", "--signature-policy", rt.policy, ref, "oci-archive:"+ociGzip+":"+ref)
	rt.skopeoCmd(t, "copy", "--dest-compress-format", "zstd", "oci-archive:"+ociGzip+":"+ref, "oci-archive:"+ociZstd+":v1")
	rt.skopeoCmd(t, "copy", "oci-archive:"+ociGzip+":"+ref, "docker-archive:"+dockerFromOCI+":"+ref)

	tests := []struct {
		path      string
		transport string
		format    oci.Format
		tags      []string
		comp      oci.Compression
	}{
		{docker, "docker-archive:" + docker, oci.FormatDocker, []string{ref}, oci.CompressionNone},
		{ociGzip, "oci-archive:" + ociGzip + ":" + ref, oci.FormatOCILayout, []string{ref}, oci.CompressionGzip},
		{ociZstd, "oci-archive:" + ociZstd + ":v1", oci.FormatOCILayout, []string{"v1"}, oci.CompressionZstd},
		{dockerFromOCI, "docker-archive:" + dockerFromOCI, oci.FormatDocker, []string{ref}, oci.CompressionNone},
	}
	for _, tc := range tests {
		t.Run(filepath.Base(tc.path), func(t *testing.T) {
			a, err := oci.Scan(context.Background(), tc.path, oci.ScanOptions{})
			if err != nil {
				t.Fatalf("Scan() error = %v", err)
			}
			raw, err := os.ReadFile(tc.path)
			if err != nil {
				t.Fatal(err)
			}
			if a.TarDigest != sha(raw) {
				t.Errorf("TarDigest = %s, sha256 of the file = %s", a.TarDigest, sha(raw))
			}
			if a.Format != tc.format || len(a.Images) != 1 {
				t.Fatalf("Format = %s with %d images; want %s with 1", a.Format, len(a.Images), tc.format)
			}
			img, why, err := a.Select(testenv.Ref(t, ref))
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("Select(%q): %s", ref, why)
			if diff := cmp.Diff(tc.tags, img.RepoTags); diff != "" {
				t.Errorf("RepoTags (-want +got):\n%s", diff)
			}

			// skopeo inspect --raw: the manifest (as stored, for OCI).
			mraw := rt.skopeoCmd(t, "inspect", "--raw", tc.transport)
			var m struct {
				Config struct{ Digest digest.Digest }   `json:"config"`
				Layers []struct{ Digest digest.Digest } `json:"layers"`
			}
			if err := json.Unmarshal(mraw, &m); err != nil {
				t.Fatalf("skopeo inspect --raw: %v\n%s", err, mraw)
			}
			if img.ImageID != m.Config.Digest {
				t.Errorf("ImageID = %s, skopeo says config %s", img.ImageID, m.Config.Digest)
			}
			var layers []digest.Digest
			for _, l := range img.Layers {
				layers = append(layers, l.Digest)
				if l.Compression != tc.comp {
					t.Errorf("layer %s Compression = %s, want %s", l.Path, l.Compression, tc.comp)
				}
			}
			var skLayers []digest.Digest
			for _, l := range m.Layers {
				skLayers = append(skLayers, l.Digest)
			}
			if diff := cmp.Diff(skLayers, layers); diff != "" {
				t.Errorf("layer digests (-skopeo +scanner):\n%s", diff)
			}
			if tc.format == oci.FormatOCILayout && img.ManifestDigest != sha(mraw) {
				t.Errorf("ManifestDigest = %s, sha256 of skopeo inspect --raw = %s", img.ManifestDigest, sha(mraw))
			}

			// skopeo inspect --config: rootfs.diff_ids.
			var cfg struct {
				RootFS struct {
					DiffIDs []digest.Digest `json:"diff_ids"`
				} `json:"rootfs"`
			}
			if err := json.Unmarshal(rt.skopeoCmd(t, "inspect", "--config", tc.transport), &cfg); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(cfg.RootFS.DiffIDs, img.DiffIDs); diff != "" {
				t.Errorf("diffIDs (-skopeo +scanner):\n%s", diff)
			}
			if len(img.DiffIDs) != 2 {
				t.Errorf("got %d layers, want 2", len(img.DiffIDs))
			}

			// The diffIDs once more, decompressed by the system's tools.
			for i, l := range img.Layers {
				pipe := "tar -xOf " + tc.path + " " + l.Path
				switch l.Compression {
				case oci.CompressionGzip:
					pipe += " | gzip -dc"
				case oci.CompressionZstd:
					pipe += " | zstd -dc"
				}
				out := rt.cmd(t, "bash", "-c", "set -o pipefail; "+pipe+" | sha256sum")
				got := digest.Digest("sha256:" + strings.Fields(string(out))[0])
				if got != img.DiffIDs[i] {
					t.Errorf("layer %d: %s = %s, scanner diffID %s", i, pipe, got, img.DiffIDs[i])
				}
			}

			// The CLI's dry run prints a predicate with the same values:
			// tardigest = the file's sha256, imageid and diffids as skopeo
			// reports them, manifestdigest = sha256 of manifest.json (or
			// index.json) as tar extracts it.
			var st struct {
				Predicate struct {
					TarDigest      map[string]string   `json:"tardigest"`
					ImageID        map[string]string   `json:"imageid"`
					DiffIDs        []map[string]string `json:"diffids"`
					ManifestDigest map[string]string   `json:"manifestdigest"`
				} `json:"predicate"`
			}
			dry := rt.cmd(t, cli, "--subject-path", tc.path, "--dry-run")
			if err := json.Unmarshal(dry, &st); err != nil {
				t.Fatalf("dry run printed no statement: %v\n%s", err, dry)
			}
			manifestFile := "manifest.json"
			if tc.format == oci.FormatOCILayout {
				manifestFile = "index.json"
			}
			mf := rt.cmd(t, "tar", "-xOf", tc.path, manifestFile)
			var diffIDs []digest.Digest
			for _, d := range st.Predicate.DiffIDs {
				diffIDs = append(diffIDs, digest.Digest("sha256:"+d["sha256"]))
			}
			p := st.Predicate
			for _, c := range []struct{ field, got, want string }{
				{"tardigest", "sha256:" + p.TarDigest["sha256"], sha(raw).String()},
				{"imageid", "sha256:" + p.ImageID["sha256"], m.Config.Digest.String()},
				{"manifestdigest", "sha256:" + p.ManifestDigest["sha256"], sha(mf).String()},
			} {
				if c.got != c.want {
					t.Errorf("dry run %s = %s, want %s", c.field, c.got, c.want)
				}
			}
			if diff := cmp.Diff(cfg.RootFS.DiffIDs, diffIDs); diff != "" {
				t.Errorf("dry run diffids (-skopeo +dry run):\n%s", diff)
			}
		})
	}
}

// buildCLI builds the oci-attest command for tests that run it as users do.
func buildCLI(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "oci-attest")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/oci-attest/oci-attest").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}
