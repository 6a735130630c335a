package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"sync/atomic"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/registry/remote/auth"
)

// Mode says how Attach makes a referrer discoverable.
type Mode string

// Referrers modes.
const (
	// ModeAuto detects referrers API support and writes the fallback tag
	// only when it is missing.
	ModeAuto Mode = "auto"
	// ModeAPI never writes the fallback tag.
	ModeAPI Mode = "api"
	// ModeTag always writes the fallback tag.
	ModeTag Mode = "tag"
)

// ParseMode parses a referrers mode: "auto" (also ""), "api" or "tag".
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case "":
		return ModeAuto, nil
	case ModeAuto, ModeAPI, ModeTag:
		return m, nil
	}
	return "", fmt.Errorf("%q is not one of auto, api, tag", s)
}

// AttachOptions configure Attach. The zero value detects the referrers API
// and writes the fallback tag when it is missing.
type AttachOptions struct {
	// Mode is ModeAuto (default when empty), ModeAPI or ModeTag.
	Mode Mode
	// PredicateType is the dev.sigstore.bundle.predicateType annotation.
	// Empty: the annotation is left out.
	PredicateType string
	// Now gives org.opencontainers.image.created. Nil: time.Now.
	Now func() time.Time
	// Settle bounds the fallback-tag protocol (see updateFallback): every
	// write must land within D = Settle/2 of the read it merged, and each
	// verification read waits D (plus up to D/10 of jitter) after the answer
	// before it. Writers of one tag must use the same Settle. Zero: 3 s.
	Settle time.Duration

	// verifyReads overrides the number of verification reads (tests'
	// ablation of the protocol only). Zero: 2.
	verifyReads int
}

// AttachResult says what Attach did.
type AttachResult struct {
	// Artifact is the referrer manifest (with artifactType and annotations,
	// as its fallback-index entry carries them).
	Artifact ocispec.Descriptor
	// ReferrersTag is "sha256-<hex>" when the fallback tag was written; ""
	// when the referrers API was relied on.
	ReferrersTag string
	// API reports whether the registry confirmed the referrers API
	// (OCI-Subject header and a 200 index from the referrers endpoint).
	API bool
	// Reason says why this path was taken (for the log).
	Reason string
	// Requests is the number of HTTP requests Attach sent (retries included).
	Requests int
	// Reuploads is how often the blobs were uploaded again because the
	// registry answered the referrer PUT that it did not know one.
	Reuploads int
	// TagRounds is the number of read–merge–write–verify rounds the
	// fallback tag took (0 when it was not written).
	TagRounds int
	// TagIfMatch reports that the registry answered the If-Match probe with
	// 412: its conditional writes work.
	TagIfMatch bool
	// TagIfMatchIgnored reports that the registry accepted the If-Match
	// probe: it ignores conditional writes. With neither this nor TagIfMatch
	// set, no probe was answered (a new tag, a weak or absent ETag).
	TagIfMatchIgnored bool
	// TagReads is the number of verification reads of the tag's last round:
	// one after a conditional write right after a refused probe, else two.
	TagReads int
}

// Attach pushes bundle as an OCI 1.1 referrer of s (ARCHITECTURE.md, "Registry: resolve, bind, push"): the empty
// config, the bundle layer and the artifact manifest; then, by opts.Mode and
// what the registry answered, the referrers fallback tag.
func (c *Client) Attach(ctx context.Context, s *Subject, bundle []byte, opts AttachOptions) (*AttachResult, error) {
	p, err := c.pushReferrer(ctx, s, bundle, opts)
	if p == nil {
		return nil, err
	}
	if err == nil {
		err = p.writeTag()
	}
	p.res.Requests = int(p.n.Load())
	return p.res, err
}

// pushedReferrer is a referrer manifest pushReferrer pushed; writeTag adds
// it to the fallback tag when needTag.
type pushedReferrer struct {
	ctx     context.Context // with the request counter and the push scope
	n       *atomic.Int64
	rp      repo
	s       *Subject
	art     *artifact
	opts    AttachOptions
	res     *AttachResult
	needTag bool
}

