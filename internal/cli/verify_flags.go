package cli

import (
	"errors"
	"fmt"
	"io"

	"github.com/oci-attest/oci-attest/internal/attest"
	"github.com/oci-attest/oci-attest/internal/ref"
	"github.com/oci-attest/oci-attest/internal/sign"
)

// parseVerifyFlags parses IMAGE and the flags, in any order. With --bundle
// there is no IMAGE.
func parseVerifyFlags(args []string, stdout io.Writer) (ref.Reference, *verifyFlags, error) {
	f := &verifyFlags{}
	image, err := parseWithImage(f.flagSet(stdout), args)
	if err != nil {
		return ref.Reference{}, nil, err
	}
	return f.check(image)
}

// parseWithImage parses args with fs: the flags and at most one IMAGE, in
// any order. It returns IMAGE, "" when there is none.
func parseWithImage(fs *flagSet, args []string) (string, error) {
	var image string
	rest := args
	for {
		if err := parseFlags(fs, rest); err != nil {
			return "", err
		}
		if fs.NArg() == 0 {
			return image, nil
		}
		if image != "" {
			return "", fmt.Errorf("%w: more than one image given (%q and %q)", errUsage, image, fs.Arg(0))
		}
		image, rest = fs.Arg(0), fs.Args()[1:]
	}
}

// flagSet registers verify's flags into f.
func (f *verifyFlags) flagSet(stdout io.Writer) *flagSet {
	fs := newFlagSet("oci-attest verify", stdout, func() string {
		return fmt.Sprintf("Usage: oci-attest verify IMAGE [flags]\n"+
			"       oci-attest verify --bundle FILE --subject-path ARCHIVE [flags]\n"+
			"       oci-attest verify --subject-path ARCHIVE [flags]\n\n"+
			"Finds the oci attestations (%s) of IMAGE\n"+
			"(registry/repo:tag or registry/repo@sha256:…) through the referrers API or the\n"+
			"sha256-<hex> fallback tag, and verifies each one; with --bundle, bundle files against\n"+
			"the archive; with --subject-path alone, the attestations the archive carries.\n"+
			"Exit codes: 0 verified, 1 error, 2 usage, 3 none found, 4 none verifies, 5 archive differs.\n"+
			"docs/verify.md describes every flag in full.\n\nFlags:\n", attest.PredicateType)
	})
	f.policyFlags.register(fs)
	fs.StringVar(&f.subjectPath, "subject-path", "", "image archive to compare with what is attested (alone: what it carries)")
	fs.arg("subject-path", "FILE")
	fs.StringVar(&f.platform, "platform", "", "of an index, require only the entries runtimes read for it (default: all)")
	fs.arg("platform", "OS/ARCH")
	fs.Func("bundle", "bundle file or directory to check against --subject-path, offline", func(v string) error {
		f.bundles = append(f.bundles, v)
		return nil
	})
	fs.arg("bundle", "FILE")
	return fs
}

// register registers the policy flags into fs.
func (f *policyFlags) register(fs *flagSet) {
	str := func(p *string, name, arg, help string) {
		fs.StringVar(p, name, "", help)
		fs.arg(name, arg)
	}
	str(&f.identity, "certificate-identity", "SAN", "the signer's identity (the workflow's URL@ref)")
	str(&f.identityRegexp, "certificate-identity-regexp", "REGEXP", "a Go regexp the identity must match; unanchored, as cosign's: anchor it")
	str(&f.issuer, "certificate-oidc-issuer", "URL", "the OIDC issuer, e.g. https://token.actions.githubusercontent.com")
	str(&f.issuerRegexp, "certificate-oidc-issuer-regexp", "REGEXP", "a Go regexp the OIDC issuer must match")
	str(&f.repository, "repository", "OWNER/REPO", "the source repository the certificate must name")
	str(&f.workflow, "workflow", "PATH", "the workflow that signed: OWNER/REPO/.github/workflows/FILE[@refs/…]")
	str(&f.key, "key", "FILE", "verify key-signed bundles with this PEM public key")
	str(&f.trustedRoot, "trusted-root", "FILE", "trusted_root.json to verify against (default: --sigstore's, from TUF)")
	str(&f.sigstore, "sigstore", "INSTANCE", "public-good (default) or github; custom with --trusted-root")
	fs.StringVar(&f.output, "output", "text", "the report: text or json (default text)")
	fs.arg("output", "FORMAT")
	fs.BoolVar(&f.allowInsecure, "allow-insecure-registry", false, "allow plain HTTP to a registry off loopback")
	fs.Func("request-timeout", "how long a request may make no progress (default 60s)", func(v string) error {
		d, err := parseTimeout(v)
		f.requestTimeout = d
		return err
	})
	fs.arg("request-timeout", "DURATION")
}

// check checks the policy flags together.
func (f *policyFlags) check() error {
	switch {
	case f.output != "text" && f.output != "json":
		return fmt.Errorf("%w: --output %q: use text or json", errUsage, f.output)
	case f.sigstore != "" && f.sigstore != sign.InstancePublicGood && f.sigstore != sign.InstanceGitHub && f.sigstore != sign.InstanceCustom:
		return fmt.Errorf("%w: --sigstore %q: use public-good or github (or --trusted-root FILE)", errUsage, f.sigstore)
	case f.sigstore == sign.InstanceCustom && f.trustedRoot == "":
		return fmt.Errorf("%w: --sigstore custom needs --trusted-root FILE", errUsage)
	}
	return nil
}

// check checks the flags together and parses IMAGE ("" with --bundle).
func (f *verifyFlags) check(image string) (ref.Reference, *verifyFlags, error) {
	if err := f.policyFlags.check(); err != nil {
		return ref.Reference{}, nil, err
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
	if image == "" && f.subjectPath != "" {
		return ref.Reference{}, f, nil // the attestations the archive carries
	}
	if image == "" {
		return ref.Reference{}, nil, fmt.Errorf("%w: name the image to verify: oci-attest verify REGISTRY/REPO:TAG (or @sha256:DIGEST), give --bundle FILE --subject-path ARCHIVE, or --subject-path ARCHIVE alone (the attestations it carries)", errUsage)
	}
	r, err := parseImage(image)
	if err != nil {
		return ref.Reference{}, nil, err
	}
	if r.Tag == "" && r.Digest == "" {
		return ref.Reference{}, nil, fmt.Errorf("%w: IMAGE %q names no tag and no digest: add :TAG or @sha256:DIGEST", errUsage, image)
	}
	return r, f, nil
}

// parseImage parses IMAGE, a usage error when it is no image reference.
func parseImage(image string) (ref.Reference, error) {
	r, err := ref.Parse(image)
	switch {
	case errors.Is(err, ref.ErrURL):
		return ref.Reference{}, fmt.Errorf("%w: IMAGE: %w", errUsage, err)
	case err != nil:
		return ref.Reference{}, fmt.Errorf("%w: IMAGE: %w: use REGISTRY/REPO:TAG or REGISTRY/REPO@sha256:DIGEST", errUsage, err)
	}
	return r, nil
}
