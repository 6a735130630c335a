package sign_test

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"

	intoto "github.com/in-toto/attestation/go/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"
)

// predicateType is the oci attestor's predicate type (ARCHITECTURE.md, "The predicate and the statement").
const predicateType = "https://aflock.ai/attestations/oci/v0.1"

// testStatement builds a small in-toto statement with two subjects and
// returns it with the first subject's digest ("sha256:<hex>").
func testStatement(t *testing.T, seed string) ([]byte, string) {
	t.Helper()
	img := sha256.Sum256([]byte("image manifest " + seed))
	tar := sha256.Sum256([]byte("tarball " + seed))
	pred, err := structpb.NewStruct(map[string]any{
		"tardigest": map[string]any{"sha256": hex.EncodeToString(tar[:])},
		"imagetags": []any{"example.test/app:" + seed},
	})
	if err != nil {
		t.Fatal(err)
	}
	st := &intoto.Statement{
		Type: intoto.StatementTypeUri,
		Subject: []*intoto.ResourceDescriptor{
			{Name: "example.test/app", Digest: map[string]string{"sha256": hex.EncodeToString(img[:])}},
			{Name: "tardigest:" + hex.EncodeToString(tar[:]), Digest: map[string]string{"sha256": hex.EncodeToString(tar[:])}},
		},
		PredicateType: predicateType,
		Predicate:     pred,
	}
	if err := st.Validate(); err != nil {
		t.Fatal(err)
	}
	b, err := protojson.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	return b, "sha256:" + hex.EncodeToString(img[:])
}
