package verify

import (
	"context"
	"fmt"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-attest/oci-attest/internal/ref"
	"github.com/oci-attest/oci-attest/internal/registry"
)

// One verifies one bundle, raw, as Verify, Bundles and Carried verify each
// of theirs (checkBundle): the signature against opts.TrustedMaterial and
// opts.Policy, the certificate's repository and workflow, and the oci
// attestor predicate type. The subject is not checked: the caller decides
// from named, the digests the verified statement names. A bundle that does
// not verify, or carries another predicate type, comes back not Verified
// with Error saying why; the error is for options that cannot decide
// anything. It contacts nothing.
func One(ctx context.Context, raw []byte, opts Options) (a Attestation, named []string, err error) {
	if err := opts.Check(); err != nil {
		return a, nil, fmt.Errorf("verifying the bundle: %w", err)
	}
	if opts.Policy.PublicKey == nil && opts.TrustedMaterial == nil {
		return a, nil, fmt.Errorf("verifying the bundle: no trusted root: keyless bundles are verified against their Sigstore instance's trusted root")
	}
	pol, err := newCertPolicy(opts.Repository, opts.Workflow)
	if err != nil {
		return a, nil, err
	}
	why := checkBundle(ctx, raw, &a, bundleCheck{opts: opts, pol: pol, named: &named})
	if why != "" {
		a.Verified, a.Error = false, why
	}
	if !a.Verified {
		named = nil
	}
	return a, named, nil
}

// Resolved is a registry image as Verify resolves it: what its digest or
// tag names and, for an index, its platform manifests.
type Resolved struct {
	// Descriptor is the manifest or index the reference names, as the
	// registry serves it.
	Descriptor ocispec.Descriptor
	// Platforms are the entries of an index whose attestations Verify
	// requires: every entry a runtime selects (oci.Selectable), nested
	// indexes included; none for an image manifest.
	Platforms []ocispec.Descriptor
}

// Resolve resolves image (its digest, else its tag) through client as
// Verify does, and lists an index's platform manifests. Nothing is bound
// or pushed.
func Resolve(ctx context.Context, client *registry.Client, image ref.Reference) (*Resolved, error) {
	reg := clientSource{client}
	raw, desc, err := reg.resolve(ctx, image)
	if err != nil {
		return nil, err
	}
	plats, err := platforms(ctx, reg, image.Repo(), raw, desc, "")
	if err != nil {
		return nil, fmt.Errorf("resolving %s: %w", image, err)
	}
	r := &Resolved{Descriptor: desc}
	for _, p := range plats {
		r.Platforms = append(r.Platforms, p.desc)
	}
	return r, nil
}
