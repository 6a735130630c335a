package registry

import (
	"context"
	"fmt"
	"io"
	"net/http"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/registry/remote/auth"

	"github.com/oci-attest/oci-attest/internal/ref"
)

// OpenBlob streams the blob desc of repository, of any size (a layer):
// the reader's last Read returns an error instead of io.EOF when the bytes
// read are not desc's size and digest, so a consumer that reads to the end
// never takes other bytes for the blob. Redirects to storage are followed
// without credentials. Close closes the response.
func (c *Client) OpenBlob(ctx context.Context, repository ref.Reference, desc ocispec.Descriptor) (io.ReadCloser, error) {
	ctx, rp := c.repository(ctx, repository, auth.ActionPull)
	what := fmt.Sprintf("fetching blob %s@%s", rp.name(), desc.Digest)
	if err := desc.Digest.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if desc.Size < 0 {
		return nil, fmt.Errorf("%s: negative size %d", what, desc.Size)
	}
	resp, err := rp.do(ctx, http.MethodGet, rp.url("blobs/"+desc.Digest.String()), nil, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		return nil, statusError(what, resp)
	}
	return &checkedBlob{rc: resp.Body, r: io.LimitReader(resp.Body, desc.Size+1), v: desc.Digest.Verifier(), desc: desc, what: what}, nil
}

// checkedBlob checks a streamed blob's size and digest at its end.
type checkedBlob struct {
	rc   io.ReadCloser
	r    io.Reader
	v    digest.Verifier
	n    int64
	desc ocispec.Descriptor
	what string
}

func (b *checkedBlob) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.n += int64(n)
	b.v.Write(p[:n]) //nolint:errcheck // a hash never fails
	switch {
	case b.n > b.desc.Size:
		return n, fmt.Errorf("%s: the registry sent more than %d bytes", b.what, b.desc.Size)
	case err == io.EOF && b.n != b.desc.Size:
		return n, fmt.Errorf("%s: got %d bytes, want %d", b.what, b.n, b.desc.Size)
	case err == io.EOF && !b.v.Verified():
		return n, fmt.Errorf("%s: content does not match its digest", b.what)
	case err != nil && err != io.EOF:
		return n, fmt.Errorf("%s: reading body: %w", b.what, err)
	}
	return n, err
}

func (b *checkedBlob) Close() error { return b.rc.Close() }
