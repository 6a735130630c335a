package cli

import (
	"bytes"
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sigstore/sigstore/pkg/cryptoutils"

	"github.com/oci-attest/oci-attest/internal/attest"
	"github.com/oci-attest/oci-attest/internal/ref"
	"github.com/oci-attest/oci-attest/internal/registry"
	"github.com/oci-attest/oci-attest/internal/sign"
	"github.com/oci-attest/oci-attest/internal/verify"
)

// Exit codes of `oci-attest verify` (README "Verify").
const (
	exitVerifyNoneFound    = 3 // no oci attestation on the image
	exitVerifyNoneVerified = 4 // attestations found, none verifies
	exitVerifyArchive      = 5 // verified, but --subject-path differs
)

// verifyFlags are the flags of `oci-attest verify`.
type verifyFlags struct {
	identity, identityRegexp string
	issuer, issuerRegexp     string
	repository, workflow     string
	key                      string
	trustedRoot              string
	sigstore                 string
	subjectPath              string
	platform                 string
	bundles                  []string
	output                   string
	allowInsecure            bool
	requestTimeout           time.Duration
}

// runVerify is `oci-attest verify IMAGE [flags]`: exit 0 when at least one
// attestation verifies (and --subject-path matches), 3 when none is found, 4
// when none verifies, 5 when the archive differs, 2 for usage errors, 1 for
// other failures.
func runVerify(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	image, f, err := parseVerifyFlags(args, stderr)
	if err == nil {
		err = remoteAdvice(doVerify(ctx, image, f, getenv, stdout))
	}
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(stderr, "oci-attest verify: %s\n", clean(err.Error()))
	}
	return err
}

// verifyFlag maps sign.Policy and verify.Options fields to the flags that
// set them.
var verifyFlag = map[string]string{
	"Identity":       "--certificate-identity",
	"IdentityRegexp": "--certificate-identity-regexp",
	"Issuer":         "--certificate-oidc-issuer",
	"IssuerRegexp":   "--certificate-oidc-issuer-regexp",
	"PublicKey":      "--key",
	"Platform":       "--platform",
}

// verifyOptions turns the flags into verify.Options, checked before any
// network access (trusted material is added by doVerify).
func verifyOptions(f *verifyFlags) (verify.Options, error) {
	opts := verify.Options{
		Policy: sign.Policy{
			Identity: f.identity, IdentityRegexp: f.identityRegexp,
			Issuer: f.issuer, IssuerRegexp: f.issuerRegexp,
		},
		Repository:  f.repository,
		Workflow:    f.workflow,
		SubjectPath: f.subjectPath,
		Platform:    f.platform,
	}
	if f.key != "" {
		pub, err := readPublicKey(f.key)
		if err != nil {
			return opts, err
		}
		opts.Policy.PublicKey = pub
	}
	if err := opts.Check(); err != nil {
		return opts, usageError(err)
	}
	if f.subjectPath != "" {
		if fi, err := os.Stat(f.subjectPath); err != nil {
			return opts, fmt.Errorf("%w: --subject-path: %w", errUsage, err)
		} else if !fi.Mode().IsRegular() {
			return opts, fmt.Errorf("%w: --subject-path %q is not a regular file: give the image archive (for an OCI layout directory, tar it: tar -cf image.tar -C DIR .)", errUsage, f.subjectPath)
		}
	}
	return opts, nil
}

// usageError is err as a usage error, naming the flag behind an option.
func usageError(err error) error {
	var oe *sign.OptionError
	if errors.As(err, &oe) {
		return fmt.Errorf("%w: %s: %s", errUsage, verifyFlag[oe.Field], oe.Msg)
	}
	return fmt.Errorf("%w: %w", errUsage, err)
}

