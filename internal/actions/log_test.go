package actions

import (
	"bytes"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oci-attest/oci-attest/internal/testenv"
)

// TestLogDefusesWorkflowCommands: data in a log line (a tag from the archive,
// a registry's error, a status line) can never issue a workflow command in
// Actions: its line breaks — \n, and the bare \r the runner also breaks
// lines on — are escaped, and a line that would start with a command is
// defused.
func TestLogDefusesWorkflowCommands(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	log := New(true, &out, nil)
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
	log := New(true, &out, nil)
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

// TestOutputsCannotForgeOutputs: a value can neither end the heredoc of
// GITHUB_OUTPUT early nor add a line of its own.
func TestOutputsCannotForgeOutputs(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "output")
	log := New(true, io.Discard, func(k string) string { return map[string]string{"GITHUB_OUTPUT": file}[k] })
	log.SetOutput("a", "x\n_GitHubActionsFileCommandDelimeter_\nforged<<EOF\nyes\nEOF")
	log.SetOutput("b", "plain")
	got := testenv.ReadOutputs(t, file)
	if len(got) != 2 || got["b"] != "plain" || strings.Contains(got["a"], "\n") {
		t.Errorf("GITHUB_OUTPUT parses to %q, want a (one line) and b only", got)
	}
}
