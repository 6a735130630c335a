package actions

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"github.com/oci-attest/oci-attest/internal/display"
	"github.com/oci-attest/oci-attest/internal/pipeline"
)

// Output is one output of the action.
type Output struct{ Name, Description string }

// OutputList lists the action's outputs in the order action.yml declares
// them (a test holds action.yml to it).
var OutputList = []Output{
	{"bundle-path", "Path of the written Sigstore bundle."},
	{"public-key-path", "Path of the signing key's public key (PEM), written beside the bundle as <bundle-path>.pub when signing-key is set; empty when keyless."},
	{"image-id", "The attested image's ID (sha256 of its config)."},
	{"subject-digest", "Digest of the registry image or index the attestation is attached to."},
	{"attestation-digest", "Digest of the referrer manifest that carries the bundle."},
	{"referrers-tag", "The sha256-<digest> fallback tag that was updated; empty when the referrers API was used."},
	{"attestation-id", "ID of the attestation stored in the repository's attestations on GitHub (github-attestations); empty when none was stored."},
	{"attestation-url", "Web page of that attestation: https://github.com/OWNER/REPO/attestations/ID on github.com, the server's equivalent on GitHub Enterprise; empty when none was stored."},
	{"attested-archive-path", "Path of the OCI archive of the attested images as pushed and their attestations (attested-archive-path); empty when none was written."},
	{"attestations", "JSON array, one object per attested image (every platform, every image, every archive): subject-path, subject-name, platform, image-id, subject-digest (the index or image the statement names first), image-digest (the platform's own manifest), bundle-path, attestation-digest and referrers-tag (of the referrer on subject-digest). The single-value outputs above describe the first of them."},
}

// Attestation is one element of the attestations output: one attested
// image (docs/inputs.md, "attestations").
type Attestation struct {
	SubjectPath       string `json:"subject-path"`
	SubjectName       string `json:"subject-name"`
	Platform          string `json:"platform"`
	ImageID           string `json:"image-id"`
	SubjectDigest     string `json:"subject-digest"`
	ImageDigest       string `json:"image-digest"`
	BundlePath        string `json:"bundle-path"`
	AttestationDigest string `json:"attestation-digest"`
	ReferrersTag      string `json:"referrers-tag"`
}

// SetOutputs sets the step outputs of a run from what it did: the
// single-value outputs describe the first unit, as far as it got; the
// attestations output (every unit) only when the run got past planning
// (dryRun false). hostPath shows a path as the job's steps see it (nil:
// unchanged).
func (l *Logger) SetOutputs(res *pipeline.Result, hostPath func(string) string, dryRun bool) {
	hostPath = orSame(hostPath)
	if res == nil || len(res.Units) == 0 {
		return
	}
	u := res.Units[0]
	l.SetOutput("image-id", u.Image.ImageID.String())
	if dryRun {
		return
	}
	if u.Subject != nil {
		l.SetOutput("subject-digest", u.Subject.Descriptor.Digest.String())
	}
	if u.Bundle != "" {
		l.SetOutput("bundle-path", hostPath(u.Bundle))
		l.SetOutput("public-key-path", hostPath(u.PublicKey))
	}
	if a := u.Attached; a != nil {
		l.SetOutput("attestation-digest", a.Artifact.Digest.String())
		l.SetOutput("referrers-tag", a.ReferrersTag)
	}
	if g := u.GitHub; g.Stored() {
		l.SetOutput("attestation-id", strconv.FormatInt(g.ID, 10))
		l.SetOutput("attestation-url", g.URL)
	}
	carried := ""
	if res.Carried != "" {
		carried = hostPath(res.Carried)
	}
	l.SetOutput("attested-archive-path", carried)
	l.SetOutput("attestations", string(attestations(res, hostPath)))
}

// attestations is the attestations output: every unit planned, with what
// has been done for it (a unit not attached yet has no attestation-digest).
func attestations(res *pipeline.Result, hostPath func(string) string) []byte {
	list := make([]Attestation, 0, len(res.Units))
	for _, u := range res.Units {
		a := Attestation{
			SubjectPath: hostPath(u.Archive.Path),
			Platform:    u.Image.Platform.String(),
			ImageID:     u.Image.ImageID.String(),
		}
		if t := u.Target; !t.IsZero() {
			a.SubjectName = t.String()
		} else if t := u.Binding.Target; !t.IsZero() {
			a.SubjectName = t.String()
		}
		if s := u.Subject; s != nil {
			a.SubjectName = s.Repository.Name()
			if s.Tag != "" {
				a.SubjectName += ":" + s.Tag
			}
			a.SubjectDigest, a.ImageDigest = s.Descriptor.Digest.String(), s.Image.Digest.String()
		}
		if u.Bundle != "" {
			a.BundlePath = hostPath(u.Bundle)
		}
		if ar := u.Attached; ar != nil {
			a.AttestationDigest, a.ReferrersTag = ar.Artifact.Digest.String(), ar.ReferrersTag
		}
		list = append(list, a)
	}
	b, err := json.Marshal(list)
	if err != nil {
		return []byte("[]") // plain strings: cannot fail
	}
	// display.JSON, not SetOutput's Clean: the output stays valid JSON when
	// a platform or a tag from the archive carries a rune Clean escapes.
	return display.JSON(b)
}

// PrintOutputs writes the action's outputs for CLI users: name=value lines,
// or one JSON object (in which attestations is the array itself, not a
// string holding it).
func PrintOutputs(w io.Writer, format string, outs map[string]string) error {
	if format == "json" {
		obj := make(map[string]any, len(outs))
		for k, v := range outs {
			obj[k] = v
			if k == "attestations" && json.Valid([]byte(v)) {
				obj[k] = json.RawMessage(v)
			}
		}
		b, err := json.MarshalIndent(obj, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	}
	for _, o := range OutputList {
		if v, ok := outs[o.Name]; ok {
			if _, err := fmt.Fprintf(w, "%s=%s\n", o.Name, v); err != nil {
				return err
			}
		}
	}
	return nil
}
