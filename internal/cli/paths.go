package cli

import (
	"path/filepath"
	"strings"
)

// pathMap translates between the host's paths and the action container's:
// a docker action sees the workspace as /github/workspace and runner.temp as
// /github/runner_temp, while users write ${{ runner.temp }}/image.tar and
// later steps read our outputs on the host.
type pathMap []struct{ host, container string }

func (m pathMap) toContainer(p string) string { return m.translate(p, true) }
func (m pathMap) toHost(p string) string      { return m.translate(p, false) }

// inContainer reports whether host and container paths differ: the program
// runs as a docker action, whose container sees only some of the job's
// directories.
func (m pathMap) inContainer() bool {
	for _, e := range m {
		if e.host != "" && e.container != "" && filepath.Clean(e.host) != filepath.Clean(e.container) {
			return true
		}
	}
	return false
}

// shared reports whether p (a path as the program sees it) is one the job's
// other steps see too: always outside a container; inside one, relative
// paths (the working directory is the workspace) and paths under the
// container's view of the workspace or runner.temp.
func (m pathMap) shared(p string) bool {
	if !m.inContainer() || !filepath.IsAbs(p) {
		return true
	}
	for _, e := range m {
		if e.container == "" {
			continue
		}
		if rel, err := filepath.Rel(e.container, p); err == nil && rel != ".." && !strings.HasPrefix(rel, "../") {
			return true
		}
	}
	return false
}

func (m pathMap) translate(p string, toContainer bool) string {
	if p == "" || !filepath.IsAbs(p) {
		return p
	}
	for _, e := range m {
		from, to := e.container, e.host
		if toContainer {
			from, to = e.host, e.container
		}
		if from == "" || to == "" {
			continue
		}
		if rel, err := filepath.Rel(from, p); err == nil && rel != ".." && !strings.HasPrefix(rel, "../") {
			return filepath.Join(to, rel)
		}
	}
	return p
}
