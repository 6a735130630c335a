package cli

// repoRoot is the repository's root, seen from this package's directory
// (go test runs tests in the package directory).
const repoRoot = "../.."

// testdataDir holds the generated archives and the golden statements.
const testdataDir = repoRoot + "/testdata"
