package pipeline

import (
	"fmt"
	"strings"
	"sync"
)

// testdataDir holds the generated archives, seen from this package's
// directory.
const testdataDir = "../../testdata"

// logReporter is a Reporter that keeps every line, for tests.
type logReporter struct {
	mu      sync.Mutex
	b       strings.Builder
	secrets []string
}

func (l *logReporter) line(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.WriteString(s + "\n")
}
func (l *logReporter) Infof(format string, args ...any) { l.line(fmt.Sprintf(format, args...)) }
func (l *logReporter) Warnf(format string, args ...any) {
	l.line("warning: " + fmt.Sprintf(format, args...))
}
func (l *logReporter) Group(title string) { l.line("── " + title) }
func (l *logReporter) EndGroup()          {}
func (l *logReporter) Mask(secret string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.secrets = append(l.secrets, secret)
}

func (l *logReporter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

var _ Reporter = (*logReporter)(nil)
