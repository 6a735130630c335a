package verify

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-attest/oci-attest/internal/attest"
	"github.com/oci-attest/oci-attest/internal/oci"
	"github.com/oci-attest/oci-attest/internal/sign"
	"github.com/oci-attest/oci-attest/internal/testenv"
)

// TestVerifyIndex: the attested image is one platform of an index pushed
// under the tag. The attestation is attached to the index and names both
// digests (as attest does); verify by the tag finds and verifies it and
// compares the archive.
func TestVerifyIndex(t *testing.T) {
	t.Parallel()
	for _, reg := range testenv.InProcessRegistries(t) {
		t.Run(reg.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			f := newFixture(t, reg, "verify/index")
			img, err := tarball.ImageFromPath(f.archive, nil)
			if err != nil {
				t.Fatal(err)
			}
			other, err := random.Image(256, 1)
			if err != nil {
				t.Fatal(err)
			}
			// Both images are in the repository; the index is written by hand:
			// go-containerregistry v0.22.1 puts the config media type in each
			// entry's artifactType, which push.Resolve skips (see the report).
			ref := reg.Host + "/verify/index:multi"
			var entries []string
			for _, e := range []struct {
				img  v1.Image
				arch string
			}{{other, "arm64"}, {img, "amd64"}} {
				r, err := name.ParseReference(reg.Host+"/verify/index:"+e.arch, name.Insecure)
				if err != nil {
					t.Fatal(err)
				}
				if err := remote.Write(r, e.img); err != nil {
					t.Fatal(err)
				}
				mt, _ := e.img.MediaType()
				d, _ := e.img.Digest()
				size, _ := e.img.Size()
				entries = append(entries, fmt.Sprintf(`{"mediaType":%q,"digest":%q,"size":%d,"platform":{"os":"linux","architecture":%q}}`, mt, d, size, e.arch))
			}
			testenv.PutManifest(t, reg.Host, "verify/index", "multi", ocispec.MediaTypeImageIndex,
				[]byte(`{"schemaVersion":2,"mediaType":"`+ocispec.MediaTypeImageIndex+`","manifests":[`+strings.Join(entries, ",")+`]}`))
			// The archive holds both platforms' images (as attest of a whole
			// index binds it): the index and its amd64 entry are the subject.
			ss, err := f.client.ResolveIndex(ctx, testenv.Ref(t, ref), []*oci.Image{f.archived}, []*oci.Image{f.archived, testenv.ArchiveImage(t, other, "linux/arm64")})
			if err != nil || ss[0].Descriptor.Digest == ss[0].Image.Digest {
				t.Fatalf("ResolveIndex(%s) = %+v, %v; want the index and its amd64 child", ref, ss, err)
			}
			s := ss[0]
			st, err := attest.NewStatement(f.predicate,
				attest.RegistrySubject(s.Repository.Name(), s.Descriptor.Digest), attest.RegistrySubject(s.Repository.Name(), s.Image.Digest))
			if err != nil {
				t.Fatal(err)
			}
			b, err := attest.Marshal(st)
			if err != nil {
				t.Fatal(err)
			}
			bundle, pub := keySigned(t, b)
			f.subject = s
			f.attach(t, bundle, predicateType)

			// Every platform's attestation is required: arm64 has none.
			rep, err := Verify(ctx, testenv.Ref(t, ref), Options{Client: f.client, Policy: sign.Policy{PublicKey: pub}, SubjectPath: f.archive})
			if !errors.Is(err, ErrNoneFound) || !strings.Contains(err.Error(), "platform linux/arm64") || strings.Contains(err.Error(), "platform linux/amd64") {
				t.Fatalf("Verify(%s) = %v, want ErrNoneFound for linux/arm64 only", ref, err)
			}
			if len(rep.Platforms) != 2 || rep.Platforms[0].Platform != "linux/arm64" || rep.Platforms[0].Verified != 0 ||
				rep.Platforms[1].Platform != "linux/amd64" || rep.Platforms[1].Verified != 1 || rep.Platforms[1].Digest != s.Image.Digest.String() {
				t.Errorf("Verify(%s) platforms = %+v, want arm64 without and amd64 (%s) with a verified attestation", ref, rep.Platforms, s.Image.Digest)
			}
			// The one platform that was attested.
			rep, err = Verify(ctx, testenv.Ref(t, ref), Options{Client: f.client, Policy: sign.Policy{PublicKey: pub}, SubjectPath: f.archive, Platform: "linux/amd64"})
			if err != nil {
				t.Fatalf("Verify(%s, linux/amd64) = %v", ref, err)
			}
			if rep.Digest != s.Descriptor.Digest.String() || rep.Verified != 1 || !*rep.ArchiveMatches || len(rep.Platforms) != 1 ||
				rep.Attestations[0].Platform != "linux/amd64" || rep.Attestations[0].PlatformDigest != s.Image.Digest.String() || rep.Attestations[0].Subject != s.Descriptor.Digest.String() {
				t.Errorf("Verify(%s, linux/amd64) = %+v, want the index digest %s, verified, archive matching", ref, rep, s.Descriptor.Digest)
			}
			if _, err := Verify(ctx, testenv.Ref(t, ref), Options{Client: f.client, Policy: sign.Policy{PublicKey: pub}, Platform: "linux/s390x"}); !errors.Is(err, ErrNoPlatform) || !strings.Contains(err.Error(), "linux/arm64, linux/amd64") {
				t.Errorf("Verify(%s, linux/s390x) = %v, want ErrNoPlatform listing the platforms", ref, err)
			}
			// The referrer hangs off the index: the platform digest alone has none.
			child := s.Repository.Name() + "@" + s.Image.Digest.String()
			if _, err := Verify(ctx, testenv.Ref(t, child), Options{Client: f.client, Policy: sign.Policy{PublicKey: pub}}); !errors.Is(err, ErrNoneFound) {
				t.Errorf("Verify(%s) = %v, want ErrNoneFound", child, err)
			}
		})
	}
}
