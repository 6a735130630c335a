package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/oci-attest/oci-attest/internal/attest"
	"github.com/oci-attest/oci-attest/internal/sign"
)

// summary renders the job summary: what was attested, where the attestation
// went, and the commands that verify it. File paths are shown as the job's
// steps see them (paths translates the action container's view back).
func summary(r *attestResult, paths pathMap) string {
	var b strings.Builder
	row := func(k, v string) { fmt.Fprintf(&b, "| %s | %s |\n", k, v) }
	b.WriteString("## oci-attest\n\n| | |\n|---|---|\n")
	tags := strings.Join(r.image.RepoTags, ", ")
	if tags == "" {
		tags = "(none)"
	}
	row("Archive", fmt.Sprintf("`%s` (%s, %s)", paths.toHost(r.archive.Path), r.archive.Format, humanBytes(r.archive.Size)))
	row("Image tags", tags)
	row("Image ID", "`"+r.image.ImageID.String()+"`")
	row("Tar digest", "`"+r.archive.TarDigest.String()+"`")
	row("Predicate type", "`"+attest.PredicateType+"`")
	image := ""
	if r.subject != nil {
		image = r.subject.Repository.Name() + "@" + r.subject.Descriptor.Digest.String()
		row("Registry image", "`"+image+"`")
	}
	if s := r.signed; s != nil {
		if s.Identity != "" {
			row("Signer", fmt.Sprintf("`%s` (issuer `%s`, %s)", s.Identity, s.Issuer, s.Instance))
		} else {
			row("Signer", "key "+s.KeyHint+" (not keyless)")
		}
		if s.LogIndex >= 0 {
			row("Transparency log", fmt.Sprintf("index %d", s.LogIndex))
		}
		for _, ts := range s.Timestamps {
			row("Timestamp", ts.UTC().Format(time.RFC3339))
		}
	}
	row("Bundle", "`"+paths.toHost(r.bundle)+"`")
	if a := r.attached; a != nil {
		row("Referrer", "`"+a.Artifact.Digest.String()+"`")
		if a.ReferrersTag != "" {
			row("Discovery", "fallback tag `"+a.ReferrersTag+"` ("+a.Reason+")")
		} else {
			row("Discovery", "referrers API ("+a.Reason+")")
		}
	}
	githubSummary(r.github, row)
	// The verify commands read the referrer: only when one was pushed.
	if image != "" && r.attached != nil && r.signed != nil && r.signed.Identity != "" {
		// Trust: public-good is both tools' default; GitHub's instance and a
		// custom one need their trusted root, and have no Rekor v1 log.
		ours, theirs := "", ""
		switch r.signed.Instance {
		case "github":
			ours = " \\\n  --sigstore github"
			theirs = " \\\n  --trusted-root github_trusted_root.json --insecure-ignore-tlog --use-signed-timestamps"
		case "custom":
			ours = " \\\n  --trusted-root trusted_root.json"
			theirs = " \\\n  --trusted-root trusted_root.json --use-signed-timestamps"
		}
		b.WriteString("\n### Verify\n\n```sh\n")
		fmt.Fprintf(&b, "oci-attest verify %s \\\n  --certificate-identity '%s' \\\n  --certificate-oidc-issuer '%s'%s\n", image, r.signed.Identity, r.signed.Issuer, ours)
		fmt.Fprintf(&b, "cosign verify-attestation --type %s \\\n  --certificate-identity '%s' \\\n  --certificate-oidc-issuer '%s'%s \\\n  %s\n", attest.PredicateType, r.signed.Identity, r.signed.Issuer, theirs, image)
		if g := r.github; g != nil && r.signed.Instance != sign.InstanceCustom {
			// gh trusts the public-good and GitHub roots only.
			fmt.Fprintf(&b, "gh attestation verify oci://%s --owner %s \\\n  --predicate-type %s\n", image, g.owner, attest.PredicateType)
			fmt.Fprintf(&b, "gh attestation verify oci://%s --owner %s --bundle-from-oci \\\n  --predicate-type %s\n", image, g.owner, attest.PredicateType)
		}
		b.WriteString("```\n")
	}
	return b.String()
}
