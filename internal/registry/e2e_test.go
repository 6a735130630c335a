package registry

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/oci-attest/oci-attest/internal/testenv"
)

// runTool runs an independent client and returns its stdout.
func runTool(t testing.TB, bin string, args ...string) string {
	t.Helper()
	cmd := testenv.Command(bin, args...)
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "HOME="+home, "DOCKER_CONFIG="+home, "REGCTL_CONFIG="+home+"/regctl.json")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\nstdout: %s\nstderr: %s", bin, strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// allRegistries are the in-process registries and, unless -short, the
// distribution v3.1.2 and Debian docker-registry 2.8 processes.
func allRegistries(t *testing.T) []testenv.Registry {
	regs := testenv.InProcessRegistries(t)
	if testing.Short() {
		return regs
	}
	regs = append(regs,
		testenv.Registry{Name: "distribution", Host: testenv.StartDistribution(t).Host},
		testenv.Registry{Name: "docker-registry", Host: testenv.StartDockerRegistry(t).Host},
	)
	return regs
}

// TestE2EClients attaches to every real registry and has oras, regctl and
// crane read the result.
func TestE2EClients(t *testing.T) {
	if testing.Short() {
		t.Skip("runs registry processes and client tools")
	}
	t.Parallel()
	oras := testenv.Tool(t, "oras")
	regctl := testenv.Tool(t, "regctl")
	crane := testenv.Tool(t, "crane")
	for _, reg := range allRegistries(t) {
		t.Run(reg.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			c := newTestClient(t, Options{})
			repository := reg.Host + "/e2e/app"
			s := resolvedSubject(t, c, repository)
			res, err := c.Attach(ctx, s, testBundle(5), AttachOptions{PredicateType: testPredicate, Settle: testSettle})
			if err != nil {
				t.Fatalf("Attach() = %v", err)
			}
			t.Logf("%s: API=%v tag=%q requests=%d: %s", reg.Name, res.API, res.ReferrersTag, res.Requests, res.Reason)
			if res.API != reg.API || (res.ReferrersTag == "") != reg.API {
				t.Errorf("Attach() = API %v tag %q on %s, want API %v", res.API, res.ReferrersTag, reg.Name, reg.API)
			}
			if budget := requestBudget(res); res.Requests > budget {
				t.Errorf("Attach() made %d requests in %d tag round(s), budget %d", res.Requests, res.TagRounds, budget)
			}
			subject := repository + "@" + s.Descriptor.Digest.String()
			art := res.Artifact.Digest.String()

			out := runTool(t, oras, "discover", "--plain-http", "--format", "json", "--artifact-type", BundleMediaType, subject)
			if !strings.Contains(out, art) {
				t.Errorf("oras discover --artifact-type %s did not list %s:\n%s", BundleMediaType, art, out)
			}
			if out := runTool(t, oras, "discover", "--plain-http", "--format", "json", "--artifact-type", "application/x-other", subject); strings.Contains(out, art) {
				t.Errorf("oras discover --artifact-type application/x-other listed %s:\n%s", art, out)
			}
			out = runTool(t, regctl, "--host", "reg="+reg.Host+",tls=disabled", "artifact", "list", subject, "--format", "{{json .}}")
			if !strings.Contains(out, art) || !strings.Contains(out, BundleMediaType) {
				t.Errorf("regctl artifact list did not find %s:\n%s", art, out)
			}
			out = runTool(t, regctl, "--host", "reg="+reg.Host+",tls=disabled", "artifact", "get", repository+"@"+art)
			if out != string(testBundle(5)) {
				t.Errorf("regctl artifact get = %q, want the bundle", out)
			}
			tags := runTool(t, crane, "ls", "--insecure", repository)
			if got := strings.Contains(tags, "sha256-"+s.Descriptor.Digest.Encoded()); got == reg.API {
				t.Errorf("crane ls: fallback tag present = %v on %s (API %v):\n%s", got, reg.Name, reg.API, tags)
			}
			if !reg.API {
				idx := runTool(t, crane, "manifest", "--insecure", repository+":"+res.ReferrersTag)
				if !strings.Contains(idx, art) || !strings.Contains(idx, BundleMediaType) {
					t.Errorf("crane manifest %s = %s, want an index listing %s", res.ReferrersTag, idx, art)
				}
			}
		})
	}
}
