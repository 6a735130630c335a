package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	intoto "github.com/in-toto/attestation/go/v1"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-attest/oci-attest/internal/attest"
	"github.com/oci-attest/oci-attest/internal/oci"
	"github.com/oci-attest/oci-attest/internal/ref"
	"github.com/oci-attest/oci-attest/internal/registry"
	"github.com/oci-attest/oci-attest/internal/retry"
	"github.com/oci-attest/oci-attest/internal/sign"
)

// progressThreshold is the archive size above which hashing progress is
// logged every few seconds.
const progressThreshold = 256 << 20

// deps are the seams tests replace. The zero value means the defaults.
type deps struct {
	// progressThreshold and progressInterval override when and how often
	// hashing progress is logged (default: archives over 256 MiB, every 2s;
	// a negative threshold logs for every archive).
	progressThreshold int64
	progressInterval  time.Duration
	// github are the GitHub stage's seams (github.go).
	github githubDeps
}

// attestResult is what the run did for one attested image (one platform of
// an index, one image of a multi-image archive), for outputs, the summary
// and the demo.
type attestResult struct {
	archive   *oci.Archive
	image     *oci.Image
	statement []byte
	subject   *registry.Subject
	signed    *sign.Result
	bundle    string
	publicKey string // the key-signed bundle's public key file; "" when keyless
	// attached is the referrer of subject (the index, or the image);
	// attachedImage the referrer of the platform manifest itself when
	// subject is an index (nil otherwise).
	attached      *registry.AttachResult
	github        *githubResult // what was stored in GitHub's attestations API
	attachedImage *registry.AttachResult
	attachErr     error // why attaching failed (set with the binding's first image)

	// n is the image's position in the run; bind is what it is bound
	// with: the other platforms of its index, and its registry name.
	n    int
	bind *binding
}

// binding is one registry subject and the archive images attested for it:
// the selected platforms of an image index, or one image.
type binding struct {
	archive *oci.Archive
	images  []*oci.Image
	index   *oci.Index // the archive's index of images; nil for one image
	// target is subject-name (named), else zero until resolveSubject
	// defaults it to defaultTag, the image's RepoTag (defaulted).
	target     ref.Reference
	named      bool
	defaultTag string
	defaulted  bool
	units      []*attestResult
	resolved   bool
}

// skippedImage is an image of an archive that the run does not attest.
type skippedImage struct {
	archive *oci.Archive
	image   *oci.Image
	why     string
}

// runAttest runs the pipeline and, on the command line, prints the outputs.
func runAttest(ctx context.Context, c *Config, getenv func(string) string, log *logger, stdout io.Writer) error {
	if _, err := attestFlow(ctx, c, getenv, log, stdout, deps{}); err != nil {
		return remoteAdvice(err)
	}
	if c.Actions || c.DryRun {
		return nil // the runner has the outputs; a dry run printed the statement
	}
	return printOutputs(stdout, c.Output, log.Outputs())
}

// pipeline is one attest run: its inputs, its seams, and what each stage
// has produced so far (ARCHITECTURE.md, "Data flow").
type pipeline struct {
	c      *Config
	getenv func(string) string
	log    *logger
	stdout io.Writer
	d      deps
	client *registry.Client

	archives []*oci.Archive
	units    []*attestResult
	skipped  []skippedImage
	// files are the bundle and statement paths written so far; tmpDir is
	// where bundles go without bundle-path and RUNNER_TEMP.
	files  map[string]bool
	tmpDir string
}

// attestFlow reads the archives, plans what to attest — every selected
// platform, every image (ARCHITECTURE.md, "Multi-platform and
// multi-image") — then resolves and binds the subjects, builds the
// statements, signs them, writes the bundles and pushes the referrers: one
// method of pipeline per stage, each run for every image before the next
// stage starts (so nothing is signed before every subject is bound), each
// reading what the ones before it left.
func attestFlow(ctx context.Context, c *Config, getenv func(string) string, log *logger, stdout io.Writer, d deps) ([]*attestResult, error) {
	p := &pipeline{c: c, getenv: getenv, log: log, stdout: stdout, d: d, files: map[string]bool{}}
	log.Infof("oci-attest %s: attesting %s", version, strings.Join(c.archives, ", "))
	log.Mask(c.GitHubToken)
	log.Mask(c.IdentityToken)
	for i, s := range c.subjects {
		if s.Lowercased {
			log.Infof("subject-name %s is %s: registry repositories are lowercase", splitLines(c.SubjectName)[i], s)
		}
	}
	if err := p.readArchives(ctx); err != nil {
		return nil, err
	}
	if err := p.plan(); err != nil {
		return nil, err
	}
	if c.DryRun {
		return p.units, p.dryRun()
	}
	for _, stage := range []func(context.Context, *attestResult) error{p.resolveSubject, p.buildStatement, p.sign, p.writeBundle, p.attach, p.storeOnGitHub} {
		for _, u := range p.units {
			if err := stage(ctx, u); err != nil {
				p.setAttestations()
				return p.units, p.unitError(u, err)
			}
		}
	}
	p.setAttestations()
	if c.ShowSummary {
		log.Summary(summaryAll(p.units, p.skipped, c.paths))
	}
	return p.units, nil
}

