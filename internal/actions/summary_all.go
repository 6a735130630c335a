package actions

import (
	"fmt"
	"strings"

	"github.com/oci-attest/oci-attest/internal/attest"
	"github.com/oci-attest/oci-attest/internal/display"
	"github.com/oci-attest/oci-attest/internal/pipeline"
	"github.com/oci-attest/oci-attest/internal/sign"
)

// summaryAll renders the job summary of a run: summary's for one image;
// for several, one sentence, one row per image (platform included), what
// was skipped, the signer, and the verify commands of each registry
// subject.
func summaryAll(units []*pipeline.UnitResult, skipped []pipeline.Skipped, host func(string) string) string {
	host = orSame(host)
	if len(units) == 1 && len(skipped) == 0 {
		return summary(units[0], host)
	}
	var b strings.Builder
	b.WriteString("## oci-attest\n\n")
	b.WriteString(headlineAll(units, host))
	b.WriteString("\n\n| Image | Platform | Image ID | Registry subject | Referrer | Bundle |\n|---|---|---|---|---|---|\n")
	for _, u := range units {
		b.WriteString(unitRow(u, host))
	}
	if len(skipped) > 0 {
		b.WriteString("\n**Not attested:**\n\n")
		for _, s := range skipped {
			fmt.Fprintf(&b, "- %s of %s: %s\n", display.Markdown(pipeline.DescribeImage(s.Image)), code(host(s.Archive.Path)), display.Markdown(s.Why))
		}
	}
	t := newTable(&b)
	t.row("Predicate type", code(attest.PredicateType))
	if s := units[0].Signed; s != nil {
		signerRow(t, s, "a key per image (not keyless); each public key is beside its bundle")
	}
	if cmds := verifyAll(units, host); cmds != "" {
		b.WriteString("\n### Verify\n\n```sh\n" + cmds + "```\n")
	}
	return b.String()
}

// headlineAll is the first sentence of a several-image summary.
func headlineAll(units []*pipeline.UnitResult, host func(string) string) string {
	attached := 0
	for _, u := range units {
		if u.Attached != nil {
			attached++
		}
	}
	s := fmt.Sprintf("**Attested %d images** from %s", len(units), archivesOf(units, host))
	switch {
	case attached == len(units):
		s += ", each attached to its registry image"
	case attached > 0:
		s += fmt.Sprintf(", %d of them attached to their registry images", attached)
	default:
		s += ", not pushed to a registry (bundle files only)"
	}
	if sg := units[0].Signed; sg != nil {
		if sg.Identity != "" {
			s += fmt.Sprintf("; signed keylessly by %s", code(sg.Identity))
		} else {
			s += "; signed with keys (not keyless)"
		}
		s += "; every bundle was verified before it was published."
	}
	return s
}

// unitRow is one image's row of six cells.
func unitRow(u *pipeline.UnitResult, host func(string) string) string {
	name, subject, referrer, bundle := "(untagged)", "—", "—", "—"
	if len(u.Image.RepoTags) > 0 {
		name = code(u.Image.RepoTags[0])
	}
	if s := u.Subject; s != nil {
		subject = code(subjectName(s.Repository.Name(), display.Short(s.Descriptor.Digest.String())))
		if s.Image.Digest != s.Descriptor.Digest {
			subject += ", platform " + code(display.Short(s.Image.Digest.String()))
		}
	}
	if a := u.Attached; a != nil {
		referrer = code(display.Short(a.Artifact.Digest.String()))
		if a.ReferrersTag != "" {
			referrer += " (fallback tag)"
		} else {
			referrer += " (referrers API)"
		}
	}
	if u.Bundle != "" {
		bundle = code(host(u.Bundle))
	}
	return fmt.Sprintf("| %s | %s | %s | %s | %s | %s |\n", name, display.Markdown(orNone(u.Image.Platform.String())), code(display.Short(u.Image.ImageID.String())), subject, referrer, bundle)
}

// verifyAll are the verify commands of each registry subject, once.
func verifyAll(units []*pipeline.UnitResult, host func(string) string) string {
	seen := map[string]bool{}
	var cmds strings.Builder
	for _, u := range units {
		if u.Subject == nil || u.Attached == nil || u.Signed == nil {
			continue
		}
		image := subjectName(u.Subject.Repository.Name(), u.Subject.Descriptor.Digest.String())
		if seen[image] {
			continue
		}
		seen[image] = true
		cmds.WriteString(verifyCommands(image, u.Signed, host(u.PublicKey)))
	}
	return cmds.String()
}