// pushReferrer is Attach up to the fallback tag: the blobs, the referrer
// manifest, and whether the tag is needed. A nil result comes with an
// error about the arguments.
func (c *Client) pushReferrer(ctx context.Context, s *Subject, bundle []byte, opts AttachOptions) (*pushedReferrer, error) {
	mode, err := ParseMode(string(opts.Mode))
	if err != nil {
		return nil, fmt.Errorf("attaching bundle: referrers mode %w", err)
	}
	if s == nil || s.Descriptor.Digest == "" {
		return nil, fmt.Errorf("attaching bundle: no resolved subject")
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	art, err := buildArtifact(s.Descriptor, bundle, opts.PredicateType, now())
	if err != nil {
		return nil, err
	}
	p := &pushedReferrer{n: new(atomic.Int64), s: s, art: art, opts: opts}
	ctx = withCounter(ctx, p.n)
	ctx, rp := c.repository(ctx, s.Repository, auth.ActionPull, auth.ActionPush)
	p.ctx, p.rp, p.res = ctx, rp, &AttachResult{Artifact: art.desc}
	hdr, err := p.push(bundle)
	if err != nil {
		return p, fmt.Errorf("attaching bundle to %s: %w", s.Repository.Name(), err)
	}
	if err := p.decideTag(mode, hdr); err != nil {
		return p, fmt.Errorf("attaching bundle to %s: %w", s.Repository.Name(), err)
	}
	return p, nil
}

// push pushes the referrer's blobs and its manifest, and returns the
// headers the registry answered the manifest PUT with.
func (p *pushedReferrer) push(bundle []byte) (http.Header, error) {
	if err := p.rp.pushBlob(p.ctx, emptyConfig, emptyJSON); err != nil {
		return nil, err
	}
	if err := p.rp.pushBlob(p.ctx, p.art.layer, bundle); err != nil {
		return nil, err
	}
	hdr, again, err := p.rp.putReferrer(p.ctx, p.art, bundle)
	p.res.Reuploads = again
	return hdr, err
}

// decideTag decides, by mode and by what the registry answered the
// manifest PUT with (hdr) and the referrers API, whether the fallback tag
// is needed, and says why in p.res.Reason.
func (p *pushedReferrer) decideTag(mode Mode, hdr http.Header) error {
	s, res := p.s, p.res
	if mode == ModeTag {
		p.needTag = true
		res.Reason = "mode tag: writing the fallback tag"
		return nil
	}
	subjectHeader := hdr.Get("OCI-Subject") == s.Descriptor.Digest.String()
	switch {
	case !subjectHeader && hdr.Get("OCI-Subject") != "":
		res.Reason = fmt.Sprintf("the manifest PUT answered OCI-Subject %q, not the subject %s", hdr.Get("OCI-Subject"), s.Descriptor.Digest)
	case !subjectHeader:
		res.Reason = "the manifest PUT answered without an OCI-Subject header"
	default:
		ok, why, err := p.rp.referrersAPI(p.ctx, s.Descriptor)
		if err != nil {
			return err
		}
		res.API = ok
		res.Reason = why
	}
	if mode == ModeAPI {
		if !res.API {
			res.Reason = "mode api: not writing the fallback tag although " + res.Reason + "; clients that only read the tag will not find the bundle"
		}
		return nil
	}
	p.needTag = !res.API
	if p.needTag {
		res.Reason += ": writing the fallback tag"
	}
	return nil
}

// writeTag adds the pushed referrer to its subject's fallback tag, when
// it needs one.
func (p *pushedReferrer) writeTag() error {
	if !p.needTag {
		return nil
	}
	s, rp, res := p.s, p.rp, p.res
	tag := fallbackTag(s.Descriptor.Digest.String())
	st, err := rp.updateFallback(p.ctx, tag, p.art.desc, p.opts.Settle, p.opts.verifyReads)
	res.TagRounds, res.TagIfMatch, res.TagIfMatchIgnored, res.TagReads = st.rounds, st.ifMatch, st.ignored, st.reads
	if err != nil {
		return fmt.Errorf("attaching bundle to %s: %w", s.Repository.Name(), err)
	}
	res.ReferrersTag = tag
	return nil
}

// referrersAPI probes GET /v2/<name>/referrers/<digest>: supported when it
// answers 200 with an OCI image index.
func (r repo) referrersAPI(ctx context.Context, subject ocispec.Descriptor) (bool, string, error) {
	u := r.url("referrers/" + subject.Digest.String())
	resp, err := r.do(ctx, http.MethodGet, u, nil, http.Header{"Accept": {ocispec.MediaTypeImageIndex}})
	if err != nil {
		return false, "", fmt.Errorf("probing the referrers API: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false, fmt.Sprintf("OCI-Subject was sent but the referrers API answered %s", resp.Status), nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxManifestSize))
	if err != nil {
		return false, "", fmt.Errorf("probing the referrers API: reading body: %w", err)
	}
	var idx ocispec.Index
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if json.Unmarshal(body, &idx) != nil || (mt != ocispec.MediaTypeImageIndex && idx.MediaType != ocispec.MediaTypeImageIndex) {
		return false, fmt.Sprintf("OCI-Subject was sent but the referrers API answered 200 with %q, not an image index", mt), nil
	}
	return true, "the registry serves the referrers API (OCI-Subject header and a referrers index)", nil
}
