//go:build unix

package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// handBack gives a file or directory the action created (a directory before
// the files in it) to the owner of the directory it was created in. A docker action runs as root, so without this the
// job's own user could not overwrite or delete them in later steps, and a
// self-hosted runner could not clean up runner.temp or the workspace. It
// does nothing outside a docker action's container or when not root.
func (c *Config) handBack(p string) error {
	if !c.Actions || !c.paths.inContainer() || os.Geteuid() != 0 {
		return nil
	}
	fi, err := os.Stat(filepath.Dir(p))
	if err != nil {
		return fmt.Errorf("handing %s to the job's user: %w", p, err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || st.Uid == 0 {
		return nil
	}
	if err := os.Lchown(p, int(st.Uid), int(st.Gid)); err != nil {
		return fmt.Errorf("handing %s to the job's user: %w", p, err)
	}
	return nil
}
