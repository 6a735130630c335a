package cli

import (
	"context"
	"crypto"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/sigstore/sigstore/pkg/cryptoutils"

	"github.com/oci-attest/oci-attest/internal/display"
	"github.com/oci-attest/oci-attest/internal/ref"
	"github.com/oci-attest/oci-attest/internal/registry"
	"github.com/oci-attest/oci-attest/internal/sign"
	"github.com/oci-attest/oci-attest/internal/verify"
)

// Exit codes of `oci-attest verify` (docs/verify.md, "Exit codes").
const (
	exitVerifyNoneFound    = 3 // no oci attestation on the image
	exitVerifyNoneVerified = 4 // attestations found, none verifies
	exitVerifyArchive      = 5 // verified, but --subject-path differs
)

// policyFlags are the flags `oci-attest verify` and `oci-attest attach`
// share: the signer policy, the trusted root, the registry and the report.
type policyFlags struct {
	identity, identityRegexp string
	issuer, issuerRegexp     string
	repository, workflow     string
	key                      string
	trustedRoot              string
	sigstore                 string
	output                   string
	allowInsecure            bool
	requestTimeout           time.Duration
}

// verifyFlags are the flags of `oci-attest verify`.
type verifyFlags struct {
	policyFlags
	subjectPath string
	platform    string
	bundles     []string
}

