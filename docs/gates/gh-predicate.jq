# gh-predicate.jq: the predicate condition of docs/gates.md for gh, which has
# none of its own. gh prints every attestation it verified; each must name an
# image ID and a release tag of the app, as the cluster policies require:
#   gh attestation verify … --format json | jq -e -f gh-predicate.jq
# jq -e exits 1 when this is false (and gh exits 1 when none verified).
length > 0 and all(.[];
  .verificationResult.statement.predicate
  | (.imageid.sha256 | test("^[0-9a-f]{64}$"))
    and (.imagetags | any(startswith("ghcr.io/my-org/my-app:v"))))
