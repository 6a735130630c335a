package pipeline

// Review 22 (second review): honest images and archives that real tools
// make must still be bound. Each test builds a shape a real tool writes,
// pushes it to an in-process registry, makes the archive with the real
// tool a user would run (skopeo, crane), and binds it as Run does
// (ReadArchives, NewPlan, run.bind).

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/oci-attest/oci-attest/internal/ref"
	"github.com/oci-attest/oci-attest/internal/registry"
	"github.com/oci-attest/oci-attest/internal/testenv"
)

// shapeEntry is one platform image of a hand-built index as a real tool
// writes it.
type shapeEntry struct {
	platform v1.Platform
	// config is the platform the image's config names (zero: platform's
	// os/architecture/variant).
	config *v1.Platform
	layers int
	// attest adds a buildx attestation manifest for the image after it.
	attest bool
}

// pushShape pushes an index (OCI, or a Docker manifest list with Docker
// schema 2 manifests) of entries to ref with go-containerregistry.
func pushShape(t *testing.T, ref string, docker bool, entries ...shapeEntry) v1.ImageIndex {
	t.Helper()
	mt, cmt, imt := types.OCIManifestSchema1, types.OCIConfigJSON, types.OCIImageIndex
	if docker {
		mt, cmt, imt = types.DockerManifestSchema2, types.DockerConfigJSON, types.DockerManifestList
	}
	var adds []mutate.IndexAddendum
	for _, e := range entries {
		img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, mt), cmt)
		for range e.layers {
			l, err := random.Layer(512, types.DockerLayer)
			if !docker {
				l, err = random.Layer(512, types.OCILayer)
			}
			if err != nil {
				t.Fatal(err)
			}
			if img, err = mutate.AppendLayers(img, l); err != nil {
				t.Fatal(err)
			}
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		cf = cf.DeepCopy()
		c := e.platform
		if e.config != nil {
			c = *e.config
		}
		cf.OS, cf.Architecture, cf.Variant, cf.OSVersion = c.OS, c.Architecture, c.Variant, c.OSVersion
		if img, err = mutate.ConfigFile(img, cf); err != nil {
			t.Fatal(err)
		}
		p := e.platform
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &p}})
		if !e.attest {
			continue
		}
		d, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		stmt := static.NewLayer([]byte(`{"_type":"https://in-toto.io/Statement/v0.1","predicateType":"https://slsa.dev/provenance/v0.2","subject":[{"name":"x","digest":{"sha256":"`+d.Hex+`"}}],"predicate":{}}`), "application/vnd.in-toto+json")
		att, err := mutate.Append(mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON), mutate.Addendum{Layer: stmt, Annotations: map[string]string{"in-toto.io/predicate-type": "https://slsa.dev/provenance/v0.2"}})
		if err != nil {
			t.Fatal(err)
		}
		adds = append(adds, mutate.IndexAddendum{Add: att, Descriptor: v1.Descriptor{
			Platform:    &v1.Platform{OS: "unknown", Architecture: "unknown"},
			Annotations: map[string]string{"vnd.docker.reference.type": "attestation-manifest", "vnd.docker.reference.digest": d.String()},
		}})
	}
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, imt), adds...)
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(r, idx); err != nil {
		t.Fatalf("pushing %s: %v", ref, err)
	}
	return idx
}

// runTool runs a real tool with an empty HOME and fails the test on error.
func runTool(t *testing.T, bin string, args ...string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", filepath.Base(bin), args, err, b)
	}
}

// bindArchive binds the archive at path to target as Run does (ReadArchives,
// NewPlan naming target, run.bind of every binding; push-image when push)
// and returns the log and the first error.
func bindArchive(t *testing.T, path, target string, push bool) (string, []*registry.Subject, error) {
	t.Helper()
	ctx := context.Background()
	rep := &logReporter{}
	as, err := ReadArchives(ctx, []string{path}, ReadOptions{}, rep)
	if err != nil {
		return rep.String(), nil, err
	}
	n, err := ref.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewPlan(as, Input{Names: []ref.Reference{n}})
	if err != nil {
		return rep.String(), nil, err
	}
	r := &run{opts: Options{Registry: registry.Options{DockerConfig: t.TempDir()}, PushImage: push}, rep: rep, files: newFiles(Options{})}
	var all []*registry.Subject
	for _, b := range p.Bindings {
		_, ss, err := r.bind(ctx, b)
		if err != nil {
			return rep.String(), all, err
		}
		all = append(all, ss...)
	}
	return rep.String(), all, nil
}

