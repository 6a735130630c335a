package main

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
	yaml "go.yaml.in/yaml/v3"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

const (
	hex64 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	good  = "ghcr.io/oci-attest/oci-attest:v1.2.3@sha256:" + hex64
)

// TestGolden runs the command on each testdata/NAME.yml and compares its exit
// code, stdout, stderr and — when it succeeds — the rewritten file with
// testdata/NAME.golden (-update rewrites them). A refusal must leave the file
// as it was; a success must change only the bytes of runs.image's line and be
// idempotent.
func TestGolden(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string   // golden file name
		input string   // testdata/INPUT.yml; default name
		args  []string // ACTION is the action.yml's path; appended when absent
	}{
		// Pinned: every quoting style, comments, flow style, line endings.
		{name: "plain"},
		{name: "single-quoted"},
		{name: "double-quoted-comment"},
		{name: "plain-comment"},
		{name: "crlf"},
		{name: "repin"},
		{name: "no-trailing-newline"},
		{name: "value-next-line"},
		{name: "flow"},
		{name: "flow-last"},
		{name: "lowercased", input: "plain", args: []string{"-image", "ghcr.io/OCI-Attest/OCI-Attest:v1.2.3@sha256:" + hex64}},
		{name: "docker-hub", input: "plain", args: []string{"-image", "oci-attest/oci-attest@sha256:" + hex64}},

		// Refused: the image.
		{name: "image-no-digest", input: "plain", args: []string{"-image", "ghcr.io/oci-attest/oci-attest:v1.2.3"}},
		{name: "image-sha512", input: "plain", args: []string{"-image", "ghcr.io/oci-attest/oci-attest@sha512:" + hex64 + hex64}},
		{name: "image-uppercase-hex", input: "plain", args: []string{"-image", "ghcr.io/oci-attest/oci-attest@sha256:" + strings.ToUpper(hex64)}},
		{name: "image-short-hex", input: "plain", args: []string{"-image", "ghcr.io/oci-attest/oci-attest@sha256:" + hex64[1:]}},
		{name: "image-unknown-algorithm", input: "plain", args: []string{"-image", "ghcr.io/oci-attest/oci-attest@md5:d41d8cd98f00b204e9800998ecf8427e"}},
		{name: "image-docker-scheme", input: "plain", args: []string{"-image", "docker://" + good}},
		{name: "image-invalid", input: "plain", args: []string{"-image", "ghcr.io/oci-attest/oci attest@sha256:" + hex64}},
		{name: "image-missing", input: "plain", args: []string{}},

		// Refused: the command line.
		{name: "usage-no-file", input: "-", args: []string{"-image", good}},
		{name: "usage-two-files", input: "plain", args: []string{"-image", good, "ACTION", "other.yml"}},
		{name: "usage-unknown-flag", input: "plain", args: []string{"-image", good, "-force", "ACTION"}},
		{name: "usage-file-missing", input: "-", args: []string{"-image", good, "missing.yml"}},

		// Refused: the action.yml.
		{name: "node"},
		{name: "composite"},
		{name: "using-docker-capital"},
		{name: "no-runs"},
		{name: "runs-scalar"},
		{name: "no-using"},
		{name: "using-twice"},
		{name: "no-image"},
		{name: "image-twice"},
		{name: "runs-twice"},
		{name: "image-block"},
		{name: "image-multiline"},
		{name: "image-quoted-multiline"},
		{name: "image-list"},
		{name: "image-number"},
		{name: "image-alias"},
		{name: "merge-key"},
		{name: "not-yaml"},
		{name: "two-documents"},
		{name: "empty"},
		{name: "list"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			input := c.input
			if input == "" {
				input = c.name
			}
			args := append([]string(nil), c.args...)
			if c.args == nil {
				args = []string{"-image", good}
			}
			var src []byte
			path := filepath.Join(dir, "action.yml")
			if input != "-" {
				var err error
				src, err = os.ReadFile(filepath.Join("testdata", input+".yml"))
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, src, 0o640); err != nil {
					t.Fatal(err)
				}
				if !slices.Contains(args, "ACTION") {
					args = append(args, "ACTION")
				}
			}
			for i, a := range args {
				switch a {
				case "ACTION":
					args[i] = path
				case "other.yml", "missing.yml":
					args[i] = filepath.Join(dir, a)
				}
			}
			var stdout, stderr bytes.Buffer
			code := run(args, &stdout, &stderr)
			got := fmt.Sprintf("exit %d\n--- stdout\n%s--- stderr\n%s", code, stdout.String(), stderr.String())
			after, err := os.ReadFile(path)
			if err == nil && code == 0 {
				got += "--- action.yml\n" + string(after)
			}
			got = strings.ReplaceAll(got, dir+string(filepath.Separator), "")
			golden := filepath.Join("testdata", c.name+".golden")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("%s differs (-want +got):\n%s", golden, diff)
			}
			if src == nil {
				return
			}
			if code != 0 {
				if !bytes.Equal(after, src) {
					t.Errorf("a refusal (exit %d) changed the file", code)
				}
				return
			}
			checkOneLineChanged(t, src, after)
			info, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if info.Mode().Perm() != 0o640 {
				t.Errorf("the file's mode is %v, want the original -rw-r-----", info.Mode().Perm())
			}
			// Idempotent: pinning the pinned file again changes nothing.
			if code := run(args, &bytes.Buffer{}, &bytes.Buffer{}); code != 0 {
				t.Fatalf("pinning again: exit %d", code)
			}
			again, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again, after) {
				t.Errorf("pinning again changed the file:\n%s", cmp.Diff(string(after), string(again)))
			}
		})
	}
}

