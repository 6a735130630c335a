package cli

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/oci-attest/oci-attest/internal/testenv"
)

// TestRunCost is bench/fallback-cost.sh's measurement, not a test: with
// OCI_ATTEST_RUN_COST=N it runs the action N times per registry in the
// runner's shape (keyless signing by the local Sigstore stack with a
// timestamp authority, push-image of the bundled archive to a repository of
// its own, default inputs) against olareg (referrers API), ggcr,
// distribution v3 and docker-registry 2.8 (fallback tag), round-robin, each
// registry behind a fault proxy without faults that counts the requests.
// Each run prints a RUNCOST line: its wall time, its registry requests, the
// requests to the fallback tag and the time from the first to the last of
// them as the proxy saw them.
func TestRunCost(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("OCI_ATTEST_RUN_COST"))
	if n <= 0 {
		t.Skip("a benchmark: OCI_ATTEST_RUN_COST=N (bench/fallback-cost.sh)")
	}
	s := testenv.StartSigstore(t, testenv.SigstoreOptions{TSA: true})
	api := testenv.StartGitHubAPI(t, testenv.GitHubAPIOptions{Organizations: []string{"oci-attest"}})
	regs := []testenv.Registry{testenv.StartOlareg(t), testenv.StartGGCR(t), testenv.StartDistribution(t), testenv.StartDockerRegistry(t)}
	proxies := make([]*testenv.FaultProxy, len(regs))
	for i, reg := range regs {
		proxies[i] = testenv.StartFaultProxy(t, reg.URL)
	}
	walls := map[string][]float64{}
	for round := 1; round <= n; round++ {
		for i, reg := range regs {
			p := proxies[i]
			before := len(p.Events())
			with := env{"INPUT_SUBJECT-NAME": fmt.Sprintf("%s/cost/run%d:v1", p.Host, round)}
			if v := os.Getenv("OCI_ATTEST_RUN_COST_SETTLE"); v != "" {
				with["INPUT_FALLBACK-SETTLE"] = v
			}
			start := time.Now()
			r := newGHRun(t, ghSetup{stack: s, host: p.Host}, api, ownerEvent("Organization"), with).run(seams{})
			wall := time.Since(start)
			if r.err != nil {
				t.Fatalf("%s run %d: %v\n%s", reg.Name, round, r.err, r.log.String())
			}
			if os.Getenv("OCI_ATTEST_RUN_COST_LOG") != "" {
				fmt.Print(r.log.String())
			}
			ev := p.Events()[before:]
			var tag []testenv.FaultEvent
			for _, e := range ev {
				if strings.Contains(e.Path, "/manifests/sha256-") {
					tag = append(tag, e)
				}
			}
			tagMS := 0.0
			if len(tag) > 0 {
				tagMS = float64(tag[len(tag)-1].At.Sub(tag[0].At).Microseconds()) / 1000
			}
			fmt.Printf("RUNCOST registry=%s run=%d wall_ms=%.0f requests=%d tag_requests=%d tag_ms=%.0f tag=%q\n",
				reg.Name, round, float64(wall.Microseconds())/1000, len(ev), len(tag), tagMS, r.outs["referrers-tag"])
			walls[reg.Name] = append(walls[reg.Name], float64(wall.Microseconds())/1000)
		}
	}
	median := func(xs []float64) float64 {
		xs = slices.Clone(xs)
		slices.Sort(xs)
		if len(xs)%2 == 1 {
			return xs[len(xs)/2]
		}
		return (xs[len(xs)/2-1] + xs[len(xs)/2]) / 2
	}
	for _, reg := range regs {
		t.Logf("%s: median wall %.0f ms over %d runs (%.0f ms more than olareg)", reg.Name, median(walls[reg.Name]), n, median(walls[reg.Name])-median(walls["olareg"]))
	}
}
