package verify

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-attest/oci-attest/internal/attest"
	"github.com/oci-attest/oci-attest/internal/oci"
	"github.com/oci-attest/oci-attest/internal/oci/ocitest"
	"github.com/oci-attest/oci-attest/internal/sign"
	"github.com/oci-attest/oci-attest/internal/testenv"
)

// TestCarriedTwoImagesOneAttested (review of issue 26, item 1):
// an archive holding two images (oras cp -r of two tags into one layout)
// of which only the first carries a verified attestation. Expected:
// Carried fails with ErrNoneFound, naming the second image; every image
// of the archive needs its own.
func TestCarriedTwoImagesOneAttested(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("runs oras")
	}
	reg := testenv.StartOlareg(t)
	one := newFixtureTag(t, reg, "two/app", "v1", "one")
	two := newFixtureTag(t, reg, "two/app", "v2", "two")
	bundle, pub := keySigned(t, one.statement(t))
	one.attach(t, bundle, attest.PredicateType)
	dir := filepath.Join(t.TempDir(), "layout")
	for _, f := range []*fixture{one, two} {
		runTool(t, testenv.Tool(t, "oras"), "cp", "-r", "--from-plain-http", "--to-oci-layout", f.ref, dir+":"+filepath.Base(f.ref)[len("app:"):])
	}
	archive := layoutTar(t, dir)
	rep, err := Carried(context.Background(), Options{Policy: sign.Policy{PublicKey: pub}, SubjectPath: archive})
	if !errors.Is(err, ErrNoneFound) {
		t.Errorf("Carried(two images, one attested) = %v, want ErrNoneFound; report %+v", err, rep)
	}
	if rep != nil && len(rep.Platforms) != 2 {
		t.Errorf("report lists %d image(s), want 2: %+v", len(rep.Platforms), rep.Platforms)
	}
}

// TestCarriedTamperedLayer (review of issue 26, item 1): an
// archive carrying a verified attestation of its image, in which one
// layer blob was replaced by other content (another valid gzip layer; the
// manifest, config and referrer untouched). Expected: Carried refuses it
// (the blob is not the manifest's digest, and its diffID is not the
// config's): the attestation is of the image as pushed, not of whatever
// the archive's blobs hold.
func TestCarriedTamperedLayer(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("runs oras")
	}
	reg := testenv.StartOlareg(t)
	f := newFixture(t, reg, "tampered/app")
	bundle, pub := keySigned(t, f.statement(t))
	f.attach(t, bundle, attest.PredicateType)
	dir := filepath.Join(t.TempDir(), "layout")
	runTool(t, testenv.Tool(t, "oras"), "cp", "-r", "--from-plain-http", "--to-oci-layout", f.ref, dir+":v1")
	raw, err := os.ReadFile(filepath.Join(dir, "blobs", "sha256", f.subject.Descriptor.Digest.Encoded()))
	if err != nil {
		t.Fatal(err)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	evil := ocitest.Compress(ocitest.LayerTar([]ocitest.File{{Name: "etc/verify/layer1", Content: "evil layer\n"}}), oci.CompressionGzip)
	if err := os.WriteFile(filepath.Join(dir, "blobs", "sha256", m.Layers[1].Digest.Encoded()), evil, 0o600); err != nil {
		t.Fatal(err)
	}
	rep, err := Carried(context.Background(), Options{Policy: sign.Policy{PublicKey: pub}, SubjectPath: layoutTar(t, dir)})
	if err == nil {
		t.Errorf("Carried(archive with a replaced layer) succeeded: %+v", rep)
	}
	t.Logf("Carried = %v", err)
}
