package testenv

import (
	"crypto/ed25519"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"os"
	"path/filepath"
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
	rekorV1     *RekorV1 // nil without Rekor v1
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
	if v1 := tr.rekorV1; v1 != nil {
		pb.Tlogs = append(pb.Tlogs, &prototrustroot.TransparencyLogInstance{
			BaseUrl:       v1.URL,
			HashAlgorithm: protocommon.HashAlgorithm_SHA2_256,
			PublicKey: &protocommon.PublicKey{
				RawBytes:   v1.PublicKeyDER,
				KeyDetails: protocommon.PublicKeyDetails_PKIX_ECDSA_P256_SHA_256,
				ValidFor:   &protocommon.TimeRange{Start: timestamppb.New(v1.Since)},
			},
			LogId: &protocommon.LogId{KeyId: v1.LogID},
		})
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

// SigningServices are the services a signing config names; an empty URL
// leaves that kind out.
type SigningServices struct {
	Fulcio, OIDC, TSA string
	// RekorV1 and RekorV2 are logs of major API version 1 and 2.
	RekorV1, RekorV2 string
}

// WriteSigningConfig writes a signing_config.json (v0.2, as `cosign
// signing-config create` writes it) naming svc, valid since an hour ago,
// operator "oci-attest test", selector ANY; it returns its path.
func WriteSigningConfig(t testing.TB, svc SigningServices) string {
	t.Helper()
	since := &protocommon.TimeRange{Start: timestamppb.New(time.Now().Add(-time.Hour))}
	services := func(v uint32, urls ...string) []*prototrustroot.Service {
		var out []*prototrustroot.Service
		for _, u := range urls {
			if u != "" {
				out = append(out, &prototrustroot.Service{Url: u, MajorApiVersion: v, ValidFor: since, Operator: "oci-attest test"})
			}
		}
		return out
	}
	pb := &prototrustroot.SigningConfig{
		MediaType:       root.SigningConfigMediaType02,
		CaUrls:          services(1, svc.Fulcio),
		OidcUrls:        services(1, svc.OIDC),
		RekorTlogUrls:   append(services(1, svc.RekorV1), services(2, svc.RekorV2)...),
		RekorTlogConfig: &prototrustroot.ServiceConfiguration{Selector: prototrustroot.ServiceSelector_ANY},
		TsaUrls:         services(1, svc.TSA),
		TsaConfig:       &prototrustroot.ServiceConfiguration{Selector: prototrustroot.ServiceSelector_ANY},
	}
	b, err := protojson.Marshal(pb)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := root.NewSigningConfigFromJSON(b); err != nil {
		t.Fatalf("sigstore-go rejects the signing config: %v\n%s", err, b)
	}
	p := filepath.Join(t.TempDir(), "signing_config.json")
	writeFile(t, p, b)
	return p
}

// OfflineTrustedRoot writes a trusted_root.json that sigstore-go accepts,
// with a freshly generated Fulcio CA and, as asked, a timestamp authority
// and a Rekor log, but no service behind any of them: for tests of what is
// decided from a trusted root before anything is contacted.
func OfflineTrustedRoot(t testing.TB, withTSA, withRekor bool) string {
	t.Helper()
	selfSigned := func(cn string) *x509.Certificate {
		pub, priv, err := ed25519.GenerateKey(nil)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{
			SerialNumber:          big.NewInt(1),
			Subject:               pkix.Name{CommonName: cn, Organization: []string{"oci-attest test"}},
			NotBefore:             time.Now().Add(-time.Hour),
			NotAfter:              time.Now().Add(time.Hour),
			IsCA:                  true,
			BasicConstraintsValid: true,
			KeyUsage:              x509.KeyUsageCertSign,
		}
		der, err := x509.CreateCertificate(nil, tmpl, tmpl, pub, priv)
		if err != nil {
			t.Fatal(err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	tr := trustedRoot{fulcioURL: "http://127.0.0.1:1", fulcioChain: []*x509.Certificate{selfSigned("fulcio")}}
	if withTSA {
		tr.tsaURL, tr.tsaChain = "http://127.0.0.1:2", []*x509.Certificate{selfSigned("tsa")}
	}
	if withRekor {
		pub, _, err := ed25519.GenerateKey(nil)
		if err != nil {
			t.Fatal(err)
		}
		tr.rekorPub, tr.rekorPort = pub, 3
	}
	p := filepath.Join(t.TempDir(), "trusted_root.json")
	if err := os.WriteFile(p, tr.json(t), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
