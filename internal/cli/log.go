package cli

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"

	"github.com/sethvargo/go-githubactions"
)

// logger is the one place that writes to the Actions log or the terminal
// (the packages below cli are silent). In Actions it speaks workflow
// commands through go-githubactions; on a terminal it writes plain lines.
// Every line passes through the redactor: a secret registered with Mask is
// replaced by *** even where the runner's own masking does not apply (the
// CLI, and files such as the job summary).
type logger struct {
	mu      sync.Mutex
	gha     *githubactions.Action // nil outside Actions
	w       io.Writer
	secrets []string
	outputs map[string]string
}

func newLogger(actions bool, w io.Writer, getenv func(string) string) *logger {
	l := &logger{w: w, outputs: map[string]string{}}
	if actions {
		l.gha = githubactions.New(githubactions.WithWriter(redactWriter{l}), githubactions.WithGetenv(getenv))
	}
	return l
}

// redactWriter sends go-githubactions' output through the redactor.
type redactWriter struct{ l *logger }

func (r redactWriter) Write(p []byte) (int, error) {
	if _, err := io.WriteString(r.l.w, r.l.redact(string(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Mask registers a secret: the runner masks it from then on (::add-mask::)
// and our own output never carries it.
func (l *logger) Mask(secret string) {
	if len(secret) < 4 { // masking "a" would garble every line
		return
	}
	l.mu.Lock()
	l.secrets = append(l.secrets, secret)
	sort.Slice(l.secrets, func(i, j int) bool { return len(l.secrets[i]) > len(l.secrets[j]) })
	l.mu.Unlock()
	if l.gha != nil {
		// Written directly: the redactor would mask the mask command itself.
		fmt.Fprintf(l.w, "::add-mask::%s\n", secret)
	}
}

func (l *logger) redact(s string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, sec := range l.secrets {
		s = strings.ReplaceAll(s, sec, "***")
	}
	return s
}

// Infof writes one line. In Actions, a line of the message that the runner
// would read as a workflow command (it starts, after leading blanks, with
// "::" or "##[") is defused: messages carry data from the archive (tags,
// paths) and from registries, which must never issue commands such as
// ::stop-commands:: or a forged ::error::. Warnf and Errorf need no such
// care: go-githubactions escapes their data.
func (l *logger) Infof(format string, args ...any) {
	if l.gha != nil {
		l.gha.Infof("%s", defuseCommands(fmt.Sprintf(format, args...)))
		return
	}
	fmt.Fprintln(redactWriter{l}, fmt.Sprintf(format, args...))
}

// defuseCommands prefixes every line that the runner would parse as a
// workflow command with "| " (the runner trims leading white space, so
// blanks would not do).
func defuseCommands(s string) string {
	lines := strings.Split(s, "\n")
	for i, line := range lines {
		t := strings.TrimLeft(line, " \t\r")
		if strings.HasPrefix(t, "::") || strings.HasPrefix(t, "##[") {
			lines[i] = "| " + line
		}
	}
	return strings.Join(lines, "\n")
}

// Warnf writes a warning (an annotation in Actions).
func (l *logger) Warnf(format string, args ...any) {
	if l.gha != nil {
		l.gha.Warningf(format, args...)
		return
	}
	fmt.Fprintln(redactWriter{l}, "warning: "+fmt.Sprintf(format, args...))
}

// Errorf writes an error (an annotation in Actions).
func (l *logger) Errorf(format string, args ...any) {
	if l.gha != nil {
		l.gha.Errorf(format, args...)
		return
	}
	fmt.Fprintln(redactWriter{l}, "error: "+fmt.Sprintf(format, args...))
}

// Group starts a collapsed group (Actions) or a titled section.
func (l *logger) Group(title string) {
	if l.gha != nil {
		l.gha.Group(title)
		return
	}
	fmt.Fprintln(redactWriter{l}, "── "+title)
}

// EndGroup ends the group Group started.
func (l *logger) EndGroup() {
	if l.gha != nil {
		l.gha.EndGroup()
	}
}

// SetOutput records a step output (GITHUB_OUTPUT in Actions).
func (l *logger) SetOutput(k, v string) {
	l.mu.Lock()
	l.outputs[k] = v
	l.mu.Unlock()
	if l.gha != nil {
		l.gha.SetOutput(k, v)
	}
}

// Outputs returns a copy of the outputs set so far.
func (l *logger) Outputs() map[string]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	m := make(map[string]string, len(l.outputs))
	for k, v := range l.outputs {
		m[k] = v
	}
	return m
}

// Summary appends markdown to the job summary (Actions only).
func (l *logger) Summary(md string) {
	if l.gha != nil {
		l.gha.AddStepSummary(l.redact(md))
	}
}
