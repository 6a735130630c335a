package cli

import (
	"encoding/json"
	"fmt"
	"io"
)

// attestation is one element of the attestations output: one attested
// image (README "Outputs").
type attestation struct {
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

// setAttestations sets the attestations output: every image planned, with
// what has been done for it (an image not attached yet has no
// attestation-digest).
func (p *pipeline) setAttestations() {
	list := make([]attestation, 0, len(p.units))
	for _, u := range p.units {
		a := attestation{
			SubjectPath: p.c.paths.toHost(u.archive.Path),
			Platform:    u.image.Platform.String(),
			ImageID:     u.image.ImageID.String(),
		}
		if !u.bind.target.IsZero() {
			a.SubjectName = u.bind.target.String()
		}
		if s := u.subject; s != nil {
			a.SubjectName = s.Repository.Name()
			if s.Tag != "" {
				a.SubjectName += ":" + s.Tag
			}
			a.SubjectDigest, a.ImageDigest = s.Descriptor.Digest.String(), s.Image.Digest.String()
		}
		if u.bundle != "" {
			a.BundlePath = p.c.paths.toHost(u.bundle)
		}
		if ar := u.attached; ar != nil {
			a.AttestationDigest, a.ReferrersTag = ar.Artifact.Digest.String(), ar.ReferrersTag
		}
		list = append(list, a)
	}
	b, err := json.Marshal(list)
	if err != nil {
		return // plain strings: cannot fail
	}
	// jsonSafe, not SetOutput's clean: the output stays valid JSON when a
	// platform or a tag from the archive carries a rune clean escapes.
	p.log.SetOutput("attestations", string(jsonSafe(b)))
}

// printOutputs writes the action's outputs for CLI users: name=value lines,
// or one JSON object (in which attestations is the array itself, not a
// string holding it).
func printOutputs(w io.Writer, format string, outs map[string]string) error {
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
	for _, o := range outputs {
		if v, ok := outs[o.name]; ok {
			if _, err := fmt.Fprintf(w, "%s=%s\n", o.name, v); err != nil {
				return err
			}
		}
	}
	return nil
}

// humanBytes formats a size in bytes with binary units (KiB, MiB, …).
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
