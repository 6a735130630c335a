package registry

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Referrer is one bundle to attach as a referrer of one subject.
type Referrer struct {
	Subject *Subject
	Bundle  []byte
	// Created, when set, is the referrer's org.opencontainers.image.created
	// instead of AttachOptions.Now's: a bundle attached again with the
	// same Created makes the same referrer manifest.
	Created time.Time
}

// AttachAll attaches each bundle as a referrer of its subject, as Attach
// does: for every platform of an index, of the index and of the platform
// manifest (Subject.ImageSubject), as cosign attest --recursive does, so
// that the bundle is found from the tag, the index digest and the digest a
// node pulls (ARCHITECTURE.md, "Multi-platform and multi-image"). The
// referrer manifests are pushed one after the other — a registry that keeps
// its referrers index itself may lose one of two referrers of a subject
// pushed at once (olareg v0.1.2 does) — and then every fallback tag they
// need is written at once, so that the writers of one run reach a tag
// together. The results are in order, nil where that referrer failed; the
// error joins every failure, each naming its subject.
func (c *Client) AttachAll(ctx context.Context, refs []Referrer, opts AttachOptions) ([]*AttachResult, error) {
	res := make([]*AttachResult, len(refs))
	errs := make([]error, len(refs))
	pushed := make([]*pushedReferrer, len(refs))
	for i, r := range refs {
		o := opts
		if !r.Created.IsZero() {
			o.Now = func() time.Time { return r.Created }
		}
		p, err := c.pushReferrer(ctx, r.Subject, r.Bundle, o)
		if err != nil {
			errs[i] = err
			continue
		}
		pushed[i] = p
	}
	var wg sync.WaitGroup
	for i, p := range pushed {
		if p == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = p.writeTag()
		}()
	}
	wg.Wait()
	for i, p := range pushed {
		if p == nil {
			continue
		}
		p.res.Requests = int(p.n.Load())
		if errs[i] == nil {
			res[i] = p.res
		}
	}
	for i, err := range errs {
		if s := refs[i].Subject; err != nil && s != nil {
			errs[i] = fmt.Errorf("as a referrer of %s@%s: %w", s.Repository.Name(), s.Descriptor.Digest, err)
		}
	}
	return res, errors.Join(errs...)
}
