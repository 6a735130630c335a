package oci

// work counts what reading an archive's structure cost. The cost classes of
// crafted archives (deep paths, repeated configs, nested indexes, many
// manifests of one config) are tested by counting this work, never by
// timing it: a count does not change on a loaded machine, and a regression
// to quadratic or exponential work multiplies it (export_test.go's
// ScanCost).
type work struct {
	// lookups counts the map look-ups of the extracted tree (tree.go), and
	// keyBytes the bytes of their string keys: placing and resolving cost
	// what they hash.
	lookups  int
	keyBytes int64
	// jsonBytes counts the bytes handed to a JSON parser: manifest.json,
	// index.json, image indexes, manifests and configs.
	jsonBytes int64
	// indexSteps counts walkIndex's steps: descriptors visited, and image
	// manifests gathered under an image index.
	indexSteps int
	// matches counts the images of manifest.json and index.json matched to
	// each other (agree.go).
	matches int
}

// lookup counts one look-up of key.
func (w *work) lookup(key string) {
	w.lookups++
	w.keyBytes += int64(len(key))
}

// parsed counts JSON handed to a parser.
func (w *work) parsed(b []byte) { w.jsonBytes += int64(len(b)) }
