package cli

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/oci-attest/oci-attest/internal/attest"
	"github.com/oci-attest/oci-attest/internal/oci/ocitest"
)

// TestDryRunGolden runs the dry run on every generated archive and holds
// the statement to a golden file; the fields that can be computed without
// our scanner are recomputed here independently.
func TestDryRunGolden(t *testing.T) {
	t.Parallel()
	archives, err := filepath.Glob(filepath.Join(testdataDir, "archives", "*.tar"))
	if err != nil || len(archives) == 0 {
		t.Fatalf("no archives in testdata/archives (go run ./internal/oci/ocitest/gen -out testdata/archives): %v", err)
	}
	for _, archive := range archives {
		name := strings.TrimSuffix(filepath.Base(archive), ".tar")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			stPath := filepath.Join(t.TempDir(), "statement.json")
			stdout, stderr, err := runCLI(t, env{}, "--subject-path", archive, "--dry-run", "--statement-path", stPath)
			if err != nil {
				t.Fatalf("dry run error = %v\n%s", err, stderr)
			}
			// stdout is the statements, indented for people: one per image
			// attested (every platform, every tagged image); statement-path
			// holds the first, the others are beside it by image ID.
			// Several are one JSON array.
			var printed []any
			if err := json.Unmarshal([]byte(stdout), &printed); err != nil {
				var one any
				if err := json.Unmarshal([]byte(stdout), &one); err != nil {
					t.Fatalf("stdout is not the statements: %v\n%s", err, stdout)
				}
				printed = []any{one}
			}
			goldens, _ := filepath.Glob(filepath.Join(testdataDir, "golden", name+".*statement.json"))
			if !*update && len(printed) != len(goldens) {
				t.Fatalf("dry run printed %d statements, want %d (the golden files %v)", len(printed), len(goldens), goldens)
			}
			for i, a := range printed {
				file := stPath
				if i > 0 {
					id := a.(map[string]any)["predicate"].(map[string]any)["imageid"].(map[string]any)["sha256"].(string)
					file = filepath.Join(filepath.Dir(stPath), id+".statement.json")
				}
				got, err := os.ReadFile(file)
				if err != nil {
					t.Fatal(err)
				}
				_, p, err := attest.ParseStatement(got)
				if err != nil || p == nil {
					t.Fatalf("ParseStatement(%s) = %v, %v", file, p, err)
				}
				var b any
				_ = json.Unmarshal(got, &b)
				if diff := cmp.Diff(b, a); diff != "" {
					t.Errorf("stdout and %s differ:\n%s", file, diff)
				}
				raw, _ := os.ReadFile(archive)
				sum := sha256.Sum256(raw)
				if p.TarDigest["sha256"] != hex.EncodeToString(sum[:]) {
					t.Errorf("tardigest = %s, want sha256 of the file %x", p.TarDigest["sha256"], sum)
				}
				msum := sha256.Sum256(p.ManifestRaw)
				if p.ManifestDigest["sha256"] != hex.EncodeToString(msum[:]) {
					t.Errorf("manifestdigest = %s, want sha256 of manifestraw %x", p.ManifestDigest["sha256"], msum)
				}
				golden := filepath.Join(testdataDir, "golden", name+".statement.json")
				if i > 0 {
					golden = filepath.Join(testdataDir, "golden", fmt.Sprintf("%s.%d.statement.json", name, i+1))
				}
				if *update {
					_ = os.MkdirAll(filepath.Dir(golden), 0o755)
					if err := os.WriteFile(golden, got, 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("reading golden file (go test -run TestDryRunGolden -update .): %v", err)
				}
				if diff := cmp.Diff(string(want), string(got)); diff != "" {
					t.Errorf("statement differs from %s (-want +got):\n%s", golden, diff)
				}
			}
		})
	}
}

// TestBadArchiveNeverSigned: a malformed archive stops the run before
// signing — no bundle, no statement.
func TestBadArchiveNeverSigned(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.tar")
	good, err := os.ReadFile(filepath.Join(testdataDir, "archives", "docker25.tar"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, good[:len(good)/2], 0o644); err != nil { // truncated
		t.Fatal(err)
	}
	bundle, stmt := filepath.Join(dir, "b.json"), filepath.Join(dir, "s.json")
	_, stderr, err := runCLI(t, env{}, "--subject-path", bad, "--signing-key", "ephemeral",
		"--push-to-registry=false", "--bundle-path", bundle, "--statement-path", stmt)
	if err == nil {
		t.Fatal("run(truncated archive) error = nil, want an error")
	}
	if ExitCode(err) == 0 {
		t.Errorf("exitCode = 0, want non-zero")
	}
	if !strings.Contains(stderr, bad) {
		t.Errorf("stderr = %q, want it to name the archive", stderr)
	}
	for _, p := range []string{bundle, stmt} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s was written for a bad archive", p)
		}
	}
}