// officialShape is a Docker Hub official image's index today (e.g.
// library/debian, library/alpine): an OCI index with every platform
// Docker's build infrastructure builds, each followed by its buildx
// attestation manifest (unknown/unknown).
func officialShape() []shapeEntry {
	var es []shapeEntry
	for _, p := range []v1.Platform{
		{OS: "linux", Architecture: "amd64"},
		{OS: "linux", Architecture: "arm", Variant: "v5"},
		{OS: "linux", Architecture: "arm", Variant: "v6"},
		{OS: "linux", Architecture: "arm", Variant: "v7"},
		{OS: "linux", Architecture: "arm64", Variant: "v8"},
		{OS: "linux", Architecture: "386"},
		{OS: "linux", Architecture: "ppc64le"},
		{OS: "linux", Architecture: "riscv64"},
		{OS: "linux", Architecture: "s390x"},
	} {
		es = append(es, shapeEntry{platform: p, layers: 1, attest: true})
	}
	return es
}

// TestBindPublishedShapes: the shapes real tools make that bind today (each
// check says which tool writes it): Docker Hub official images (nine
// platforms, attestation manifests) saved whole with skopeo copy --all and
// crane pull --format=oci, one platform with crane pull (docker save's
// tarball), push-image of the whole; the registry's copy re-compressed
// with zstd (skopeo --dest-compress-format zstd); a Docker manifest list
// (podman, manifest-tool) saved with crane and skopeo docker-archive;
// Windows images of three builds; images with no layers.
func TestBindPublishedShapes(t *testing.T) {
	t.Parallel()
	skopeo := testenv.RequireBin(t, "skopeo")
	crane := testenv.Tool(t, "crane")
	reg := testenv.StartOlareg(t)
	dir := t.TempDir()
	check := func(what, archive, target string, push bool) {
		t.Helper()
		log, ss, err := bindArchive(t, archive, target, push)
		if err != nil {
			t.Errorf("%s: bind(%s) = %v\n%s", what, target, err, log)
			return
		}
		t.Logf("%s: bound %d subjects; partial=%v\n%s", what, len(ss), ss[0].Partial != nil, log)
	}

	official := reg.Host + "/library/debian:12"
	pushShape(t, official, false, officialShape()...)
	all := filepath.Join(dir, "official.tar")
	runTool(t, skopeo, "copy", "--all", "--src-tls-verify=false", "docker://"+official, "oci-archive:"+all+":12")
	check("official skopeo --all oci-archive", all, official, false)
	check("official skopeo --all oci-archive push-image", all, reg.Host+"/copy/debian:12", true)
	for _, p := range []string{"linux/arm/v5", "linux/arm/v6", "linux/arm64/v8", "linux/386"} {
		one := filepath.Join(dir, "one-"+filepath.Base(filepath.Dir(p))+filepath.Base(p)+".tar")
		runTool(t, crane, "pull", "--insecure", "--platform", p, official, one)
		check("official crane pull --platform "+p+" (docker save shape)", one, official, false)
	}
	layout := filepath.Join(dir, "layout")
	runTool(t, crane, "pull", "--insecure", "--format=oci", official, layout)
	runTool(t, "tar", "-C", layout, "-cf", layout+".tar", "oci-layout", "index.json", "blobs")
	check("official crane pull --format=oci, tarred", layout+".tar", official, false)

	// The registry's copy re-compressed with zstd (skopeo copy --all
	// --dest-compress-format zstd): the gzip archive binds.
	zstd := reg.Host + "/zstd/debian:12"
	runTool(t, skopeo, "copy", "--all", "--dest-tls-verify=false", "--dest-compress-format", "zstd", "oci-archive:"+all+":12", "docker://"+zstd)
	check("official, registry copy zstd", all, zstd, false)
	one := filepath.Join(dir, "one-arm64-zstd.tar")
	runTool(t, crane, "pull", "--insecure", "--platform", "linux/arm64", official, one)
	check("official arm64 docker save shape, registry copy zstd", one, zstd, false)

	// podman manifest push / manifest-tool: a Docker manifest list of
	// Docker schema 2 manifests, no attestations.
	podman := reg.Host + "/podman/app:1"
	pushShape(t, podman, true, shapeEntry{platform: v1.Platform{OS: "linux", Architecture: "amd64"}, layers: 2}, shapeEntry{platform: v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}, layers: 2})
	regctl := testenv.Tool(t, "regctl")
	for _, tc := range []struct{ what, ref string }{{"official", official}, {"podman list", podman}} {
		out := filepath.Join(dir, "regctl-"+filepath.Base(filepath.Dir(tc.ref))+".tar")
		runTool(t, regctl, "--host", "reg="+reg.Host+",tls=disabled", "image", "export", tc.ref, out)
		check(tc.what+" regctl image export", out, tc.ref, false)
	}
	// (skopeo copy --all of a Docker list into an oci-archive converts its
	// configs: TestBindConvertedConfigAdvice.)
	pl := filepath.Join(dir, "podman-layout")
	runTool(t, crane, "pull", "--insecure", "--format=oci", podman, pl)
	runTool(t, "tar", "-C", pl, "-cf", pl+".tar", "oci-layout", "index.json", "blobs")
	check("podman list crane pull --format=oci", pl+".tar", podman, false)
	pd := filepath.Join(dir, "podman-docker.tar")
	runTool(t, skopeo, "copy", "--src-tls-verify=false", "--override-arch", "arm64", "docker://"+podman, "docker-archive:"+pd+":"+podman)
	check("podman list skopeo docker-archive arm64", pd, podman, false)

	// Windows: several builds of windows/amd64 (mcr.microsoft.com shape),
	// os.features win32k on one.
	win := reg.Host + "/windows/servercore:ltsc"
	pushShape(t, win, false,
		shapeEntry{platform: v1.Platform{OS: "windows", Architecture: "amd64", OSVersion: "10.0.17763.6893"}, layers: 2},
		shapeEntry{platform: v1.Platform{OS: "windows", Architecture: "amd64", OSVersion: "10.0.20348.3207"}, layers: 2},
		shapeEntry{platform: v1.Platform{OS: "windows", Architecture: "amd64", OSVersion: "10.0.26100.3194"}, layers: 2},
	)
	wa := filepath.Join(dir, "win.tar")
	runTool(t, skopeo, "copy", "--all", "--src-tls-verify=false", "docker://"+win, "oci-archive:"+wa+":ltsc")
	check("windows skopeo --all", wa, win, false)
	for _, v := range []string{"10.0.17763.6893", "10.0.20348.3207", "10.0.26100.3194"} {
		w1 := filepath.Join(dir, "win-"+v+".tar")
		runTool(t, crane, "pull", "--insecure", "--platform", "windows/amd64:"+v, win, w1)
		check("windows crane pull "+v+" (docker save on a Windows host)", w1, win, false)
	}

	// Zero layers (FROM scratch with only a config: a data-only or
	// ENV-only image), single manifest, and in an index.
	zero := reg.Host + "/zero/app:1"
	pushShape(t, zero, false, shapeEntry{platform: v1.Platform{OS: "linux", Architecture: "amd64"}}, shapeEntry{platform: v1.Platform{OS: "linux", Architecture: "arm64"}, attest: true})
	za := filepath.Join(dir, "zero.tar")
	runTool(t, skopeo, "copy", "--all", "--src-tls-verify=false", "docker://"+zero, "oci-archive:"+za+":1")
	check("zero layers skopeo --all", za, zero, false)
	z1 := filepath.Join(dir, "zero1.tar")
	runTool(t, crane, "pull", "--insecure", "--platform", "linux/amd64", zero, z1)
	check("zero layers crane pull (docker save)", z1, zero, false)

	// arm/v6 whose config names no variant (built before docker wrote
	// variants, or by a tool that does not): saved alone.
	v6 := reg.Host + "/armv6/app:1"
	pushShape(t, v6, false,
		shapeEntry{platform: v1.Platform{OS: "linux", Architecture: "amd64"}, layers: 1},
		shapeEntry{platform: v1.Platform{OS: "linux", Architecture: "arm", Variant: "v6"}, config: &v1.Platform{OS: "linux", Architecture: "arm"}, layers: 1},
		shapeEntry{platform: v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}, config: &v1.Platform{OS: "linux", Architecture: "arm64"}, layers: 1},
	)
	v6a := filepath.Join(dir, "v6.tar")
	runTool(t, skopeo, "copy", "--all", "--src-tls-verify=false", "docker://"+v6, "oci-archive:"+v6a+":1")
	check("arm/v6 config without variant, skopeo --all", v6a, v6, false)
	// (Its one-platform docker save is refused: registry's
	// TestResolveArmConfigWithoutVariant.)
}

