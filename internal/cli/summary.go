package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/oci-attest/oci-attest/internal/attest"
	"github.com/oci-attest/oci-attest/internal/sign"
)

// summary renders the job summary: one sentence a reviewer reads in five
// seconds (what was attested, where it is attached, who signed, that it was
// verified), then the details, then the commands that verify it. Every value
// goes through md (escape.go); file paths are shown as the job's steps see
// them (paths translates the action container's view back).
func summary(r *attestResult, paths pathMap) string {
	var b strings.Builder
	b.WriteString("## oci-attest\n\n")
	b.WriteString(headline(r, paths))
	b.WriteString("\n\n| | |\n|---|---|\n")
	row := func(k, v string) { fmt.Fprintf(&b, "| %s | %s |\n", k, v) }
	tags := "(none)"
	if len(r.image.RepoTags) > 0 {
		var ts []string
		for _, t := range r.image.RepoTags {
			ts = append(ts, code(t))
		}
		tags = strings.Join(ts, ", ")
	}
	row("Archive", fmt.Sprintf("%s (%s, %s)", code(paths.toHost(r.archive.Path)), md(string(r.archive.Format)), humanBytes(r.archive.Size)))
	row("Image tags", tags)
	if pl := r.image.Platform.String(); pl != "" {
		row("Platform", md(pl))
	}
	row("Image ID", code(r.image.ImageID.String()))
	row("Layers", fmt.Sprint(len(r.image.DiffIDs)))
	row("Tar digest", code(r.archive.TarDigest.String()))
	row("Predicate type", code(attest.PredicateType))
	image := ""
	if r.subject != nil {
		image = r.subject.Repository.Name() + "@" + r.subject.Descriptor.Digest.String()
		row("Registry image", code(image))
		if r.subject.Image.Digest != r.subject.Descriptor.Digest {
			row("Matched platform image", code(r.subject.Image.Digest.String()))
		}
		if a := r.attachedImage; a != nil {
			row("Platform referrer", code(a.Artifact.Digest.String()))
		}
	}
	if s := r.signed; s != nil {
		if s.Identity != "" {
			row("Signer", fmt.Sprintf("%s (issuer %s, Sigstore %s)", code(s.Identity), code(s.Issuer), md(s.Instance)))
		} else {
			row("Signer", "key "+code(s.KeyHint)+" (not keyless)")
		}
		if s.LogIndex >= 0 {
			row("Transparency log", fmt.Sprintf("index %d", s.LogIndex))
		}
		for _, ts := range s.Timestamps {
			row("Timestamp", ts.UTC().Format(time.RFC3339))
		}
	}
	row("Bundle", code(paths.toHost(r.bundle)))
	if r.publicKey != "" {
		row("Public key", code(paths.toHost(r.publicKey)))
	}
	if a := r.attached; a != nil {
		row("Referrer", code(a.Artifact.Digest.String()))
		if a.ReferrersTag != "" {
			row("Discovery", "fallback tag "+code(a.ReferrersTag)+" ("+md(a.Reason)+")")
		} else {
			row("Discovery", "referrers API ("+md(a.Reason)+")")
		}
	}
	githubSummary(r.github, row)
	// The verify commands read the referrer: only when one was pushed.
	if image != "" && r.attached != nil && r.signed != nil {
		b.WriteString("\n### Verify\n\n```sh\n")
		b.WriteString(verifyCommands(image, r.signed, paths.toHost(r.publicKey)))
		if g := r.github; g != nil && r.signed.Identity != "" && r.signed.Instance != sign.InstanceCustom {
			// gh trusts the public-good and GitHub roots only, and keyless
			// bundles only.
			fmt.Fprintf(&b, "gh attestation verify oci://%s --owner %s \\\n  --predicate-type %s\n", shellQuote(image), shellQuote(g.owner), attest.PredicateType)
			fmt.Fprintf(&b, "gh attestation verify oci://%s --owner %s --bundle-from-oci \\\n  --predicate-type %s\n", shellQuote(image), shellQuote(g.owner), attest.PredicateType)
		}
		b.WriteString("```\n")
	}
	return b.String()
}

