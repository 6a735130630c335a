package oci_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	digest "github.com/opencontainers/go-digest"

	"github.com/oci-attest/oci-attest/internal/oci"
	"github.com/oci-attest/oci-attest/internal/oci/ocitest"
	"github.com/oci-attest/oci-attest/internal/testenv"
)

// replayMutants is how many accepted mutants TestDifferentialReplay runs
// through the real tools, besides the fixtures and accepted rule cases.
const replayMutants = 60

// replayCorpus is the fixed corpus of TestDifferentialReplay: every
// fixture, every accepted rule case, and the first replayMutants mutants
// (programs drawn from a fixed seed) that Scan accepts.
func replayCorpus(t *testing.T) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, a := range ocitest.Archives() {
		b, err := os.ReadFile(filepath.Join(archivesDir, a.Name))
		if err != nil {
			t.Fatal(err)
		}
		out[a.Name] = b
	}
	for _, rc := range ruleCases() {
		if rc.wantErr == nil {
			out[rc.name] = rc.archive(t)
		}
	}
	// Archives as people make and ship them (issue 26): a layout directory
	// tarred with tar -cf x.tar -C DIR ., and archives compressed as a
	// whole by gzip, zstd and bzip2.
	for _, a := range ocitest.Archives() {
		dot := gnuDotTar(t, out[a.Name])
		out[a.Name+" (tar -C DIR .)"] = dot
		for c := range compressTool {
			out[a.Name+"."+string(c)] = realCompress(t, out[a.Name], c)
		}
		out[a.Name+" (tar -C DIR .).gz"] = realCompress(t, dot, oci.CompressionGzip)
	}
	seeds := differentialSeeds(t)
	r := rand.New(rand.NewPCG(9, 9))
	dir := t.TempDir()
	for k, n := 0, 0; n < replayMutants && k < 20*replayMutants; k++ {
		prog := make([]byte, 16)
		for i := range prog {
			prog[i] = byte(r.Uint32())
		}
		data := mutate(seeds, prog)
		if a, _ := scanBytes(t, dir, data); a != nil {
			out[fmt.Sprintf("mutant-%03d-%x", k, prog)] = data
			n++
		}
	}
	return out
}

