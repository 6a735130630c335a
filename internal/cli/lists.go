package cli

import (
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// splitList splits a list input, as actions/attest reads subject-path: one
// item per line or comma-separated, blanks trimmed, empty items dropped.
func splitList(s string) []string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		for _, item := range strings.Split(line, ",") {
			if item = strings.TrimSpace(item); item != "" {
				out = append(out, item)
			}
		}
	}
	return out
}

// splitLines splits a newline-separated list (subject-name: names never
// hold a comma, but a list of one stays one), blanks trimmed.
func splitLines(s string) []string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			out = append(out, line)
		}
	}
	return out
}

// isGlob reports whether a subject-path item is a pattern.
func isGlob(p string) bool { return strings.ContainsAny(p, "*?[") }

// expandGlob returns the regular files pattern matches, sorted: filepath.Glob
// syntax, plus "**" for any number of directories (as @actions/glob, which
// actions/attest uses, reads it).
func expandGlob(pattern string) ([]string, error) {
	if _, err := filepath.Match(pattern, ""); err != nil {
		return nil, err
	}
	var matches []string
	if !strings.Contains(pattern, "**") {
		m, err := filepath.Glob(pattern)
		if err != nil {
			return nil, err
		}
		matches = m
	} else {
		// Walk from the longest directory prefix without a pattern.
		root := pattern[:strings.Index(pattern, "**")]
		if i := strings.IndexAny(root, "*?["); i >= 0 {
			root = root[:i]
		}
		root = filepath.Dir(root + "x")
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if p == root {
					return err
				}
				return nil // unreadable directories below the root match nothing
			}
			if !d.IsDir() && matchDoublestar(filepath.ToSlash(pattern), filepath.ToSlash(p)) {
				matches = append(matches, p)
			}
			return nil
		})
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	var files []string
	for _, m := range matches {
		if fi, err := os.Stat(m); err == nil && fi.Mode().IsRegular() {
			files = append(files, m)
		}
	}
	slices.Sort(files)
	return files, nil
}

// matchDoublestar matches name against pattern component by component; a
// "**" component matches any number of components, itself included none.
func matchDoublestar(pattern, name string) bool {
	ps, ns := strings.Split(pattern, "/"), strings.Split(name, "/")
	var match func(i, j int) bool
	match = func(i, j int) bool {
		for ; i < len(ps); i++ {
			if ps[i] == "**" {
				for k := j; k <= len(ns); k++ {
					if match(i+1, k) {
						return true
					}
				}
				return false
			}
			if j >= len(ns) {
				return false
			}
			if ok, err := path.Match(ps[i], ns[j]); err != nil || !ok {
				return false
			}
			j++
		}
		return j == len(ns)
	}
	return match(0, 0)
}
