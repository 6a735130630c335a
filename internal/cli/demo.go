package cli

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	stdlog "log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	"github.com/olareg/olareg"
	olaregconfig "github.com/olareg/olareg/config"

	"github.com/oci-attest/oci-attest/internal/attest"
	"github.com/oci-attest/oci-attest/internal/oci/ocitest"
	"github.com/oci-attest/oci-attest/internal/registry"
	"github.com/oci-attest/oci-attest/internal/sign"
	"github.com/oci-attest/oci-attest/internal/verify"
)

// demoArchive returns the small docker save (≥25) archive the demo attests:
// the one the generator in internal/oci/ocitest writes as
// testdata/archives/docker25.tar, built in memory (deterministic, so the
// bytes are the committed file's).
func demoArchive() ([]byte, error) {
	for _, a := range ocitest.Archives() {
		if a.Name == "docker25.tar" {
			return a.Build()
		}
	}
	return nil, errors.New("demo: the generator has no docker25.tar")
}

// runDemo runs the whole flow offline: an embedded archive, two embedded
// registries (one with the referrers API, one without), a throw-away signing
// key (keyless signing needs an OIDC token, which a laptop does not have),
// push, list the referrers back, verify.
func runDemo(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := newFlagSet("oci-attest demo", stdout, func() string {
		return "Usage: oci-attest demo [--keep]\n\nRuns the whole flow offline against two embedded registries.\n\nFlags:\n"
	})
	keep := fs.Bool("keep", false, "keep the demo's files (archive, key, bundles, statements) and print where they are")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "oci-attest-demo-")
	if err != nil {
		return err
	}
	if *keep {
		fmt.Fprintf(stdout, "demo files are kept in %s\n", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	// Arguments are cleaned like the logger's: tags, reasons and artifact
	// types come from the archive and the registries, embedded or not.
	say := func(format string, a ...any) { fmt.Fprintf(stdout, format+"\n", cleanArgs(a)...) }

	say("oci-attest demo: the whole flow, offline, against two embedded registries.\n")
	archiveBytes, err := demoArchive()
	if err != nil {
		return err
	}
	archive := filepath.Join(dir, "image.tar")
	if err := os.WriteFile(archive, archiveBytes, 0o644); err != nil {
		return err
	}
	keyPath, pub, err := demoKey(dir)
	if err != nil {
		return err
	}
	say("1. The archive: %s (%s), as `docker save` writes it.", archive, humanBytes(int64(len(archiveBytes))))
	say("   Signing uses a throw-away ECDSA key (%s): keyless signing needs an OIDC token,", keyPath)
	say("   which GitHub Actions provides (permissions: id-token: write) and a laptop does not.\n")

	registries := []struct {
		title   string
		handler http.Handler
	}{
		{"registry WITH the OCI 1.1 referrers API (olareg)", olareg.New(olaregconfig.Config{
			Storage: olaregconfig.ConfigStorage{StoreType: olaregconfig.StoreMem},
			Log:     slog.New(slog.NewTextHandler(io.Discard, nil)),
		})},
		{"registry WITHOUT the referrers API (go-containerregistry, like GHCR today)", ggcrregistry.New(ggcrregistry.Logger(stdlog.New(io.Discard, "", 0)))},
	}
	for i, r := range registries {
		host, stop, err := serveLoopback(r.handler)
		if err != nil {
			return err
		}
		err = demoOne(ctx, i+2, r.title, host, archive, keyPath, pub, dir, getenv, say, i == len(registries)-1)
		stop()
		if err != nil {
			return err
		}
	}
	say("Done. In a workflow the same run signs keylessly (Fulcio + Rekor or a timestamp authority);")
	say("see the README for the workflow snippet and `oci-attest verify` for checking a registry image.")
	return nil
}

func demoOne(ctx context.Context, step int, title, host, archive, keyPath string, pub any, dir string,
	getenv func(string) string, say func(string, ...any), tamper bool) error {
	say("%d. %s at %s", step, title, host)
	var buf strings.Builder
	log := newLogger(false, &buf, getenv)
	c := &Config{
		SubjectPath:    archive,
		SubjectName:    host + "/demo/app:v1",
		PushToRegistry: true,
		PushImage:      true,
		ReferrersMode:  "auto",
		Sigstore:       "auto",
		SigningKey:     keyPath,
		BundlePath:     filepath.Join(dir, fmt.Sprintf("bundle-%d.sigstore.json", step)),
		StatementPath:  filepath.Join(dir, fmt.Sprintf("statement-%d.json", step)),
		getenv:         getenv,
	}
	if err := c.Validate(); err != nil {
		return err
	}
	rs, err := attestFlow(ctx, c, getenv, log, io.Discard, deps{})
	if err != nil {
		return fmt.Errorf("demo against %s: %w\n%s", host, err, buf.String())
	}
	r := rs[0]
	say("   read the archive once: image ID %s, %d layer(s), tags %v", r.image.ImageID, len(r.image.DiffIDs), r.image.RepoTags)
	say("   pushed the image and bound it: %s@%s", r.subject.Repository.Name(), r.subject.Descriptor.Digest)
	say("   in-toto statement (%s) with %d subjects → signed into a Sigstore bundle: %s",
		attest.PredicateType, strings.Count(string(r.statement), `"digest"`), r.bundle)
	a := r.attached
	say("   attached the bundle as a referrer manifest %s", a.Artifact.Digest)
	if a.API {
		say("   the registry indexes referrers itself: %s; no fallback tag written", a.Reason)
	} else {
		say("   %s; the fallback tag %s now lists it", a.Reason, a.ReferrersTag)
	}

	client, err := registry.New(registry.Options{Getenv: getenv})
	if err != nil {
		return err
	}
	refs, source, err := client.Referrers(ctx, r.subject.Repository, r.subject.Descriptor, "")
	if err != nil {
		return fmt.Errorf("demo: listing referrers: %w", err)
	}
	say("   listed the referrers back (%s): %d", source, len(refs))
	for _, d := range refs {
		say("     %s  %s", d.Digest, d.ArtifactType)
	}
	rep, err := verify.Verify(ctx, r.subject.Repository.WithDigest(r.subject.Descriptor.Digest), verify.Options{
		Client:      client,
		Policy:      sign.Policy{PublicKey: pub},
		SubjectPath: archive,
	})
	if err != nil {
		return fmt.Errorf("demo: verifying: %w", err)
	}
	say("   verified: %s\n", rep.Summary())
	if !tamper {
		return nil
	}

	// What the attestation is for: a copy whose one file in the last layer
	// was changed, rebuilt consistently (new layer digest, diffID and config)
	// so that it is a well-formed archive that loads — as a swap by an
	// attacker would be.
	tampered, changed, err := demoTampered(dir)
	if err != nil {
		return err
	}
	say("%d. A tampered copy: %s (%s changed, the archive rebuilt consistently)", step+1, tampered, changed)
	rep, err = verify.Verify(ctx, r.subject.Repository.WithDigest(r.subject.Descriptor.Digest), verify.Options{
		Client:      client,
		Policy:      sign.Policy{PublicKey: pub},
		SubjectPath: tampered,
	})
	switch {
	case err == nil:
		return errors.New("demo: the tampered archive was not caught: it verified as matching")
	case !errors.Is(err, verify.ErrArchiveDiffers):
		return fmt.Errorf("demo: verifying the tampered archive: %w", err)
	}
	var fields []string
	for _, d := range rep.Attestations[0].Archive.Differences {
		fields = append(fields, d.Field)
	}
	say("   caught: the signature verifies, but the archive is not the attested image;")
	say("   differing fields: %s", strings.Join(fields, ", "))
	say("   (`oci-attest verify IMAGE --subject-path FILE` exits 5 here: do not docker load it)\n")
	return nil
}

// demoTampered writes the demo archive with one file of its last layer
// changed, and says which.
func demoTampered(dir string) (string, string, error) {
	for _, a := range ocitest.Archives() {
		if a.Name != "docker25.tar" {
			continue
		}
		img := a.Images[0]
		img.Layers = append([]ocitest.Layer(nil), img.Layers...)
		last := &img.Layers[len(img.Layers)-1]
		last.Files = append([]ocitest.File(nil), last.Files...)
		last.Files[0].Content += "# one line an attacker added\n"
		b, err := ocitest.Build(a.Layout, img)
		if err != nil {
			return "", "", err
		}
		p := filepath.Join(dir, "tampered.tar")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return "", "", err
		}
		return p, last.Files[0].Name, nil
	}
	return "", "", errors.New("demo: the generator has no docker25.tar")
}

// demoKey writes a fresh P-256 key for the demo and returns its path and
// public key.
func demoKey(dir string) (string, any, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return "", nil, err
	}
	p := filepath.Join(dir, "demo-key.pem")
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return "", nil, err
	}
	return p, &k.PublicKey, nil
}

// serveLoopback serves h on a free 127.0.0.1 port and returns host:port and
// a stop function.
func serveLoopback(h http.Handler) (string, func(), error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("demo: starting an embedded registry: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ErrorLog: stdlog.New(io.Discard, "", 0)}
	go func() { _ = srv.Serve(l) }()
	return l.Addr().String(), func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}
