// Package demo is `oci-attest demo`: the whole attest flow, offline, driven
// through the attest pipeline's public API like any caller — an embedded
// archive, two embedded registries (one with the OCI 1.1 referrers API, one
// without), a throw-away signing key, push, list the referrers back,
// verify, and catch a tampered copy of the archive.
package demo

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	_ "embed"
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
	"time"

	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	"github.com/olareg/olareg"
	olaregconfig "github.com/olareg/olareg/config"

	"github.com/oci-attest/oci-attest/internal/display"
)

// The demo's archives, written by `go run ./internal/oci/ocitest/gen` (a
// test holds them to the generator): image.tar is a docker save (≥25)
// archive, tampered.tar the same with one file of its last layer changed.
var (
	//go:embed testdata/image.tar
	imageTar []byte
	//go:embed testdata/tampered.tar
	tamperedTar []byte
)

// tamperedFile is the file tampered.tar changes (ocitest.DemoTamperedFile).
const tamperedFile = "etc/ocitest/localhost/oci-attest/demo:v1-1.txt"

// Options configure a demo run.
type Options struct {
	// Out is where the demo tells its story.
	Out io.Writer
	// Keep keeps the demo's files (archive, key, bundles, statements) and
	// says where they are; otherwise they are removed when Run returns.
	Keep bool
	// Getenv is the environment (nil: an empty one).
	Getenv func(string) string
}

// Run runs the demo.
func Run(ctx context.Context, opts Options) error {
	if opts.Getenv == nil {
		opts.Getenv = func(string) string { return "" }
	}
	dir, err := os.MkdirTemp("", "oci-attest-demo-")
	if err != nil {
		return err
	}
	if opts.Keep {
		fmt.Fprintf(opts.Out, "demo files are kept in %s\n", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	d := &demo{opts: opts, dir: dir}
	return d.run(ctx)
}

// demo is one demo run: where it writes, what it made so far.
type demo struct {
	opts    Options
	dir     string
	archive string
	keyPath string
	pub     any
}

// say writes one line of the story, its arguments cleaned like the
// logger's: tags, reasons and artifact types come from the archive and the
// registries, embedded or not.
func (d *demo) say(format string, a ...any) {
	fmt.Fprintf(d.opts.Out, format+"\n", display.Args(a)...)
}

func (d *demo) run(ctx context.Context) error {
	d.say("oci-attest demo: the whole flow, offline, against two embedded registries.\n")
	d.archive = filepath.Join(d.dir, "image.tar")
	if err := os.WriteFile(d.archive, imageTar, 0o644); err != nil {
		return err
	}
	var err error
	if d.keyPath, d.pub, err = writeKey(d.dir); err != nil {
		return err
	}
	d.say("1. The archive: %s (%s), as `docker save` writes it.", d.archive, display.Bytes(int64(len(imageTar))))
	d.say("   Signing uses a throw-away ECDSA key (%s): keyless signing needs an OIDC token,", d.keyPath)
	d.say("   which GitHub Actions provides (permissions: id-token: write) and a laptop does not.\n")
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
		err = d.against(ctx, i+2, r.title, host, i == len(registries)-1)
		stop()
		if err != nil {
			return err
		}
	}
	d.say("Done. In a workflow the same run signs keylessly (Fulcio + Rekor or a timestamp authority);")
	d.say("see the README for the workflow snippet and `oci-attest verify` for checking a registry image.")
	if !d.opts.Keep {
		d.say("\nThe files above are in %s, removed when the demo exits (and the registries with it):", d.dir)
		d.say("run `oci-attest demo --keep` to keep the files and try the commands on them.")
	}
	return nil
}

// writeKey writes a fresh P-256 key for the demo and returns its path and
// public key.
func writeKey(dir string) (string, any, error) {
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

// errTamperedVerified is returned when the tampered archive is not caught.
var errTamperedVerified = errors.New("demo: the tampered archive was not caught: it verified as matching")