// TestDifferentialReplay runs the differential property with the real
// tools on a fixed corpus (archives compressed as a whole among them: GNU
// tar and skopeo decompress them themselves): GNU tar extracts each accepted archive (then the
// file-system readers of differential_test.go read it, and ggcr), and
// skopeo reads it through docker-archive: (inspect --raw, inspect --config
// --raw, copy to dir:, which checks every blob) and oci-archive:. A tool
// may refuse an archive; reading other images than Scan did fails the
// test. skopeo is skipped where it is not installed, except in CI.
func TestDifferentialReplay(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("runs GNU tar and skopeo on a corpus")
	}
	gnuTar := testenv.RequireBin(t, "tar")
	skopeo := testenv.RequireBin(t, "skopeo")
	policy := filepath.Join(t.TempDir(), "policy.json")
	if err := os.WriteFile(policy, []byte(`{"default":[{"type":"insecureAcceptAnything"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	extractGNU := func(data []byte, dir string) error {
		f := filepath.Join(filepath.Dir(dir), "in.tar")
		if err := os.WriteFile(f, data, 0o600); err != nil {
			return err
		}
		return exec.Command(gnuTar, "-xf", f, "-C", dir, "--no-same-owner").Run()
	}
	corpus := replayCorpus(t)
	names := make([]string, 0, len(corpus))
	for n := range corpus {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		data := corpus[n]
		t.Run(n, func(t *testing.T) {
			t.Parallel()
			a, p := scanBytes(t, t.TempDir(), data)
			if a == nil {
				t.Fatal("Scan refused the archive")
			}
			out := filepath.Join(t.TempDir(), "x")
			if err := os.Mkdir(out, 0o755); err != nil {
				t.Fatal(err)
			}
			checkDifferential(t, data, a, out, extractGNU)
			sk := &skopeoRun{bin: skopeo, policy: policy, tmp: t.TempDir()}
			if _, err := os.Stat(filepath.Join(out, "manifest.json")); a.Format == oci.FormatDocker || err == nil {
				sk.dockerArchive(t, p, a)
			}
			if _, err := os.Stat(filepath.Join(out, "index.json")); err == nil {
				sk.ociArchive(t, p, a, out)
			}
		})
	}
}

type skopeoRun struct{ bin, policy, tmp string }

// run runs skopeo; an error is skopeo refusing.
func (s *skopeoRun) run(args ...string) ([]byte, error) {
	c := testenv.Command(s.bin, append([]string{"--policy", s.policy, "--tmpdir", s.tmp}, args...)...)
	c.Env = append(os.Environ(), "TMPDIR="+s.tmp)
	var stderr bytes.Buffer
	c.Stderr = &stderr
	out, err := c.Output()
	if err != nil {
		return nil, fmt.Errorf("%w: %s", err, stderr.Bytes())
	}
	return out, nil
}

// rawManifest is the part of an image manifest or index the replay reads.
type rawManifest struct {
	MediaType string                           `json:"mediaType"`
	Config    struct{ Digest digest.Digest }   `json:"config"`
	Layers    []struct{ Digest digest.Digest } `json:"layers"`
	Manifests []struct{ Digest digest.Digest } `json:"manifests"`
}

func (m rawManifest) layers() []digest.Digest {
	var ds []digest.Digest
	for _, l := range m.Layers {
		ds = append(ds, l.Digest)
	}
	return ds
}

// dockerArchive reads each manifest.json image as podman load and skopeo
// copy do (containers/image docker/internal/tarfile): the generated
// manifest names the config and the diffIDs; copy to dir: reads every
// layer and checks it against its diffID.
func (s *skopeoRun) dockerArchive(t *testing.T, p string, a *oci.Archive) {
	t.Helper()
	for i, img := range a.Images {
		ref := fmt.Sprintf("docker-archive:%s:@%d", p, i)
		raw, err := s.run("inspect", "--raw", ref)
		if err != nil {
			t.Logf("skopeo inspect --raw %s refuses: %v", ref, err)
			continue
		}
		var m rawManifest
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatalf("skopeo inspect --raw %s: %v", ref, err)
		}
		if m.Config.Digest != img.ImageID || !slices.Equal(m.layers(), img.DiffIDs) {
			t.Errorf("skopeo inspect --raw %s: config %s, layers %v; the scanner read config %s, diffIDs %v", ref, m.Config.Digest, m.layers(), img.ImageID, img.DiffIDs)
		}
		if cfg, err := s.run("inspect", "--config", "--raw", ref); err == nil && sha(cfg) != img.ImageID {
			t.Errorf("skopeo inspect --config --raw %s hashes to %s; the scanner read config %s", ref, sha(cfg), img.ImageID)
		}
		dst := filepath.Join(s.tmp, fmt.Sprintf("docker-%d", i))
		if _, err := s.run("copy", ref, "dir:"+dst); err != nil {
			t.Logf("skopeo copy %s refuses: %v", ref, err)
			continue
		}
		s.checkDir(t, "skopeo copy "+ref, dst, img.ImageID, img.DiffIDs)
	}
}

// checkDir checks the manifest skopeo copy wrote to a dir: destination.
func (s *skopeoRun) checkDir(t *testing.T, what, dst string, config digest.Digest, layers []digest.Digest) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dst, "manifest.json"))
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	var m rawManifest
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if m.Config.Digest != config || !slices.Equal(m.layers(), layers) {
		t.Errorf("%s copied config %s, layers %v; the scanner read config %s, layers %v", what, m.Config.Digest, m.layers(), config, layers)
	}
}

// ociArchive reads each index.json descriptor skopeo can address (the only
// one, or by a ref.name no other descriptor has) as podman's oci-archive:
// does: inspect --raw must return the descriptor's manifest; an image
// manifest must be one the scanner read, and copy to dir: must copy it.
func (s *skopeoRun) ociArchive(t *testing.T, p string, a *oci.Archive, extracted string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(extracted, "index.json"))
	if err != nil {
		return
	}
	var idx struct {
		Manifests []struct {
			Digest      digest.Digest     `json:"digest"`
			Annotations map[string]string `json:"annotations"`
		} `json:"manifests"`
	}
	if json.Unmarshal(raw, &idx) != nil {
		return
	}
	refs := map[string]int{}
	for _, d := range idx.Manifests {
		refs[d.Annotations["org.opencontainers.image.ref.name"]]++
	}
	byManifest := map[digest.Digest]oci.Image{}
	for _, img := range a.Images {
		if img.ManifestDigest != "" {
			byManifest[img.ManifestDigest] = img
		}
	}
	for i, d := range idx.Manifests {
		rn := d.Annotations["org.opencontainers.image.ref.name"]
		ref := "oci-archive:" + p
		switch {
		case len(idx.Manifests) == 1:
		case rn != "" && refs[rn] == 1:
			ref += ":" + rn
		default:
			continue
		}
		if d.Annotations["vnd.docker.reference.type"] != "" {
			continue
		}
		got, err := s.run("inspect", "--raw", ref)
		if err != nil {
			t.Logf("skopeo inspect --raw %s refuses: %v", ref, err)
			continue
		}
		if sha(got) != d.Digest {
			t.Errorf("skopeo inspect --raw %s returns a manifest of digest %s; index.json descriptor %d names %s", ref, sha(got), i, d.Digest)
			continue
		}
		var m rawManifest
		if json.Unmarshal(got, &m) != nil || m.Manifests != nil || m.Config.Digest == "" {
			continue // an image index: skopeo picks a platform of its own
		}
		dst := filepath.Join(s.tmp, fmt.Sprintf("oci-%d", i))
		if _, err := s.run("copy", ref, "dir:"+dst); err != nil {
			t.Logf("skopeo copy %s refuses: %v", ref, err)
			continue
		}
		img, ok := byManifest[d.Digest]
		if !ok {
			t.Errorf("skopeo copies image manifest %s (descriptor %d of index.json), which the scanner did not read", d.Digest, i)
			continue
		}
		var ls []digest.Digest
		for _, l := range img.Layers {
			ls = append(ls, l.Digest)
		}
		s.checkDir(t, "skopeo copy "+ref, dst, img.ImageID, ls)
	}
}