// readArchives scans every archive once, as many at a time as there are
// cores: one scan is two hash streams and, for compressed layers, one
// inflate stream, so a second archive uses what the first leaves idle
// (BENCHMARKS.md). The first failure stops the others.
func (p *pipeline) readArchives(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	p.archives = make([]*oci.Archive, len(p.c.archives))
	var mu sync.Mutex
	var first error
	work := make(chan int)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(p.c.archives)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				a, err := p.readArchive(ctx, p.c.archives[i])
				mu.Lock()
				if err != nil && first == nil {
					first = err
					cancel()
				}
				p.archives[i] = a
				mu.Unlock()
			}
		}()
	}
	for i := range p.c.archives {
		if ctx.Err() != nil {
			break
		}
		work <- i
	}
	close(work)
	wg.Wait()
	if first == nil {
		first = ctx.Err() // the caller's context ended
	}
	return first
}

// readArchive scans one archive (one read).
func (p *pipeline) readArchive(ctx context.Context, path string) (*oci.Archive, error) {
	opts := oci.ScanOptions{ProgressInterval: p.d.progressInterval}
	threshold := int64(progressThreshold)
	if p.d.progressThreshold != 0 {
		threshold = p.d.progressThreshold
	}
	if fi, err := os.Stat(path); err == nil && fi.Size() > threshold {
		start := time.Now()
		opts.Progress = func(read, total int64) {
			mbps := float64(read) / 1e6 / max(time.Since(start).Seconds(), 1e-3)
			what := "hashing"
			if len(p.c.archives) > 1 {
				what += " " + path
			}
			p.log.Infof("%s: %s of %s (%d%%), %.0f MB/s", what, humanBytes(read), humanBytes(total), read*100/max(total, 1), mbps)
		}
	}
	// A small archive may hold a layer that expands to many GiB: its
	// decompression after the read logs progress whatever the file's size.
	opts.LayerProgress = func(entry string, read, size, decompressed int64) {
		p.log.Infof("decompressing layer %s: %s of %s read, %s decompressed", entry, humanBytes(read), humanBytes(size), humanBytes(decompressed))
	}
	a, err := oci.Scan(ctx, path, opts)
	if err != nil {
		return nil, archiveError(err)
	}
	if len(a.Images) == 0 {
		return nil, badInput("subject-path", "%s holds no image", path)
	}
	p.log.Infof("read %s archive %s (%s, %d image(s)), tar digest %s", a.Format, path, humanBytes(a.Size), len(a.Images), a.TarDigest)
	return a, nil
}

// archiveError names subject-path in an error of the archive reader. An
// archive that is not what the reader accepts is the user's to fix (exit 2);
// a failure to read the file is not.
func archiveError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("input subject-path: %w", err)
	}
	return badInput("subject-path", "%v", err)
}

// dryRun prints the statements that would be signed, indented.
func (p *pipeline) dryRun() error {
	for _, u := range p.units {
		if err := p.writeStatement(u, nil); err != nil {
			return err
		}
		var out bytes.Buffer
		if err := json.Indent(&out, u.statement, "", "  "); err != nil {
			return err
		}
		// Names and tags come from the archive: jsonSafe escapes what the
		// encoder leaves raw (stdout is the Actions log).
		fmt.Fprintf(p.stdout, "%s\n", jsonSafe(out.Bytes()))
	}
	if len(p.units) > 1 {
		p.log.Infof("dry run: the %d statements above would be signed; nothing was signed or pushed", len(p.units))
	} else {
		p.log.Infof("dry run: the statement above would be signed; nothing was signed or pushed")
	}
	return nil
}

