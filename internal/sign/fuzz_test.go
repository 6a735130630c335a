package sign

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseClaims feeds arbitrary tokens to the unverified claim parser.
func FuzzParseClaims(f *testing.F) {
	f.Add("eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJodHRwczovL2EiLCJqb2Jfd29ya2Zsb3dfcmVmIjoieCJ9.c2ln")
	f.Add("a.e30.c")
	f.Add("...")
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := parseClaims(tok)
		if err == nil && c.Issuer == "" {
			t.Errorf("parseClaims(%q) accepted a token without issuer", tok)
		}
		if err == nil {
			if _, err := expectedIdentity(c); err != nil {
				t.Errorf("expectedIdentity() = %v", err)
			}
		}
	})
}

// FuzzRepositoryIsPublic feeds arbitrary event payloads to the visibility
// reader.
func FuzzRepositoryIsPublic(f *testing.F) {
	f.Add([]byte(`{"repository":{"visibility":"public"}}`))
	f.Add([]byte(`{"repository":{"private":true}}`))
	f.Add([]byte(`{"repository":null}`))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(dir, "event.json")
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		_, _ = repositoryIsPublic(p)
	})
}