func doVerify(ctx context.Context, image ref.Reference, f *verifyFlags, getenv func(string) string, stdout io.Writer) error {
	opts, err := verifyOptions(f)
	if err != nil {
		return err
	}
	var trustedFrom string
	if f.key == "" || f.trustedRoot != "" || f.sigstore != "" {
		// Whose root: --sigstore, else a --trusted-root file is a custom
		// instance's, else public-good's.
		instance := f.sigstore
		if instance == "" && f.trustedRoot != "" {
			instance = sign.InstanceCustom
		}
		if instance == "" {
			instance = sign.InstancePublicGood
		}
		tm, from, err := sign.TrustedMaterialFrom(ctx, sign.TrustOptions{
			Instance: instance, TrustedRootPath: f.trustedRoot,
			TUFCachePath: tufCache(getenv), ServerURL: getenv("GITHUB_SERVER_URL"),
			RequestTimeout: f.requestTimeout,
		})
		if err != nil {
			var oe *sign.OptionError
			if errors.As(err, &oe) {
				return fmt.Errorf("%w: --trusted-root: %s", errUsage, oe.Msg)
			}
			if errors.Is(err, sign.ErrService) {
				return fmt.Errorf("loading the %s trusted root: %w (without network access, give the instance's trusted_root.json with --trusted-root)", instance, err)
			}
			return fmt.Errorf("loading the trusted root: %w", err)
		}
		opts.TrustedMaterial, trustedFrom = tm, from
		// What a keyless bundle must carry follows the instance (public-good:
		// SCT, log entry, timestamp; github: RFC 3161 timestamp; custom: what
		// the trusted root lists).
		opts.Policy.Instance = instance
	}
	var rep *verify.Report
	var verr error
	if len(f.bundles) > 0 {
		// Where the archive arrives: no registry, nothing contacted.
		rep, verr = verify.Bundles(ctx, f.bundles, opts)
	} else {
		client, err := registry.New(registry.Options{Getenv: getenv, GitHubToken: getenv("GITHUB_TOKEN"), AllowInsecure: f.allowInsecure, RequestTimeout: f.requestTimeout})
		if err != nil {
			return err
		}
		opts.Client = client
		rep, verr = verify.Verify(ctx, image, opts)
	}
	if rep != nil {
		rep.TrustedRoot = trustedFrom
		var werr error
		if f.output == "json" {
			// The report carries the registry's and the bundle's strings:
			// jsonSafe escapes what the encoder leaves raw.
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetIndent("", "  ")
			if werr = enc.Encode(rep); werr == nil {
				_, werr = stdout.Write(jsonSafe(buf.Bytes()))
			}
		} else {
			werr = writeReport(stdout, rep)
		}
		if werr != nil && verr == nil {
			verr = fmt.Errorf("writing the report: %w", werr)
		}
	}
	switch {
	case errors.Is(verr, verify.ErrNoneFound):
		return &exitCodeError{code: exitVerifyNoneFound, err: verr}
	case errors.Is(verr, verify.ErrNoneVerified):
		return &exitCodeError{code: exitVerifyNoneVerified, err: verr}
	case errors.Is(verr, verify.ErrArchiveDiffers):
		return &exitCodeError{code: exitVerifyArchive, err: verr}
	case errors.Is(verr, verify.ErrNoPlatform):
		return fmt.Errorf("%w: %w", errUsage, verr)
	}
	return verr
}

// tufCache is where TUF metadata is cached: TUF_ROOT (as cosign reads it),
// else $HOME/.sigstore/root; "" leaves sigstore-go's default.
func tufCache(getenv func(string) string) string {
	if d := getenv("TUF_ROOT"); d != "" {
		return d
	}
	if h := getenv("HOME"); h != "" {
		return filepath.Join(h, ".sigstore", "root")
	}
	return ""
}