// resolveSubject finds the registry image the attestation is bound to —
// pushing the archived image (or its whole index) first with push-image —
// and checks that its config digest is the archive's image ID: for an
// index, that of every attested platform. The first image of a binding
// does it for all of them.
func (p *pipeline) resolveSubject(ctx context.Context, u *attestResult) error {
	b, c := u.bind, p.c
	if b.resolved {
		return nil
	}
	b.resolved = true
	if tag := b.defaultTag; b.target.IsZero() && tag != "" {
		r, err := ref.Parse(tag)
		if err != nil || !strings.Contains(tag, "/") {
			// A bare name ("app:1") is a Docker Hub official image to
			// docker: surely not where this image is meant to go.
			return badInput("subject-name", "the archive's image is tagged only %q, which names no registry repository: set subject-name (e.g. ghcr.io/org/app:1.0)", tag)
		}
		if !c.PushToRegistry && c.SubjectDigest == "" {
			return nil // only the archive is attested; nothing asks for the registry
		}
		b.target, b.defaulted = r, true
		b.target.Digest = c.SubjectDigest
	}
	switch {
	case b.target.IsZero() && c.SubjectDigest != "":
		return badInput("subject-name", "the archive's image has no RepoTags, so subject-digest names a digest in no known repository: set subject-name (e.g. ghcr.io/org/app)")
	case b.target.IsZero() && c.PushToRegistry:
		return badInput("subject-name", "the archive's image has no RepoTags, so the registry repository is unknown: set subject-name (e.g. ghcr.io/org/app:1.0), or push-to-registry: false")
	case b.target.IsZero():
		return nil // nothing to bind: the statement names the archive only
	}
	if p.client == nil {
		client, err := registry.New(registry.Options{
			// In a docker action, a DOCKER_CONFIG the job set under
			// runner.temp may still name the host's path.
			DockerConfig:   c.paths.toContainer(p.getenv("DOCKER_CONFIG")),
			GitHubToken:    c.GitHubToken,
			AllowInsecure:  c.AllowInsecureRegistry,
			RequestTimeout: c.RequestTimeout,
			Getenv:         p.getenv,
			UserAgent:      "oci-attest/" + version,
		})
		if err != nil {
			return err
		}
		p.client = client
	}
	if c.PushImage {
		if err := p.pushImage(ctx, b); err != nil {
			return err
		}
	}
	ss, err := p.client.ResolveIndex(ctx, b.target, b.images)
	if err != nil {
		return p.registryError(b, "", err)
	}
	s := ss[0]
	p.log.Infof("subject %s@%s (%s) is the attested image", s.Repository.Name(), s.Descriptor.Digest, s.Descriptor.MediaType)
	for i, bu := range b.units {
		bu.subject = ss[i]
		if ss[i].Image.Digest != ss[i].Descriptor.Digest {
			p.log.Infof("image index: %s is child %s, whose config is the attested image ID", describePlatform(bu.image), ss[i].Image.Digest)
		}
		if bu.n == 0 {
			p.log.SetOutput("subject-digest", ss[i].Descriptor.Digest.String())
		}
	}
	return nil
}

// pushImage pushes a binding's image to its target (push-image): an index
// whole and byte for byte when the archive holds all of it, else the one
// image; the pushed digest is the one bound.
func (p *pipeline) pushImage(ctx context.Context, b *binding) error {
	p.log.Group("Pushing the image to " + b.target.String())
	defer p.log.EndGroup()
	var pushed digest.Digest
	var err error
	if b.index != nil {
		var d ocispec.Descriptor
		d, err = p.client.PushIndex(ctx, b.archive.Path, b.archive, b.index, b.target)
		pushed = d.Digest
		if err == nil {
			p.log.Infof("pushed image index %s@%s byte for byte (%d attested platform(s) in it)", b.target, d.Digest, len(b.images))
		}
		if errors.Is(err, registry.ErrIncomplete) && len(b.images) == 1 {
			p.log.Infof("the archive holds only %s of its index (%v): pushing that image alone", describePlatform(b.images[0]), err)
			b.index, err = nil, nil
		}
	}
	if b.index == nil {
		var d ocispec.Descriptor
		d, err = p.client.PushImage(ctx, b.archive.Path, b.archive, b.images[0], b.target)
		pushed = d.Digest
		if err == nil {
			p.log.Infof("pushed %s@%s", b.target, d.Digest)
		}
	}
	if err != nil {
		return p.registryError(b, "input push-image: ", err)
	}
	b.target.Digest = pushed
	return nil
}

