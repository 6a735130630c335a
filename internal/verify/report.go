package verify

import (
	"fmt"
	"strings"
	"time"
)

// Report is what Verify found and concluded. Its JSON form is the output of
// `oci-attest verify --output json`; the field names are stable.
type Report struct {
	// Image is the reference, normalised; empty when bundle files were
	// verified (VerifyBundles).
	Image string `json:"image,omitempty"`
	// Repository is "registry/repository" (empty for bundle files).
	Repository string `json:"repository,omitempty"`
	// Digest is the digest of the manifest or index the image resolved to;
	// attestations are looked up for it and must name it as a subject
	// (empty for bundle files).
	Digest string `json:"digest,omitempty"`
	// MediaType is the media type of that manifest or index.
	MediaType string `json:"mediaType,omitempty"`
	// ReferrersSource says how referrers were listed: "api" (the referrers
	// API), "tag:sha256-<hex>" (the fallback tag) or "archive" (referrers
	// the archive carries, Carried); empty for bundle files.
	ReferrersSource string `json:"referrersSource,omitempty"`
	// TarDigest is the sha256 of the local archive, for bundle files (each
	// must attest it); empty otherwise.
	TarDigest string `json:"tarDigest,omitempty"`
	// TrustedRoot says where the trusted root came from (a file, a TUF
	// repository, a TUF cache); set by the caller, empty for key-only
	// verification.
	TrustedRoot string `json:"trustedRoot,omitempty"`
	// Required is what every attestation was held to, named as the deploy
	// gates name it (gates.go).
	Required *Requirements `json:"required,omitempty"`
	// Referrers is how many referrers of any type the image's digest has
	// (what a deploy gate lists for it); 0 for bundle files.
	Referrers int `json:"referrers,omitempty"`
	// Warnings say what would make a deploy gate refuse the image that
	// verify accepts (gateWarnings).
	Warnings []string `json:"warnings,omitempty"`
	// Attestations are the Sigstore bundle referrers carrying an oci
	// attestation, verified or rejected.
	Attestations []Attestation `json:"attestations"`
	// Ignored are the other referrers of the image (other artifact types,
	// other predicate types), with the reason they were skipped.
	Ignored []Ignored `json:"ignored"`
	// Verified is the number of attestations that verified.
	Verified int `json:"verified"`
	// Checked is how many Sigstore bundle referrers were fetched and
	// checked (of the image and, for an index, of its platforms), at most
	// 1024; Unchecked how many more there were, not checked.
	Checked   int `json:"checked"`
	Unchecked int `json:"unchecked,omitempty"`
	// Platforms, for an index, is the outcome per platform (every
	// platform's attestation must verify, or the one --platform names);
	// empty for an image manifest.
	Platforms []PlatformReport `json:"platforms,omitempty"`
	// SubjectPath is the local archive compared with the attestations
	// (Options.SubjectPath); empty when none was given.
	SubjectPath string `json:"subjectPath,omitempty"`
	// ArchiveMatches is whether the archive's recomputed predicate equals that
	// of at least one verified attestation; nil when no archive was given.
	ArchiveMatches *bool `json:"archiveMatches,omitempty"`
}

// Attestation is one Sigstore bundle referrer of the image.
type Attestation struct {
	// Digest is the referrer (artifact manifest) digest; empty for a bundle
	// file.
	Digest string `json:"digest,omitempty"`
	// Source is where it was found: "api", "tag:sha256-<hex>" or
	// "file:<path>" (a bundle file).
	Source string `json:"source"`
	// Created is the artifact's org.opencontainers.image.created annotation.
	Created string `json:"created,omitempty"`
	// Subject is the digest whose referrer it is (the index, or a platform
	// manifest); empty for a bundle file.
	Subject string `json:"subject,omitempty"`
	// Platform and PlatformDigest are the platform of the index it attests
	// and its manifest digest: the platform manifest it was found on, or the
	// one its verified statement names; empty for an image manifest.
	Platform       string `json:"platform,omitempty"`
	PlatformDigest string `json:"platformDigest,omitempty"`
	// Verified is true when the bundle verified against the trusted material
	// and the policy and the statement names the image digest.
	Verified bool `json:"verified"`
	// Error is why it was rejected; empty when verified.
	Error string `json:"error,omitempty"`
	// KeySigned is true when it was rejected for being key-signed while
	// the policy names a certificate identity.
	KeySigned bool `json:"keySigned,omitempty"`
	// Signer is who signed it, as the bundle claims (verified when Verified).
	Signer *Signer `json:"signer,omitempty"`
	// Timestamps are the verified signing times (RFC 3161 timestamps, log
	// integrated times).
	Timestamps []Timestamp `json:"timestamps,omitempty"`
	// LogIndex is the transparency log index of the first log entry; nil
	// when the bundle has none.
	LogIndex *int64 `json:"logIndex,omitempty"`
	// Predicate summarises the attested image (verified attestations only).
	Predicate *PredicateSummary `json:"predicate,omitempty"`
	// Archive is the comparison with the local archive, when one was given
	// and the attestation verified.
	Archive *ArchiveComparison `json:"archive,omitempty"`

	// Unreadable is true when the registry failed to serve the referrer
	// (an error other than 404): it could not be checked, so it is not a
	// verdict on the attestation.
	Unreadable bool `json:"unreadable,omitempty"`
}

