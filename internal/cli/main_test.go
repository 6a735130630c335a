package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-attest/oci-attest/internal/attest"
	"github.com/oci-attest/oci-attest/internal/oci"
	"github.com/oci-attest/oci-attest/internal/oci/ocitest"
	"github.com/oci-attest/oci-attest/internal/ref"
	"github.com/oci-attest/oci-attest/internal/registry"
	"github.com/oci-attest/oci-attest/internal/sign"
)

// env is an injected environment (no os.Setenv: every test runs in parallel).
type env map[string]string

func (e env) get(k string) string { return e[k] }

func runCLI(t *testing.T, e env, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var o, s bytes.Buffer
	err = Run(context.Background(), args, e.get, &o, &s)
	return o.String(), s.String(), err
}

func TestValidateNamesTheInput(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	archive := filepath.Join(testdataDir, "archives", "docker25.tar")
	tests := []struct {
		name  string
		args  []string
		input string // the input the error must name
	}{
		{"missing subject-path", []string{"--dry-run"}, "subject-path"},
		{"subject-path does not exist", []string{"--subject-path", filepath.Join(dir, "nope.tar")}, "subject-path"},
		{"subject-path is a directory", []string{"--subject-path", dir}, "subject-path"},
		{"bad boolean", []string{"--subject-path", archive, "--dry-run=yes"}, "dry-run"},
		{"bad request-timeout", []string{"--subject-path", archive, "--request-timeout", "soon"}, "request-timeout"},
		{"request-timeout of zero", []string{"--subject-path", archive, "--request-timeout", "0s"}, "request-timeout"},
		{"bad referrers-mode", []string{"--subject-path", archive, "--referrers-mode", "both"}, "referrers-mode"},
		{"fallback-settle not a duration", []string{"--subject-path", archive, "--fallback-settle", "3 seconds"}, "fallback-settle"},
		{"fallback-settle too short", []string{"--subject-path", archive, "--fallback-settle", "10ms"}, "fallback-settle"},
		{"fallback-settle negative", []string{"--subject-path", archive, "--fallback-settle", "-3s"}, "fallback-settle"},
		{"bad sigstore", []string{"--subject-path", archive, "--sigstore", "staging"}, "sigstore"},
		{"custom without urls", []string{"--subject-path", archive, "--sigstore", "custom"}, "sigstore"},
		{"custom rekor without tsa", []string{"--subject-path", archive, "--sigstore", "custom", "--fulcio-url", "http://127.0.0.1:1", "--rekor-url", "http://127.0.0.1:2", "--trusted-root", archive}, "tsa-url"},
		{"custom key signing with tsa, no trusted-root", []string{"--subject-path", archive, "--sigstore", "custom", "--signing-key", "ephemeral", "--tsa-url", "http://127.0.0.1:2"}, "trusted-root"},
		{"bad fulcio-url", []string{"--subject-path", archive, "--fulcio-url", "fulcio:5555"}, "fulcio-url"},
		{"tsa-url without sigstore custom", []string{"--subject-path", archive, "--tsa-url", "http://127.0.0.1:2"}, "tsa-url"},
		{"fulcio-url with sigstore github", []string{"--subject-path", archive, "--sigstore", "github", "--fulcio-url", "https://fulcio.example"}, "fulcio-url"},
		{"bad subject-digest", []string{"--subject-path", archive, "--subject-digest", "sha256:abc"}, "subject-digest"},
		{"bad subject-name", []string{"--subject-path", archive, "--subject-name", "Bad Ref"}, "subject-name"},
		{"subject-name without tag or digest", []string{"--subject-path", archive, "--subject-name", "127.0.0.1:5001/me/app"}, "subject-name"},
		{"subject-digest contradicts subject-name", []string{"--subject-path", archive, "--subject-name", "127.0.0.1:5001/me/app@sha256:" + strings.Repeat("b", 64), "--subject-digest", "sha256:" + strings.Repeat("a", 64)}, "subject-digest"},
		{"push-image to a digest", []string{"--subject-path", archive, "--push-image", "--subject-name", "127.0.0.1:5001/me/app@sha256:" + strings.Repeat("b", 64)}, "subject-name"},
		{"public key as signing-key", []string{"--subject-path", archive, "--signing-key", pubKeyFile(t)}, "signing-key"},
		{"custom root lists a log, no rekor-url", []string{"--subject-path", archive, "--sigstore", "custom", "--fulcio-url", "http://127.0.0.1:1", "--tsa-url", "http://127.0.0.1:2", "--trusted-root", rootWithLog(t)}, "rekor-url"},
		{"gzip-compressed archive", []string{"--subject-path", gzipped(t, archive), "--dry-run"}, "subject-path"},
		{"missing signing-key file", []string{"--subject-path", archive, "--signing-key", filepath.Join(dir, "k.pem")}, "signing-key"},
		{"push-image without push", []string{"--subject-path", archive, "--push-image", "--push-to-registry=false"}, "push-image"},
		{"push-image with subject-digest", []string{"--subject-path", archive, "--push-image", "--subject-digest", "sha256:" + strings.Repeat("a", 64)}, "push-image"},
		{"bundle-path is a directory", []string{"--subject-path", archive, "--bundle-path", dir}, "bundle-path"},
		{"statement-path in a missing directory", []string{"--subject-path", archive, "--statement-path", filepath.Join(dir, "x", "s.json")}, "statement-path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, stderr, err := runCLI(t, env{}, tt.args...)
			if err == nil {
				t.Fatalf("run(%v) error = nil, want an error naming input %s", tt.args, tt.input)
			}
			if got := ExitCode(err); got != 2 {
				t.Errorf("ExitCode(%v) = %d, want 2", err, got)
			}
			if !strings.Contains(err.Error(), "input "+tt.input+":") {
				t.Errorf("run(%v) error = %q, want it to name input %s", tt.args, err, tt.input)
			}
			if !strings.Contains(stderr, err.Error()) {
				t.Errorf("stderr = %q, want the error printed", stderr)
			}
		})
	}
}

