package sign

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"

	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	sgsign "github.com/sigstore/sigstore-go/pkg/sign"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
)

// ecdsaKeypair is a sigstore-go Keypair over a long-lived ECDSA key read from
// a PEM file.
type ecdsaKeypair struct {
	priv *ecdsa.PrivateKey
	hash crypto.Hash
	alg  protocommon.PublicKeyDetails
	hint []byte
}

var _ sgsign.Keypair = (*ecdsaKeypair)(nil)

// loadKeypair returns the keypair for Options.SigningKey: a fresh P-256 key
// for "ephemeral", otherwise the ECDSA key in the PEM file at that path.
func loadKeypair(spec string) (sgsign.Keypair, error) {
	if spec == SigningKeyEphemeral {
		kp, err := sgsign.NewEphemeralKeypair(&sgsign.EphemeralKeypairOptions{Algorithm: protocommon.PublicKeyDetails_PKIX_ECDSA_P256_SHA_256})
		if err != nil {
			return nil, fmt.Errorf("generating an ephemeral key: %w", err)
		}
		return kp, nil
	}
	b, err := os.ReadFile(spec)
	if err != nil {
		return nil, fmt.Errorf("%w: reading the signing key %s: %w", ErrOptions, spec, err)
	}
	priv, err := parseECDSAKey(b)
	if err != nil {
		return nil, fmt.Errorf("%w: signing key %s: %w", ErrOptions, spec, err)
	}
	return newECDSAKeypair(priv)
}

// parseECDSAKey reads the first private key block of a PEM file: PKCS#8
// ("PRIVATE KEY") or SEC 1 ("EC PRIVATE KEY"). Encrypted keys are refused.
func parseECDSAKey(b []byte) (*ecdsa.PrivateKey, error) {
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			return nil, fmt.Errorf("no PEM private key found (want an unencrypted ECDSA key: PRIVATE KEY or EC PRIVATE KEY)")
		}
		switch block.Type {
		case "EC PRIVATE KEY":
			k, err := x509.ParseECPrivateKey(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("parsing EC PRIVATE KEY: %w", err)
			}
			return k, nil
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("parsing PRIVATE KEY: %w", err)
			}
			ek, ok := k.(*ecdsa.PrivateKey)
			if !ok {
				return nil, fmt.Errorf("the key is %T, want ECDSA", k)
			}
			return ek, nil
		case "PUBLIC KEY":
			return nil, fmt.Errorf("it holds a public key: signing needs the private key (verify with the public key)")
		case "ENCRYPTED PRIVATE KEY", "ENCRYPTED SIGSTORE PRIVATE KEY":
			return nil, fmt.Errorf("the key is encrypted: decrypt it first (openssl pkcs8 -in KEY -out PLAIN.pem)")
		}
	}
}

func newECDSAKeypair(priv *ecdsa.PrivateKey) (*ecdsaKeypair, error) {
	kp := &ecdsaKeypair{priv: priv}
	switch priv.Curve {
	case elliptic.P256():
		kp.hash, kp.alg = crypto.SHA256, protocommon.PublicKeyDetails_PKIX_ECDSA_P256_SHA_256
	case elliptic.P384():
		kp.hash, kp.alg = crypto.SHA384, protocommon.PublicKeyDetails_PKIX_ECDSA_P384_SHA_384
	case elliptic.P521():
		kp.hash, kp.alg = crypto.SHA512, protocommon.PublicKeyDetails_PKIX_ECDSA_P521_SHA_512
	default:
		return nil, fmt.Errorf("%w: ECDSA curve %s is not supported: use P-256, P-384 or P-521", ErrOptions, priv.Curve.Params().Name)
	}
	hint := KeyHint(priv.Public())
	if hint == "" {
		return nil, fmt.Errorf("encoding the public key of curve %s", priv.Curve.Params().Name)
	}
	kp.hint = []byte(hint)
	return kp, nil
}

func (k *ecdsaKeypair) GetHashAlgorithm() protocommon.HashAlgorithm {
	switch k.hash {
	case crypto.SHA384:
		return protocommon.HashAlgorithm_SHA2_384
	case crypto.SHA512:
		return protocommon.HashAlgorithm_SHA2_512
	}
	return protocommon.HashAlgorithm_SHA2_256
}

func (k *ecdsaKeypair) GetSigningAlgorithm() protocommon.PublicKeyDetails { return k.alg }
func (k *ecdsaKeypair) GetHint() []byte                                   { return k.hint }
func (k *ecdsaKeypair) GetKeyAlgorithm() string                           { return "ECDSA" }
func (k *ecdsaKeypair) GetPublicKey() crypto.PublicKey                    { return k.priv.Public() }

func (k *ecdsaKeypair) GetPublicKeyPem() (string, error) {
	b, err := cryptoutils.MarshalPublicKeyToPEM(k.priv.Public())
	if err != nil {
		return "", err
	}
	return string(b), nil
}

func (k *ecdsaKeypair) SignData(_ context.Context, data []byte) ([]byte, []byte, error) {
	h := k.hash.New()
	h.Write(data)
	digest := h.Sum(nil)
	sig, err := ecdsa.SignASN1(rand.Reader, k.priv, digest)
	if err != nil {
		return nil, nil, err
	}
	return sig, digest, nil
}
