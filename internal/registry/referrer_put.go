package registry

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"regexp"
	"strings"
	"time"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-attest/oci-attest/internal/retry"
)

// referrerPutAttempts bounds the referrer manifest PUTs of one Attach when
// the registry answers that it does not know a blob the manifest names.
const referrerPutAttempts = 4

// putReferrer PUTs the referrer manifest. A registry that answers
// BLOB_UNKNOWN or MANIFEST_BLOB_UNKNOWN does not (yet) know a blob it
// acknowledged: Debian's docker-registry 2.8 does so when other jobs upload
// the same blob (the shared empty config, the same bundle) at that moment.
// The blobs the answer names — both, when it names none we pushed — are
// uploaded again and the PUT retried, after a jittered backoff, at most
// referrerPutAttempts times; a persistent refusal says which blob.
// It returns how many times blobs were uploaded again.
func (r repo) putReferrer(ctx context.Context, art *artifact, bundle []byte) (http.Header, int, error) {
	blobs := []struct {
		desc ocispec.Descriptor
		data []byte
		what string
	}{{emptyConfig, emptyJSON, "the empty config"}, {art.layer, bundle, "the bundle"}}
	for attempt := 1; ; attempt++ {
		hdr, err := r.putManifest(ctx, art.desc.Digest.String(), ocispec.MediaTypeImageManifest, art.raw, nil)
		named, unknown := unknownBlobs(err)
		if err == nil || !unknown {
			return hdr, attempt - 1, err
		}
		var again []int
		for i, b := range blobs {
			if len(named) == 0 || named[b.desc.Digest] {
				again = append(again, i)
			}
		}
		if len(again) == 0 {
			return nil, attempt - 1, err // a blob we did not push: nothing to upload again
		}
		var names []string
		for _, i := range again {
			names = append(names, fmt.Sprintf("%s (%s)", blobs[i].desc.Digest, blobs[i].what))
		}
		if attempt == referrerPutAttempts {
			return nil, attempt - 1, fmt.Errorf("%w (the registry still does not know %s after %d uploads)", err, strings.Join(names, " and "), attempt)
		}
		d := 100 * time.Millisecond << (attempt - 1)
		if err := retry.Sleep(ctx, d/2+time.Duration(rand.Int64N(int64(d/2)+1))); err != nil { //nolint:gosec // jitter
			return nil, attempt - 1, err
		}
		for _, i := range again {
			if err := r.pushBlob(ctx, blobs[i].desc, blobs[i].data); err != nil {
				return nil, attempt, fmt.Errorf("uploading %s again after the registry did not know it: %w", names[0], err)
			}
		}
	}
}

// digestPattern finds digests in an error detail, whatever its shape
// (distribution sends a JSON string, others an object).
var digestPattern = regexp.MustCompile(`sha256:[0-9a-f]{64}`)

// unknownBlobs reports whether err is a registry's BLOB_UNKNOWN or
// MANIFEST_BLOB_UNKNOWN answer, and the digests its details name.
func unknownBlobs(err error) (map[digest.Digest]bool, bool) {
	var se *statusErr
	if err == nil || !errors.As(err, &se) {
		return nil, false
	}
	named, unknown := map[digest.Digest]bool{}, false
	for _, c := range se.codes {
		if c.code != "BLOB_UNKNOWN" && c.code != "MANIFEST_BLOB_UNKNOWN" {
			continue
		}
		unknown = true
		for _, d := range digestPattern.FindAllString(string(c.detail), -1) {
			named[digest.Digest(d)] = true
		}
	}
	return named, unknown
}
