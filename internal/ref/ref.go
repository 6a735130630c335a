// Package ref is oci-attest's one image-reference parser: every name a user
// gives (subject-name, verify's IMAGE), every RepoTag read from an archive
// and every repository the registry client talks to goes through Parse, so
// that validation, Docker Hub normalisation and lowercasing are the same in
// every layer (ARCHITECTURE.md, "Packages").
//
// Normalisation is Docker's: a name whose first component has no "." or ":"
// and is not "localhost" is on Docker Hub ("myorg/app" is
// index.docker.io/myorg/app, "alpine" is index.docker.io/library/alpine),
// spelled index.docker.io as go-containerregistry, crane and cosign spell it.
// Registry hosts and repository paths are lowercased (registries only accept
// lowercase paths, and GitHub workflows write ghcr.io/${{ github.repository }},
// which keeps the owner's capitals, as actions/attest lowercases them); tags
// keep their case. Validation is the distribution spec's, through oras-go's
// validators; only the Docker Hub defaults are written here, because neither
// oras-go (no implicit registry) nor go-containerregistry (rejects capitals and
// cannot tell an omitted tag from "latest") does the whole job.
package ref

import (
	_ "crypto/sha256" // go-digest validates sha256 digests only when it is linked
	"errors"
	"fmt"
	"strings"

	digest "github.com/opencontainers/go-digest"
	"oras.land/oras-go/v2/registry"
)

// DockerHub is the registry name Docker Hub references normalise to.
const DockerHub = "index.docker.io"

// dockerHubWire is how oras-go names Docker Hub: its Host() is
// registry-1.docker.io and its credential lookup maps that host to the
// https://index.docker.io/v1/ key docker login writes.
const dockerHubWire = "docker.io"

// ErrInvalid is returned by Parse when a string is not an image reference.
var ErrInvalid = errors.New("not an image reference")

// ErrURL is returned by Parse, besides ErrInvalid, for a URL
// ("https://ghcr.io/org/app:1.0"): the error says which scheme to drop.
var ErrURL = errors.New("an image reference has no scheme")

// Reference is a parsed, normalised image reference. The zero value is no
// reference.
type Reference struct {
	// Registry is the lowercased registry host[:port]; DockerHub for Docker
	// Hub.
	Registry string
	// Repository is the lowercased repository path, e.g. "org/app" or
	// "library/alpine".
	Repository string
	// Tag is the tag as given; empty when none was given (there is no
	// implicit "latest").
	Tag string
	// Digest is the digest as given; empty when none was given.
	Digest digest.Digest
	// Lowercased says the input spelled the registry or repository with
	// capitals, which Parse lowercased (worth a log line).
	Lowercased bool
}

// Parse parses and normalises s: [registry/]repository[:tag][@digest].
// Errors wrap ErrInvalid and say what was wrong.
func Parse(s string) (Reference, error) {
	fail := func(format string, args ...any) (Reference, error) {
		return Reference{}, fmt.Errorf("%w: %q %s", ErrInvalid, s, fmt.Sprintf(format, args...))
	}
	if s == "" {
		return fail("is empty")
	}
	if len(s) > 4096 {
		return Reference{}, fmt.Errorf("%w: a name of %d bytes is too long", ErrInvalid, len(s))
	}
	if scheme, rest, ok := strings.Cut(s, "://"); ok && !strings.ContainsAny(scheme, "/@:") {
		// docker, crane and oras name images without a scheme; a URL
		// pasted from a browser or a registry's web page has one.
		return Reference{}, fmt.Errorf("%w: %q is a URL: %w: drop %q and write %s", ErrInvalid, s, ErrURL, scheme+"://", rest)
	}
	var r Reference
	rest := s
	if i := strings.IndexByte(rest, '@'); i >= 0 {
		d, err := digest.Parse(rest[i+1:])
		if err != nil {
			return fail("has an invalid digest (want @sha256:<64 hex digits>): %v", err)
		}
		r.Digest, rest = d, rest[:i]
	}
	if i := strings.LastIndexByte(rest, ':'); i >= 0 && !strings.Contains(rest[i:], "/") {
		r.Tag, rest = rest[i+1:], rest[:i]
		if r.Tag == "" {
			return fail("ends in an empty tag")
		}
	}
	lower := strings.ToLower(rest)
	r.Lowercased = lower != rest
	first, path, ok := strings.Cut(lower, "/")
	if !ok || (!strings.ContainsAny(first, ".:") && first != "localhost") {
		first, path = DockerHub, lower
	}
	switch first {
	case "docker.io", "index.docker.io", "registry-1.docker.io":
		first = DockerHub
		if !strings.Contains(path, "/") {
			path = "library/" + path
		}
	}
	r.Registry, r.Repository = first, path
	o := r.Oras()
	if err := o.ValidateRegistry(); err != nil {
		return fail("has an invalid registry %q", first)
	}
	if err := o.ValidateRepository(); err != nil {
		return fail("has an invalid repository %q (lowercase letters, digits and . _ - separated by /)", path)
	}
	if r.Tag != "" {
		t := registry.Reference{Registry: o.Registry, Repository: o.Repository, Reference: r.Tag}
		if err := t.ValidateReferenceAsTag(); err != nil {
			return fail("has an invalid tag %q (at most 128 of letters, digits, _ . -, not starting with . or -)", r.Tag)
		}
	}
	return r, nil
}

// Name is "registry/repository".
func (r Reference) Name() string { return r.Registry + "/" + r.Repository }

// String is the normalised reference: Name[:tag][@digest].
func (r Reference) String() string {
	s := r.Name()
	if r.Tag != "" {
		s += ":" + r.Tag
	}
	if r.Digest != "" {
		s += "@" + r.Digest.String()
	}
	return s
}

// Repo is the repository alone, without tag or digest.
func (r Reference) Repo() Reference {
	return Reference{Registry: r.Registry, Repository: r.Repository}
}

// WithDigest is r at digest d (the tag is kept for messages).
func (r Reference) WithDigest(d digest.Digest) Reference {
	r.Digest = d
	return r
}

// SameRepository reports whether r and o name the same repository.
func (r Reference) SameRepository(o Reference) bool {
	return r.Registry == o.Registry && r.Repository == o.Repository
}

// IsZero reports whether r is the zero Reference.
func (r Reference) IsZero() bool { return r.Registry == "" }

// Host is the host[:port] requests for r go to (registry-1.docker.io for
// Docker Hub).
func (r Reference) Host() string { return r.Oras().Host() }

// Oras is r for oras-go: Registry "docker.io" for Docker Hub (so that Host
// and credential lookup work), and Reference the digest, else the tag.
func (r Reference) Oras() registry.Reference {
	reg := r.Registry
	if reg == DockerHub {
		reg = dockerHubWire
	}
	o := registry.Reference{Registry: reg, Repository: r.Repository, Reference: r.Tag}
	if r.Digest != "" {
		o.Reference = r.Digest.String()
	}
	return o
}