// archivesOf names the archives of a run's images, each once.
func archivesOf(units []*pipeline.UnitResult, host func(string) string) string {
	var names []string
	seen := map[string]bool{}
	for _, u := range units {
		if !seen[u.Archive.Path] {
			seen[u.Archive.Path] = true
			names = append(names, code(host(u.Archive.Path)))
		}
	}
	return strings.Join(names, ", ")
}

// verifyCommands are the oci-attest and cosign commands that verify the
// referrer of image, with what its bundle needs: the signer (a certificate
// identity, or the public key), the instance's trusted root where the
// bundle carries something checked against one, and cosign's flags for
// what it carries (cosignFlags).
func verifyCommands(image string, s *sign.Result, publicKey string) string {
	var signer []string
	if s.Identity == "" {
		if publicKey == "" {
			publicKey = "PUBLIC_KEY.pem"
		}
		signer = []string{"--key " + display.Shell(publicKey)}
	} else {
		signer = []string{"--certificate-identity " + display.Shell(s.Identity), "--certificate-oidc-issuer " + display.Shell(s.Issuer)}
	}
	var ours string
	theirs := cosignFlags(s)
	if root := trustedRootFile(s); root != "" {
		ours = "--trusted-root " + root
		if s.Instance == sign.InstanceGitHub {
			ours = "--sigstore github" // embedded, its TUF repository
		}
		theirs = append([]string{"--trusted-root " + root}, theirs...)
	}
	return command(append(append([]string{"oci-attest verify " + display.Shell(image)}, signer...), ours)...) +
		command(append(append([]string{"cosign verify-attestation --type " + attest.PredicateType}, signer...), strings.Join(theirs, " "), display.Shell(image))...)
}

// trustedRootFile is the file of the trusted root the verify commands
// name: none for public-good (both tools' default) and for a key alone;
// GitHub's, or the custom instance's (for a key too, whose bundle then
// carries a log entry or a timestamp of that instance).
func trustedRootFile(s *sign.Result) string {
	switch s.Instance {
	case sign.InstanceGitHub:
		return "github_trusted_root.json"
	case sign.InstanceCustom:
		return "trusted_root.json"
	}
	return ""
}

// cosignFlags are the flags cosign needs for what a bundle carries
// (ARCHITECTURE.md, "Signing and trust"): --use-signed-timestamps only with
// an RFC 3161 timestamp (cosign then refuses a bundle without one, such as
// one whose only time is a Rekor v1 entry's), --insecure-ignore-tlog only
// without a log entry (cosign otherwise requires one).
func cosignFlags(s *sign.Result) []string {
	var flags []string
	if len(s.SignedTimestamps) > 0 {
		flags = append(flags, "--use-signed-timestamps")
	}
	if s.LogIndex < 0 {
		flags = append(flags, "--insecure-ignore-tlog")
	}
	return flags
}

// command is a shell command of parts (its empty ones left out): on one
// line with a single argument after the first part, else one part a line.
func command(parts ...string) string {
	var ps []string
	for _, p := range parts {
		if p != "" {
			ps = append(ps, p)
		}
	}
	if len(ps) <= 2 {
		return strings.Join(ps, " ") + "\n"
	}
	return strings.Join(ps, " \\\n  ") + "\n"
}

// ghCommands are gh's verify commands, for an attestation stored in GitHub:
// gh trusts the public-good and GitHub roots only, and keyless bundles only.
func ghCommands(image string, r *pipeline.UnitResult) string {
	g := r.GitHub
	if !g.Stored() || r.Signed.Identity == "" || r.Signed.Instance == sign.InstanceCustom {
		return ""
	}
	return fmt.Sprintf("gh attestation verify oci://%s --owner %s \\\n  --predicate-type %s\n", display.Shell(image), display.Shell(g.Owner), attest.PredicateType) +
		fmt.Sprintf("gh attestation verify oci://%s --owner %s --bundle-from-oci \\\n  --predicate-type %s\n", display.Shell(image), display.Shell(g.Owner), attest.PredicateType)
}