func TestActionsInputs(t *testing.T) {
	t.Parallel()
	hostTemp, hostWS := t.TempDir(), t.TempDir()
	e := env{
		"INPUT_SUBJECT-PATH":   "/host/temp/image.tar",
		"INPUT_DRY-RUN":        "TRUE",
		"INPUT_BUNDLE-PATH":    "out/b.json",
		"INPUT_STATEMENT-PATH": "/host/ws/s.json",
		"INPUT_RUNNER-TEMP":    "/host/temp",
		"INPUT_WORKSPACE":      "/host/ws",
		"RUNNER_TEMP":          hostTemp,
		"GITHUB_WORKSPACE":     hostWS,
	}
	c, err := readActionsConfig(e.get)
	if err != nil {
		t.Fatalf("readActionsConfig() error = %v", err)
	}
	want := &Config{
		SubjectPath:    filepath.Join(hostTemp, "image.tar"),
		BundlePath:     "out/b.json",
		StatementPath:  filepath.Join(hostWS, "s.json"),
		DryRun:         true,
		PushToRegistry: true,
		ReferrersMode:  "auto",
		FallbackSettle: "3s",
		Sigstore:       "auto",
		ShowSummary:    true,
		Actions:        true,
		RequestTimeout: time.Minute,

		GitHubAttestations: "auto",
	}
	if diff := cmp.Diff(want, c, cmp.AllowUnexported(Config{}), cmp.FilterPath(func(p cmp.Path) bool {
		return p.Last().String() == ".paths" || p.Last().String() == ".getenv" // a func: compared by identity
	}, cmp.Ignore())); diff != "" {
		t.Errorf("readActionsConfig() mismatch (-want +got):\n%s", diff)
	}
	if got, want := c.paths.toHost(filepath.Join(hostTemp, "oci-attest", "x.json")), "/host/temp/oci-attest/x.json"; got != want {
		t.Errorf("toHost() = %q, want %q", got, want)
	}
	if got := c.paths.toHost("/elsewhere/x"); got != "/elsewhere/x" {
		t.Errorf("toHost(/elsewhere/x) = %q, want it unchanged", got)
	}
}

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
			dec := json.NewDecoder(strings.NewReader(stdout))
			var printed []any
			for dec.More() {
				var a any
				if err := dec.Decode(&a); err != nil {
					t.Fatalf("stdout is not the statements: %v\n%s", err, stdout)
				}
				printed = append(printed, a)
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

// TestProgressLines: large archives log progress (bytes, percentage, MB/s)
// while they are hashed; the threshold is lowered so a small archive shows it.
func TestProgressLines(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	log := newLogger(false, &out, env{}.get)
	c := &Config{SubjectPath: filepath.Join(testdataDir, "archives", "multi-image.tar"), DryRun: true}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	_, err := attestFlow(context.Background(), c, env{}.get, log, io.Discard, deps{progressThreshold: -1, progressInterval: time.Nanosecond})
	if err != nil {
		t.Fatalf("attestFlow() error = %v", err)
	}
	if !regexp.MustCompile(`hashing: [0-9.]+ [KMG]?i?B of [0-9.]+ KiB \([0-9]+%\), [0-9]+ MB/s`).MatchString(out.String()) {
		t.Errorf("log has no progress line:\n%s", out.String())
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

// TestActionsPathsOutsideTheContainer: in a docker action only the workspace
// and runner.temp are shared with the job, so a bundle or statement written
// elsewhere would be lost with the container; it is an input error, and a
// missing archive outside them says where to put it.
func TestActionsPathsOutsideTheContainer(t *testing.T) {
	t.Parallel()
	containerTemp, containerWS, elsewhere := t.TempDir(), t.TempDir(), t.TempDir()
	src, err := os.ReadFile(filepath.Join(testdataDir, "archives", "docker25.tar"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(containerTemp, "image.tar"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	base := env{
		"INPUT_SUBJECT-PATH": "/host/temp/image.tar",
		"INPUT_DRY-RUN":      "true",
		"INPUT_RUNNER-TEMP":  "/host/temp",
		"INPUT_WORKSPACE":    "/host/ws",
		"RUNNER_TEMP":        containerTemp,
		"GITHUB_WORKSPACE":   containerWS,
	}
	tests := []struct {
		name  string
		with  env
		input string // "" when valid
	}{
		{"under runner.temp", env{"INPUT_BUNDLE-PATH": "/host/temp/b.json", "INPUT_STATEMENT-PATH": "/host/ws/s.json"}, ""},
		{"relative", env{"INPUT_BUNDLE-PATH": "b.json"}, ""},
		{"bundle-path elsewhere", env{"INPUT_BUNDLE-PATH": filepath.Join(elsewhere, "b.json")}, "bundle-path"},
		{"statement-path elsewhere", env{"INPUT_STATEMENT-PATH": filepath.Join(elsewhere, "s.json")}, "statement-path"},
		{"subject-path elsewhere", env{"INPUT_SUBJECT-PATH": filepath.Join(elsewhere, "image.tar")}, "subject-path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := env{}
			for k, v := range base {
				e[k] = v
			}
			for k, v := range tt.with {
				e[k] = v
			}
			c, err := readActionsConfig(e.get)
			if err != nil {
				t.Fatalf("readActionsConfig() error = %v", err)
			}
			err = c.Validate()
			switch {
			case tt.input == "" && err != nil:
				t.Fatalf("Validate() error = %v, want nil", err)
			case tt.input == "":
			case err == nil:
				t.Fatalf("Validate() error = nil, want an error naming input %s", tt.input)
			case !strings.Contains(err.Error(), "input "+tt.input+":") || !strings.Contains(err.Error(), "runner.temp"):
				t.Errorf("Validate() error = %q, want it to name input %s and say where to write", err, tt.input)
			}
		})
	}
}

// TestSummaryShowsHostPaths: the job summary names files as the job's steps
// see them, not as the action's container does.
func TestSummaryShowsHostPaths(t *testing.T) {
	t.Parallel()
	paths := pathMap{{host: "/home/runner/work/_temp", container: "/github/runner_temp"}}
	r := &attestResult{
		archive: &oci.Archive{Path: "/github/runner_temp/image.tar", Format: oci.FormatDocker},
		image:   &oci.Image{},
		bundle:  "/github/runner_temp/oci-attest/x.sigstore.json",
	}
	got := html.UnescapeString(summary(r, paths))
	for _, want := range []string{"<code>/home/runner/work/_temp/image.tar</code>", "<code>/home/runner/work/_temp/oci-attest/x.sigstore.json</code>"} {
		if !strings.Contains(got, want) {
			t.Errorf("summary() lacks %s:\n%s", want, got)
		}
	}
	if strings.Contains(got, "/github/runner_temp") {
		t.Errorf("summary() shows a container path:\n%s", got)
	}
}

// TestSummaryVerifyCommandsNeedAReferrer: with push-to-registry: false the
// subject is resolved but nothing is attached, so the summary must not offer
// verify commands that could only find nothing.
func TestSummaryVerifyCommandsNeedAReferrer(t *testing.T) {
	t.Parallel()
	r := &attestResult{
		archive: &oci.Archive{Path: "image.tar", Format: oci.FormatDocker},
		image:   &oci.Image{},
		subject: &registry.Subject{Repository: ref.Reference{Registry: "registry.example", Repository: "app"}},
		signed:  &sign.Result{Identity: "https://github.com/o/r/.github/workflows/w.yml@refs/heads/main", Issuer: "https://token.actions.githubusercontent.com", Instance: "public-good", LogIndex: -1},
		bundle:  "b.json",
	}
	if got := summary(r, nil); strings.Contains(got, "verify") {
		t.Errorf("summary() without a pushed referrer offers verify commands:\n%s", got)
	}
	r.attached = &registry.AttachResult{}
	if got := summary(r, nil); !strings.Contains(got, "oci-attest verify registry.example/app@") || !strings.Contains(got, "cosign verify-attestation") {
		t.Errorf("summary() with a referrer lacks the verify commands:\n%s", got)
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

// TestLogDefusesWorkflowCommands: data in a log line (a tag from the archive,
// a registry's error, a status line) can never issue a workflow command in
// Actions: its line breaks — \n, and the bare \r the runner also breaks
// lines on — are escaped, and a line that would start with a command is
// defused.
func TestLogDefusesWorkflowCommands(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	log := newLogger(true, &out, env{}.get)
	log.Infof("tags %v", []string{"app:1\n::stop-commands::pwned", "x\n  ##[set-output name=a]b"})
	log.Infof("probe: %s", "404 Not Found\r::add-mask::oci")
	log.Infof("%s", "::error::forged at the start of a line")
	log.Warnf("registry said %v", errors.New("busy\r\n::error::forged"))
	log.Group("Pushing to \r::endgroup::")
	log.EndGroup()
	for _, line := range strings.FieldsFunc(out.String(), func(r rune) bool { return r == '\n' || r == '\r' }) {
		tr := strings.TrimLeft(line, " \t")
		if strings.HasPrefix(tr, "##[") || (strings.HasPrefix(tr, "::") && !strings.HasPrefix(tr, "::group::") && tr != "::endgroup::" && !strings.HasPrefix(tr, "::warning::")) {
			t.Errorf("log line %q would be a workflow command", line)
		}
	}
	for _, want := range []string{`app:1\n::stop-commands::pwned`, `404 Not Found\r::add-mask::oci`, "| ::error::forged at the start", `busy\r\n::error::forged`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("log = %q, want the data kept, escaped or defused: %q", out.String(), want)
		}
	}
}

// TestMaskEscapesTheSecret: a secret with a line break in it (a token
// service's odd answer) is registered with the runner escaped as
// @actions/core escapes it, so it cannot start a workflow command of its
// own, and our own lines never carry it.
func TestMaskEscapesTheSecret(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	log := newLogger(true, &out, env{}.get)
	const secret = "tok%en\r\n::error::forged\nrest"
	log.Mask(secret)
	log.Infof("token is %s", secret)
	if want := "::add-mask::tok%25en%0D%0A::error::forged%0Arest\n"; !strings.HasPrefix(out.String(), want) {
		t.Errorf("log starts %q, want %q", out.String(), want)
	}
	for _, line := range strings.FieldsFunc(out.String(), func(r rune) bool { return r == '\n' || r == '\r' }) {
		if strings.HasPrefix(line, "::error::") {
			t.Errorf("log line %q is a workflow command", line)
		}
	}
	if _, after, _ := strings.Cut(out.String(), "\n"); strings.Contains(after, "tok%en") || !strings.Contains(after, "token is ***") {
		t.Errorf("log after the mask command = %q, want the secret redacted as ***", after)
	}
}

// TestJSONSafe: JSON that reaches an output or stdout whole keeps decoding
// to the same value while no rune clean would escape shows raw; the
// indentation's line breaks stay.
func TestJSONSafe(t *testing.T) {
	t.Parallel()
	in := map[string]string{"platform": "linux/\x7f\u0085arm\u2028\u202e64", "tag": "app:v1"}
	for _, indent := range []bool{false, true} {
		b, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		if indent {
			var buf bytes.Buffer
			if err := json.Indent(&buf, b, "", "  "); err != nil {
				t.Fatal(err)
			}
			b = buf.Bytes()
		}
		got := jsonSafe(b)
		var back map[string]string
		if err := json.Unmarshal(got, &back); err != nil || back["platform"] != in["platform"] || back["tag"] != in["tag"] {
			t.Errorf("jsonSafe(%q) = %q decodes to %q (%v), want %q", b, got, back, err, in)
		}
		if strings.Contains(clean(string(got)), `\x`) || (!indent && clean(string(got)) != string(got)) {
			t.Errorf("jsonSafe(%q) = %q still holds runes clean escapes", b, got)
		}
		if indent && !bytes.Contains(got, []byte("{\n  ")) {
			t.Errorf("jsonSafe(%q) = %q lost the indentation", b, got)
		}
	}
	if b := []byte(`{"a":"plain"}`); string(jsonSafe(b)) != string(b) {
		t.Errorf("jsonSafe changed plain JSON: %q", jsonSafe(b))
	}
}

// TestCleanArgsNamedString: a named string type without a String method
// is cleaned like a string.
func TestCleanArgsNamedString(t *testing.T) {
	t.Parallel()
	type format string
	if got := fmt.Sprintf("%s", cleanArgs([]any{format("a\nb")})...); got != `a\nb` {
		t.Errorf("cleanArgs(format) printed %q, want %q", got, `a\nb`)
	}
}

// TestValidateReadsTheGitHubEnvironment: the signing check sees the
// environment the run signs in. sigstore: github on a GitHub Enterprise
// host has no known TUF repository: exit 2 before anything is hashed or
// pushed, not a failure after the push.
func TestValidateReadsTheGitHubEnvironment(t *testing.T) {
	t.Parallel()
	archive := filepath.Join(testdataDir, "archives", "docker25.tar")
	_, _, err := runCLI(t, env{"GITHUB_SERVER_URL": "https://acme.ghe.com"}, "--subject-path", archive, "--sigstore", "github",
		"--subject-name", "127.0.0.1:1/never/contacted:v1", "--push-image")
	if err == nil || ExitCode(err) != 2 || !strings.Contains(err.Error(), "input ") {
		t.Fatalf("run on a GHE.com host with sigstore github = %v (exit %d), want exit 2 naming an input", err, ExitCode(err))
	}
	if strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("error %q mentions the registry: the check came after contacting it", err)
	}
	t.Logf("error: %v", err)
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

// TestOutputsCannotForgeOutputs: a value can neither end the heredoc of
// GITHUB_OUTPUT early nor add a line of its own.
func TestOutputsCannotForgeOutputs(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "output")
	log := newLogger(true, io.Discard, env{"GITHUB_OUTPUT": file}.get)
	log.SetOutput("a", "x\n_GitHubActionsFileCommandDelimeter_\nforged<<EOF\nyes\nEOF")
	log.SetOutput("b", "plain")
	got := readOutputs(t, file)
	if len(got) != 2 || got["b"] != "plain" || strings.Contains(got["a"], "\n") {
		t.Errorf("GITHUB_OUTPUT parses to %q, want a (one line) and b only", got)
	}
}

// TestSummaryHeadline: the summary opens with one sentence that says what
// was attested, where it is attached, who signed and that it was verified;
// key-signed runs get their verify commands too.
func TestSummaryHeadline(t *testing.T) {
	t.Parallel()
	d := digest.Digest("sha256:" + strings.Repeat("e", 64))
	base := func() *attestResult {
		return &attestResult{
			archive: &oci.Archive{Path: "image.tar", Format: oci.FormatDocker},
			image:   &oci.Image{RepoTags: []string{"ghcr.io/o/app:1.0"}, ImageID: digest.Digest("sha256:" + strings.Repeat("a", 64))},
			subject: &registry.Subject{Repository: ref.Reference{Registry: "ghcr.io", Repository: "o/app"}, Descriptor: ocispec.Descriptor{Digest: d}, Image: ocispec.Descriptor{Digest: d}},
			bundle:  "b.json",
		}
	}
	keyless := base()
	keyless.signed = &sign.Result{Identity: "https://github.com/o/app/.github/workflows/release.yml@refs/tags/v1", Issuer: "https://token.actions.githubusercontent.com", Instance: sign.InstancePublicGood, LogIndex: 7}
	keyless.attached = &registry.AttachResult{ReferrersTag: "sha256-" + strings.Repeat("e", 64)}
	got := html.UnescapeString(summary(keyless, nil))
	first := strings.SplitN(strings.TrimPrefix(got, "## oci-attest\n\n"), "\n", 2)[0]
	for _, want := range []string{"**Attested <code>ghcr.io/o/app:1.0</code>**", "sha256:aaaaaaaaaaaa…", "attached to <code>ghcr.io/o/app@sha256:eeeeeeeeeeee…</code> (referrers fallback tag)", "signed keylessly by <code>https://github.com/o/app/.github/workflows/release.yml@refs/tags/v1</code>", "verified before it was published"} {
		if !strings.Contains(first, want) {
			t.Errorf("summary's first line lacks %q:\n%s", want, first)
		}
	}
	keyed := base()
	keyed.signed = &sign.Result{KeyHint: "abcdefghijklmnop", Instance: "key", LogIndex: -1}
	keyed.attached = &registry.AttachResult{}
	keyed.publicKey = "b.json.pub"
	got = summary(keyed, nil)
	for _, want := range []string{"signed with key <code>abcdefghijkl…</code> (not keyless)", "oci-attest verify ghcr.io/o/app@sha256:" + strings.Repeat("e", 64) + " --key b.json.pub", "cosign verify-attestation --type https://aflock.ai/attestations/oci/v0.1 --key b.json.pub --insecure-ignore-tlog"} {
		if !strings.Contains(got, want) {
			t.Errorf("key-signed summary lacks %q:\n%s", want, got)
		}
	}
}

// TestSummaryEscapesData: nothing from the archive or a registry can add a
// line, a table cell or markup to the summary.
func TestSummaryEscapesData(t *testing.T) {
	t.Parallel()
	r := &attestResult{
		archive:  &oci.Archive{Path: "image.tar", Format: oci.FormatDocker},
		image:    &oci.Image{RepoTags: []string{"app:1|x\n## forged", "b`<img src=x>`"}},
		subject:  &registry.Subject{Repository: ref.Reference{Registry: "r.example", Repository: "app"}},
		attached: &registry.AttachResult{Reason: "the referrers API answered 404 Not Found\r\n| forged | row |"},
		signed:   &sign.Result{KeyHint: "k", LogIndex: -1},
		bundle:   "b.json",
	}
	got := summary(r, nil)
	for _, line := range strings.Split(got, "\n") {
		if strings.HasPrefix(line, "## forged") || strings.HasPrefix(line, "| forged") || strings.Contains(line, "<img") || strings.Contains(line, "\r") {
			t.Errorf("summary line %q carries data as markup", line)
		}
		if strings.HasPrefix(line, "| ") && strings.Count(line, "|") != 3 {
			t.Errorf("summary row %q has more than two cells", line)
		}
	}
}

// TestUnknownFlagSuggests: a mistyped flag is one line with the flag it
// resembles (no 40 lines of usage), exit 2, for every command.
func TestUnknownFlagSuggests(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--subject-pth", "x.tar"}, "unknown flag --subject-pth: did you mean --subject-path?"},
		{[]string{"verify", "--outptu", "json"}, "unknown flag --outptu: did you mean --output?"},
		{[]string{"demo", "--kep"}, "unknown flag --kep: did you mean --keep?"},
		{[]string{"--zzzzzzzz"}, "unknown flag --zzzzzzzz (--help lists the flags)"},
	} {
		_, stderr, err := runCLI(t, env{}, tc.args...)
		if ExitCode(err) != 2 || !strings.Contains(stderr, tc.want) || strings.Count(stderr, "\n") > 1 {
			t.Errorf("run(%v) = exit %d, stderr %q; want exit 2 and one line with %q", tc.args, ExitCode(err), stderr, tc.want)
		}
	}
	// --help shows each default once, in the flag's own words.
	_, stderr, err := runCLI(t, env{}, "--help")
	if err != nil && ExitCode(err) != 0 || !strings.Contains(stderr, "--output VALUE") || strings.Contains(stderr, "(default ") {
		t.Errorf("--help = %v:\n%s", err, stderr)
	}
}

// TestDemo runs the README's first command: the whole flow against both
// embedded registries, ending with a tampered archive being caught.
func TestDemo(t *testing.T) {
	t.Parallel()
	stdout, stderr, err := runCLI(t, env{}, "demo")
	if err != nil {
		t.Fatalf("demo = %v\n%s%s", err, stdout, stderr)
	}
	for _, want := range []string{
		"no fallback tag written", "the fallback tag sha256-", "image.tar matches",
		"4. A tampered copy", "caught: the signature verifies, but the archive is not the attested image", "imageid", "diffids[1]",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("demo output lacks %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout, "registry requests") {
		t.Errorf("demo output still counts requests:\n%s", stdout)
	}
}

// TestLayerProgressLines: a layer decompressed after the read (a small
// archive may hold a layer of many GiB of zeros) logs its progress, however
// small the archive.
func TestLayerProgressLines(t *testing.T) {
	t.Parallel()
	stored, diffID := ocitest.ZerosLayer(128<<20, oci.CompressionZstd)
	path := filepath.Join(t.TempDir(), "zeros.tar")
	if err := os.WriteFile(path, ocitest.Tar(ocitest.DockerArchive("localhost/zeros:v1", ocitest.StoredLayer{Path: "l/layer.tar", Stored: stored, DiffID: diffID})), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	log := newLogger(false, &out, env{}.get)
	c := &Config{SubjectPath: path, DryRun: true}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	units, err := attestFlow(context.Background(), c, env{}.get, log, io.Discard, deps{progressInterval: time.Nanosecond})
	if err != nil || len(units) != 1 {
		t.Fatalf("attestFlow() = %d unit(s), error %v; want one", len(units), err)
	}
	if got := units[0].image.DiffIDs[0].String(); got != diffID {
		t.Errorf("diffID %s, want %s", got, diffID)
	}
	if !regexp.MustCompile(`decompressing layer l/layer.tar: [0-9.]+ [KMG]?i?B of [0-9.]+ KiB read, [0-9.]+ [KMG]?i?B decompressed`).MatchString(out.String()) {
		t.Errorf("log has no layer progress line:\n%.2000s", out.String())
	}
}

// TestAttr: a URL in the summary's href cannot end the attribute.
func TestAttr(t *testing.T) {
	t.Parallel()
	if got, want := attr(`https://x/a?b=1&c="d"<e>`), `https://x/a?b=1&amp;c=&quot;d&quot;&lt;e&gt;`; got != want {
		t.Errorf("attr() = %q, want %q", got, want)
	}
}
