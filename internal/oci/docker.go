package oci

import (
	"encoding/json"
	"fmt"
	"unicode"
	"unicode/utf8"

	digest "github.com/opencontainers/go-digest"
)

// interpret turns the recorded entries into an Archive: manifest.json for
// docker archives, else index.json for OCI layouts.
func (t *table) interpret(opts ScanOptions) (*Archive, error) {
	if err := t.checkNames(); err != nil {
		return nil, err
	}
	var a *Archive
	var err error
	if e, ok := t.byName["manifest.json"]; ok {
		a, err = t.docker(e, opts)
	} else if e, ok := t.byName["index.json"]; ok {
		a, err = t.layout(e, opts)
	} else {
		return nil, fail(t.path, "", "%w: it has neither manifest.json nor index.json; pass a file written by docker save, podman save, skopeo copy, crane or buildx", ErrNotArchive)
	}
	if err != nil {
		return nil, err
	}
	if err := t.checkDeferredNames(); err != nil {
		return nil, err
	}
	t.referrers(a, opts)
	a.blobs = make(map[digest.Digest]blobAt, len(t.blobs))
	for d, e := range t.blobs {
		a.blobs[d] = blobAt{name: e.name, offset: e.offset, size: e.size}
	}
	return a, nil
}

// validTag reports whether s can be an image reference: non-empty, at most
// 512 bytes, without white space or control characters. Tags end up in the
// log and the job summary, where line breaks could forge workflow commands.
func validTag(s string) bool {
	if s == "" || len(s) > 512 {
		return false
	}
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) || r == utf8.RuneError {
			return false
		}
	}
	return true
}

// docker reads a docker-archive through its manifest.json.
func (t *table) docker(me *entry, opts ScanOptions) (*Archive, error) {
	raw, err := t.jsonOf(me, "manifest.json", opts.maxJSON())
	if err != nil {
		return nil, err
	}
	t.work.parsed(raw)
	m, err := parseManifestJSON(raw, opts.maxTags())
	if err != nil {
		return nil, fail(t.path, "manifest.json", "%w", err)
	}
	a := &Archive{Format: FormatDocker, ManifestRaw: raw, Manifest: m}
	for i, me := range m {
		what := fmt.Sprintf("manifest.json entry %d", i)
		img, err := t.image(me, what, opts)
		if err != nil {
			return nil, err
		}
		img.Index = i
		a.Images = append(a.Images, *img)
	}
	if err := t.checkManifestTags(a); err != nil {
		return nil, err
	}
	if _, ok := t.byName["index.json"]; ok {
		if err := t.checkIndexAgrees(a, opts); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// imageConfig is the part of an image config the scanner checks, and its
// platform.
type imageConfig struct {
	OS           string `json:"os"`
	Architecture string `json:"architecture"`
	Variant      string `json:"variant"`
	RootFS       *struct {
		Type    string          `json:"type"`
		DiffIDs []digest.Digest `json:"diff_ids"`
	} `json:"rootfs"`
}

// ConfigPlatform is the platform img's config names (os, architecture,
// variant), spelt as there; zero when it names none or is not JSON.
func (img *Image) ConfigPlatform() Platform {
	var cfg imageConfig
	if json.Unmarshal(img.ConfigRaw, &cfg) != nil {
		return Platform{}
	}
	return Platform{OS: cfg.OS, Architecture: cfg.Architecture, Variant: cfg.Variant}
}

// image resolves a manifest entry's config and layers and checks the
// diffIDs against the config.
func (t *table) image(me ManifestEntry, what string, opts ScanOptions) (*Image, error) {
	ce, err := t.resolve(me.Config, what+" Config")
	if err != nil {
		return nil, err
	}
	craw, cfg, err := t.config(ce, me.Config, opts)
	if err != nil {
		return nil, err
	}
	img := &Image{
		RepoTags:   me.RepoTags,
		ConfigPath: me.Config,
		ImageID:    ce.digest(),
		ConfigRaw:  craw,
		Platform:   Platform{OS: cfg.OS, Architecture: cfg.Architecture, Variant: cfg.Variant},
	}
	t.useBlob(img.ImageID, ce)
	for j, lp := range me.Layers {
		l, err := t.layer(lp, fmt.Sprintf("%s layer %d", what, j))
		if err != nil {
			return nil, err
		}
		img.Layers = append(img.Layers, l)
		img.DiffIDs = append(img.DiffIDs, l.DiffID)
	}
	if err := checkDiffIDs(img.DiffIDs, cfg.RootFS.DiffIDs); err != nil {
		return nil, fail(t.path, me.Config, "%w", err)
	}
	return img, nil
}

// config reads the image config ce (at path) and parses it, once however
// many images share it.
func (t *table) config(ce *entry, path string, opts ScanOptions) ([]byte, *imageConfig, error) {
	craw, err := t.jsonOf(ce, "image config", opts.maxJSON())
	if err != nil {
		return nil, nil, err
	}
	cfg, ok := t.configs[ce]
	if !ok {
		cfg = &imageConfig{}
		t.work.parsed(craw)
		if err := json.Unmarshal(craw, cfg); err != nil {
			return nil, nil, fail(t.path, path, "%w: image config is not valid JSON: %v", ErrBadManifest, err)
		}
		if t.configs == nil {
			t.configs = map[*entry]*imageConfig{}
		}
		t.configs[ce] = cfg
	}
	if cfg.RootFS == nil {
		return nil, nil, fail(t.path, path, "%w: image config has no rootfs", ErrBadManifest)
	}
	return craw, cfg, nil
}

// layer resolves the layer at path (what the image calls it): stored
// uncompressed, gzip or zstd, decompressed (now, if the pass deferred it)
// to a tar stream.
func (t *table) layer(path, what string) (Layer, error) {
	le, err := t.resolve(path, what)
	if err != nil {
		return Layer{}, err
	}
	if le.compression != CompressionNone && !le.compression.decompresses() {
		return Layer{}, fail(t.path, path, "%w", le.compression.unsupported())
	}
	if le.deferred {
		// It expanded beyond the pass's budget: decompress it now
		// that it is known to be a layer.
		if err := t.inflate(le); err != nil {
			return Layer{}, err
		}
	}
	if le.decompressErr != nil {
		return Layer{}, fail(t.path, path, "%w", le.decompressErr)
	}
	if le.notTar == nil && le.json != nil {
		if err := checkTarBytes(le.json); err != nil {
			le.notTar = notTarError(CompressionNone, err)
		}
	}
	if le.notTar != nil {
		return Layer{}, fail(t.path, path, "%w", le.notTar)
	}
	l := Layer{Path: path, Digest: le.digest(), Size: le.size, DiffID: le.diffID(), Compression: le.compression}
	t.useBlob(l.Digest, le)
	return l, nil
}

// checkDiffIDs compares computed diffIDs with the config's.
func checkDiffIDs(got, want []digest.Digest) error {
	if len(got) != len(want) {
		return fmt.Errorf("%w: the image has %d layers but its config lists %d diff_ids; the archive is corrupt or was altered", ErrDiffIDMismatch, len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			return fmt.Errorf("%w: layer %d decompresses to %s but the config says %s; the archive is corrupt or was altered", ErrDiffIDMismatch, i, got[i], want[i])
		}
	}
	return nil
}
