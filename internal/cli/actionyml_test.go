package cli

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/oci-attest/oci-attest/internal/actions"
	yaml "go.yaml.in/yaml/v3"
)

var update = flag.Bool("update", false, "rewrite golden files (action.yml, testdata/golden)")

// actionYAML renders action.yml from the inputs and outputs tables, so the
// action's interface and the code cannot drift apart.
func actionYAML(t *testing.T) []byte {
	t.Helper()
	str := func(v string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Value: v} }
	quoted := func(v string) *yaml.Node {
		return &yaml.Node{Kind: yaml.ScalarNode, Value: v, Style: yaml.SingleQuotedStyle}
	}
	mapping := func(kv ...*yaml.Node) *yaml.Node { return &yaml.Node{Kind: yaml.MappingNode, Content: kv} }
	ins := mapping()
	for _, in := range inputs {
		if in.cliOnly {
			continue
		}
		m := mapping(str("description"), str(in.usage), str("required"), str("false"))
		if in.required {
			m.Content[3] = str("true")
		}
		def := in.def
		if in.actionDef != "" {
			def = in.actionDef
		}
		if !in.required {
			m.Content = append(m.Content, str("default"), quoted(def))
		}
		ins.Content = append(ins.Content, str(in.name), m)
	}
	outs := mapping()
	for _, o := range actions.OutputList {
		outs.Content = append(outs.Content, str(o.Name), mapping(str("description"), str(o.Description)))
	}
	doc := mapping(
		str("name"), str("oci-attest"),
		str("description"), str("Attest a saved image archive (docker save, podman, skopeo, crane, buildx) with the oci attestor predicate, sign it keylessly with Sigstore, and attach it to the image as an OCI 1.1 referrer."),
		str("author"), str("oci-attest"),
		str("branding"), mapping(str("icon"), str("shield"), str("color"), str("blue")),
		str("inputs"), ins,
		str("outputs"), outs,
		str("runs"), mapping(str("using"), str("docker"), str("image"), str("Dockerfile")),
	)
	var b bytes.Buffer
	b.WriteString("# Generated from internal/cli/inputs.go by `go test ./internal/cli -run TestActionYAML -update`: edit internal/cli/inputs.go, not this file.\n")
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{doc}}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestActionYAML(t *testing.T) {
	want := actionYAML(t)
	if *update {
		if err := os.WriteFile(filepath.Join(repoRoot, "action.yml"), want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(filepath.Join(repoRoot, "action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("action.yml is out of date with inputs.go (run go test ./internal/cli -run TestActionYAML -update) (-want +got):\n%s", diff)
	}
}

// TestDockerfile holds the Dockerfile to what GitHub's docker actions need
// (no engine runs here, so the image itself is built in CI's action job):
// a static, trimmed build, distroless/static as the final stage, no USER
// (the runner's file commands need root), and action.yml pointing at it.
func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	df := string(b)
	stages := regexp.MustCompile(`(?m)^FROM\s+(\S+)`).FindAllStringSubmatch(df, -1)
	if len(stages) < 2 || !strings.HasPrefix(stages[len(stages)-1][1], "gcr.io/distroless/static") {
		t.Errorf("Dockerfile stages = %v, want a multi-stage build ending in gcr.io/distroless/static", stages)
	}
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", `ENTRYPOINT ["/oci-attest"]`} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	if regexp.MustCompile(`(?m)^USER\b`).MatchString(df) {
		t.Error("Dockerfile sets USER: GitHub docker actions must run as root")
	}
	if !strings.Contains(string(actionYAML(t)), "image: Dockerfile") {
		t.Error("action.yml does not run the Dockerfile")
	}
}

// TestWorkflowsUseRealInputs reads every workflow that uses this action —
// the examples of README.md and docs/*.md, and .github/workflows — and checks
// each `with:` key is an input action.yml declares, so documentation cannot
// drift from it.
func TestWorkflowsUseRealInputs(t *testing.T) {
	declared := actionDefaults(t)
	var docs []struct{ name, yaml string }
	mds, _ := filepath.Glob(filepath.Join(repoRoot, "docs", "*.md"))
	for _, p := range append([]string{filepath.Join(repoRoot, "README.md")}, mds...) {
		md, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		name, _ := filepath.Rel(repoRoot, p)
		for i, m := range regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(string(md), -1) {
			docs = append(docs, struct{ name, yaml string }{fmt.Sprintf("%s yaml block %d", name, i+1), m[1]})
		}
	}
	wfs, _ := filepath.Glob(filepath.Join(repoRoot, ".github", "workflows", "*.yml"))
	for _, p := range wfs {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, struct{ name, yaml string }{p, string(b)})
	}
	uses := 0
	for _, d := range docs {
		var wf struct {
			Jobs map[string]struct {
				Steps []struct {
					Uses string         `yaml:"uses"`
					With map[string]any `yaml:"with"`
				} `yaml:"steps"`
			} `yaml:"jobs"`
		}
		if err := yaml.Unmarshal([]byte(d.yaml), &wf); err != nil {
			continue // a fragment (runs:, env:) rather than a workflow
		}
		for _, job := range wf.Jobs {
			for _, st := range job.Steps {
				if st.Uses != "./" && !strings.HasPrefix(st.Uses, "oci-attest/oci-attest@") {
					continue
				}
				uses++
				for k := range st.With {
					if _, ok := declared[k]; !ok {
						t.Errorf("%s: with: %s is not an input of action.yml", d.name, k)
					}
				}
				if _, ok := st.With["subject-path"]; !ok {
					t.Errorf("%s: the step lacks the required input subject-path", d.name)
				}
			}
		}
	}
	if uses < 3 {
		t.Errorf("found %d uses of the action in README.md, docs and .github/workflows, want at least 3 (README, ci, release)", uses)
	}
}

// TestDocsGoldenCommand holds CONTRIBUTING.md's golden-file update command
// to the packages whose tests define -update: a package listed without the
// flag fails the command ("flag provided but not defined"), one left out is
// never updated.
func TestDocsGoldenCommand(t *testing.T) {
	contributing, err := os.ReadFile(filepath.Join(repoRoot, "CONTRIBUTING.md"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("`go test ((?:\\./\\S+ )+)-run '[^']*' -update`").FindSubmatch(contributing)
	if m == nil {
		t.Fatal("CONTRIBUTING.md has no golden-file update command of the form `go test ./pkg … -run '…' -update`")
	}
	documented := strings.Fields(string(m[1]))
	var defining []string
	err = filepath.WalkDir(filepath.Join(repoRoot, "internal"), func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, "_test.go") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if bytes.Contains(b, []byte(`flag.Bool("update"`)) {
			rel, _ := filepath.Rel(repoRoot, filepath.Dir(p))
			defining = append(defining, "./"+filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(defining)
	defining = slices.Compact(defining)
	slices.Sort(documented)
	if diff := cmp.Diff(defining, documented); diff != "" {
		t.Errorf("CONTRIBUTING.md's golden command packages (-defining +documented):\n%s", diff)
	}
}
