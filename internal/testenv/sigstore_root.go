package testenv

import (
	"crypto/ed25519"
	"crypto/x509"
	"strconv"
	"testing"
	"time"

	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	prototrustroot "github.com/sigstore/protobuf-specs/gen/pb-go/trustroot/v1"
	rekornote "github.com/sigstore/rekor-tiles/v2/pkg/note"
	"github.com/sigstore/sigstore-go/pkg/root"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// trustedRoot is what the stack's trusted_root.json is made of.
type trustedRoot struct {
	fulcioURL   string
	fulcioChain []*x509.Certificate // leaf-most first, root last
	tsaURL      string
	tsaChain    []*x509.Certificate // TSA leaf first, root last
	rekorPub    ed25519.PublicKey   // nil without Rekor
	rekorPort   int
}

func chainProto(certs []*x509.Certificate) *protocommon.X509CertificateChain {
	c := &protocommon.X509CertificateChain{}
	for _, cert := range certs {
		c.Certificates = append(c.Certificates, &protocommon.X509Certificate{RawBytes: cert.Raw})
	}
	return c
}

// validFrom is the start of a CA's validity in the trusted root: the
// earliest NotBefore of its chain.
func validFrom(certs []*x509.Certificate) *protocommon.TimeRange {
	start := certs[0].NotBefore
	for _, c := range certs[1:] {
		if c.NotBefore.Before(start) {
			start = c.NotBefore
		}
	}
	return &protocommon.TimeRange{Start: timestamppb.New(start)}
}

// json renders the trusted root and checks that sigstore-go accepts it.
func (tr trustedRoot) json(t testing.TB) []byte {
	t.Helper()
	pb := &prototrustroot.TrustedRoot{
		MediaType: root.TrustedRootMediaType01,
		CertificateAuthorities: []*prototrustroot.CertificateAuthority{{
			Subject:   &protocommon.DistinguishedName{Organization: "oci-attest test", CommonName: "fulcio"},
			Uri:       tr.fulcioURL,
			CertChain: chainProto(tr.fulcioChain),
			ValidFor:  validFrom(tr.fulcioChain),
		}},
	}
	if tr.tsaChain != nil {
		pb.TimestampAuthorities = []*prototrustroot.CertificateAuthority{{
			Subject:   &protocommon.DistinguishedName{Organization: "oci-attest test", CommonName: "tsa"},
			Uri:       tr.tsaURL,
			CertChain: chainProto(tr.tsaChain),
			ValidFor:  validFrom(tr.tsaChain),
		}}
	}
	if tr.rekorPub != nil {
		der, err := x509.MarshalPKIXPublicKey(tr.rekorPub)
		if err != nil {
			t.Fatal(err)
		}
		_, logID, err := rekornote.KeyHash(rekorOrigin, tr.rekorPub)
		if err != nil {
			t.Fatalf("computing the Rekor log ID: %v", err)
		}
		pb.Tlogs = []*prototrustroot.TransparencyLogInstance{{
			BaseUrl:       "http://" + rekorOrigin + ":" + strconv.Itoa(tr.rekorPort),
			HashAlgorithm: protocommon.HashAlgorithm_SHA2_256,
			PublicKey: &protocommon.PublicKey{
				RawBytes:   der,
				KeyDetails: protocommon.PublicKeyDetails_PKIX_ED25519,
				ValidFor:   &protocommon.TimeRange{Start: timestamppb.New(time.Now().Add(-time.Hour))},
			},
			LogId: &protocommon.LogId{KeyId: logID},
		}}
	}
	b, err := protojson.Marshal(pb)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := root.NewTrustedRootFromJSON(b); err != nil {
		t.Fatalf("sigstore-go rejects the stack's trusted root: %v\n%s", err, b)
	}
	return b
}

// signingConfigJSON names the stack's services in a signing config v0.2.
func signingConfigJSON(t testing.TB, s *Sigstore) []byte {
	t.Helper()
	since := &protocommon.TimeRange{Start: timestamppb.New(time.Now().Add(-time.Hour))}
	svc := func(url string, v uint32) []*prototrustroot.Service {
		if url == "" {
			return nil
		}
		return []*prototrustroot.Service{{Url: url, MajorApiVersion: v, ValidFor: since, Operator: "oci-attest test"}}
	}
	pb := &prototrustroot.SigningConfig{
		MediaType:       root.SigningConfigMediaType02,
		CaUrls:          svc(s.FulcioURL, 1),
		OidcUrls:        svc(s.IssuerURL, 1),
		RekorTlogUrls:   svc(s.RekorURL, 2),
		RekorTlogConfig: &prototrustroot.ServiceConfiguration{Selector: prototrustroot.ServiceSelector_ANY},
		TsaUrls:         svc(s.TSAURL, 1),
		TsaConfig:       &prototrustroot.ServiceConfiguration{Selector: prototrustroot.ServiceSelector_ANY},
	}
	b, err := protojson.Marshal(pb)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := root.NewSigningConfigFromJSON(b); err != nil {
		t.Fatalf("sigstore-go rejects the stack's signing config: %v\n%s", err, b)
	}
	return b
}
