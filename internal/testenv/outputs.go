package testenv

import (
	"bufio"
	"os"
	"strings"
	"testing"
)

// ReadOutputs parses a GITHUB_OUTPUT file as the runner does: name=value
// lines and name<<DELIMITER heredocs.
func ReadOutputs(t testing.TB, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	outs := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		name, delim, ok := strings.Cut(line, "<<")
		if !ok {
			if k, v, ok := strings.Cut(line, "="); ok {
				outs[k] = v
			}
			continue
		}
		var val []string
		for sc.Scan() && sc.Text() != delim {
			val = append(val, sc.Text())
		}
		outs[name] = strings.Join(val, "\n")
	}
	return outs
}
