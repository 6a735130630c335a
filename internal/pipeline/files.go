package pipeline

import (
	"fmt"
	"os"
	"path/filepath"

	intoto "github.com/in-toto/attestation/go/v1"
	digest "github.com/opencontainers/go-digest"

	"github.com/oci-attest/oci-attest/internal/attest"
	"github.com/oci-attest/oci-attest/internal/sign"
)

// files writes a run's statements and bundles: the first unit's at the
// paths the caller gave, the others' beside them, named by image ID.
type files struct {
	opts Options
	// written are the paths written so far (two units of one image, bound to
	// two repositories, get numbered names); tmpDir is where bundles go
	// without BundlePath and TempDir.
	written map[string]bool
	tmpDir  string
}

func newFiles(opts Options) *files { return &files{opts: opts, written: map[string]bool{}} }

// Statements builds the statement of every unit of p as a dry run does —
// the archive's subjects only, nothing bound, signed or pushed — and writes
// them to opts.StatementPath when it is set.
func Statements(p *Plan, opts Options, rep Reporter) ([][]byte, error) {
	f := newFiles(opts)
	var out [][]byte
	for _, u := range p.Units {
		st, err := f.statement(u, nil, rep)
		if err != nil {
			return out, err
		}
		out = append(out, st)
	}
	return out, nil
}

// statement builds the statement's bytes and, with StatementPath, writes
// them there (the first unit's; the others' beside it).
func (f *files) statement(u *Unit, registrySubjects []*intoto.ResourceDescriptor, rep Reporter) ([]byte, error) {
	st, err := attest.NewStatement(attest.NewPredicate(u.Archive, u.Image), registrySubjects...)
	if err != nil {
		return nil, err
	}
	b, err := attest.Marshal(st)
	if err != nil || f.opts.StatementPath == "" {
		return b, err
	}
	path := f.opts.StatementPath
	if u.N > 0 {
		path = f.sibling(filepath.Dir(path), u.Image.ImageID, ".statement.json")
	}
	if err := f.writeFile(path, append(b, '\n')); err != nil {
		return b, &FieldError{Field: "StatementPath", Err: fmt.Errorf("writing the statement: %w", err)}
	}
	if u.N > 0 {
		rep.Infof("wrote the statement of %s to %s", DescribeImage(u.Image), path)
	}
	return b, nil
}

// bundle writes the signed bundle and, for a key-signed one, its public key
// beside it as <bundle>.pub (for an ephemeral key the only copy there will
// ever be). It returns both paths ("" for no key).
func (f *files) bundle(u *Unit, s *sign.Result, rep Reporter) (string, string, error) {
	path, err := f.bundlePath(u)
	if err != nil {
		return "", "", &FieldError{Field: "BundlePath", Err: err}
	}
	if err := f.writeFile(path, s.Bundle); err != nil {
		return "", "", &FieldError{Field: "BundlePath", Err: fmt.Errorf("writing the bundle: %w", err)}
	}
	rep.Infof("wrote Sigstore bundle %s", path)
	if s.PublicKeyPEM == "" {
		return path, "", nil
	}
	pub := path + ".pub"
	if err := f.writeFile(pub, []byte(s.PublicKeyPEM)); err != nil {
		return path, "", &FieldError{Field: "BundlePath", Err: fmt.Errorf("writing the public key beside the bundle: %w", err)}
	}
	rep.Infof("wrote the signing key's public key %s", pub)
	return path, pub, nil
}

// bundlePath is BundlePath for the first unit and beside it for the
// others, else TempDir/oci-attest/<image-id hex>.sigstore.json, else the same
// name in a temporary directory (one per run).
func (f *files) bundlePath(u *Unit) (string, error) {
	if p := f.opts.BundlePath; p != "" {
		if u.N == 0 {
			f.written[p] = true
			return p, nil
		}
		return f.sibling(filepath.Dir(p), u.Image.ImageID, ".sigstore.json"), nil
	}
	if rt := f.opts.TempDir; rt != "" {
		dir := filepath.Join(rt, "oci-attest")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", fmt.Errorf("creating %s: %w", dir, err)
		}
		if err := f.handBack(dir); err != nil {
			return "", err
		}
		return f.sibling(dir, u.Image.ImageID, ".sigstore.json"), nil
	}
	if f.tmpDir == "" {
		dir, err := os.MkdirTemp(f.opts.TempBase, "oci-attest-")
		if err != nil {
			return "", err
		}
		f.tmpDir = dir
	}
	return f.sibling(f.tmpDir, u.Image.ImageID, ".sigstore.json"), nil
}

// sibling is dir/<image-id hex><suffix>, numbered when this run already
// wrote that name (the same image attested for two repositories).
func (f *files) sibling(dir string, id digest.Digest, suffix string) string {
	path := filepath.Join(dir, id.Encoded()+suffix)
	for n := 2; f.written[path]; n++ {
		path = filepath.Join(dir, fmt.Sprintf("%s-%d%s", id.Encoded(), n, suffix))
	}
	f.written[path] = true
	return path
}

// writeFile writes a file the job's other steps read, and hands it back.
func (f *files) writeFile(path string, b []byte) error {
	if err := os.WriteFile(path, b, 0o644); err != nil { //nolint:gosec // the job's user reads it after us
		return err
	}
	return f.handBack(path)
}

func (f *files) handBack(path string) error {
	if f.opts.HandBack == nil {
		return nil
	}
	return f.opts.HandBack(path)
}
