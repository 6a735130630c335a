package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/registry/remote/auth"

	"github.com/oci-attest/oci-attest/internal/ref"
)

// maxReferrerPages bounds how many Link pages Referrers follows.
const maxReferrerPages = 64

// Referrers lists the referrers of subject in repository, following the distribution-spec client rules: the
// referrers API when it answers, else the sha256-<hex> fallback tag (absent
// tag: none). With artifactType set, only matching entries are returned (the
// filter is applied here too, as registries may ignore it). source is "api"
// or "tag:sha256-…".
func (c *Client) Referrers(ctx context.Context, repository ref.Reference, subject ocispec.Descriptor, artifactType string) ([]ocispec.Descriptor, string, error) {
	if err := subject.Digest.Validate(); err != nil {
		return nil, "", fmt.Errorf("listing referrers in %s: invalid subject digest %q: %w", repository, subject.Digest, err)
	}
	ctx, rp := c.repository(ctx, repository, auth.ActionPull)
	what := fmt.Sprintf("listing referrers of %s@%s", rp.name(), subject.Digest)
	u := rp.url("referrers/" + subject.Digest.String())
	if artifactType != "" {
		u += "?" + url.Values{"artifactType": {artifactType}}.Encode()
	}
	var all []ocispec.Descriptor
	for page := 0; u != ""; page++ {
		if page == maxReferrerPages {
			return nil, "", fmt.Errorf("%s: more than %d pages", what, maxReferrerPages)
		}
		resp, err := rp.do(ctx, http.MethodGet, u, nil, http.Header{"Accept": {ocispec.MediaTypeImageIndex}})
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", what, err)
		}
		if page == 0 && (resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusMethodNotAllowed) {
			resp.Body.Close()
			return c.referrersFromTag(ctx, rp, subject, artifactType)
		}
		if resp.StatusCode != http.StatusOK {
			err := statusError(what, resp)
			resp.Body.Close()
			return nil, "", err
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, maxManifestSize+1))
		resp.Body.Close()
		if err != nil {
			return nil, "", fmt.Errorf("%s: reading body: %w", what, err)
		}
		var idx ocispec.Index
		if err := json.Unmarshal(body, &idx); err != nil {
			return nil, "", fmt.Errorf("%s: the referrers API answered something that is not an image index: %w", what, err)
		}
		all = append(all, idx.Manifests...)
		u = nextLink(resp)
	}
	return filterType(all, artifactType), "api", nil
}

// referrersFromTag reads the fallback tag.
func (c *Client) referrersFromTag(ctx context.Context, rp repo, subject ocispec.Descriptor, artifactType string) ([]ocispec.Descriptor, string, error) {
	tag := fallbackTag(subject.Digest.String())
	f, err := rp.getManifest(ctx, tag)
	if errors.Is(err, ErrNotFound) {
		return nil, "tag:" + tag, nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("listing referrers of %s@%s from the fallback tag: %w", rp.name(), subject.Digest, err)
	}
	if f.Desc.MediaType != ocispec.MediaTypeImageIndex {
		return nil, "", fmt.Errorf("listing referrers of %s@%s: %w: %s", rp.name(), subject.Digest, ErrForeignTag, tag)
	}
	var idx ocispec.Index
	if err := json.Unmarshal(f.Raw, &idx); err != nil {
		return nil, "", fmt.Errorf("listing referrers of %s@%s: parsing fallback tag %s: %w", rp.name(), subject.Digest, tag, err)
	}
	return filterType(idx.Manifests, artifactType), "tag:" + tag, nil
}

// filterType keeps the descriptors with artifactType t (all when t is "").
func filterType(ds []ocispec.Descriptor, t string) []ocispec.Descriptor {
	if t == "" {
		return ds
	}
	var out []ocispec.Descriptor
	for _, d := range ds {
		if d.ArtifactType == t {
			out = append(out, d)
		}
	}
	return out
}

// nextLink returns the absolute URL of a Link: <…>; rel="next" header.
func nextLink(resp *http.Response) string {
	for _, l := range resp.Header.Values("Link") {
		for _, part := range strings.Split(l, ",") {
			part = strings.TrimSpace(part)
			if !strings.Contains(part, `rel="next"`) && !strings.Contains(part, "rel=next") {
				continue
			}
			i, j := strings.Index(part, "<"), strings.Index(part, ">")
			if i < 0 || j < i {
				continue
			}
			u, err := resp.Request.URL.Parse(part[i+1 : j])
			if err != nil {
				continue
			}
			return u.String()
		}
	}
	return ""
}

// FetchManifest fetches the manifest reference (tag or digest) of repository and returns its bytes and its descriptor as served. A
// digest reference is checked against the content.
func (c *Client) FetchManifest(ctx context.Context, repository ref.Reference, reference string) ([]byte, ocispec.Descriptor, error) {
	ctx, rp := c.repository(ctx, repository, auth.ActionPull)
	f, err := rp.getManifest(ctx, reference)
	if err != nil {
		return nil, ocispec.Descriptor{}, err
	}
	return f.Raw, f.Desc, nil
}

// FetchBlob fetches the blob desc of repository, checking
// size and digest; blobs larger than 64 MiB are refused. Redirects to
// storage are followed without credentials.
func (c *Client) FetchBlob(ctx context.Context, repository ref.Reference, desc ocispec.Descriptor) ([]byte, error) {
	ctx, rp := c.repository(ctx, repository, auth.ActionPull)
	return rp.getBlob(ctx, desc)
}