// runVerify is `oci-attest verify IMAGE [flags]`: exit 0 when at least one
// attestation verifies (and --subject-path matches), 3 when none is found, 4
// when none verifies, 5 when the archive differs, 2 for usage errors, 1 for
// other failures.
func runVerify(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	image, f, err := parseVerifyFlags(args, stdout)
	if err == nil {
		err = remoteAdvice(doVerify(ctx, image, f, getenv, stdout, stderr))
	}
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(stderr, "oci-attest verify: %s\n", display.Clean(err.Error()))
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
	opts := verify.Options{SubjectPath: f.subjectPath, Platform: f.platform}
	if err := f.policy(&opts); err != nil {
		return opts, err
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

// policy sets the signer policy of opts from the flags and checks opts
// (verify.Options.Check), before any network access.
func (f *policyFlags) policy(opts *verify.Options) error {
	opts.Policy = sign.Policy{
		Identity: f.identity, IdentityRegexp: f.identityRegexp,
		Issuer: f.issuer, IssuerRegexp: f.issuerRegexp,
	}
	opts.Repository, opts.Workflow = f.repository, f.workflow
	if f.key != "" {
		pub, err := readPublicKey(f.key)
		if err != nil {
			return err
		}
		opts.Policy.PublicKey = pub
	}
	if err := opts.Check(); err != nil {
		return usageError(err)
	}
	return nil
}

// usageError is err as a usage error, naming the flag behind an option.
func usageError(err error) error {
	var oe *sign.OptionError
	if errors.As(err, &oe) {
		return fmt.Errorf("%w: %s: %s", errUsage, verifyFlag[oe.Field], oe.Msg)
	}
	return fmt.Errorf("%w: %w", errUsage, err)
}

func doVerify(ctx context.Context, image ref.Reference, f *verifyFlags, getenv func(string) string, stdout, stderr io.Writer) error {
	opts, err := verifyOptions(f)
	if err != nil {
		return err
	}
	trustedFrom, err := f.trust(ctx, getenv, &opts)
	if err != nil {
		return err
	}
	var rep *verify.Report
	var verr error
	switch {
	case len(f.bundles) > 0:
		// Where the archive arrives: no registry, nothing contacted.
		rep, verr = verify.Bundles(ctx, f.bundles, opts)
	case image.IsZero():
		// The attestations the archive carries: nothing contacted either.
		rep, verr = verify.Carried(ctx, opts)
		if errors.Is(verr, verify.ErrNoneFound) && rep != nil && len(rep.Attestations) == 0 {
			verr = fmt.Errorf("%w (%s carries no oci attestation of its images: write it with --attested-archive-path when attesting, or copy the image with its referrers: oras cp -r --to-oci-layout, regctl image copy --referrers … ocidir://, then tar -cf image.tar -C DIR .; cosign save carries .sig/.att tags, not OCI 1.1 referrers. A bundle that travels as a file: verify --bundle FILE --subject-path %s here, oci-attest attach --bundle FILE IMAGE in the far registry)", verr, f.subjectPath, f.subjectPath)
		}
	default:
		client, err := f.client(getenv)
		if err != nil {
			return err
		}
		opts.Client = client
		rep, verr = verify.Verify(ctx, image, opts)
	}
	if rep != nil {
		rep.TrustedRoot = trustedFrom
		verr = f.writeReport(stdout, rep.WriteText, rep.WriteJSON, verr)
		if f.output == "json" {
			// The text report shows them; JSON is for a program.
			for _, w := range rep.Warnings {
				fmt.Fprintf(stderr, "oci-attest verify: warning: %s (docs/gates.md, \"Limits\")\n", display.Clean(w))
			}
		}
	}
	return verifyExit(verr)
}

// writeReport writes a report in --output's format (text or json). A
// failure to write it is the error when there is no other (err).
func (f *policyFlags) writeReport(stdout io.Writer, text, json func(io.Writer) error, err error) error {
	write := text
	if f.output == "json" {
		write = json
	}
	if werr := write(stdout); werr != nil && err == nil {
		return fmt.Errorf("writing the report: %w", werr)
	}
	return err
}

// client is the registry client of the flags.
func (f *policyFlags) client(getenv func(string) string) (*registry.Client, error) {
	return registry.New(registry.Options{Getenv: getenv, GitHubToken: getenv("GITHUB_TOKEN"), AllowInsecure: f.allowInsecure, RequestTimeout: f.requestTimeout})
}

// trust loads the trusted root into opts unless the policy is a key alone
// (trustedMaterial), and returns where it came from ("" for a key).
func (f *policyFlags) trust(ctx context.Context, getenv func(string) string, opts *verify.Options) (string, error) {
	if f.key != "" && f.trustedRoot == "" && f.sigstore == "" {
		return "", nil
	}
	return trustedMaterial(ctx, f, getenv, opts)
}

// trustedMaterial loads the trusted root into opts: --sigstore's, else a
// --trusted-root file is a custom instance's, else public-good's. What a
// keyless bundle must carry follows the instance (public-good: SCT, log
// entry, timestamp; github: RFC 3161 timestamp; custom: what the trusted
// root lists). It returns where the root came from, for the report.
func trustedMaterial(ctx context.Context, f *policyFlags, getenv func(string) string, opts *verify.Options) (string, error) {
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
	var oe *sign.OptionError
	switch {
	case errors.As(err, &oe):
		return "", fmt.Errorf("%w: --trusted-root: %s", errUsage, oe.Msg)
	case errors.Is(err, sign.ErrService):
		return "", fmt.Errorf("loading the %s trusted root: %w (without network access, give the instance's trusted_root.json with --trusted-root)", instance, err)
	case err != nil:
		return "", fmt.Errorf("loading the trusted root: %w", err)
	}
	opts.TrustedMaterial, opts.Policy.Instance = tm, instance
	return from, nil
}

// verifyExit is the error of verify with its exit code (docs/verify.md, "Exit codes").
func verifyExit(err error) error {
	switch {
	case errors.Is(err, verify.ErrNoneFound):
		return &exitCodeError{code: exitVerifyNoneFound, err: err}
	case errors.Is(err, verify.ErrNoneVerified) && errors.Is(err, sign.ErrKeySigned):
		return &exitCodeError{code: exitVerifyNoneVerified, err: fmt.Errorf("%w: verify key-signed bundles with --key and the signer's public key (written beside the bundle as <bundle>.pub), not --certificate-identity", err)}
	case errors.Is(err, verify.ErrNoneVerified):
		return &exitCodeError{code: exitVerifyNoneVerified, err: err}
	case errors.Is(err, verify.ErrArchiveDiffers):
		return &exitCodeError{code: exitVerifyArchive, err: err}
	case errors.Is(err, verify.ErrNoPlatform):
		return fmt.Errorf("%w: --platform: %w", errUsage, err)
	}
	return err
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