// Signer is the identity a bundle was signed with.
type Signer struct {
	// Identity is the certificate's subject alternative name (keyless).
	Identity string `json:"identity,omitempty"`
	// Issuer is the OIDC issuer in the certificate (keyless).
	Issuer string `json:"issuer,omitempty"`
	// SourceRepository is the certificate's Source Repository URI extension.
	SourceRepository string `json:"sourceRepository,omitempty"`
	// BuildSigner is the certificate's Build Signer URI extension (the
	// workflow that signed, with its ref).
	BuildSigner string `json:"buildSigner,omitempty"`
	// BuildConfig is the certificate's Build Config URI extension (the
	// top-level workflow, with its ref).
	BuildConfig string `json:"buildConfig,omitempty"`
	// KeyHint is the bundle's public key hint (key-signed bundles).
	KeyHint string `json:"keyHint,omitempty"`
}

// Timestamp is one verified time the signature is known to have existed.
type Timestamp struct {
	// Kind is "rfc3161" or "tlog".
	Kind string `json:"kind"`
	// Time is the timestamp, RFC 3339 in UTC.
	Time time.Time `json:"time"`
	// URI is the authority or log that issued it, when known.
	URI string `json:"uri,omitempty"`
}

// PredicateSummary is the short form of the oci predicate.
type PredicateSummary struct {
	// ImageID is the config digest, "sha256:<hex>".
	ImageID string `json:"imageId"`
	// Tags are the image's RepoTags in the archive.
	Tags []string `json:"tags"`
	// Layers is the number of layers (diffids).
	Layers int `json:"layers"`
	// TarDigest is the digest of the attested archive file.
	TarDigest string `json:"tarDigest"`
}

// ArchiveComparison is the field-by-field comparison of a verified predicate
// with the one recomputed from the local archive.
type ArchiveComparison struct {
	// Matches is true when no field differs: the file is the attested file.
	Matches bool `json:"matches"`
	// SameImage is true when the image ID and every layer diffID match: the
	// archive holds the attested image (a loader loads the same image), even
	// when the file differs (another archive format, other tags).
	SameImage bool `json:"sameImage"`
	// Differences are the differing fields (want = attested, got = local).
	Differences []Difference `json:"differences,omitempty"`
}

// Difference is one predicate field that differs (attest.FieldDiff).
type Difference struct {
	// Field names the predicate field, e.g. "diffids[1]" or "tardigest".
	Field string `json:"field"`
	// Attested is the value in the verified attestation.
	Attested string `json:"attested"`
	// Local is the value recomputed from the local archive.
	Local string `json:"local"`
}

// Ignored is a referrer that is not an oci attestation.
type Ignored struct {
	// Digest is the referrer manifest digest.
	Digest string `json:"digest"`
	// ArtifactType is its artifact type.
	ArtifactType string `json:"artifactType,omitempty"`
	// Reason says why it was skipped.
	Reason string `json:"reason"`
}

// Summary is a one-line outcome, e.g. "1 of 2 attestations verified; the
// archive matches".
func (r *Report) Summary() string {
	var b strings.Builder
	switch {
	case r.ReferrersSource == sourceArchive:
		fmt.Fprintf(&b, "%d of %d attestation(s) the archive carries verified", r.Verified, len(r.Attestations))
	case r.Repository == "":
		fmt.Fprintf(&b, "%d of %d bundle(s) verified", r.Verified, len(r.Attestations))
	case len(r.Attestations) == 0:
		fmt.Fprintf(&b, "no oci attestation found for %s@%s", r.Repository, r.Digest)
	default:
		fmt.Fprintf(&b, "%d of %d attestation(s) verified for %s@%s", r.Verified, len(r.Attestations), r.Repository, r.Digest)
	}
	if len(r.Platforms) > 0 {
		ok := 0
		for _, p := range r.Platforms {
			if p.Verified > 0 {
				ok++
			}
		}
		fmt.Fprintf(&b, "; %d of %d platform(s) verified", ok, len(r.Platforms))
	}
	if r.ArchiveMatches != nil {
		if *r.ArchiveMatches {
			fmt.Fprintf(&b, "; %s matches", r.SubjectPath)
		} else {
			fmt.Fprintf(&b, "; %s differs", r.SubjectPath)
		}
	}
	return b.String()
}