// headline is the summary's first sentence.
func headline(r *attestResult, paths pathMap) string {
	name := "an untagged image"
	if len(r.image.RepoTags) > 0 {
		name = code(r.image.RepoTags[0])
	}
	s := fmt.Sprintf("**Attested %s** (image ID %s) from %s", name, code(short(r.image.ImageID.String())), code(paths.toHost(r.archive.Path)))
	switch {
	case r.attached != nil && r.attached.ReferrersTag != "":
		s += fmt.Sprintf(", attached to %s (referrers fallback tag)", code(r.subject.Repository.Name()+"@"+short(r.subject.Descriptor.Digest.String())))
	case r.attached != nil:
		s += fmt.Sprintf(", attached to %s (referrers API)", code(r.subject.Repository.Name()+"@"+short(r.subject.Descriptor.Digest.String())))
	default:
		s += ", not pushed to a registry (bundle file only)"
	}
	if sg := r.signed; sg != nil {
		if sg.Identity != "" {
			s += fmt.Sprintf("; signed keylessly by %s", code(sg.Identity))
		} else {
			s += fmt.Sprintf("; signed with key %s (not keyless)", code(short(sg.KeyHint)))
		}
		s += "; the bundle was verified before it was published."
	}
	return s
}

// verifyCommands are the oci-attest and cosign commands that verify the
// referrer of image.
func verifyCommands(image string, s *sign.Result, publicKey string) string {
	var b strings.Builder
	if s.Identity == "" {
		key := shellQuote(publicKey)
		if publicKey == "" {
			key = "PUBLIC_KEY.pem"
		}
		fmt.Fprintf(&b, "oci-attest verify %s --key %s\n", shellQuote(image), key)
		fmt.Fprintf(&b, "cosign verify-attestation --type %s --key %s --insecure-ignore-tlog %s\n", attest.PredicateType, key, shellQuote(image))
		return b.String()
	}
	// Trust: public-good is both tools' default; GitHub's instance and a
	// custom one need their trusted root, and have no Rekor v1 log.
	ours, theirs := "", ""
	switch s.Instance {
	case sign.InstanceGitHub:
		ours = " \\\n  --sigstore github"
		theirs = " \\\n  --trusted-root github_trusted_root.json --insecure-ignore-tlog --use-signed-timestamps"
	case sign.InstanceCustom:
		ours = " \\\n  --trusted-root trusted_root.json"
		theirs = " \\\n  --trusted-root trusted_root.json --use-signed-timestamps"
	}
	fmt.Fprintf(&b, "oci-attest verify %s \\\n  --certificate-identity %s \\\n  --certificate-oidc-issuer %s%s\n", shellQuote(image), shellQuote(s.Identity), shellQuote(s.Issuer), ours)
	fmt.Fprintf(&b, "cosign verify-attestation --type %s \\\n  --certificate-identity %s \\\n  --certificate-oidc-issuer %s%s \\\n  %s\n", attest.PredicateType, shellQuote(s.Identity), shellQuote(s.Issuer), theirs, shellQuote(image))
	return b.String()
}

// code shows a value as inline code (an HTML <code> element, in which the
// entities md writes are decoded, unlike in a backtick span).
func code(s string) string { return "<code>" + md(s) + "</code>" }

// short abbreviates a digest (algorithm, 12 hex digits, "…") or a key hint
// (12 characters, "…") for prose.
func short(d string) string {
	alg, hex, ok := strings.Cut(d, ":")
	if !ok {
		alg, hex = "", d
	} else {
		alg += ":"
	}
	if len(hex) <= 12 {
		return d
	}
	return alg + hex[:12] + "…"
}