// registryError adds to an error of the registry client what the user can
// do about it, naming the inputs involved.
func (p *pipeline) registryError(b *binding, prefix string, err error) error {
	switch {
	case errors.Is(err, registry.ErrNotFound) && !p.c.PushImage:
		err = fmt.Errorf("%w (push the image first, or set push-image: true)", err)
	case errors.Is(err, registry.ErrBinding):
		err = fmt.Errorf("%w: push the archived image (push-image: true) or point subject-name/subject-digest at it; to attest fewer platforms of an index, set platforms", err)
	case errors.Is(err, registry.ErrIncomplete):
		err = fmt.Errorf("%w: push-image pushes a whole index; save every platform into the archive, or push the index with another tool and attest without push-image", err)
	case errors.Is(err, registry.ErrUnauthorized):
		err = fmt.Errorf("%w (%s)", err, loginAdvice)
	case errors.Is(err, registry.ErrForeignTag):
		err = fmt.Errorf("%w (it is never overwritten: delete or move it, or use referrers-mode: api)", err)
	}
	if b.defaulted && !errors.Is(err, retry.ErrTimeout) { // a registry that does not answer is not a naming problem
		err = fmt.Errorf("%w (subject-name defaulted to the archive's tag %s: set subject-name to the image's registry repository)", err, b.defaultTag)
	}
	if prefix != "" {
		return fmt.Errorf("%s%w", prefix, err)
	}
	return err
}

// loginAdvice is what to do about a registry's 401/403.
const loginAdvice = "log in to the registry (in the action: set DOCKER_CONFIG under runner.temp before docker/login-action, see the README's \"Logging in for the action\"), or for ghcr.io give the job packages: write so that github-token works"

// buildStatement builds the in-toto statement: the registry subjects (the
// image, and the matched child of an index), then the attestor's.
func (p *pipeline) buildStatement(_ context.Context, u *attestResult) error {
	var subjects []*intoto.ResourceDescriptor
	if s := u.subject; s != nil {
		subjects = append(subjects, attest.RegistrySubject(s.Repository.Name(), s.Descriptor.Digest))
		if s.Image.Digest != s.Descriptor.Digest {
			subjects = append(subjects, attest.RegistrySubject(s.Repository.Name(), s.Image.Digest))
		}
	}
	return p.writeStatement(u, subjects)
}

// writeStatement builds the statement's bytes and, with statement-path,
// writes them there (the first image's; the others' beside it).
func (p *pipeline) writeStatement(u *attestResult, registrySubjects []*intoto.ResourceDescriptor) error {
	st, err := attest.NewStatement(attest.NewPredicate(u.archive, u.image), registrySubjects...)
	if err != nil {
		return err
	}
	if u.statement, err = attest.Marshal(st); err != nil {
		return err
	}
	if p.c.StatementPath == "" {
		return nil
	}
	path := p.c.StatementPath
	if u.n > 0 {
		path = p.sibling(filepath.Dir(p.c.StatementPath), u.image.ImageID, ".statement.json")
	}
	if err := os.WriteFile(path, append(u.statement, '\n'), 0o644); err != nil {
		return fmt.Errorf("input statement-path: writing the statement: %w", err)
	}
	if err := p.c.handBack(path); err != nil {
		return fmt.Errorf("input statement-path: %w", err)
	}
	if u.n > 0 {
		p.log.Infof("wrote the statement of %s to %s", describePlatform(u.image), path)
	}
	return nil
}

// sibling is dir/<image-id hex><suffix>, numbered when this run already
// wrote that name (the same image attested for two repositories).
func (p *pipeline) sibling(dir string, id digest.Digest, suffix string) string {
	path := filepath.Join(dir, id.Encoded()+suffix)
	for n := 2; p.files[path]; n++ {
		path = filepath.Join(dir, fmt.Sprintf("%s-%d%s", id.Encoded(), n, suffix))
	}
	p.files[path] = true
	return path
}