// buildxLayout writes the OCI layout buildx's exporters write for an
// index pushed as ref (type=oci, and type=docker / docker save with the
// containerd image store): index.json naming the image index with
// containerd's image-name annotations; with lackArm64, the blobs of every
// platform but linux/amd64 (and its attestation manifest) are missing and
// a manifest.json names the amd64 image, as `docker save` with the
// containerd store writes on an amd64 host.
func buildxLayout(t *testing.T, idx v1.ImageIndex, ref string, lackOthers bool) string {
	return dockerSaveLayout(t, idx, ref, lackOthers, lackOthers)
}

// dockerSaveLayout is buildxLayout, with a manifest.json naming the
// linux/amd64 image when manifestJSON.
func dockerSaveLayout(t *testing.T, idx v1.ImageIndex, ref string, lackOthers, manifestJSON bool) string {
	t.Helper()
	dir := t.TempDir()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendIndex(idx, layout.WithAnnotations(map[string]string{"io.containerd.image.name": ref, "org.opencontainers.image.ref.name": "12"})); err != nil {
		t.Fatal(err)
	}
	if manifestJSON {
		im, err := idx.IndexManifest()
		if err != nil {
			t.Fatal(err)
		}
		var amd64 v1.Hash
		keep := map[v1.Hash]bool{}
		for _, d := range im.Manifests {
			isAmd := d.Platform != nil && d.Platform.Architecture == "amd64"
			isAmdAtt := d.Annotations["vnd.docker.reference.digest"] == amd64.String()
			if isAmd {
				amd64 = d.Digest
			}
			if !isAmd && !isAmdAtt && lackOthers {
				continue
			}
			img, err := idx.Image(d.Digest)
			if err != nil {
				t.Fatal(err)
			}
			keep[d.Digest] = true
			cd, _ := img.ConfigName()
			keep[cd] = true
			ls, _ := img.Layers()
			for _, l := range ls {
				ld, _ := l.Digest()
				keep[ld] = true
			}
		}
		idxd, _ := idx.Digest()
		keep[idxd] = true
		ents, _ := os.ReadDir(filepath.Join(dir, "blobs", "sha256"))
		for _, e := range ents {
			if lackOthers && !keep[v1.Hash{Algorithm: "sha256", Hex: e.Name()}] {
				if err := os.Remove(filepath.Join(dir, "blobs", "sha256", e.Name())); err != nil {
					t.Fatal(err)
				}
			}
		}
		img, _ := idx.Image(amd64)
		cd, _ := img.ConfigName()
		m, _ := img.Manifest()
		var layers []string
		for _, l := range m.Layers {
			layers = append(layers, "blobs/sha256/"+l.Digest.Hex)
		}
		mj, _ := json.Marshal([]map[string]any{{"Config": "blobs/sha256/" + cd.Hex, "RepoTags": []string{ref}, "Layers": layers}})
		if err := os.WriteFile(filepath.Join(dir, "manifest.json"), mj, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := dir + ".tar"
	args := []string{"-C", dir, "-cf", out, "oci-layout", "index.json", "blobs"}
	if manifestJSON {
		args = append(args, "manifest.json")
	}
	runTool(t, "tar", args...)
	return out
}

func TestBindBuildxLayouts(t *testing.T) {
	t.Parallel()
	reg := testenv.StartOlareg(t)
	check := func(what, archive, target string, push bool) {
		t.Helper()
		log, ss, err := bindArchive(t, archive, target, push)
		if err != nil {
			t.Errorf("%s: bind(%s) = %v\n%s", what, target, err, log)
			return
		}
		t.Logf("%s: bound %d subjects; partial=%v\n%s", what, len(ss), ss[0].Partial != nil, log)
	}
	app := reg.Host + "/buildx/app:12"
	idx := pushShape(t, app, false,
		shapeEntry{platform: v1.Platform{OS: "linux", Architecture: "amd64"}, layers: 2, attest: true},
		shapeEntry{platform: v1.Platform{OS: "linux", Architecture: "arm64"}, layers: 2, attest: true},
	)
	full := buildxLayout(t, idx, app, false)
	check("buildx type=oci", full, app, false)
	check("buildx type=oci push-image", full, reg.Host+"/buildx/pushed:12", true)
	part := buildxLayout(t, idx, app, true)
	check("docker save, containerd store, amd64 host", part, app, false)
	check("docker save, containerd store, amd64 host, push-image", part, reg.Host+"/buildx/pushed1:12", true)

	// docker build on Docker Engine 29 / Docker Desktop (containerd image
	// store, buildx's default provenance mode=min): a one-platform index
	// with its attestation manifest, saved whole with docker save
	// (index.json and manifest.json) and pushed with docker push.
	local := reg.Host + "/local/app:1"
	one := pushShape(t, local, false, shapeEntry{platform: v1.Platform{OS: "linux", Architecture: "amd64"}, layers: 3, attest: true})
	saved := dockerSaveLayout(t, one, local, false, true)
	check("docker build + docker save, containerd store", saved, local, false)
	check("docker build + docker save, containerd store, push-image", saved, reg.Host+"/local/pushed:1", true)
}

// TestBindConvertedConfigAdvice (an error a user cannot
// act on; the refusal itself is right): `skopeo copy --all docker://…
// oci-archive:…` of a Docker manifest list — what `podman manifest push
// --format v2s2`, manifest-tool, `docker manifest push` and every image
// built by the classic builder and combined into a list publish — converts
// each Docker schema 2 manifest to OCI, and containers/image's
// convertToManifestOCI1 re-marshals the config as an OCI config (Docker's
// container_config, docker_version… dropped): the archive's image IDs are
// not the registry's configs, though every layer blob is the registry's.
// Binding rightly refuses (the statement's image ID would name a config
// no runtime pulls), but says only that the index "has no entry that
// runtimes select and that is the attested platform …" and lists each
// entry's "config … is no image of the archive": nothing says that the
// layers are the archive's and only the config differs, nor what to do.
// Fix: when an entry's layers are an archive image's (same blobs) and its
// config is another, say so ("entry X has the archive's layers with
// another config: the archive was converted from the registry's image
// (skopeo copy to oci-archive rewrites Docker schema 2 configs); attest an
// archive that keeps the registry's bytes (docker save, crane pull
// --format=oci, skopeo copy --all to docker-archive is one platform only) or
// push this archive's image with push-image").
func TestBindConvertedConfigAdvice(t *testing.T) {
	t.Parallel()
	skopeo := testenv.RequireBin(t, "skopeo")
	reg := testenv.StartOlareg(t)
	list := reg.Host + "/list/app:1"
	pushShape(t, list, true,
		shapeEntry{platform: v1.Platform{OS: "linux", Architecture: "amd64"}, layers: 2},
		shapeEntry{platform: v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}, layers: 2})
	archive := filepath.Join(t.TempDir(), "list.tar")
	runTool(t, skopeo, "copy", "--all", "--src-tls-verify=false", "docker://"+list, "oci-archive:"+archive+":1")
	log, _, err := bindArchive(t, archive, list, false)
	if !errors.Is(err, registry.ErrBinding) {
		t.Fatalf("bind(skopeo's converted archive) = %v, want ErrBinding (its configs are not the registry's)\n%s", err, log)
	}
	if msg := err.Error(); !strings.Contains(msg, "layers") || !strings.Contains(msg, "push-image") && !strings.Contains(msg, "push") {
		t.Errorf("bind(skopeo's converted archive) = %v\nwant it to say the entries have the archive's layers with another config (the archive was converted) and what to do", err)
	}
	// push-image binds the converted archive: what the user can do.
	if log, _, err := bindArchive(t, archive, reg.Host+"/list/pushed:1", true); err != nil {
		t.Errorf("bind(push-image of skopeo's converted archive) = %v\n%s", err, log)
	}
}
