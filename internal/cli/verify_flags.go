package cli

import (
	"fmt"
	"io"

	"github.com/oci-attest/oci-attest/internal/attest"
	"github.com/oci-attest/oci-attest/internal/ref"
	"github.com/oci-attest/oci-attest/internal/sign"
)

// parseVerifyFlags parses IMAGE and the flags, in any order. With --bundle
// there is no IMAGE.
func parseVerifyFlags(args []string, stderr io.Writer) (ref.Reference, *verifyFlags, error) {
	f := &verifyFlags{}
	fs := f.flagSet(stderr)
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
	return f.check(image)
}

// flagSet registers verify's flags into f.
func (f *verifyFlags) flagSet(stderr io.Writer) *flagSet {
	fs := newFlagSet("oci-attest verify", stderr, func() string {
		return fmt.Sprintf("Usage: oci-attest verify IMAGE [flags]\n\n"+
			"Finds the oci attestations (%s) of IMAGE (registry/repo:tag or registry/repo@sha256:…)\n"+
			"through the referrers API or the sha256-<hex> fallback tag, and verifies each one.\n"+
			"Exit codes: 0 verified, 1 error, 2 usage, 3 none found, 4 none verifies, 5 archive differs.\n\nFlags:\n", attest.PredicateType)
	})
	fs.StringVar(&f.identity, "certificate-identity", "", "the signer's certificate identity (SAN), e.g. https://github.com/OWNER/REPO/.github/workflows/release.yml@refs/heads/main")
	fs.StringVar(&f.identityRegexp, "certificate-identity-regexp", "", "a Go regexp the certificate identity must match, anywhere in it as cosign matches: anchor it and escape dots, e.g. ^https://github\\.com/OWNER/REPO/\\.github/workflows/release\\.yml@refs/tags/ (instead of --certificate-identity)")
	fs.StringVar(&f.issuer, "certificate-oidc-issuer", "", "the OIDC issuer in the certificate, e.g. https://token.actions.githubusercontent.com")
	fs.StringVar(&f.issuerRegexp, "certificate-oidc-issuer-regexp", "", "a Go regexp the OIDC issuer must match, anywhere in it: anchor it (instead of --certificate-oidc-issuer)")
	fs.StringVar(&f.repository, "repository", "", "the source repository the certificate must name: OWNER/REPO or a URL (optional)")
	fs.StringVar(&f.workflow, "workflow", "", "the workflow that must have signed: OWNER/REPO/.github/workflows/FILE, a URL, or FILE with --repository (optional); the certificate's Build Signer URI must be it, @ and a ref (refs/…), whose ref is not compared")
	fs.StringVar(&f.key, "key", "", "a PEM public key: verify key-signed bundles with it (instead of a certificate identity)")
	fs.StringVar(&f.trustedRoot, "trusted-root", "", "a trusted_root.json to verify keyless bundles against (default: the --sigstore instance's root from TUF)")
	fs.StringVar(&f.sigstore, "sigstore", "", "the Sigstore instance whose trusted root to use: public-good (default) or github; custom with --trusted-root")
	fs.StringVar(&f.subjectPath, "subject-path", "", "a local image archive to compare, field by field, with the verified attestation (of a multi-platform image: each platform with its image in the archive)")
	fs.StringVar(&f.platform, "platform", "", "for an image index: require only the attestations of the entries containerd and go-containerregistry read for this platform (os/arch[/variant], e.g. linux/arm64); default: those of every entry a runtime reads")
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
	return fs
}

// check checks the flags together and parses IMAGE ("" with --bundle).
func (f *verifyFlags) check(image string) (ref.Reference, *verifyFlags, error) {
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
