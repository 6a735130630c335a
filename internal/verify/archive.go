package verify

import (
	"context"
	"fmt"
	"strings"

	"github.com/oci-attest/oci-attest/internal/attest"
	"github.com/oci-attest/oci-attest/internal/oci"
	"github.com/oci-attest/oci-attest/internal/ref"
)

// localArchive is the scanned Options.SubjectPath archive.
type localArchive struct {
	a *oci.Archive
}

// scanArchive reads the archive once.
func scanArchive(ctx context.Context, path string) (*localArchive, error) {
	a, err := oci.Scan(ctx, path, oci.ScanOptions{})
	if err != nil {
		return nil, fmt.Errorf("reading the subject archive: %w", err)
	}
	return &localArchive{a: a}, nil
}

// compare recomputes the predicate from the archive and compares it with the
// attested one. The archive image compared is the one whose image ID is the
// attested one; without such an image, the one oci.Archive.Select picks for
// the image reference.
func (l *localArchive) compare(want *attest.Predicate, image ref.Reference) *ArchiveComparison {
	var img *oci.Image
	for i := range l.a.Images {
		if l.a.Images[i].ImageID.Encoded() == want.ImageID["sha256"] {
			img = &l.a.Images[i]
			break
		}
	}
	if img == nil {
		var err error
		if img, _, err = l.a.Select(image); err != nil {
			return &ArchiveComparison{Differences: []Difference{{Field: "image", Attested: "sha256:" + want.ImageID["sha256"], Local: err.Error()}}}
		}
	}
	got := attest.NewPredicate(l.a, img)
	c := &ArchiveComparison{Matches: true, SameImage: true}
	for _, d := range attest.Diff(want, got) {
		c.Matches = false
		if d.Field == "imageid" || strings.HasPrefix(d.Field, "diffids") {
			c.SameImage = false
		}
		c.Differences = append(c.Differences, Difference{Field: d.Field, Attested: d.Want, Local: d.Got})
	}
	return c
}
