package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/oci-attest/oci-attest/internal/attach"
	"github.com/oci-attest/oci-attest/internal/display"
	"github.com/oci-attest/oci-attest/internal/ref"
	"github.com/oci-attest/oci-attest/internal/registry"
	"github.com/oci-attest/oci-attest/internal/verify"
)

// exitAttachRefused is attach's exit code when a bundle was refused
// (docs/attach.md): nothing was pushed.
const exitAttachRefused = 4

// runAttach is `oci-attest attach --bundle FILE IMAGE [flags]`: exit 0 when
// every bundle is attached (or already was), 4 when one is refused and
// nothing was pushed, 2 for usage errors, 1 for other failures.
func runAttach(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	image, f, err := parseAttachFlags(args, stdout)
	if err == nil {
		err = remoteAdvice(doAttach(ctx, image, f, getenv, stdout))
	}
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(stderr, "oci-attest attach: %s\n", display.Clean(err.Error()))
	}
	return err
}

func doAttach(ctx context.Context, image ref.Reference, f *attachFlags, getenv func(string) string, stdout io.Writer) error {
	var vopts verify.Options
	if err := f.policy(&vopts); err != nil {
		return err
	}
	if _, err := f.trust(ctx, getenv, &vopts); err != nil {
		return err
	}
	bundles, skipped, err := attach.Load(ctx, f.bundles)
	if err != nil {
		return attachAdvice(err)
	}
	client, err := f.client(getenv)
	if err != nil {
		return err
	}
	rep, err := attach.Run(ctx, image, bundles, attach.Options{
		Client: client, Verify: vopts,
		Attach: registry.AttachOptions{Mode: f.parsedMode, Settle: f.parsedSettle},
	})
	if rep != nil {
		rep.Skipped = skipped
		err = f.writeReport(stdout, rep.WriteText, rep.WriteJSON, err)
	}
	return attachAdvice(err)
}

// attachAdvice is attach's error naming the flag to change and what to do,
// with its exit code.
func attachAdvice(err error) error {
	var advice string
	switch {
	case err == nil:
		return nil
	case errors.Is(err, registry.ErrNoReference):
		return fmt.Errorf("%w: IMAGE: %w: add :TAG or @sha256:DIGEST (a bare repository only with --bundle ARCHIVE)", errUsage, err)
	case errors.Is(err, attach.ErrNothing):
		return fmt.Errorf("%w: --bundle: %w (write the archive with attested-archive-path when attesting, or copy the image with its referrers: oras cp -r --to-oci-layout, regctl image copy --referrers … ocidir://; or attach the bundle file: --bundle FILE)", errUsage, err)
	case errors.Is(err, attach.ErrNotBundle):
		advice = "give a Sigstore bundle (the action's bundle-path, *.sigstore.json) or an image archive carrying bundle referrers"
	case errors.Is(err, registry.ErrBundleTooLarge):
		advice = "Kyverno refuses a bundle referrer over 10 MB, and with it every attestation of the image; attest an archive with fewer images"
	case errors.Is(err, attach.ErrOtherImage):
		advice = "attach it to the image it attests (IMAGE@sha256:DIGEST it names), or copy that image with its digests preserved (skopeo copy --all --preserve-digests, crane cp, oras cp) and name the copy"
	case errors.Is(err, attach.ErrNotInRepository):
		advice = "copy the image into IMAGE's repository with its digests preserved first (skopeo copy --all --preserve-digests, crane cp, oras cp)"
	case errors.Is(err, attach.ErrNotVerified):
		advice = "check the policy flags (--key, --certificate-identity, --certificate-oidc-issuer, --repository, --workflow, --trusted-root): they are verify's"
	case errors.Is(err, attach.ErrRefused):
	default:
		return err
	}
	if advice != "" {
		err = fmt.Errorf("%w: %s", err, advice)
	}
	return &exitCodeError{code: exitAttachRefused, err: fmt.Errorf("--bundle: %w; nothing was attached", err)}
}