// sign signs the statement into a verified Sigstore bundle.
func (p *pipeline) sign(ctx context.Context, u *attestResult) error {
	if len(p.units) > 1 {
		p.log.Group("Signing " + describeUnit(u))
	} else {
		p.log.Group("Signing")
	}
	defer p.log.EndGroup()
	opts := p.c.signOptions(p.getenv)
	opts.Mask = p.log.Mask
	res, err := sign.Sign(ctx, u.statement, opts)
	if err != nil {
		return signError(err, p.c.Actions)
	}
	u.signed = res
	switch {
	case res.Identity != "":
		p.log.Infof("signed keylessly (%s): identity %s, issuer %s", res.Instance, res.Identity, res.Issuer)
	default:
		p.log.Infof("signed with a key (not keyless): public key hint %s", res.KeyHint)
	}
	if res.LogIndex >= 0 {
		p.log.Infof("transparency log entry: index %d", res.LogIndex)
	}
	for _, ts := range res.Timestamps {
		p.log.Infof("timestamp: %s", ts.UTC().Format(time.RFC3339))
	}
	return nil
}

// signError names the input behind a signing error where there is one.
func signError(err error, actions bool) error {
	var oe *sign.OptionError
	switch {
	case errors.As(err, &oe):
		return badInput(signInput[oe.Field], "%s", oe.Msg)
	case errors.Is(err, sign.ErrNoToken) && !actions:
		return fmt.Errorf("%w: pass --identity-token or set SIGSTORE_ID_TOKEN (or sign with --signing-key, which is not keyless)", err)
	}
	return err
}

// writeBundle writes the bundle to bundle-path (the first image's; the
// others' beside it).
func (p *pipeline) writeBundle(_ context.Context, u *attestResult) error {
	path, err := p.bundlePath(u)
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, u.signed.Bundle, 0o644); err != nil {
		return fmt.Errorf("input bundle-path: writing the bundle: %w", err)
	}
	if err := p.c.handBack(path); err != nil {
		return fmt.Errorf("input bundle-path: %w", err)
	}
	u.bundle = path
	p.log.Infof("wrote Sigstore bundle %s", path)
	if u.n == 0 {
		p.log.SetOutput("bundle-path", p.c.paths.toHost(path))
		p.log.SetOutput("public-key-path", "") // keyless: no key to verify with
	}
	if pem := u.signed.PublicKeyPEM; pem != "" {
		// A key-signed bundle verifies only with its public key: for an
		// ephemeral key this file is the only copy there will ever be.
		pub := path + ".pub"
		if err := os.WriteFile(pub, []byte(pem), 0o644); err != nil {
			return fmt.Errorf("input bundle-path: writing the public key beside the bundle: %w", err)
		}
		if err := p.c.handBack(pub); err != nil {
			return fmt.Errorf("input bundle-path: %w", err)
		}
		u.publicKey = pub
		p.log.Infof("wrote the signing key's public key %s (verify with --key %s)", pub, p.c.paths.toHost(pub))
		if u.n == 0 {
			p.log.SetOutput("public-key-path", p.c.paths.toHost(pub))
		}
	}
	return nil
}

// bundlePath is bundle-path for the first image and beside it for the
// others, else $RUNNER_TEMP/oci-attest/<image-id hex>.sigstore.json, else
// the same name in a temporary directory (one per run).
func (p *pipeline) bundlePath(u *attestResult) (string, error) {
	if p.c.BundlePath != "" {
		if u.n == 0 {
			p.files[p.c.BundlePath] = true
			return p.c.BundlePath, nil
		}
		return p.sibling(filepath.Dir(p.c.BundlePath), u.image.ImageID, ".sigstore.json"), nil
	}
	if rt := p.getenv("RUNNER_TEMP"); rt != "" {
		dir := filepath.Join(rt, "oci-attest")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", fmt.Errorf("input bundle-path: creating %s: %w", dir, err)
		}
		if err := p.c.handBack(dir); err != nil {
			return "", fmt.Errorf("input bundle-path: %w", err)
		}
		return p.sibling(dir, u.image.ImageID, ".sigstore.json"), nil
	}
	if p.tmpDir == "" {
		dir, err := os.MkdirTemp("", "oci-attest-")
		if err != nil {
			return "", fmt.Errorf("input bundle-path: %w", err)
		}
		p.tmpDir = dir
	}
	return p.sibling(p.tmpDir, u.image.ImageID, ".sigstore.json"), nil
}