// checkOneLineChanged fails unless before and after differ within one line
// only: the bytes up to that line's start and from its end on are the same.
func checkOneLineChanged(t *testing.T, before, after []byte) {
	t.Helper()
	p := 0
	for p < len(before) && p < len(after) && before[p] == after[p] {
		p++
	}
	s := 0
	for s < len(before)-p && s < len(after)-p && before[len(before)-1-s] == after[len(after)-1-s] {
		s++
	}
	changedBefore := before[p : len(before)-s]
	changedAfter := after[p : len(after)-s]
	if bytes.ContainsAny(changedBefore, "\r\n") || bytes.ContainsAny(changedAfter, "\r\n") {
		t.Errorf("the change spans more than one line: %q became %q", changedBefore, changedAfter)
	}
}

// TestReleaseActionYAML makes the release commit's action.yml from the
// repository's own and checks what users of the release get: a docker action
// that runs the image pinned by digest, with every input and output — and
// every other key — exactly as on main.
func TestReleaseActionYAML(t *testing.T) {
	t.Parallel()
	mainYAML, err := os.ReadFile(filepath.Join("..", "..", "action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "action.yml")
	if err := os.WriteFile(path, mainYAML, 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	image := "ghcr.io/oci-attest/oci-attest:v1.2.3@sha256:" + hex64
	if code := run([]string{"-image", image, path}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	release, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	checkOneLineChanged(t, mainYAML, release)

	type action struct {
		Name        string                    `yaml:"name"`
		Description string                    `yaml:"description"`
		Author      string                    `yaml:"author"`
		Branding    map[string]string         `yaml:"branding"`
		Inputs      map[string]map[string]any `yaml:"inputs"`
		Outputs     map[string]map[string]any `yaml:"outputs"`
		Runs        map[string]any            `yaml:"runs"`
	}
	parse := func(name string, b []byte) (action, map[string]any) {
		var a action
		var all map[string]any
		// Strict: an unknown top-level key or a duplicated key fails.
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		if err := dec.Decode(&a); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := yaml.Unmarshal(b, &all); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return a, all
	}
	m, mAll := parse("main's action.yml", mainYAML)
	r, rAll := parse("the release's action.yml", release)

	if m.Runs["using"] != "docker" || m.Runs["image"] != "Dockerfile" {
		t.Errorf("main's action.yml runs %v, want using: docker, image: Dockerfile (CI and uses: ./ test the source)", m.Runs)
	}
	if r.Runs["using"] != "docker" {
		t.Errorf("the release's runs.using = %v, want docker", r.Runs["using"])
	}
	img, _ := r.Runs["image"].(string)
	if img != "docker://"+image {
		t.Errorf("the release's runs.image = %q, want %q", img, "docker://"+image)
	}
	if !regexp.MustCompile(`^docker://[^@\s]+@sha256:[0-9a-f]{64}$`).MatchString(img) {
		t.Errorf("the release's runs.image %q is not pinned by a sha256 digest", img)
	}
	if len(m.Inputs) == 0 || len(m.Outputs) == 0 {
		t.Fatalf("main's action.yml has %d inputs and %d outputs; the test reads the wrong file", len(m.Inputs), len(m.Outputs))
	}
	if diff := cmp.Diff(m.Inputs, r.Inputs); diff != "" {
		t.Errorf("inputs changed (-main +release):\n%s", diff)
	}
	if diff := cmp.Diff(m.Outputs, r.Outputs); diff != "" {
		t.Errorf("outputs changed (-main +release):\n%s", diff)
	}
	// Everything else too: the two documents differ in runs.image only.
	mAll["runs"].(map[string]any)["image"] = img
	if diff := cmp.Diff(mAll, rAll); diff != "" {
		t.Errorf("the release's action.yml differs in more than runs.image (-main +release):\n%s", diff)
	}
}

// TestPinChecksTheResult gives pin values that would not read back as
// written: the re-parse of the rewritten file must catch each one, so no
// rewrite that changes the document in another way is ever written.
func TestPinChecksTheResult(t *testing.T) {
	t.Parallel()
	src, err := os.ReadFile(filepath.Join("testdata", "plain.yml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, value := range []string{
		"docker://x # a comment, not part of the value",
		"docker://x\n  using: node20",
		"[docker://x]",
	} {
		if _, err := pin(src, value); err == nil || !strings.Contains(err.Error(), "edit it by hand") {
			t.Errorf("pin(%q) = %v, want the re-parse to refuse it", value, err)
		}
	}
}
