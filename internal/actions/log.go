// Package actions is oci-attest's I/O with GitHub Actions and the terminal:
// the one logger that writes to the Actions log (workflow commands, groups,
// annotations) or the terminal, masking secrets and defusing workflow
// commands in data; the step outputs (GITHUB_OUTPUT, or name=value lines and
// JSON for the CLI); and the job summary (GITHUB_STEP_SUMMARY), rendered
// from the attest pipeline's Result. Every other package is silent
// (ARCHITECTURE.md, "Packages").
package actions

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"

	"github.com/sethvargo/go-githubactions"

	"github.com/oci-attest/oci-attest/internal/display"
)

// Logger is the one place that writes to the Actions log or the terminal
// (the packages below cli are silent). In Actions it speaks workflow
// commands through go-githubactions; on a terminal it writes plain lines.
//
// Every message's arguments are cleaned (internal/display): data from an archive, a
// registry or a service can never start a line, and so never issue a
// workflow command. Every line passes through the redactor: a secret
// registered with Mask is replaced by *** even where the runner's own
// masking does not apply (the CLI, the job summary file).
type Logger struct {
	mu sync.Mutex
	// wmu serialises writes to w: archives are read side by side, and
	// their progress lines must not interleave.
	wmu     sync.Mutex
	gha     *githubactions.Action // nil outside Actions
	getenv  func(string) string
	w       io.Writer
	secrets []string
	outputs map[string]string
	order   []string
	// fileErr is the first failure to write GITHUB_OUTPUT or
	// GITHUB_STEP_SUMMARY; see Flush.
	fileErr error
}

// New returns the logger of a run: in GitHub Actions (actions true) it speaks
// workflow commands to w and writes the runner's files named by getenv's
// GITHUB_OUTPUT and GITHUB_STEP_SUMMARY; elsewhere it writes plain lines.
func New(actions bool, w io.Writer, getenv func(string) string) *Logger {
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	l := &Logger{w: w, getenv: getenv, outputs: map[string]string{}}
	if actions {
		l.gha = githubactions.New(githubactions.WithWriter(redactWriter{l}), githubactions.WithGetenv(getenv))
	}
	return l
}

// redactWriter sends output through the redactor.
type redactWriter struct{ l *Logger }

