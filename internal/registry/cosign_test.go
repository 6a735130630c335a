package registry_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oci-attest/oci-attest/internal/attest"
	"github.com/oci-attest/oci-attest/internal/oci"
	"github.com/oci-attest/oci-attest/internal/ref"
	"github.com/oci-attest/oci-attest/internal/registry"
	"github.com/oci-attest/oci-attest/internal/sign"
	"github.com/oci-attest/oci-attest/internal/testenv"
)

// TestCosignVerifiesReferrer runs the whole registry path against the
// distribution v3.1.2 and Debian docker-registry 2.8 processes (no referrers
// API, so cosign must find the bundle through our fallback tag): push-image
// from a real archive, Resolve + bind, a keyless bundle from the local
// Sigstore stack, Attach, then cosign v3.1.3 verify-attestation.
// (internal/verify runs cosign against olareg and ggcr.)
func TestCosignVerifiesReferrer(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the Sigstore stack, registries and cosign")
	}
	t.Parallel()
	ctx := context.Background()
	stack := testenv.StartSigstore(t, testenv.SigstoreOptions{Rekor: true, TSA: true})
	cosign := testenv.Tool(t, "cosign")
	archive := filepath.Join("..", "..", "testdata", "archives", "docker25.tar")
	a, err := oci.Scan(ctx, archive, oci.ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	img := &a.Images[0]
	for _, reg := range []testenv.Registry{testenv.StartDistribution(t), testenv.StartDockerRegistry(t)} {
		t.Run(reg.Name, func(t *testing.T) {
			t.Parallel()
			c, err := registry.New(registry.Options{DockerConfig: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			target, err := ref.Parse(reg.Host + "/cosign/demo:v1")
			if err != nil {
				t.Fatal(err)
			}
			desc, err := c.PushImage(ctx, a, img, target)
			if err != nil {
				t.Fatalf("PushImage() = %v", err)
			}
			s, err := c.Resolve(ctx, target, img.ImageID)
			if err != nil || s.Descriptor.Digest != desc.Digest {
				t.Fatalf("Resolve() = %+v, %v; want %s", s, err, desc.Digest)
			}
			st, err := attest.NewStatement(attest.NewPredicate(a, img), attest.RegistrySubject(s.Repository.Name(), s.Descriptor.Digest))
			if err != nil {
				t.Fatal(err)
			}
			raw, err := attest.Marshal(st)
			if err != nil {
				t.Fatal(err)
			}
			res, err := sign.Sign(ctx, raw, sign.Options{
				Instance: sign.InstanceCustom, FulcioURL: stack.FulcioURL, RekorURL: stack.RekorURL, TSAURL: stack.TSAURL,
				TrustedRootPath: stack.TrustedRootPath, Getenv: stack.ActionsEnv(nil),
			})
			if err != nil {
				t.Fatalf("Sign() = %v", err)
			}
			ar, err := c.Attach(ctx, s, res.Bundle, registry.AttachOptions{PredicateType: attest.PredicateType, Settle: 400 * time.Millisecond})
			if err != nil {
				t.Fatalf("Attach() = %v", err)
			}
			if ar.API || ar.ReferrersTag == "" {
				t.Fatalf("Attach() = API %v tag %q, want the fallback tag on %s", ar.API, ar.ReferrersTag, reg.Name)
			}
			image := s.Repository.Name() + "@" + s.Descriptor.Digest.String()
			verify := func(identity string) (string, error) {
				cmd := exec.Command(cosign, "verify-attestation",
					"--type", attest.PredicateType,
					"--trusted-root", stack.TrustedRootPath,
					"--allow-http-registry",
					"--insecure-ignore-sct", // the local Fulcio has no CT log
					"--use-signed-timestamps",
					"--certificate-identity", identity,
					"--certificate-oidc-issuer", stack.IssuerURL,
					image)
				cmd.Env = append(os.Environ(), "TUF_ROOT="+t.TempDir(), "SIGSTORE_NO_CACHE=true", "DOCKER_CONFIG="+t.TempDir())
				out, err := cmd.CombinedOutput()
				return string(out), err
			}
			if out, err := verify(stack.Identity()); err != nil || !strings.Contains(out, "Verification for "+image) {
				t.Errorf("cosign verify-attestation %s = %v\n%s", image, err, out)
			}
			if out, err := verify("https://github.com/evil/repo/.github/workflows/x.yml@refs/heads/main"); err == nil {
				t.Errorf("cosign verify-attestation with the wrong identity succeeded:\n%s", out)
			}
		})
	}
}