// shellQuote quotes s for a POSIX shell command line (cleaned first, so it
// stays on its line).
func shellQuote(s string) string {
	s = clean(s)
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@%+=:,./-_") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// summaryAll renders the job summary of a run: summary's for one image;
// for several, one sentence, one row per image (platform included), what
// was skipped, the signer, and the verify commands of each registry
// subject.
func summaryAll(units []*attestResult, skipped []skippedImage, paths pathMap) string {
	if len(units) == 1 && len(skipped) == 0 {
		return summary(units[0], paths)
	}
	var b strings.Builder
	b.WriteString("## oci-attest\n\n")
	attached := 0
	for _, u := range units {
		if u.attached != nil {
			attached++
		}
	}
	fmt.Fprintf(&b, "**Attested %d images** from %s", len(units), archivesOf(units, paths))
	switch {
	case attached == len(units):
		b.WriteString(", each attached to its registry image")
	case attached > 0:
		fmt.Fprintf(&b, ", %d of them attached to their registry images", attached)
	default:
		b.WriteString(", not pushed to a registry (bundle files only)")
	}
	if sg := units[0].signed; sg != nil {
		if sg.Identity != "" {
			fmt.Fprintf(&b, "; signed keylessly by %s", code(sg.Identity))
		} else {
			fmt.Fprintf(&b, "; signed with keys (not keyless)")
		}
		b.WriteString("; every bundle was verified before it was published.")
	}
	b.WriteString("\n\n| Image | Platform | Image ID | Registry subject | Referrer | Bundle |\n|---|---|---|---|---|---|\n")
	for _, u := range units {
		name := "(untagged)"
		if len(u.image.RepoTags) > 0 {
			name = code(u.image.RepoTags[0])
		}
		subject, referrer := "—", "—"
		if s := u.subject; s != nil {
			subject = code(s.Repository.Name() + "@" + short(s.Descriptor.Digest.String()))
			if s.Image.Digest != s.Descriptor.Digest {
				subject += ", platform " + code(short(s.Image.Digest.String()))
			}
		}
		if a := u.attached; a != nil {
			referrer = code(short(a.Artifact.Digest.String()))
			if a.ReferrersTag != "" {
				referrer += " (fallback tag)"
			} else {
				referrer += " (referrers API)"
			}
		}
		bundle := "—"
		if u.bundle != "" {
			bundle = code(paths.toHost(u.bundle))
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", name, md(orNone(u.image.Platform.String())), code(short(u.image.ImageID.String())), subject, referrer, bundle)
	}
	if len(skipped) > 0 {
		b.WriteString("\n**Not attested:**\n\n")
		for _, s := range skipped {
			fmt.Fprintf(&b, "- %s of %s: %s\n", md(describePlatform(s.image)), code(paths.toHost(s.archive.Path)), md(s.why))
		}
	}
	b.WriteString("\n| | |\n|---|---|\n")
	row := func(k, v string) { fmt.Fprintf(&b, "| %s | %s |\n", k, v) }
	row("Predicate type", code(attest.PredicateType))
	if s := units[0].signed; s != nil {
		if s.Identity != "" {
			row("Signer", fmt.Sprintf("%s (issuer %s, Sigstore %s)", code(s.Identity), code(s.Issuer), md(s.Instance)))
		} else {
			row("Signer", "a key per image (not keyless); each public key is beside its bundle")
		}
	}
	// The verify commands read the referrers: one per registry subject.
	seen := map[string]bool{}
	var cmds strings.Builder
	for _, u := range units {
		if u.subject == nil || u.attached == nil || u.signed == nil {
			continue
		}
		image := u.subject.Repository.Name() + "@" + u.subject.Descriptor.Digest.String()
		if seen[image] {
			continue
		}
		seen[image] = true
		cmds.WriteString(verifyCommands(image, u.signed, paths.toHost(u.publicKey)))
	}
	if cmds.Len() > 0 {
		b.WriteString("\n### Verify\n\n```sh\n")
		b.WriteString(cmds.String())
		b.WriteString("```\n")
	}
	return b.String()
}

// archivesOf names the archives of a run's images, each once.
func archivesOf(units []*attestResult, paths pathMap) string {
	var names []string
	seen := map[string]bool{}
	for _, u := range units {
		if !seen[u.archive.Path] {
			seen[u.archive.Path] = true
			names = append(names, code(paths.toHost(u.archive.Path)))
		}
	}
	return strings.Join(names, ", ")
}
