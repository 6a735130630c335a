//go:build !unix

package cli

// handBack does nothing where files have no Unix owner (see owner_unix.go).
func (c *Config) handBack(string) error { return nil }
