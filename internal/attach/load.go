package attach

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	digest "github.com/opencontainers/go-digest"

	"github.com/oci-attest/oci-attest/internal/oci"
	"github.com/oci-attest/oci-attest/internal/registry"
	"github.com/oci-attest/oci-attest/internal/verify"
)

// Bundle is one bundle to attach: a bundle file's, or a referrer an
// archive carries.
type Bundle struct {
	// Source names it: the file's path, or "ARCHIVE:DIGEST" for a referrer
	// manifest an archive carries.
	Source string
	// Raw is the bundle's bytes; nil when the archive does not hold them
	// (Problem says so).
	Raw []byte
	// Subject is the digest an archive's referrer refers to; empty for a
	// bundle file (its statement names the subject).
	Subject digest.Digest
	// Problem is why an archive's referrer cannot be attached as it is; ""
	// when it can.
	Problem string
}

// Load reads the bundles at paths: each a bundle file (JSON), or an image
// archive whose carried Sigstore bundle referrers are each a Bundle
// (oci.Archive.Referrers, verify.CarriedBundle); referrers of other
// artifact types are skipped and counted in skipped. A bundle file over
// registry.MaxBundleSize is refused (registry.ErrBundleTooLarge) before it
// is read.
func Load(ctx context.Context, paths []string) (bundles []Bundle, skipped int, err error) {
	for _, p := range paths {
		raw, isJSON, err := readSniffed(p)
		if err != nil {
			return nil, 0, err
		}
		if isJSON {
			bundles = append(bundles, Bundle{Source: p, Raw: raw})
			continue
		}
		carried, n, err := loadArchive(ctx, p)
		if err != nil {
			return nil, 0, err
		}
		bundles, skipped = append(bundles, carried...), skipped+n
	}
	return bundles, skipped, nil
}

// readSniffed reads the file at p when it is JSON (its first byte other
// than white space is "{"), bounded by registry.MaxBundleSize.
func readSniffed(p string) ([]byte, bool, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, false, fmt.Errorf("reading %s: %w", p, err)
	}
	head := make([]byte, 512)
	n, err := io.ReadFull(f, head)
	f.Close()
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, false, fmt.Errorf("reading %s: %w", p, err)
	}
	if t := bytes.TrimLeft(head[:n], " \t\r\n"); len(t) == 0 || t[0] != '{' {
		return nil, false, nil
	}
	raw, err := verify.ReadBundle(p, registry.MaxBundleSize)
	if errors.Is(err, verify.ErrBundleTooLarge) {
		return nil, false, fmt.Errorf("%w: %w: %w", ErrRefused, registry.ErrBundleTooLarge, err)
	}
	return raw, err == nil, err
}

// loadArchive lists the Sigstore bundle referrers the archive at p
// carries.
func loadArchive(ctx context.Context, p string) ([]Bundle, int, error) {
	a, err := oci.Scan(ctx, p, oci.ScanOptions{})
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %s: %w: %w", ErrRefused, p, ErrNotBundle, err)
	}
	defer a.Close()
	var out []Bundle
	skipped := 0
	for _, r := range a.Referrers {
		if r.ArtifactType != registry.BundleMediaType {
			skipped++
			continue
		}
		b := Bundle{Source: p + ":" + r.Descriptor.Digest.String(), Subject: r.Subject.Digest}
		b.Raw, b.Problem = verify.CarriedBundle(r)
		out = append(out, b)
	}
	if a.ReferrersOmitted > 0 {
		return nil, 0, fmt.Errorf("%w: %s carries more than %d referrers (%d more): attach them from a smaller archive", ErrRefused, p, len(a.Referrers), a.ReferrersOmitted)
	}
	if len(out) == 0 {
		return nil, 0, fmt.Errorf("%s: %w: the archive carries no Sigstore bundle referrer of its images", p, ErrNothing)
	}
	return out, skipped, nil
}