// bundleFiles expands --bundle values: a file, or a directory's *.json
// files (bundles are written as <name>.sigstore.json).
func bundleFiles(args []string) ([]string, error) {
	var out []string
	for _, a := range args {
		fi, err := os.Stat(a)
		if err != nil {
			return nil, fmt.Errorf("%w: --bundle: %w", errUsage, err)
		}
		if !fi.IsDir() {
			out = append(out, a)
			continue
		}
		m, err := filepath.Glob(filepath.Join(a, "*.json"))
		if err != nil {
			return nil, fmt.Errorf("%w: --bundle %s: %w", errUsage, a, err)
		}
		if len(m) == 0 {
			return nil, fmt.Errorf("%w: --bundle %s: the directory holds no *.json bundle", errUsage, a)
		}
		out = append(out, m...)
	}
	return out, nil
}

// parseVerifyFlags parses IMAGE and the flags, in any order. With --bundle
// there is no IMAGE.
func parseVerifyFlags(args []string, stderr io.Writer) (ref.Reference, *verifyFlags, error) {
	f := &verifyFlags{}
	fs := newFlagSet("oci-attest verify", stderr, func() string {
		return fmt.Sprintf("Usage: oci-attest verify IMAGE [flags]\n\n"+
			"Finds the oci attestations (%s) of IMAGE (registry/repo:tag or registry/repo@sha256:…)\n"+
			"through the referrers API or the sha256-<hex> fallback tag, and verifies each one.\n"+
			"Exit codes: 0 verified, 1 error, 2 usage, 3 none found, 4 none verifies, 5 archive differs.\n\nFlags:\n", attest.PredicateType)
	})
	fs.StringVar(&f.identity, "certificate-identity", "", "the signer's certificate identity (SAN), e.g. https://github.com/OWNER/REPO/.github/workflows/release.yml@refs/heads/main")
	fs.StringVar(&f.identityRegexp, "certificate-identity-regexp", "", "a Go regexp the certificate identity must match (instead of --certificate-identity)")
	fs.StringVar(&f.issuer, "certificate-oidc-issuer", "", "the OIDC issuer in the certificate, e.g. https://token.actions.githubusercontent.com")
	fs.StringVar(&f.issuerRegexp, "certificate-oidc-issuer-regexp", "", "a Go regexp the OIDC issuer must match (instead of --certificate-oidc-issuer)")
	fs.StringVar(&f.repository, "repository", "", "the source repository the certificate must name: OWNER/REPO or a URL (optional)")
	fs.StringVar(&f.workflow, "workflow", "", "the workflow that must have signed: OWNER/REPO/.github/workflows/FILE, a URL, or FILE with --repository (optional)")
	fs.StringVar(&f.key, "key", "", "a PEM public key: verify key-signed bundles with it (instead of a certificate identity)")
	fs.StringVar(&f.trustedRoot, "trusted-root", "", "a trusted_root.json to verify keyless bundles against (default: the --sigstore instance's root from TUF)")
	fs.StringVar(&f.sigstore, "sigstore", "", "the Sigstore instance whose trusted root to use: public-good (default) or github; custom with --trusted-root")
	fs.StringVar(&f.subjectPath, "subject-path", "", "a local image archive to compare, field by field, with the verified attestation (of a multi-platform image: each platform with its image in the archive)")
	fs.StringVar(&f.platform, "platform", "", "for an image index: require only this platform's attestation (os/arch[/variant], e.g. linux/arm64); default: every platform's")
	fs.Func("bundle", "a Sigstore bundle file (or a directory of them; repeatable) to verify against --subject-path with no registry, instead of IMAGE", func(v string) error {
		f.bundles = append(f.bundles, v)
		return nil
	})
	fs.StringVar(&f.output, "output", "text", "the report: text (default, a block per attestation) or json")
	fs.BoolVar(&f.allowInsecure, "allow-insecure-registry", false, "allow plain HTTP to a registry that is not on loopback")
	fs.Func("request-timeout", "how long one registry or TUF request may go without progress before it is abandoned and retried (a duration such as 30s, or seconds; default 60s)", func(v string) error {
		d, err := parseTimeout(v)
		f.requestTimeout = d
		return err
	})

	var image string
	rest := args
	for {
		if err := parseFlags(fs, rest); err != nil {
			return ref.Reference{}, nil, err
		}
		if fs.NArg() == 0 {
			break
		}
		if image != "" {
			return ref.Reference{}, nil, fmt.Errorf("%w: more than one image given (%q and %q)", errUsage, image, fs.Arg(0))
		}
		image, rest = fs.Arg(0), fs.Args()[1:]
	}
	switch {
	case f.output != "text" && f.output != "json":
		return ref.Reference{}, nil, fmt.Errorf("%w: --output %q: use text or json", errUsage, f.output)
	case f.sigstore != "" && f.sigstore != sign.InstancePublicGood && f.sigstore != sign.InstanceGitHub && f.sigstore != sign.InstanceCustom:
		return ref.Reference{}, nil, fmt.Errorf("%w: --sigstore %q: use public-good or github (or --trusted-root FILE)", errUsage, f.sigstore)
	case f.sigstore == sign.InstanceCustom && f.trustedRoot == "":
		return ref.Reference{}, nil, fmt.Errorf("%w: --sigstore custom needs --trusted-root FILE", errUsage)
	}
	if len(f.bundles) > 0 {
		switch {
		case image != "":
			return ref.Reference{}, nil, fmt.Errorf("%w: give IMAGE (bundles from the registry) or --bundle (bundle files), not both", errUsage)
		case f.subjectPath == "":
			return ref.Reference{}, nil, fmt.Errorf("%w: --bundle needs --subject-path ARCHIVE: the archive the bundles are checked against", errUsage)
		}
		bundles, err := bundleFiles(f.bundles)
		if err != nil {
			return ref.Reference{}, nil, err
		}
		f.bundles = bundles
		return ref.Reference{}, f, nil
	}
	if image == "" {
		return ref.Reference{}, nil, fmt.Errorf("%w: name the image to verify: oci-attest verify REGISTRY/REPO:TAG (or @sha256:DIGEST), or give --bundle FILE --subject-path ARCHIVE", errUsage)
	}
	r, err := ref.Parse(image)
	if err != nil {
		return ref.Reference{}, nil, fmt.Errorf("%w: IMAGE: %w: use REGISTRY/REPO:TAG or REGISTRY/REPO@sha256:DIGEST", errUsage, err)
	}
	if r.Tag == "" && r.Digest == "" {
		return ref.Reference{}, nil, fmt.Errorf("%w: IMAGE %q names no tag and no digest: add :TAG or @sha256:DIGEST", errUsage, image)
	}
	return r, f, nil
}

