package oci

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Writing an OCI archive: the images as a registry holds them and their
// referrers (ARCHITECTURE.md, "Across an air gap").
//
// Written by hand rather than with go-containerregistry's layout package or
// oras-go's oci store: both write a directory, which would then be tarred —
// twice the disk and a second pass over layers of gigabytes — while every
// blob's size is known from its descriptor, so the tar streams each blob
// once from where it is (the attested archive, else the registry). The
// archive is what `skopeo copy oci-archive:` and containerd read: oci-layout,
// index.json, blobs/sha256/<hex>, plus docker's manifest.json for the images
// that are no index, so that docker's classic store loads them too.

// LayoutBlob is one blob of a written layout: its descriptor, and its bytes
// (Data) or how to open them (Open). The bytes are checked against the
// descriptor as they are written.
type LayoutBlob struct {
	Descriptor ocispec.Descriptor
	Data       []byte
	Open       func(ctx context.Context) (io.ReadCloser, error)
}

// Layout is what WriteArchive writes: index.json's manifests (named by their
// annotations), the blobs, and the manifest.json entries (Config and Layers
// as blobs/sha256/<hex> paths; none: no manifest.json).
type Layout struct {
	Manifests []ocispec.Descriptor
	Blobs     []LayoutBlob
	Docker    []ManifestEntry
}

// WriteArchive writes l as a tar of an OCI image layout to path: into a
// temporary file beside it, renamed over path once complete, so that path
// is either the whole archive or untouched. Blobs are written once each, in
// order; one whose bytes do not match its descriptor fails the write.
func WriteArchive(ctx context.Context, path string, l Layout) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("writing OCI archive %q: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := writeLayout(ctx, tmp, l); err != nil {
		return fmt.Errorf("writing OCI archive %q: %w", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil { //nolint:gosec // the job's user reads it
		return fmt.Errorf("writing OCI archive %q: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing OCI archive %q: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing OCI archive %q: %w", path, err)
	}
	return nil
}

// writeLayout writes the tar stream of l to w.
func writeLayout(ctx context.Context, w io.Writer, l Layout) error {
	tw := tar.NewWriter(w)
	file := func(name string, b []byte) error {
		if err := tw.WriteHeader(header(name, int64(len(b)))); err != nil {
			return err
		}
		_, err := tw.Write(b)
		return err
	}
	index, err := json.Marshal(ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex, Manifests: l.Manifests})
	if err != nil {
		return err
	}
	if err := file(ocispec.ImageLayoutFile, []byte(`{"imageLayoutVersion":"1.0.0"}`)); err != nil {
		return err
	}
	if err := file("index.json", index); err != nil {
		return err
	}
	if len(l.Docker) > 0 {
		mj, err := json.Marshal(l.Docker)
		if err != nil {
			return err
		}
		if err := file("manifest.json", mj); err != nil {
			return err
		}
	}
	for _, dir := range []string{"blobs/", "blobs/sha256/"} {
		h := header(dir, 0)
		h.Typeflag, h.Mode = tar.TypeDir, 0o755
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
	}
	seen := map[digest.Digest]bool{}
	for _, b := range l.Blobs {
		if seen[b.Descriptor.Digest] {
			continue
		}
		seen[b.Descriptor.Digest] = true
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := writeBlob(ctx, tw, b); err != nil {
			return fmt.Errorf("blob %s: %w", b.Descriptor.Digest, err)
		}
	}
	return tw.Close()
}

// writeBlob writes one blob as blobs/<alg>/<hex>, checking its bytes.
func writeBlob(ctx context.Context, tw *tar.Writer, b LayoutBlob) error {
	d := b.Descriptor
	if d.Digest.Algorithm() != digest.SHA256 || d.Digest.Validate() != nil {
		return fmt.Errorf("%w: not a sha256 digest", ErrDigestMismatch)
	}
	var r io.Reader
	if b.Open == nil {
		r = bytes.NewReader(b.Data)
	} else {
		rc, err := b.Open(ctx)
		if err != nil {
			return err
		}
		defer rc.Close()
		r = rc
	}
	if err := tw.WriteHeader(header(blobPath(d.Digest), d.Size)); err != nil {
		return err
	}
	v := d.Digest.Verifier()
	n, err := io.Copy(io.MultiWriter(tw, v), io.LimitReader(r, d.Size))
	if err != nil {
		return err
	}
	var one [1]byte
	if m, _ := r.Read(one[:]); n != d.Size || m > 0 || !v.Verified() {
		return fmt.Errorf("%w: the bytes are not the %d of the descriptor", ErrDigestMismatch, d.Size)
	}
	return nil
}

// header is a regular file's tar header, owned by root, with a fixed time
// (the archive's bytes depend only on its content).
func header(name string, size int64) *tar.Header {
	return &tar.Header{Typeflag: tar.TypeReg, Name: name, Size: size, Mode: 0o644, ModTime: time.Unix(0, 0)}
}
