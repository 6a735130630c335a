# trustroot.jq: a Sigstore trusted_root.json as a policy-controller TrustRoot
# (spec.sigstoreKeys), named $name:
#   jq -f docs/gates/trustroot.jq --arg name my-sigstore trusted_root.json > trustroot.json
# (JSON is YAML: kubectl apply -f trustroot.json.) See docs/gates.md.
#
# Certificate authorities (Fulcio), timestamp authorities and CT logs are
# carried over. Transparency logs are not: a TrustRoot names a log by the
# hash of its key, as Rekor v1 does, and cannot describe a Rekor v2 log, whose
# ID is its checkpoint key hash; the policy requires the RFC 3161 timestamp
# instead (rfc3161timestamp in clusterimagepolicy-custom.yaml).
def pem($type):
  "-----BEGIN \($type)-----\n"
  + ([range(0; length; 64) as $i | .[$i:$i+64]] | join("\n"))
  + "\n-----END \($type)-----\n";
def chain: [.certChain.certificates[].rawBytes | pem("CERTIFICATE")] | join("") | @base64;
def ca: {
  subject: {organization: (.subject.organization // ""), commonName: (.subject.commonName // "")},
  uri: .uri,
  certChain: chain
};
def ctlog: {
  baseURL: .baseUrl,
  hashAlgorithm: "sha-256",
  publicKey: (.publicKey.rawBytes | pem("PUBLIC KEY") | @base64)
};
{
  apiVersion: "policy.sigstore.dev/v1alpha1",
  kind: "TrustRoot",
  metadata: {name: $name},
  spec: {sigstoreKeys: {
    certificateAuthorities: [.certificateAuthorities[] | ca],
    ctLogs: [(.ctlogs // [])[] | ctlog],
    timestampAuthorities: [(.timestampAuthorities // [])[] | ca]
  }}
}
