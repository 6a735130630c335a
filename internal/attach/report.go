package attach

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/oci-attest/oci-attest/internal/display"
	"github.com/oci-attest/oci-attest/internal/verify"
)

// Report is what Run did. Its JSON form is the output of `oci-attest
// attach --output json`; the field names are stable.
type Report struct {
	// Image is the reference, normalised.
	Image string `json:"image"`
	// Repository is "registry/repository".
	Repository string `json:"repository"`
	// Digest is what the image resolved to; empty for a bare repository.
	Digest string `json:"digest,omitempty"`
	// Attached is one entry per referrer of a subject: pushed, or found
	// already attached.
	Attached []Attached `json:"attached"`
	// Refused are the bundles that were not attached, with why; when there
	// are any, nothing was pushed.
	Refused []Refused `json:"refused"`
	// Skipped counts the referrers an archive carries that are not Sigstore
	// bundles (set by the caller from Load).
	Skipped int `json:"skipped,omitempty"`
}

// Attached is one bundle attached to one subject.
type Attached struct {
	// Source is the bundle file, or "ARCHIVE:DIGEST" for a referrer an
	// archive carries.
	Source string `json:"source"`
	// Subject is the digest it is a referrer of.
	Subject string `json:"subject"`
	// Referrer is the referrer manifest's digest.
	Referrer string `json:"referrer"`
	// Via is how clients find it: "api" (the referrers API) or
	// "tag:sha256-<hex>" (the fallback tag).
	Via string `json:"via"`
	// Already is true when the subject already had a referrer holding this
	// bundle: nothing was pushed for it.
	Already bool `json:"already,omitempty"`
	// Reason says why the referrers API or the fallback tag was used.
	Reason string `json:"reason,omitempty"`
	// Signer is who signed the bundle (verified).
	Signer *verify.Signer `json:"signer,omitempty"`
}

// Refused is a bundle that was not attached.
type Refused struct {
	Source string `json:"source"`
	Error  string `json:"error"`
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// WriteText writes one line per attached bundle and subject, and one per
// refused bundle.
func (r *Report) WriteText(w io.Writer) error {
	for _, a := range r.Attached {
		what, how := "attached", "via the referrers API"
		if a.Already {
			what = "already attached"
		}
		if tag, ok := strings.CutPrefix(a.Via, "tag:"); ok {
			how = "via the fallback tag " + tag
		}
		if _, err := fmt.Fprintf(w, "%-16s %s@%s  referrer %s  %s  (%s)\n", what, display.Clean(r.Repository), a.Subject, a.Referrer, how, display.Clean(a.Source)); err != nil {
			return err
		}
	}
	for _, f := range r.Refused {
		if _, err := fmt.Fprintf(w, "%-16s %s: %s\n", "REFUSED", display.Clean(f.Source), display.Clean(f.Error)); err != nil {
			return err
		}
	}
	return nil
}