// readPublicKey reads a PEM public key (PKIX "PUBLIC KEY").
func readPublicKey(path string) (crypto.PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: reading --key: %w", errUsage, err)
	}
	pub, err := cryptoutils.UnmarshalPEMToPublicKey(b)
	if err != nil {
		return nil, fmt.Errorf("%w: --key %s is not a PEM public key (want -----BEGIN PUBLIC KEY-----): %w", errUsage, path, err)
	}
	return pub, nil
}

// writeReport prints the report for people: a block per attestation.
func writeReport(w io.Writer, r *verify.Report) error {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	// Every value is cleaned (escape.go): a registry's annotation or error
	// can never start a line of the report.
	pf := func(format string, args ...any) { fmt.Fprintf(tw, format, cleanArgs(args)...) }
	switch at := r.Repository + "@" + r.Digest; {
	case r.Repository == "":
		pf("archive\t%s (%s)\n", r.SubjectPath, r.TarDigest)
		pf("bundles\t%d file(s)\n", len(r.Attestations))
	case r.Image != at:
		pf("image\t%s\n", r.Image)
		pf("digest\t%s (%s)\n", r.Digest, r.MediaType)
	default:
		pf("image\t%s (%s)\n", at, r.MediaType)
	}
	if r.TrustedRoot != "" {
		pf("trusted root\t%s\n", r.TrustedRoot)
	}
	if r.Repository != "" {
		pf("referrers\t%s: %d oci attestation(s), %d other referrer(s) ignored\n", r.ReferrersSource, len(r.Attestations), len(r.Ignored))
		checked := fmt.Sprintf("%d Sigstore bundle referrer(s)", r.Checked)
		if r.Unchecked > 0 {
			checked += fmt.Sprintf(", %d more NOT checked (at most %d are)", r.Unchecked, r.Checked)
		}
		pf("checked\t%s\n", checked)
	}
	for _, p := range r.Platforms {
		status := "VERIFIED"
		switch {
		case p.Attestations == 0:
			status = "NONE FOUND"
		case p.Verified == 0:
			status = "NONE VERIFIED"
		case p.ArchiveMatches != nil && !*p.ArchiveMatches:
			status = "ARCHIVE DIFFERS"
		}
		name := p.Platform
		if name == "" {
			name = "(no platform)"
		}
		pf("platform %s\t%s %s: %d of %d attestation(s) verified\n", name, p.Digest, status, p.Verified, p.Attestations)
	}
	for i, a := range r.Attestations {
		status := "VERIFIED"
		if !a.Verified {
			status = "REJECTED"
		}
		id := a.Digest
		if id == "" {
			id = a.Source
		}
		pf("\nattestation %d\t%s %s\n", i+1, id, status)
		if a.Digest != "" {
			pf("  found\t%s\n", a.Source)
		}
		if a.Platform != "" || a.PlatformDigest != "" {
			pf("  platform\t%s (%s)\n", a.Platform, a.PlatformDigest)
		}
		if a.Created != "" {
			pf("  created\t%s\n", a.Created)
		}
		if s := a.Signer; s != nil {
			if s.Identity != "" {
				pf("  signer\t%s\n", s.Identity)
				pf("  issuer\t%s\n", s.Issuer)
			}
			if s.SourceRepository != "" {
				pf("  repository\t%s\n", s.SourceRepository)
			}
			if s.BuildSigner != "" {
				pf("  workflow\t%s\n", s.BuildSigner)
			}
			if s.KeyHint != "" {
				pf("  key hint\t%s\n", s.KeyHint)
			}
		}
		for _, t := range a.Timestamps {
			pf("  signed at\t%s (%s)\n", t.Time.Format("2006-01-02T15:04:05Z"), t.Kind)
		}
		if a.LogIndex != nil {
			pf("  log index\t%d\n", *a.LogIndex)
		}
		if p := a.Predicate; p != nil {
			tags := strings.Join(p.Tags, ", ")
			if tags == "" {
				tags = "(untagged)"
			}
			pf("  image ID\t%s\n", p.ImageID)
			pf("  tags\t%s\n", tags)
			pf("  layers\t%d\n", p.Layers)
		}
		if c := a.Archive; c != nil {
			switch {
			case c.Matches:
				pf("  archive\t%s matches\n", r.SubjectPath)
			case c.SameImage:
				pf("  archive\t%s: same image (image ID and layers match), different archive file (%d field(s) differ)\n", r.SubjectPath, len(c.Differences))
			default:
				pf("  archive\t%s DIFFERS in %d field(s), image ID or layers among them\n", r.SubjectPath, len(c.Differences))
			}
			if !c.Matches {
				for _, d := range c.Differences {
					pf("    %s\tattested %s\n", d.Field, d.Attested)
					pf("    \tlocal    %s\n", d.Local)
				}
			}
		}
		if a.Error != "" {
			pf("  reason\t%s\n", a.Error)
		}
	}
	if len(r.Ignored) > 0 {
		pf("\nignored\t\n")
		for _, ig := range r.Ignored {
			pf("  %s\t%s\n", ig.Digest, ig.Reason)
		}
	}
	pf("\nresult\t%s\n", r.Summary())
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := io.WriteString(w, b.String())
	return err
}
