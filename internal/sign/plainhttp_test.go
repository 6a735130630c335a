package sign

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/oci-attest/oci-attest/internal/retry"
)

// TestCheckRefusesPlainHTTP: plain HTTP to a signing service is allowed on
// loopback only, with no opt-in; Check refuses it, naming the field, before
// anything is contacted.
func TestCheckRefusesPlainHTTP(t *testing.T) {
	t.Parallel()
	custom := func(f, r, tsa string) Options {
		return Options{Instance: InstanceCustom, FulcioURL: f, RekorURL: r, TSAURL: tsa, TrustedRootPath: "/nonexistent/trusted_root.json"}
	}
	for _, tc := range []struct {
		name  string
		opts  Options
		field string
	}{
		{"Fulcio", custom("http://fulcio.example", "", "https://tsa.example"), "FulcioURL"},
		{"Rekor", custom("https://fulcio.example", "http://10.0.0.5:3000", "https://tsa.example"), "RekorURL"},
		{"TSA", custom("https://fulcio.example", "", "http://tsa.example:8080/api/v1/timestamp"), "TSAURL"},
		{"TSA for key signing", Options{Instance: InstanceCustom, SigningKey: SigningKeyEphemeral, TSAURL: "http://[2001:db8::1]/"}, "TSAURL"},
		{"a name that only starts like localhost", custom("http://localhost.example.com", "", "https://tsa.example"), "FulcioURL"},
	} {
		var oe *OptionError
		err := Check(tc.opts)
		if !errors.As(err, &oe) || oe.Field != tc.field || !strings.Contains(oe.Msg, "plain HTTP") {
			t.Errorf("%s: Check() = %v, want an OptionError for %s refusing plain HTTP", tc.name, err, tc.field)
		}
	}
	// Loopback passes the URL rules: Check goes on to the next one (the
	// trusted root it cannot read).
	for _, u := range []string{"http://127.0.0.1:1", "http://localhost:2", "http://[::1]:3"} {
		var oe *OptionError
		if err := Check(custom(u, u, u)); !errors.As(err, &oe) || oe.Field != "TrustedRootPath" {
			t.Errorf("Check(%s) = %v, want the URLs accepted and the trusted root refused", u, err)
		}
	}
}

// TestTokenEndpointPlainHTTP: the Actions token endpoint is refused over
// plain HTTP off loopback by Check (when keyless signing would ask it) and
// by the token request, before the bearer token is sent.
func TestTokenEndpointPlainHTTP(t *testing.T) {
	t.Parallel()
	env := func(u string) func(string) string {
		return envOf(map[string]string{"ACTIONS_ID_TOKEN_REQUEST_URL": u, "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "bearer-secret"})
	}
	plain := Options{Instance: InstancePublicGood, Getenv: env("http://token.actions.example/idtoken?api-version=2.0")}
	err := Check(plain)
	var oe *OptionError
	if !errors.Is(err, ErrTokenRequest) || errors.As(err, &oe) || !strings.Contains(err.Error(), "token.actions.example") {
		t.Errorf("Check(plain-HTTP token endpoint) = %v, want ErrTokenRequest naming the host", err)
	}
	if _, _, err := identityToken(context.Background(), plain); !errors.Is(err, ErrTokenRequest) {
		t.Errorf("identityToken(plain-HTTP endpoint) = %v, want ErrTokenRequest", err)
	}
	for name, o := range map[string]Options{
		"an explicit token":  {Instance: InstancePublicGood, Getenv: plain.Getenv, IdentityToken: "e30.e30.sig"},
		"key signing":        {Instance: InstancePublicGood, Getenv: plain.Getenv, SigningKey: SigningKeyEphemeral},
		"a loopback address": {Instance: InstancePublicGood, Getenv: env("http://127.0.0.1:9/idtoken")},
		"HTTPS":              {Instance: InstancePublicGood, Getenv: env("https://token.actions.example/idtoken")},
	} {
		if err := Check(o); err != nil {
			t.Errorf("Check() with %s = %v, want no objection to the endpoint", name, err)
		}
	}
}

// TestTokenRedirectCannotDowngrade: a token endpoint that redirects to
// plain HTTP off loopback is refused by the transport's guard, and the
// bearer token never travels there.
func TestTokenRedirectCannotDowngrade(t *testing.T) {
	t.Parallel()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://token.actions.example/idtoken", http.StatusTemporaryRedirect)
	}))
	t.Cleanup(srv.Close)
	opts := Options{
		HTTPClient: srv.Client(),
		Getenv:     envOf(map[string]string{"ACTIONS_ID_TOKEN_REQUEST_URL": srv.URL + "/idtoken", "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "bearer-secret"}),
	}
	_, _, err := identityToken(context.Background(), opts)
	if !errors.Is(err, ErrTokenRequest) || !errors.Is(err, retry.ErrPlainHTTP) {
		t.Errorf("identityToken(redirect to plain HTTP) = %v, want ErrTokenRequest and retry.ErrPlainHTTP", err)
	}
}
