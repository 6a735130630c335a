package sign_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oci-attest/oci-attest/internal/sign"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
)

func writePEM(t *testing.T, typ string, der []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "key.pem")
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func ecKeyFile(t *testing.T, curve elliptic.Curve, pkcs8 bool) string {
	t.Helper()
	k, err := ecdsa.GenerateKey(curve, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if pkcs8 {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return writePEM(t, "PRIVATE KEY", der)
	}
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return writePEM(t, "EC PRIVATE KEY", der)
}

// bundleShape is the part of a bundle's JSON these tests look at.
type bundleShape struct {
	MediaType            string `json:"mediaType"`
	VerificationMaterial struct {
		PublicKey *struct {
			Hint string `json:"hint"`
		} `json:"publicKey"`
		Certificate *struct {
			RawBytes string `json:"rawBytes"`
		} `json:"certificate"`
		TlogEntries               []json.RawMessage `json:"tlogEntries"`
		TimestampVerificationData *struct {
			RFC3161Timestamps []json.RawMessage `json:"rfc3161Timestamps"`
		} `json:"timestampVerificationData"`
	} `json:"verificationMaterial"`
	DSSEEnvelope struct {
		Payload     []byte `json:"payload"`
		PayloadType string `json:"payloadType"`
	} `json:"dsseEnvelope"`
}

func parseBundle(t *testing.T, b []byte) bundleShape {
	t.Helper()
	var s bundleShape
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("bundle is not JSON: %v", err)
	}
	return s
}

func TestSignWithKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		key  func(t *testing.T) string
	}{
		{"ephemeral", func(*testing.T) string { return sign.SigningKeyEphemeral }},
		{"P-256 PKCS#8", func(t *testing.T) string { return ecKeyFile(t, elliptic.P256(), true) }},
		{"P-384 SEC 1", func(t *testing.T) string { return ecKeyFile(t, elliptic.P384(), false) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			st, digest := testStatement(t, tc.name)
			res, err := sign.Sign(ctx, st, sign.Options{SigningKey: tc.key(t)})
			if err != nil {
				t.Fatalf("Sign() = %v", err)
			}
			if res.Instance != "key" || res.Identity != "" || res.LogIndex != -1 || res.KeyHint == "" {
				t.Errorf("Sign() result = %+v, want key instance, no identity, no log, a hint", res)
			}
			got := parseBundle(t, res.Bundle)
			if want := "application/vnd.dev.sigstore.bundle.v0.3+json"; got.MediaType != want {
				t.Errorf("bundle mediaType = %q, want %q", got.MediaType, want)
			}
			if got.DSSEEnvelope.PayloadType != sign.PayloadType || string(got.DSSEEnvelope.Payload) != string(st) {
				t.Errorf("bundle DSSE payloadType = %q / payload differs from the statement", got.DSSEEnvelope.PayloadType)
			}
			if got.VerificationMaterial.PublicKey == nil || got.VerificationMaterial.PublicKey.Hint != res.KeyHint {
				t.Errorf("bundle public key hint = %+v, want %q", got.VerificationMaterial.PublicKey, res.KeyHint)
			}
			if got.VerificationMaterial.Certificate != nil {
				t.Error("key-signed bundle carries a certificate")
			}

			pub, err := cryptoutils.UnmarshalPEMToPublicKey([]byte(res.PublicKeyPEM))
			if err != nil {
				t.Fatalf("Result.PublicKeyPEM: %v", err)
			}
			if _, err := sign.Verify(ctx, res.Bundle, nil, sign.Policy{PublicKey: pub, Digest: digest}); err != nil {
				t.Errorf("Verify(right key, subject digest) = %v", err)
			}

			// A subject the statement does not name.
			_, other := testStatement(t, "other")
			if _, err := sign.Verify(ctx, res.Bundle, nil, sign.Policy{PublicKey: pub, Digest: other}); !errors.Is(err, sign.ErrVerify) {
				t.Errorf("Verify(other digest) = %v, want ErrVerify", err)
			}
			// Another key.
			k2, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			if _, err := sign.Verify(ctx, res.Bundle, nil, sign.Policy{PublicKey: k2.Public(), Digest: digest}); !errors.Is(err, sign.ErrVerify) {
				t.Errorf("Verify(other key) = %v, want ErrVerify", err)
			}
			// A tampered payload (the digest still names a subject).
			tampered := strings.Replace(string(res.Bundle), `"payload":"`, `"payload":"IC`, 1)
			if tampered == string(res.Bundle) {
				t.Fatal("could not tamper with the payload")
			}
			if _, err := sign.Verify(ctx, []byte(tampered), nil, sign.Policy{PublicKey: pub, SkipArtifact: true}); !errors.Is(err, sign.ErrVerify) {
				t.Errorf("Verify(tampered payload) = %v, want ErrVerify", err)
			}
		})
	}
}

func TestSignWithKeyErrors(t *testing.T) {
	t.Parallel()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsaDER, _ := x509.MarshalPKCS8PrivateKey(rsaKey)
	notPEM := filepath.Join(t.TempDir(), "key.txt")
	if err := os.WriteFile(notPEM, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, key, want string
	}{
		{"missing file", filepath.Join(t.TempDir(), "nope.pem"), "nope.pem: no such file"},
		{"public key", writePEM(t, "PUBLIC KEY", []byte{1, 2, 3}), "holds a public key: signing needs the private key"},
		{"not PEM", notPEM, "no PEM private key"},
		{"RSA", writePEM(t, "PRIVATE KEY", rsaDER), "want ECDSA"},
		{"encrypted", writePEM(t, "ENCRYPTED PRIVATE KEY", []byte{1, 2, 3}), "encrypted"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			st, _ := testStatement(t, "x")
			res, err := sign.Sign(context.Background(), st, sign.Options{SigningKey: tc.key})
			if !errors.Is(err, sign.ErrOptions) || !strings.Contains(err.Error(), tc.want) || res != nil {
				t.Errorf("Sign(%s) = %v, %v; want ErrOptions containing %q", tc.name, res, err, tc.want)
			}
		})
	}
}

func TestVerifyPolicyErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, digest := testStatement(t, "policy")
	res, err := sign.Sign(ctx, st, sign.Options{SigningKey: sign.SigningKeyEphemeral})
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := cryptoutils.UnmarshalPEMToPublicKey([]byte(res.PublicKeyPEM))
	tests := []struct {
		name   string
		bundle []byte
		p      sign.Policy
		want   error
	}{
		{"no digest", res.Bundle, sign.Policy{PublicKey: pub}, sign.ErrOptions},
		{"bad digest", res.Bundle, sign.Policy{PublicKey: pub, Digest: "sha512:00"}, sign.ErrOptions},
		{"no identity no key", res.Bundle, sign.Policy{Digest: digest}, sign.ErrOptions},
		{"not a bundle", []byte(`{"x":1}`), sign.Policy{PublicKey: pub, Digest: digest}, sign.ErrVerify},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := sign.Verify(ctx, tc.bundle, nil, tc.p); !errors.Is(err, tc.want) {
				t.Errorf("Verify() = %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := sign.Sign(ctx, nil, sign.Options{SigningKey: sign.SigningKeyEphemeral}); !errors.Is(err, sign.ErrOptions) {
		t.Errorf("Sign(empty statement) = %v, want ErrOptions", err)
	}
}
