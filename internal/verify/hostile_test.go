package verify

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	digest "github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-attest/oci-attest/internal/attest"
	"github.com/oci-attest/oci-attest/internal/oci"
	"github.com/oci-attest/oci-attest/internal/registry"
	"github.com/oci-attest/oci-attest/internal/sign"
	"github.com/oci-attest/oci-attest/internal/testenv"
)

// signingKey writes a fresh P-256 key for sign.Options.SigningKey and
// returns its path and public key: every bundle of a test verifies with
// one key.
func signingKey(t testing.TB) (string, crypto.PublicKey) {
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
	return p, &k.PublicKey
}

// attestManifest attaches to the manifest d of repository a bundle, signed
// with key, of a statement of predicate naming d, as attest does for an
// image bound alone.
func attestManifest(t testing.TB, c *registry.Client, repository string, d ocispec.Descriptor, pred *attest.Predicate, key string) {
	t.Helper()
	s := &registry.Subject{Repository: testenv.Ref(t, repository), Descriptor: d, Image: d}
	st, err := attest.NewStatement(pred, attest.RegistrySubject(s.Repository.Name(), d.Digest))
	if err != nil {
		t.Fatal(err)
	}
	b, err := attest.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	res, err := sign.Sign(context.Background(), b, sign.Options{SigningKey: key})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Attach(context.Background(), s, res.Bundle, registry.AttachOptions{PredicateType: predicateType, Settle: 20 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
}

// pushEntry pushes img to ref and returns its index entry for platform p
// ("os/arch", "" none).
func pushEntry(t testing.TB, ref string, img v1.Image, p string) ocispec.Descriptor {
	t.Helper()
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatal(err)
	}
	mt, _ := img.MediaType()
	h, _ := img.Digest()
	size, _ := img.Size()
	d := ocispec.Descriptor{MediaType: string(mt), Digest: digest.Digest(h.String()), Size: size}
	if os, arch, ok := strings.Cut(p, "/"); ok {
		d.Platform = &ocispec.Platform{OS: os, Architecture: arch}
	}
	return d
}

// putIndex puts an index of entries to repo:tag and returns its digest.
func putIndex(t testing.TB, host, repo, tag string, entries ...ocispec.Descriptor) digest.Digest {
	t.Helper()
	raw, err := json.Marshal(ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex, Manifests: entries})
	if err != nil {
		t.Fatal(err)
	}
	testenv.PutManifest(t, host, repo, tag, ocispec.MediaTypeImageIndex, raw)
	return digest.FromBytes(raw)
}

// TestVerifyHostileIndex: verify requires an attestation of every entry
// a runtime reads, and with --platform of the entries containerd and
// go-containerregistry read for it (issue 22). A and B are attested, U is
// not. Each hostile index — U first for linux/amd64 under buildx's
// attestation annotations, an artifactType or a nested index (class 1), U
// spelt linux/x86_64 (class 2), U without mediaType — verified until then;
// now it fails naming U, while the honest index verifies.
func TestVerifyHostileIndex(t *testing.T) {
	t.Parallel()
	for _, reg := range testenv.InProcessRegistries(t) {
		t.Run(reg.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			f := newFixture(t, reg, "verify/hostile")
			repo, repository := "verify/hostile", reg.Host+"/verify/hostile"
			key, pub := signingKey(t)
			entry := func(tag, p string) ocispec.Descriptor {
				img, err := random.Image(256, 1)
				if err != nil {
					t.Fatal(err)
				}
				return pushEntry(t, repository+":"+tag, img, p)
			}
			a := f.subject.Descriptor
			a.Platform = &ocispec.Platform{OS: "linux", Architecture: "amd64"}
			b, u := entry("b", "linux/arm64"), entry("u", "linux/amd64")
			attestManifest(t, f.client, repository, a, f.predicate, key)
			attestManifest(t, f.client, repository, b, f.predicate, key)

			annotated, artifact, x86, noType := u, u, u, u
			annotated.Annotations = map[string]string{"vnd.docker.reference.type": "attestation-manifest", "vnd.docker.reference.digest": a.Digest.String()}
			artifact.ArtifactType = "application/spdx+json"
			x86.Platform = &ocispec.Platform{OS: "linux", Architecture: "x86_64"}
			noType.MediaType = ""
			inner := putIndex(t, reg.Host, repo, "inner", u)
			innerRaw, _, err := f.client.FetchManifest(ctx, testenv.Ref(t, repository), "inner")
			if err != nil {
				t.Fatal(err)
			}
			nested := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageIndex, Digest: inner, Size: int64(len(innerRaw)), Platform: &ocispec.Platform{OS: "linux", Architecture: "amd64"}}

			verify := func(tag, platform string) (*Report, error) {
				return Verify(ctx, testenv.Ref(t, repository+":"+tag), Options{Client: f.client, Policy: sign.Policy{PublicKey: pub}, Platform: platform})
			}
			putIndex(t, reg.Host, repo, "honest", a, b)
			for _, p := range []string{"", "linux/amd64", "linux/arm64", "linux/x86_64"} {
				if rep, err := verify("honest", p); err != nil {
					t.Errorf("Verify(honest, %q) = %v (%+v)", p, err, rep)
				}
			}
			for _, tc := range []struct {
				name     string
				entries  []ocispec.Descriptor
				platform string
			}{
				{"reference annotations", []ocispec.Descriptor{annotated, a, b}, ""},
				{"reference annotations, --platform", []ocispec.Descriptor{annotated, a, b}, "linux/amd64"},
				{"artifactType", []ocispec.Descriptor{artifact, a, b}, ""},
				{"artifactType, --platform", []ocispec.Descriptor{artifact, a, b}, "linux/amd64"},
				{"nested index", []ocispec.Descriptor{nested, a, b}, ""},
				{"nested index, --platform", []ocispec.Descriptor{nested, a, b}, "linux/amd64"},
				{"x86_64 first, --platform linux/amd64", []ocispec.Descriptor{x86, a, b}, "linux/amd64"},
				{"x86_64 after, --platform linux/x86_64", []ocispec.Descriptor{a, x86, b}, "linux/x86_64"},
				{"x86_64 after", []ocispec.Descriptor{a, x86, b}, ""},
			} {
				putIndex(t, reg.Host, repo, "case", tc.entries...)
				rep, err := verify("case", tc.platform)
				if !errors.Is(err, ErrNoneFound) || !strings.Contains(err.Error(), u.Digest.String()) {
					t.Errorf("%s: Verify() = %v, want ErrNoneFound naming %s", tc.name, err, u.Digest)
					continue
				}
				i := slices.IndexFunc(rep.Platforms, func(p PlatformReport) bool { return p.Digest == u.Digest.String() })
				if i < 0 || len(rep.Platforms[i].SelectedBy) == 0 || rep.Platforms[i].Verified != 0 {
					t.Errorf("%s: platforms = %+v, want U among them, unverified, with who reads it", tc.name, rep.Platforms)
				}
			}
			// x86_64 after A: --platform linux/amd64 reads A alone.
			putIndex(t, reg.Host, repo, "case", a, x86, b)
			if _, err := verify("case", "linux/amd64"); err != nil {
				t.Errorf("Verify(A then x86_64, --platform linux/amd64) = %v", err)
			}
			putIndex(t, reg.Host, repo, "case", noType, a, b)
			if _, err := verify("case", ""); !errors.Is(err, oci.ErrAmbiguousIndex) {
				t.Errorf("Verify(an entry without mediaType) = %v, want the index refused as ambiguous", err)
			}
		})
	}
}
