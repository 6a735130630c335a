package verify

import (
	"bytes"
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
	orasremote "oras.land/oras-go/v2/registry/remote"

	"github.com/oci-attest/oci-attest/internal/attest"
	"github.com/oci-attest/oci-attest/internal/oci"
	"github.com/oci-attest/oci-attest/internal/oci/ocitest"
	"github.com/oci-attest/oci-attest/internal/registry"
	"github.com/oci-attest/oci-attest/internal/sign"
	"github.com/oci-attest/oci-attest/internal/testenv"
)

// testImage is a crane-layout archive of an image with two gzip layers;
// variant changes the content of layer 1 only.
func testImage(variant string) ocitest.Image {
	img := ocitest.Image{RepoTags: []string{"localhost/verify/app:v1"}}
	for i, content := range []string{"base layer\n", "app layer " + variant + "\n"} {
		img.Layers = append(img.Layers, ocitest.Layer{
			Files:       []ocitest.File{{Name: "etc/verify/layer" + string(rune('0'+i)), Content: content}},
			Compression: oci.CompressionGzip,
		})
	}
	return img
}

// writeArchive writes the archive of img to a temp file.
func writeArchive(t testing.TB, img ocitest.Image) string {
	t.Helper()
	b, err := ocitest.Build(ocitest.Crane, img)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "app.tar")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// fixture is an image pushed to a registry, with its archive.
type fixture struct {
	reg       testenv.Registry
	client    *registry.Client
	ref       string // host/verify/app:v1
	archive   string
	predicate *attest.Predicate
	subject   *registry.Subject
}

// image is "repository@digest".
func (f *fixture) image() string {
	return f.subject.Repository.Name() + "@" + f.subject.Descriptor.Digest.String()
}

// newFixture pushes the archive's image to the registry with
// go-containerregistry (an independent client) and binds it with
// registry.Resolve.
func newFixture(t testing.TB, reg testenv.Registry, repo string) *fixture {
	t.Helper()
	return newFixtureTag(t, reg, repo, "v1", "one")
}

// newFixtureTag is newFixture for the image variant pushed as repo:tag.
func newFixtureTag(t testing.TB, reg testenv.Registry, repo, tag, variant string) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{reg: reg, ref: reg.Host + "/" + repo + ":" + tag, archive: writeArchive(t, testImage(variant))}
	img, err := tarball.ImageFromPath(f.archive, nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := name.ParseReference(f.ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatalf("pushing %s: %v", f.ref, err)
	}
	a, err := oci.Scan(ctx, f.archive, oci.ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	oimg, _, err := a.Select(testenv.Ref(t, f.ref))
	if err != nil {
		t.Fatal(err)
	}
	f.predicate = attest.NewPredicate(a, oimg)
	if f.client, err = registry.New(registry.Options{DockerConfig: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	if f.subject, err = f.client.Resolve(ctx, testenv.Ref(t, f.ref), oimg.ImageID); err != nil {
		t.Fatalf("Resolve(%s) = %v", f.ref, err)
	}
	return f
}

// statement is the statement attest would sign for the fixture.
func (f *fixture) statement(t testing.TB) []byte {
	t.Helper()
	st, err := attest.NewStatement(f.predicate, attest.RegistrySubject(f.subject.Repository.Name(), f.subject.Descriptor.Digest))
	if err != nil {
		t.Fatal(err)
	}
	b, err := attest.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// attach pushes bundle as a referrer of the fixture's image with registry.Attach
// (fallback tag where the registry lacks the API) and returns its digest.
func (f *fixture) attach(t testing.TB, bundle []byte, predicateType string) digest.Digest {
	t.Helper()
	res, err := f.client.Attach(context.Background(), f.subject, bundle, registry.AttachOptions{
		PredicateType: predicateType,
		// D = 200 ms: a write that takes longer on a loaded machine
		// abandons its round (registry's testSettle).
		Settle: 400 * time.Millisecond,
	})
	if err != nil {
		t.Fatalf("Attach() = %v", err)
	}
	if res.API != f.reg.API {
		t.Fatalf("Attach() API = %v on %s, want %v", res.API, f.reg.Name, f.reg.API)
	}
	return res.Artifact.Digest
}

// keySigned signs statement with a fresh key (sign.Sign, ephemeral) and
// returns the bundle and the public key.
func keySigned(t testing.TB, statement []byte) ([]byte, crypto.PublicKey) {
	t.Helper()
	res, err := sign.Sign(context.Background(), statement, sign.Options{SigningKey: sign.SigningKeyEphemeral})
	if err != nil {
		t.Fatalf("Sign() = %v", err)
	}
	pub, err := cryptoutils.UnmarshalPEMToPublicKey([]byte(res.PublicKeyPEM))
	if err != nil {
		t.Fatal(err)
	}
	return res.Bundle, pub
}

// tamper changes one byte of the statement inside a bundle's DSSE envelope
// (the image's tag), keeping everything else, so only the signature check
// can notice.
func tamper(t testing.TB, bundle []byte) []byte {
	t.Helper()
	var b map[string]any
	if err := json.Unmarshal(bundle, &b); err != nil {
		t.Fatal(err)
	}
	env := b["dsseEnvelope"].(map[string]any)
	payload, err := decodeB64(env["payload"].(string))
	if err != nil {
		t.Fatal(err)
	}
	changed := bytes.Replace(payload, []byte("localhost/verify/app:v1"), []byte("localhost/verify/app:v2"), 1)
	if bytes.Equal(changed, payload) {
		t.Fatal("tamper: the statement does not carry the tag")
	}
	env["payload"] = encodeB64(changed)
	out, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func decodeB64(s string) ([]byte, error) { return base64.StdEncoding.DecodeString(s) }
func encodeB64(b []byte) string          { return base64.StdEncoding.EncodeToString(b) }

// pushForeign pushes another client's referrer of the fixture's image with
// oras-go (which maintains the fallback tag itself on registries without
// the API) and returns its digest.
func (f *fixture) pushForeign(t testing.TB, artifactType, layerType string, layer []byte, ann map[string]string) digest.Digest {
	t.Helper()
	ctx := context.Background()
	repo, err := orasremote.NewRepository(f.subject.Repository.Name())
	if err != nil {
		t.Fatal(err)
	}
	repo.PlainHTTP = true
	ld := content.NewDescriptorFromBytes(layerType, layer)
	if err := repo.Push(ctx, ld, bytes.NewReader(layer)); err != nil {
		t.Fatal(err)
	}
	subject := f.subject.Descriptor
	md, err := oras.PackManifest(ctx, repo, oras.PackManifestVersion1_1, artifactType, oras.PackManifestOptions{
		Subject:             &subject,
		Layers:              []ocispec.Descriptor{ld},
		ManifestAnnotations: ann,
	})
	if err != nil {
		t.Fatalf("pushing a %s referrer with oras-go: %v", artifactType, err)
	}
	return md.Digest
}

func digestOf(h v1.Hash) digest.Digest { return digest.Digest(h.String()) }
