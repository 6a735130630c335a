package verify

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oci-attest/oci-attest/internal/attest"
	"github.com/oci-attest/oci-attest/internal/sign"
	"github.com/oci-attest/oci-attest/internal/testenv"
)

// runTool is testenv.RunTool.
var runTool = testenv.RunTool

// layoutTar tars a layout directory as people do: tar -cf x.tar -C DIR .
func layoutTar(t *testing.T, dir string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "layout.tar")
	runTool(t, testenv.RequireBin(t, "tar"), "-cf", out, "-C", dir, ".")
	return out
}

// copied is the fixture's image copied by a tool into an archive.
type copied struct {
	tool string
	// copy writes the image (and what the tool takes with it) into a
	// layout directory and returns the archive.
	copy func(t *testing.T, f *fixture) string
	// carries says the tool takes the referrers along.
	carries bool
	via     func(f *fixture) string
}

// copiers are the tools that move images between registries and archives
// today: oras and regctl take the referrers, cosign save and skopeo do
// not.
func copiers() []copied {
	return []copied{
		{tool: "oras", carries: true, via: func(*fixture) string { return "archive:index.json" }, copy: func(t *testing.T, f *fixture) string {
			dir := filepath.Join(t.TempDir(), "oras")
			runTool(t, testenv.Tool(t, "oras"), "cp", "-r", "--from-plain-http", "--to-oci-layout", f.ref, dir+":v1")
			return layoutTar(t, dir)
		}},
		{tool: "regctl", carries: true, via: func(f *fixture) string { return "archive:sha256-" + f.subject.Descriptor.Digest.Encoded() }, copy: func(t *testing.T, f *fixture) string {
			dir := filepath.Join(t.TempDir(), "regctl")
			runTool(t, testenv.Tool(t, "regctl"), "--host", "reg="+f.reg.Host+",tls=disabled", "image", "copy", "--referrers", f.ref, "ocidir://"+dir+":v1")
			return layoutTar(t, dir)
		}},
		{tool: "cosign save", copy: func(t *testing.T, f *fixture) string {
			dir := filepath.Join(t.TempDir(), "cosign")
			runTool(t, testenv.Tool(t, "cosign"), "save", "--allow-http-registry", "--allow-insecure-registry", "--dir", dir, f.ref)
			return layoutTar(t, dir)
		}},
		{tool: "skopeo", copy: func(t *testing.T, f *fixture) string {
			out := filepath.Join(t.TempDir(), "skopeo.tar")
			policy := filepath.Join(t.TempDir(), "policy.json")
			if err := os.WriteFile(policy, []byte(`{"default":[{"type":"insecureAcceptAnything"}]}`), 0o600); err != nil {
				t.Fatal(err)
			}
			runTool(t, testenv.RequireBin(t, "skopeo"), "--policy", policy, "copy", "--src-tls-verify=false", "docker://"+f.ref, "oci-archive:"+out+":v1")
			return out
		}},
	}
}

// TestCarried (issue 26 item 1): an image copied into an archive with its
// referrers — oras cp -r --to-oci-layout, regctl image copy --referrers
// ocidir:// — carries its attestation, which Carried verifies against the
// archive's image, from a registry with the referrers API (olareg) and one
// without (ggcr's: the fallback tag); cosign save and skopeo drop it.
func TestCarried(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("runs oras, regctl, cosign and skopeo")
	}
	for _, reg := range []testenv.Registry{testenv.StartOlareg(t), testenv.StartGGCR(t)} {
		f := newFixture(t, reg, "carried/app")
		bundle, pub := keySigned(t, f.statement(t))
		f.attach(t, bundle, attest.PredicateType)
		for _, cp := range copiers() {
			t.Run(reg.Name+"/"+cp.tool, func(t *testing.T) {
				t.Parallel()
				archive := cp.copy(t, f)
				rep, err := Carried(context.Background(), Options{Policy: sign.Policy{PublicKey: pub}, SubjectPath: archive})
				if !cp.carries {
					if !errors.Is(err, ErrNoneFound) || rep == nil || len(rep.Attestations) != 0 {
						t.Fatalf("Carried(%s archive) = %v, want ErrNoneFound", cp.tool, err)
					}
					return
				}
				if err != nil {
					t.Fatalf("Carried(%s archive) = %v", cp.tool, err)
				}
				a := rep.Attestations[0]
				if rep.Verified != 1 || a.Source != cp.via(f) || a.Subject != f.subject.Descriptor.Digest.String() ||
					a.Archive == nil || !a.Archive.Matches || len(rep.Platforms) != 1 || rep.Platforms[0].Verified != 1 {
					t.Errorf("report %+v, attestation %+v", rep, a)
				}
			})
		}
	}
}

// TestCarriedRefusals (issue 26): a carried attestation signed by another
// key, one tampered with, and one of another image (attached to this
// image's digest) are rejected: exit 4, each saying why.
func TestCarriedRefusals(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("runs oras")
	}
	reg := testenv.StartOlareg(t)
	f := newFixture(t, reg, "refused/app")
	other := newFixtureTag(t, reg, "refused/other", "v1", "two")
	key, pub := keyFile(t)
	good := signedWith(t, f.statement(t), key)
	otherKey, _ := keySigned(t, f.statement(t))
	for _, tc := range []struct {
		name   string
		bundle []byte
		want   error
		inMsg  string
	}{
		{"another key", otherKey, ErrNoneVerified, "different key"},
		{"tampered", tamper(t, good), ErrNoneVerified, "verifying"},
		{"another image's statement", signedWith(t, other.statement(t), key), ErrNoneVerified, "does not match any digest in statement"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newFixtureTag(t, reg, "refused/"+strings.NewReplacer(" ", "-", "'", "").Replace(tc.name), "v1", "one")
			g.attach(t, tc.bundle, attest.PredicateType)
			archive := copiers()[0].copy(t, g)
			_, err := Carried(context.Background(), Options{Policy: sign.Policy{PublicKey: pub}, SubjectPath: archive})
			if !errors.Is(err, tc.want) {
				t.Fatalf("Carried() = %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.inMsg) {
				t.Errorf("Carried() = %v, want it to say %q", err, tc.inMsg)
			}
		})
	}
}

// keyFile writes a fresh ECDSA P-256 key (PKCS#8 PEM) and returns its
// path and public key: bundles signed with it share one key.
func keyFile(t *testing.T) (string, crypto.PublicKey) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "key.pem")
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p, k.Public()
}

// signedWith signs statement with the key at path.
func signedWith(t *testing.T, statement []byte, path string) []byte {
	t.Helper()
	res, err := sign.Sign(context.Background(), statement, sign.Options{SigningKey: path})
	if err != nil {
		t.Fatalf("Sign() = %v", err)
	}
	return res.Bundle
}
