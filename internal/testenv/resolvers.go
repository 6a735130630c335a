package testenv

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"sync"

	"github.com/containerd/containerd/v2/core/content"
	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/platforms"
	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// The real resolvers of image indexes, for the differential tests of
// oci.Selectable (ARCHITECTURE.md "Testing"): containerd's
// core/images.Manifest with platforms.Only, and go-containerregistry's
// remote.Image with remote.WithPlatform.

// Blobs is content by digest: an index and everything it leads to. It is
// an oci.Fetcher over that content.
type Blobs map[digest.Digest][]byte

// ErrNoBlob is what Blobs answers for content it does not hold.
var ErrNoBlob = errors.New("not in the content")

// Manifest returns the bytes of d.
func (b Blobs) Manifest(_ context.Context, d ocispec.Descriptor) ([]byte, error) {
	if raw, ok := b[d.Digest]; ok {
		return raw, nil
	}
	return nil, fmt.Errorf("%s: %w", d.Digest, ErrNoBlob)
}

// Blob returns the bytes of d.
func (b Blobs) Blob(ctx context.Context, d ocispec.Descriptor) ([]byte, error) {
	return b.Manifest(ctx, d)
}

// ContainerdPick is the digest of the image manifest containerd reads from
// the index top for platform p: images.Manifest(ctx, provider, top,
// platforms.Only(p)) over blobs, as a containerd pull on a Linux host
// resolves it. The error is containerd's when it reads none.
func ContainerdPick(ctx context.Context, blobs Blobs, top ocispec.Descriptor, p ocispec.Platform) (digest.Digest, error) {
	prov := &recordingProvider{blobs: blobs}
	m, err := images.Manifest(ctx, prov, top, platforms.Only(p))
	if err != nil {
		return "", err
	}
	// The manifest read is the last manifest-typed descriptor read whose
	// config is the one returned (a config may be read after it).
	prov.mu.Lock()
	defer prov.mu.Unlock()
	for i := len(prov.read) - 1; i >= 0; i-- {
		d := prov.read[i]
		if !images.IsManifestType(d.MediaType) {
			continue
		}
		var got ocispec.Manifest
		if json.Unmarshal(blobs[d.Digest], &got) == nil && got.Config.Digest == m.Config.Digest {
			return d.Digest, nil
		}
	}
	return "", errors.New("containerd returned a manifest it did not read")
}

// recordingProvider is a content.Provider over Blobs that records what is
// read, in order.
type recordingProvider struct {
	blobs Blobs
	mu    sync.Mutex
	read  []ocispec.Descriptor
}

func (p *recordingProvider) ReaderAt(_ context.Context, desc ocispec.Descriptor) (content.ReaderAt, error) {
	b, ok := p.blobs[desc.Digest]
	if !ok {
		return nil, fmt.Errorf("content %s: not found", desc.Digest)
	}
	p.mu.Lock()
	p.read = append(p.read, desc)
	p.mu.Unlock()
	return readerAt{bytes.NewReader(b)}, nil
}

type readerAt struct{ *bytes.Reader }

func (readerAt) Close() error { return nil }

// GGCRPick is the digest of the manifest go-containerregistry's
// remote.Image(ref, remote.WithPlatform(p)) reads (crane, ko and kaniko
// resolve a tag so). opts are passed on (a transport).
func GGCRPick(ref name.Reference, p v1.Platform, opts ...remote.Option) (digest.Digest, error) {
	img, err := remote.Image(ref, append([]remote.Option{remote.WithPlatform(p)}, opts...)...)
	if err != nil {
		return "", err
	}
	h, err := img.Digest()
	if err != nil {
		return "", err
	}
	return digest.Digest(h.String()), nil
}

// InMemory is an http.RoundTripper that serves every request with h in
// the calling goroutine, without a network: go-containerregistry's
// pkg/registry, in memory, for fuzz targets.
func InMemory(h http.Handler) http.RoundTripper { return inMemory{h} }

type inMemory struct{ h http.Handler }

func (m inMemory) RoundTrip(req *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	if req.Body == nil {
		req.Body = http.NoBody
	}
	m.h.ServeHTTP(rec, req)
	resp := rec.Result()
	resp.Request = req
	if resp.Body == nil {
		resp.Body = io.NopCloser(bytes.NewReader(nil))
	}
	return resp, nil
}

// MemRegistry is go-containerregistry's pkg/registry in memory: reached
// through Transport, without a network, for fuzz targets.
type MemRegistry struct{ h http.Handler }

// NewMemRegistry starts an empty in-memory registry.
func NewMemRegistry() *MemRegistry {
	return &MemRegistry{h: ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)))}
}

// Transport reaches the registry, whatever the host.
func (m *MemRegistry) Transport() http.RoundTripper { return InMemory(m.h) }

// PutManifest stores raw as repo:reference with mediaType.
func (m *MemRegistry) PutManifest(repo, reference, mediaType string, raw []byte) error {
	req := httptest.NewRequest(http.MethodPut, "http://mem.invalid/v2/"+repo+"/manifests/"+reference, bytes.NewReader(raw))
	req.Header.Set("Content-Type", mediaType)
	rec := httptest.NewRecorder()
	m.h.ServeHTTP(rec, req)
	if rec.Code != http.StatusCreated {
		return fmt.Errorf("PUT %s:%s: %d %s", repo, reference, rec.Code, bytes.TrimSpace(rec.Body.Bytes()))
	}
	return nil
}