func (r redactWriter) Write(p []byte) (int, error) {
	s := r.l.redact(string(p))
	r.l.wmu.Lock()
	defer r.l.wmu.Unlock()
	if _, err := io.WriteString(r.l.w, s); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Mask registers a secret: the runner masks it from then on (::add-mask::)
// and our own output never carries it.
func (l *Logger) Mask(secret string) {
	if len(secret) < 4 { // masking "a" would garble every line
		return
	}
	l.mu.Lock()
	l.secrets = append(l.secrets, secret)
	if c := display.Clean(secret); c != secret {
		// Messages are cleaned before they are redacted: a secret with a
		// control character in it reaches the redactor in its escaped form.
		l.secrets = append(l.secrets, c)
	}
	sort.Slice(l.secrets, func(i, j int) bool { return len(l.secrets[i]) > len(l.secrets[j]) })
	l.mu.Unlock()
	if l.gha != nil {
		// Written directly: the redactor would mask the mask command itself.
		// The command escapes the secret as @actions/core does (%, \r, \n
		// as %25, %0D, %0A; the runner decodes them): a secret from a
		// service with a line break in it cannot start a command of its own.
		cmd := githubactions.Command{Name: "add-mask", Message: secret}
		l.wmu.Lock()
		fmt.Fprintf(l.w, "%s\n", cmd.String())
		l.wmu.Unlock()
	}
}

func (l *Logger) redact(s string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, sec := range l.secrets {
		s = strings.ReplaceAll(s, sec, "***")
	}
	return s
}

// Infof writes one message, its arguments cleaned. In Actions a line the
// runner would read as a workflow command (it starts, after leading blanks,
// with "::" or "##[") is defused: data from the archive or a registry can
// sit at the start of a line without any line break of its own.
func (l *Logger) Infof(format string, args ...any) {
	msg := fmt.Sprintf(format, display.Args(args)...)
	if l.gha != nil {
		l.gha.Infof("%s", defuseCommands(msg))
		return
	}
	fmt.Fprintln(redactWriter{l}, msg)
}

// defuseCommands prefixes every line that the runner would parse as a
// workflow command with "| " (the runner trims leading white space, so
// blanks would not do).
func defuseCommands(s string) string {
	lines := strings.Split(s, "\n")
	for i, line := range lines {
		t := strings.TrimLeft(line, " \t")
		if strings.HasPrefix(t, "::") || strings.HasPrefix(t, "##[") {
			lines[i] = "| " + line
		}
	}
	return strings.Join(lines, "\n")
}

// Warnf writes a warning (an annotation in Actions).
func (l *Logger) Warnf(format string, args ...any) {
	msg := fmt.Sprintf(format, display.Args(args)...)
	if l.gha != nil {
		l.gha.Warningf("%s", msg)
		return
	}
	fmt.Fprintln(redactWriter{l}, "warning: "+msg)
}

// Errorf writes an error (an annotation in Actions).
func (l *Logger) Errorf(format string, args ...any) {
	msg := fmt.Sprintf(format, display.Args(args)...)
	if l.gha != nil {
		l.gha.Errorf("%s", msg)
		return
	}
	fmt.Fprintln(redactWriter{l}, "error: "+msg)
}

// Group starts a collapsed group (Actions) or a titled section; the title
// is cleaned.
func (l *Logger) Group(title string) {
	title = display.Clean(title)
	if l.gha != nil {
		l.gha.Group(defuseCommands(title))
		return
	}
	fmt.Fprintln(redactWriter{l}, "── "+title)
}

// EndGroup ends the group Group started.
func (l *Logger) EndGroup() {
	if l.gha != nil {
		l.gha.EndGroup()
	}
}

// SetOutput records a step output, its value cleaned, and in Actions writes
// it to GITHUB_OUTPUT.
func (l *Logger) SetOutput(k, v string) {
	v = display.Clean(v)
	l.mu.Lock()
	if _, ok := l.outputs[k]; !ok {
		l.order = append(l.order, k)
	}
	l.outputs[k] = v
	l.mu.Unlock()
	if l.gha != nil {
		d := delimiter()
		for strings.Contains(v, d) || strings.Contains(k, d) {
			d = delimiter()
		}
		l.fileCommand("GITHUB_OUTPUT", k+"<<"+d+"\n"+v+"\n"+d)
	}
}

// Outputs returns a copy of the outputs set so far.
func (l *Logger) Outputs() map[string]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	m := make(map[string]string, len(l.outputs))
	for k, v := range l.outputs {
		m[k] = v
	}
	return m
}

// Summary appends markdown to the job summary (Actions only). Values in it
// are cleaned by its builder (md); the whole is redacted.
func (l *Logger) Summary(markdown string) {
	if l.gha != nil {
		l.fileCommand("GITHUB_STEP_SUMMARY", l.redact(markdown))
	}
}

// delimiter is a fresh random heredoc delimiter for GITHUB_OUTPUT, as
// @actions/core makes them.
func delimiter() string {
	var d [16]byte
	_, _ = rand.Read(d[:])
	return "ghadelimiter_" + hex.EncodeToString(d[:])
}

// fileCommand appends msg and a line break to the runner's file named by
// the environment variable env.
//
// Written by hand because go-githubactions v1.3.2 panics when the variable
// is unset or the file cannot be written (a local container run, other CI
// systems that set GITHUB_ACTIONS) and uses one fixed delimiter, which a
// value containing it could end early to forge another output. A failure is
// recorded and reported once by Flush; the run does not stop for it.
func (l *Logger) fileCommand(env, msg string) {
	path := l.getenv(env)
	err := func() error {
		if path == "" {
			return fmt.Errorf("%s is not set", env)
		}
		f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644) //nolint:gosec // the runner, another user, reads it; it normally exists already
		if err != nil {
			return err
		}
		_, werr := f.WriteString(msg + "\n")
		return errors.Join(werr, f.Close())
	}()
	if err != nil {
		l.mu.Lock()
		if l.fileErr == nil {
			l.fileErr = err
		}
		l.mu.Unlock()
	}
}

// Flush reports, after a run in Actions, a failure to write the runner's
// files and prints the outputs in the log instead, so that nothing is lost.
func (l *Logger) Flush() {
	l.mu.Lock()
	err := l.fileErr
	l.fileErr = nil
	order := append([]string(nil), l.order...)
	l.mu.Unlock()
	if err == nil || l.gha == nil {
		return
	}
	l.Warnf("could not write the step's outputs or summary for the runner (%v): is this a GitHub Actions runner? The outputs follow", err)
	outs := l.Outputs()
	for _, k := range order {
		l.Infof("output %s=%s", k, outs[k])
	}
}