// attach pushes the bundle as a referrer of the subject (push-to-registry)
// and, for a platform of an index, of the platform manifest too. The first
// image of a binding attaches every platform's bundle in one AttachAll: the
// fallback tags are then written together, so that a run's writers reach
// the index's tag at once rather than one after the other, which keeps the
// quiet spells the protocol waits for short when many jobs attach at once
// (ARCHITECTURE.md, "Multi-platform and multi-image").
func (p *pipeline) attach(ctx context.Context, u *attestResult) error {
	if !p.c.PushToRegistry {
		return nil
	}
	b := u.bind
	if u != b.units[0] {
		return u.attachErr // attached with the binding's first image
	}
	var refs []registry.Referrer
	var of []int // the unit of each referrer
	for i, bu := range b.units {
		s := bu.subject
		refs = append(refs, registry.Referrer{Subject: s, Bundle: bu.signed.Bundle})
		of = append(of, i)
		if is := s.ImageSubject(); is != s {
			refs = append(refs, registry.Referrer{Subject: is, Bundle: bu.signed.Bundle})
			of = append(of, i)
		}
	}
	res, err := p.client.AttachAll(ctx, refs, registry.AttachOptions{
		Mode:          p.c.mode,
		PredicateType: attest.PredicateType,
		Settle:        p.c.settle,
	})
	failed := map[int]bool{}
	for j, ar := range res {
		if ar == nil {
			failed[of[j]] = true
		}
	}
	for i, bu := range b.units {
		p.log.Group("Pushing the attestation to " + bu.subject.Repository.Name() + platformSuffix(bu.image, len(p.units)))
		var mine []*registry.AttachResult
		for j, ar := range res {
			if of[j] != i || ar == nil {
				continue
			}
			mine = append(mine, ar)
			p.log.Infof("attached %s to %s@%s: %s", ar.Artifact.Digest, bu.subject.Repository.Name(), refs[j].Subject.Descriptor.Digest, ar.Reason)
			if ar.ReferrersTag != "" {
				how := "If-Match not tested (a new tag, or no strong ETag): two verification reads"
				switch {
				case ar.TagIfMatch && ar.TagReads == 1:
					how = "the registry honours If-Match: conditional write, one verification read"
				case ar.TagIfMatch:
					how = "the registry honours If-Match; the last round's write came after no refused probe: two verification reads"
				case ar.TagIfMatchIgnored:
					how = "the registry ignores If-Match: two verification reads"
				}
				p.log.Infof("fallback tag %s written and verified in %d round(s) (%s)", ar.ReferrersTag, ar.TagRounds, how)
			}
			if ar.Reuploads > 0 {
				p.log.Infof("the registry did not know a blob of the referrer while other uploads of it were under way: uploaded it again %d time(s)", ar.Reuploads)
			}
		}
		p.log.EndGroup()
		if failed[i] {
			bu.attachErr = p.registryError(b, "", err)
			continue
		}
		bu.attached = mine[0]
		if len(mine) > 1 {
			bu.attachedImage = mine[1]
		}
		if bu.n == 0 {
			p.log.SetOutput("attestation-digest", mine[0].Artifact.Digest.String())
			p.log.SetOutput("referrers-tag", mine[0].ReferrersTag)
		}
	}
	return u.attachErr
}

// unitError is err of image u's stage; once images were attached, it says
// which were and which were not, so that a rerun is not a guess.
func (p *pipeline) unitError(u *attestResult, err error) error {
	var done, notDone []string
	for _, o := range p.units {
		if o.attached != nil {
			done = append(done, describeUnit(o))
		} else {
			notDone = append(notDone, describeUnit(o))
		}
	}
	if len(done) == 0 || len(p.units) == 1 {
		return err
	}
	return fmt.Errorf("%s: %w (attested and attached: %s; not attached: %s)", describeUnit(u), err, strings.Join(done, ", "), strings.Join(notDone, ", "))
}

// describePlatform names an image by its platform, else its image ID, for
// the log.
func describePlatform(img *oci.Image) string {
	if p := img.Platform.String(); p != "" {
		return p + " image " + shortID(img.ImageID)
	}
	return "image " + shortID(img.ImageID)
}

// describeUnit names an attested image: registry name (or archive),
// platform.
func describeUnit(u *attestResult) string {
	where := u.bind.target.String()
	if u.subject != nil {
		where = u.subject.Repository.Name() + "@" + short(u.subject.Image.Digest.String())
	}
	if where == "" {
		where = filepath.Base(u.archive.Path)
	}
	return where + " (" + describePlatform(u.image) + ")"
}

// platformSuffix is " (linux/amd64)" when a run attests several images.
func platformSuffix(img *oci.Image, n int) string {
	if p := img.Platform.String(); p != "" && n > 1 {
		return " (" + p + ")"
	}
	return ""
}

func shortID(d digest.Digest) string {
	h := d.Encoded()
	if len(h) > 12 {
		h = h[:12]
	}
	return h
}
