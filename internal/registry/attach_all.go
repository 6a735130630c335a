package registry

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// AttachAll attaches bundle as a referrer of each subject with Attach:
// for a platform of an index, of the index and of the platform manifest
// (Subject.ImageSubject), as cosign attest --recursive does, so that the
// bundle is found from the tag, the index digest and the digest a node
// pulls (ARCHITECTURE.md, "Multi-platform and multi-image"). The subjects
// are distinct, and so are their fallback tags: they are attached
// concurrently. The results are in the subjects' order, nil where that
// subject failed; the error joins every failure, each naming its subject.
func (c *Client) AttachAll(ctx context.Context, subjects []*Subject, bundle []byte, opts AttachOptions) ([]*AttachResult, error) {
	res := make([]*AttachResult, len(subjects))
	errs := make([]error, len(subjects))
	var wg sync.WaitGroup
	for i, s := range subjects {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := c.Attach(ctx, s, bundle, opts)
			if err != nil {
				errs[i] = fmt.Errorf("as a referrer of %s@%s: %w", s.Repository.Name(), s.Descriptor.Digest, err)
				return
			}
			res[i] = r
		}()
	}
	wg.Wait()
	return res, errors.Join(errs...)
}