// TestKeySignedLocally signs with an ephemeral key without a registry: the
// bundle is written and verifies with the key it names.
func TestKeySignedLocally(t *testing.T) {
	t.Parallel()
	bundle := filepath.Join(t.TempDir(), "b.sigstore.json")
	stdout, stderr, err := runCLI(t, env{}, "--subject-path", filepath.Join(testdataDir, "archives", "podman.tar"),
		"--signing-key", "ephemeral", "--push-to-registry=false", "--bundle-path", bundle)
	if err != nil {
		t.Fatalf("run() error = %v\n%s", err, stderr)
	}
	b, err := os.ReadFile(bundle)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("bundle is not JSON: %v", err)
	}
	if m["mediaType"] != "application/vnd.dev.sigstore.bundle.v0.3+json" {
		t.Errorf("bundle mediaType = %v", m["mediaType"])
	}
	if !strings.Contains(stderr, "not keyless") {
		t.Errorf("log = %q, want it to say the signature is not keyless", stderr)
	}
	if !strings.Contains(stdout, "bundle-path="+bundle+"\n") || !strings.Contains(stdout, "image-id=sha256:") {
		t.Errorf("stdout = %q, want the outputs as name=value lines", stdout)
	}
	stdout, _, err = runCLI(t, env{}, "--subject-path", filepath.Join(testdataDir, "archives", "podman.tar"),
		"--signing-key", "ephemeral", "--push-to-registry=false", "--bundle-path", bundle, "--output", "json")
	var outs struct {
		BundlePath   string `json:"bundle-path"`
		Attestations []struct {
			BundlePath string `json:"bundle-path"`
			ImageID    string `json:"image-id"`
		} `json:"attestations"`
	}
	if err != nil || json.Unmarshal([]byte(stdout), &outs) != nil || outs.BundlePath != bundle ||
		len(outs.Attestations) != 1 || outs.Attestations[0].BundlePath != bundle || !strings.HasPrefix(outs.Attestations[0].ImageID, "sha256:") {
		t.Errorf("--output json: stdout = %q, err = %v; want a JSON object of the outputs, attestations an array of one", stdout, err)
	}
}

// TestDefaultSubjectNameErrors: when subject-name defaults to the archive's
// tag, errors say so and what to set.
func TestDefaultSubjectNameErrors(t *testing.T) {
	t.Parallel()
	// An OCI layout tagged only "v1": no repository to resolve.
	_, _, err := runCLI(t, env{}, "--subject-path", filepath.Join(testdataDir, "archives", "oci-zstd.tar"), "--signing-key", "ephemeral")
	if err == nil || ExitCode(err) != 2 || !strings.Contains(err.Error(), "input subject-name:") || !strings.Contains(err.Error(), `"v1"`) {
		t.Errorf("run(bare tag) = %v, want an input subject-name error naming the tag", err)
	}
	// A tag naming an unreachable registry: the error names the defaulted tag.
	dir := t.TempDir()
	_, _, err = runCLI(t, env{}, "--subject-path", filepath.Join(testdataDir, "archives", "docker25.tar"), "--signing-key", "ephemeral",
		"--bundle-path", filepath.Join(dir, "b.json"))
	if err == nil || !strings.Contains(err.Error(), "subject-name defaulted to the archive's tag localhost/oci-attest/demo:v1") {
		t.Errorf("run(localhost tag) = %v, want the defaulted tag named", err)
	}
	if _, serr := os.Stat(filepath.Join(dir, "b.json")); serr == nil {
		t.Error("a bundle was written although the subject could not be resolved")
	}
}

// TestUntaggedArchiveNeedsSubjectName: an image without RepoTags names no
// repository, so a subject-digest (or a push) without subject-name is an
// input error instead of an attestation that silently leaves the registry
// image out.
func TestUntaggedArchiveNeedsSubjectName(t *testing.T) {
	t.Parallel()
	b, err := ocitest.Build(ocitest.Docker25, ocitest.Image{Layers: []ocitest.Layer{{Files: []ocitest.File{{Name: "a", Content: "a"}}}}})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	archive := filepath.Join(dir, "untagged.tar")
	if err := os.WriteFile(archive, b, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
	}{
		{"subject-digest", []string{"--push-to-registry=false", "--subject-digest", "sha256:" + strings.Repeat("a", 64)}},
		{"push", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			args := append([]string{"--subject-path", archive, "--signing-key", "ephemeral", "--bundle-path", filepath.Join(t.TempDir(), "b.json")}, tt.args...)
			_, stderr, err := runCLI(t, env{}, args...)
			if err == nil || ExitCode(err) != 2 || !strings.Contains(err.Error(), "input subject-name:") {
				t.Fatalf("run(%v) error = %v (exit %d), want an input error naming subject-name\n%s", args, err, ExitCode(err), stderr)
			}
		})
	}
}

// TestActionsWithoutRunnerFiles: GITHUB_ACTIONS=true without GITHUB_OUTPUT
// or GITHUB_STEP_SUMMARY (a local container run, other CI systems) is no
// panic: the run succeeds, warns once and prints the outputs in the log.
func TestActionsWithoutRunnerFiles(t *testing.T) {
	t.Parallel()
	e := env{
		"GITHUB_ACTIONS":     "true",
		"INPUT_SUBJECT-PATH": filepath.Join(testdataDir, "archives", "docker25.tar"),
		"INPUT_DRY-RUN":      "true",
	}
	stdout, _, err := runCLI(t, e)
	if err != nil {
		t.Fatalf("Run() = %v\n%s", err, stdout)
	}
	if !strings.Contains(stdout, "::warning::could not write the step's outputs") || !regexp.MustCompile(`output image-id=sha256:[0-9a-f]{64}`).MatchString(stdout) {
		t.Errorf("log lacks the warning and the outputs:\n%s", stdout)
	}
}
