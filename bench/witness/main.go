// Command witness runs go-witness v0.8.0's oci attestor on an image archive
// the way `witness run -a oci` does, and prints its predicate JSON. It is the
// baseline of the archive benchmark (bench/archive.sh; ARCHITECTURE.md, "Limits and budgets").
//
//	witness -archive bench/out/plain/archive.tar > predicate.json
//
// The oci attestor takes its tarball from the attestation context's products,
// so the product attestor runs first over the archive's folder (which must
// hold no other tar file: the attestor picks the first application/x-tar
// product in map order) and the process works in that folder, because the
// attestor opens the product by its folder-relative path. Hashes are sha256
// only, witness run's default (--hashes sha256).
//
// It lives in its own module so that the main module never imports
// go-witness.
package main

import (
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/in-toto/go-witness/attestation"
	"github.com/in-toto/go-witness/attestation/oci"
	"github.com/in-toto/go-witness/attestation/product"
	"github.com/in-toto/go-witness/cryptoutil"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "witness:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("witness", flag.ContinueOnError)
	archive := fs.String("archive", "", "image archive to attest (required); its folder must hold no other tar file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *archive == "" {
		return errors.New("missing -archive: name the image archive to attest")
	}
	abs, err := filepath.Abs(*archive)
	if err != nil {
		return fmt.Errorf("resolving %s: %w", *archive, err)
	}
	dir := filepath.Dir(abs)
	// The oci attestor opens products by their path relative to the
	// working directory (attestation/oci getCandidate).
	if err := os.Chdir(dir); err != nil {
		return fmt.Errorf("entering the archive's folder: %w", err)
	}

	att := oci.New()
	actx, err := attestation.NewContext("bench",
		[]attestation.Attestor{product.New(), att},
		attestation.WithContext(ctx),
		attestation.WithWorkingDir(dir),
		attestation.WithHashes([]cryptoutil.DigestValue{{Hash: crypto.SHA256}}),
	)
	if err != nil {
		return fmt.Errorf("creating attestation context: %w", err)
	}
	if err := actx.RunAttestors(); err != nil {
		return fmt.Errorf("running attestors: %w", err)
	}
	for _, c := range actx.CompletedAttestors() {
		if c.Error != nil {
			return fmt.Errorf("attestor %s: %w", c.Attestor.Name(), c.Error)
		}
	}
	var tars []string
	for p, prod := range actx.Products() {
		if prod.MimeType == "application/x-tar" {
			tars = append(tars, p)
		}
	}
	if len(tars) != 1 || filepath.Join(dir, tars[0]) != abs {
		return fmt.Errorf("the oci attestor needs %s to be the only tar file in its folder, found %q", abs, tars)
	}
	out, err := json.MarshalIndent(att, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding predicate: %w", err)
	}
	_, err = fmt.Fprintf(stdout, "%s\n", out)
	return err
}
