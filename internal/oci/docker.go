package oci

import (
	"encoding/json"
	"fmt"
	"strings"
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
	if _, ok := t.byName["index.json"]; ok {
		if err := t.dockerManifests(a, opts); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// imageConfig is the part of an image config the scanner checks.
type imageConfig struct {
	RootFS *struct {
		Type    string          `json:"type"`
		DiffIDs []digest.Digest `json:"diff_ids"`
	} `json:"rootfs"`
}

// image resolves a manifest entry's config and layers and checks the
// diffIDs against the config.
func (t *table) image(me ManifestEntry, what string, opts ScanOptions) (*Image, error) {
	ce, err := t.resolve(me.Config, what+" Config")
	if err != nil {
		return nil, err
	}
	craw, err := t.jsonOf(ce, "image config", opts.maxJSON())
	if err != nil {
		return nil, err
	}
	cfg, ok := t.configs[ce]
	if !ok {
		cfg = &imageConfig{}
		if err := json.Unmarshal(craw, cfg); err != nil {
			return nil, fail(t.path, me.Config, "%w: image config is not valid JSON: %v", ErrBadManifest, err)
		}
		if t.configs == nil {
			t.configs = map[*entry]*imageConfig{}
		}
		t.configs[ce] = cfg
	}
	if cfg.RootFS == nil {
		return nil, fail(t.path, me.Config, "%w: image config has no rootfs", ErrBadManifest)
	}
	img := &Image{
		RepoTags:   me.RepoTags,
		ConfigPath: me.Config,
		ImageID:    ce.digest(),
		ConfigRaw:  craw,
	}
	t.useBlob(img.ImageID, ce)
	for j, lp := range me.Layers {
		le, err := t.resolve(lp, fmt.Sprintf("%s layer %d", what, j))
		if err != nil {
			return nil, err
		}
		if le.compression != CompressionNone && !le.compression.decompresses() {
			return nil, fail(t.path, lp, "%w", le.compression.unsupported())
		}
		if le.deferred {
			// It expanded beyond the pass's budget: decompress it now
			// that it is known to be a layer.
			if err := t.inflate(le); err != nil {
				return nil, err
			}
		}
		if le.decompressErr != nil {
			return nil, fail(t.path, lp, "%w", le.decompressErr)
		}
		l := Layer{Path: lp, Digest: le.digest(), Size: le.size, DiffID: le.diffID(), Compression: le.compression}
		t.useBlob(l.Digest, le)
		img.Layers = append(img.Layers, l)
		img.DiffIDs = append(img.DiffIDs, l.DiffID)
	}
	if err := checkDiffIDs(img.DiffIDs, cfg.RootFS.DiffIDs); err != nil {
		return nil, fail(t.path, me.Config, "%w", err)
	}
	return img, nil
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

// dockerManifests fills ManifestDigest/ManifestRaw of a Docker ≥25 archive's
// images from its index.json and blobs, matching manifests by config digest.
func (t *table) dockerManifests(a *Archive, opts ScanOptions) error {
	ims, err := t.walkIndex(opts, true)
	if err != nil {
		return err
	}
	byConfig := map[digest.Digest][]*foundManifest{}
	for _, im := range ims {
		byConfig[im.manifest.Config.Digest] = append(byConfig[im.manifest.Config.Digest], im)
	}
	// Entries with the same config and layer digests match the same
	// manifest: each such combination is looked up once (a crafted
	// archive could otherwise cost entries × manifests checks).
	type match struct {
		im       *foundManifest
		mismatch error
	}
	done := map[string]match{}
	for i := range a.Images {
		img := &a.Images[i]
		var key strings.Builder
		key.WriteString(img.ImageID.String())
		for _, l := range img.Layers {
			key.WriteString(" " + l.Digest.String())
		}
		m, ok := done[key.String()]
		if !ok {
			for _, im := range byConfig[img.ImageID] {
				// Several manifests may share a config (e.g. the same image
				// with gzip and with uncompressed layers): take the one whose
				// layers are the ones manifest.json names.
				if err := t.checkLayerDescriptors(im, img); err != nil {
					m.mismatch = err
					continue
				}
				m = match{im: im}
				break
			}
			done[key.String()] = m
		}
		if m.im == nil && m.mismatch != nil {
			return m.mismatch
		}
		if im := m.im; im != nil {
			img.ManifestDigest, img.ManifestRaw, img.ManifestMediaType = im.desc.Digest, im.raw, im.mediaType
			t.useBlob(im.desc.Digest, im.entry)
		}
	}
	return nil
}

// checkLayerDescriptors checks that an image manifest's layers are the
// layers the image was read with.
func (t *table) checkLayerDescriptors(im *foundManifest, img *Image) error {
	if len(im.manifest.Layers) != len(img.Layers) {
		return fail(t.path, im.path, "%w: image manifest lists %d layers but manifest.json lists %d", ErrDigestMismatch, len(im.manifest.Layers), len(img.Layers))
	}
	for j, l := range im.manifest.Layers {
		if l.Digest != img.Layers[j].Digest {
			return fail(t.path, im.path, "%w: image manifest layer %d is %s but manifest.json's layer %q hashes to %s", ErrDigestMismatch, j, l.Digest, img.Layers[j].Path, img.Layers[j].Digest)
		}
	}
	return nil
}
