package testenv

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// Registry is a real registry on loopback, in-process or a process; every
// test that needs a registry gets it from this package.
type Registry struct {
	// Name says which registry it is: "olareg", "ggcr", "distribution",
	// "docker-registry".
	Name string
	// Host is its 127.0.0.1:port and URL its http://127.0.0.1:port (plain
	// HTTP).
	Host, URL string
	// API says it serves the OCI 1.1 referrers API (and OCI-Subject).
	API bool
	// Proc is the process behind it (nil in-process).
	Proc *Proc
}

// registryConfig is a distribution configuration with filesystem storage in
// dir, listening on addr.
func registryConfig(dir, addr string) string {
	return fmt.Sprintf(`version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: %s
  secret: oci-attest-test-secret
`, filepath.Join(dir, "data"), addr)
}

// StartDistribution runs the CNCF distribution v3.1.2 `registry` binary (no
// referrers API) on a loopback port with storage in a temp dir.
func StartDistribution(t testing.TB) Registry {
	t.Helper()
	return startRegistry(t, "distribution", Tool(t, "registry"))
}

// StartDockerRegistry runs Debian's docker-registry 2.8 (`docker-registry
// serve CFG`) on a loopback port with storage in a temp dir.
func StartDockerRegistry(t testing.TB) Registry {
	t.Helper()
	return startRegistry(t, "docker-registry", RequireBin(t, "docker-registry"))
}

func startRegistry(t testing.TB, name, bin string) Registry {
	t.Helper()
	dir := t.TempDir()
	addr := Addr(FreePort(t))
	cfg := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfg, []byte(registryConfig(dir, addr)), 0o600); err != nil {
		t.Fatal(err)
	}
	// OTEL_TRACES_EXPORTER=none: distribution v3 would otherwise try to
	// export traces to a collector.
	p := Start(t, dir, "env", "OTEL_TRACES_EXPORTER=none", "OTEL_SDK_DISABLED=true", bin, "serve", cfg)
	WaitHTTP(t, p, "http://"+addr+"/v2/")
	return Registry{Name: name, Host: addr, URL: "http://" + addr, Proc: p}
}
