package sign_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oci-attest/oci-attest/internal/sign"
	"github.com/oci-attest/oci-attest/internal/testenv"
)

// TestCheckSigningConfig holds a custom instance's signing config to the
// rules Check applies before anything is contacted: the services it
// selects must make a bundle that verifies against the trusted root, its
// every URL is https or plain http on loopback, and it is never given with
// the URL options.
func TestCheckSigningConfig(t *testing.T) {
	t.Parallel()
	const (
		fulcio = "https://fulcio.example"
		rekor  = "https://rekor.example"
		tsa    = "https://tsa.example/api/v1/timestamp"
	)
	config := func(svc testenv.SigningServices) string { return testenv.WriteSigningConfig(t, svc) }
	rootWithLog := testenv.OfflineTrustedRoot(t, false, true)
	rootWithAll := testenv.OfflineTrustedRoot(t, true, true)
	rootWithTSA := testenv.OfflineTrustedRoot(t, true, false)
	v1 := config(testenv.SigningServices{Fulcio: fulcio, RekorV1: rekor})
	notJSON := filepath.Join(t.TempDir(), "signing_config.json")
	if err := os.WriteFile(notJSON, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	custom := func(path, root string) sign.Options {
		// A token: keyless signing has its source (Check's last rule).
		return sign.Options{Instance: sign.InstanceCustom, SigningConfigPath: path, TrustedRootPath: root, IdentityToken: "e30.e30.sig"}
	}
	withKey := func(o sign.Options) sign.Options { o.SigningKey = sign.SigningKeyEphemeral; return o }
	withURL := func(o sign.Options, field string) sign.Options {
		switch field {
		case "FulcioURL":
			o.FulcioURL = fulcio
		case "RekorURL":
			o.RekorURL = rekor
		case "TSAURL":
			o.TSAURL = tsa
		}
		return o
	}
	tests := []struct {
		name  string
		opts  sign.Options
		field string // "": accepted
		words string
	}{
		{"Fulcio and Rekor v1, no TSA: the log's time is the signed time", custom(v1, rootWithLog), "", ""},
		{"Fulcio, Rekor v1 and a TSA", custom(config(testenv.SigningServices{Fulcio: fulcio, RekorV1: rekor, TSA: tsa}), rootWithAll), "", ""},
		{"Fulcio and a TSA", custom(config(testenv.SigningServices{Fulcio: fulcio, TSA: tsa}), rootWithTSA), "", ""},
		{"v1 and v2: v2 is selected, and needs a TSA", custom(config(testenv.SigningServices{Fulcio: fulcio, RekorV1: rekor, RekorV2: "https://log2.example"}), rootWithLog), "SigningConfigPath", "Rekor v2 gives no integrated time"},
		{"Rekor v2 without a TSA", custom(config(testenv.SigningServices{Fulcio: fulcio, RekorV2: rekor}), rootWithLog), "SigningConfigPath", "timestamp authority is needed"},
		{"no Fulcio", custom(config(testenv.SigningServices{RekorV1: rekor}), rootWithLog), "SigningConfigPath", "no Fulcio"},
		{"no log, no TSA", custom(config(testenv.SigningServices{Fulcio: fulcio}), rootWithLog), "SigningConfigPath", "neither a Rekor nor a timestamp authority"},
		{"root lists no log", custom(v1, rootWithTSA), "SigningConfigPath", "lists no transparency log"},
		{"root lists a log the config does not name", custom(config(testenv.SigningServices{Fulcio: fulcio, TSA: tsa}), rootWithAll), "SigningConfigPath", "lists a transparency log"},
		{"no trusted root", custom(v1, ""), "TrustedRootPath", "trusted_root.json"},
		{"not a signing config", custom(notJSON, rootWithLog), "SigningConfigPath", "cosign signing-config create"},
		{"missing file", custom(filepath.Join(t.TempDir(), "nope.json"), rootWithLog), "SigningConfigPath", "nope.json"},
		{"plain HTTP to another host", custom(config(testenv.SigningServices{Fulcio: fulcio, RekorV1: "http://rekor.example"}), rootWithLog), "SigningConfigPath", `transparency log URL "http://rekor.example" is plain HTTP`},
		{"plain HTTP OIDC provider", custom(config(testenv.SigningServices{Fulcio: fulcio, RekorV1: rekor, OIDC: "http://10.0.0.1:5556"}), rootWithLog), "SigningConfigPath", "OIDC provider URL"},
		{"plain HTTP on 127.0.0.1", custom(config(testenv.SigningServices{Fulcio: "http://127.0.0.1:5555", RekorV1: rekor}), rootWithLog), "", ""},
		{"plain HTTP on localhost", custom(config(testenv.SigningServices{Fulcio: fulcio, RekorV1: "http://localhost:3000"}), rootWithLog), "", ""},
		{"plain HTTP on ::1", custom(config(testenv.SigningServices{Fulcio: fulcio, RekorV1: rekor, TSA: "http://[::1]:3004/api/v1/timestamp"}), rootWithAll), "", ""},
		{"key signing through Rekor v1 without a TSA", withKey(custom(v1, rootWithLog)), "", ""},
		{"key signing, Rekor v2 without a TSA", withKey(custom(config(testenv.SigningServices{RekorV2: rekor}), rootWithLog)), "SigningConfigPath", "timestamp authority is needed"},
		{"key signing, a config naming no log or TSA: no services", withKey(custom(config(testenv.SigningServices{Fulcio: fulcio}), "")), "", ""},
		{"signing config and fulcio URL", withURL(custom(v1, rootWithLog), "FulcioURL"), "FulcioURL", "signing config were both given"},
		{"signing config and Rekor URL", withURL(custom(v1, rootWithLog), "RekorURL"), "RekorURL", "signing config were both given"},
		{"signing config and TSA URL", withURL(custom(v1, rootWithLog), "TSAURL"), "TSAURL", "signing config were both given"},
		{"signing config for public-good", sign.Options{Instance: sign.InstancePublicGood, SigningConfigPath: v1}, "SigningConfigPath", "only used by the custom Sigstore instance"},
		{"signing config for auto", sign.Options{SigningConfigPath: v1}, "SigningConfigPath", "(the instance is auto)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := sign.Check(tc.opts)
			if tc.field == "" {
				if err != nil {
					t.Fatalf("Check() = %v, want it accepted", err)
				}
				return
			}
			var oe *sign.OptionError
			if !errors.As(err, &oe) || oe.Field != tc.field || !errors.Is(err, sign.ErrOptions) || !strings.Contains(oe.Msg, tc.words) {
				t.Fatalf("Check() = %v, want an OptionError for %s saying %q", err, tc.field, tc.words)
			}
			if both := strings.Contains(tc.words, "both given"); both != (oe.With == "SigningConfigPath") || (!both && oe.With != "") {
				t.Errorf("Check() = %+v; With names the other field exactly when two exclude each other", oe)
			}
		})
	}
}

// TestRekorURLIsRekorV2: a bare Rekor URL still means Rekor v2, which needs
// a timestamp authority: no silent change for the URL options.
func TestRekorURLIsRekorV2(t *testing.T) {
	t.Parallel()
	opts := sign.Options{Instance: sign.InstanceCustom, FulcioURL: "https://fulcio.example", RekorURL: "https://rekor.example",
		TrustedRootPath: testenv.OfflineTrustedRoot(t, false, true)}
	var oe *sign.OptionError
	if err := sign.Check(opts); !errors.As(err, &oe) || oe.Field != "TSAURL" || !strings.Contains(oe.Msg, "Rekor v2") {
		t.Errorf("Check(Fulcio and Rekor URLs) = %v, want an OptionError for TSAURL: a Rekor URL is Rekor v2", err)
	}
}
