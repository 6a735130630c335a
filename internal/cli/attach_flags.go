package cli

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/oci-attest/oci-attest/internal/attest"
	"github.com/oci-attest/oci-attest/internal/ref"
	"github.com/oci-attest/oci-attest/internal/registry"
)

// attachFlags are the flags of `oci-attest attach`: verify's policy flags,
// the bundles, and how referrers are pushed (the attest flags of the same
// names).
type attachFlags struct {
	policyFlags
	bundles []string
	mode    string
	settle  string

	parsedMode   registry.Mode
	parsedSettle time.Duration
}

// parseAttachFlags parses IMAGE and the flags, in any order.
func parseAttachFlags(args []string, stdout io.Writer) (ref.Reference, *attachFlags, error) {
	f := &attachFlags{}
	image, err := parseWithImage(f.flagSet(stdout), args)
	if err != nil {
		return ref.Reference{}, nil, err
	}
	return f.check(image)
}

// flagSet registers attach's flags into f.
func (f *attachFlags) flagSet(stdout io.Writer) *flagSet {
	fs := newFlagSet("oci-attest attach", stdout, func() string {
		return fmt.Sprintf("Usage: oci-attest attach --bundle FILE|DIR|ARCHIVE IMAGE [flags]\n\n"+
			"Verifies existing Sigstore bundles of oci attestations (%s)\n"+
			"with verify's policy flags, checks that each attests IMAGE (registry/repo:tag or\n"+
			"registry/repo@sha256:…) or one of its platforms, and pushes each as an OCI 1.1\n"+
			"referrer of the digest it attests (the referrers API, else the sha256-<hex> fallback\n"+
			"tag), signing nothing. A directory: its *.json bundles. An image archive: the bundle\n"+
			"referrers it carries, each to its subject in IMAGE's repository (IMAGE may then be\n"+
			"the bare repository). A bundle already attached is not attached again; when any\n"+
			"bundle is refused, nothing is pushed.\n"+
			"Exit codes: 0 attached, 1 error, 2 usage, 4 a bundle refused.\n"+
			"docs/attach.md describes it in full.\n\nFlags:\n", attest.PredicateType)
	})
	f.policyFlags.register(fs)
	fs.Func("bundle", "a bundle, a directory of *.json bundles, or an archive carrying them", func(v string) error {
		f.bundles = append(f.bundles, v)
		return nil
	})
	fs.arg("bundle", "FILE")
	fs.StringVar(&f.mode, "referrers-mode", "", attestHelp["referrers-mode"].help)
	fs.arg("referrers-mode", attestHelp["referrers-mode"].arg)
	fs.StringVar(&f.settle, "fallback-settle", "", attestHelp["fallback-settle"].help)
	fs.arg("fallback-settle", attestHelp["fallback-settle"].arg)
	return fs
}

// check checks the flags together and parses IMAGE: with a tag or digest,
// or (bundles from archives only, which Run checks) a bare repository.
func (f *attachFlags) check(image string) (ref.Reference, *attachFlags, error) {
	if err := f.policyFlags.check(); err != nil {
		return ref.Reference{}, nil, err
	}
	if len(f.bundles) == 0 {
		return ref.Reference{}, nil, fmt.Errorf("%w: give the bundles to attach: --bundle FILE (a bundle, a directory of them, or an image archive carrying them)", errUsage)
	}
	if image == "" {
		return ref.Reference{}, nil, fmt.Errorf("%w: name the image to attach to: oci-attest attach --bundle FILE REGISTRY/REPO:TAG (or @sha256:DIGEST)", errUsage)
	}
	m, err := registry.ParseMode(f.mode)
	if err != nil {
		return ref.Reference{}, nil, fmt.Errorf("%w: --referrers-mode: %w", errUsage, err)
	}
	if f.parsedSettle, err = parseSettle(f.settle); err != nil {
		var ie *inputError
		if errors.As(err, &ie) {
			err = errors.New(ie.msg)
		}
		return ref.Reference{}, nil, fmt.Errorf("%w: --fallback-settle: %w", errUsage, err)
	}
	f.parsedMode = m
	bundles, err := bundleFiles(f.bundles)
	if err != nil {
		return ref.Reference{}, nil, err
	}
	f.bundles = bundles
	r, err := parseImage(image)
	if err != nil {
		return ref.Reference{}, nil, err
	}
	return r, f, nil
}
