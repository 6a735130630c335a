package oci

import "context"

// ScanCost is what a scan cost, counted (the cost classes are tested by
// counting work, never by timing it).
type ScanCost struct {
	// Decompressed is the number of decompressed bytes, in the pass and
	// after it.
	Decompressed int64
	// Deferred is the number of entries the pass stopped decompressing;
	// Inflated the number decompressed after the pass, from Reread stored
	// bytes read again.
	Deferred, Inflated int
	Reread             int64
	// Lookups counts the map look-ups of the extracted tree (placing and
	// resolving paths), KeyBytes the bytes of their keys.
	Lookups  int
	KeyBytes int64
	// JSONBytes counts the bytes handed to a JSON parser.
	JSONBytes int64
	// IndexSteps counts the descriptors visited and the image manifests
	// gathered under image indexes while index.json is walked.
	IndexSteps int
	// Matches counts the images of manifest.json and index.json matched to
	// each other.
	Matches int
}

// ScanCounted is Scan that also returns what it cost. afterPass, when not
// nil, runs between the pass and the interpretation.
func ScanCounted(ctx context.Context, path string, opts ScanOptions, afterPass func()) (*Archive, ScanCost, error) {
	opts.afterPass = afterPass
	a, st, err := scan(ctx, path, opts)
	var c ScanCost
	if st != nil {
		w := st.work
		c = ScanCost{
			Decompressed: st.decompressed.Load(), Deferred: st.deferred, Inflated: st.inflated, Reread: st.reread,
			Lookups: w.lookups, KeyBytes: w.keyBytes, JSONBytes: w.jsonBytes, IndexSteps: w.indexSteps, Matches: w.matches,
		}
	}
	return a, c, err
}

// PassRatio is how much an entry may expand during the pass.
const PassRatio = passRatio
