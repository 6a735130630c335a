package actions

import (
	"html"
	"strings"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-attest/oci-attest/internal/attest"
	"github.com/oci-attest/oci-attest/internal/oci"
	"github.com/oci-attest/oci-attest/internal/pipeline"
	"github.com/oci-attest/oci-attest/internal/ref"
	"github.com/oci-attest/oci-attest/internal/registry"
	"github.com/oci-attest/oci-attest/internal/sign"
	"github.com/opencontainers/go-digest"
)

// TestSummaryShowsHostPaths: the job summary names files as the job's steps
// see them, not as the action's container does.
func TestSummaryShowsHostPaths(t *testing.T) {
	t.Parallel()
	paths := func(p string) string { return strings.Replace(p, "/github/runner_temp", "/home/runner/work/_temp", 1) }
	r := &pipeline.UnitResult{
		Unit:   &pipeline.Unit{Archive: &oci.Archive{Path: "/github/runner_temp/image.tar", Format: oci.FormatDocker}, Image: &oci.Image{}},
		Bundle: "/github/runner_temp/oci-attest/x.sigstore.json",
	}
	got := html.UnescapeString(summary(r, paths))
	for _, want := range []string{"<code>/home/runner/work/_temp/image.tar</code>", "<code>/home/runner/work/_temp/oci-attest/x.sigstore.json</code>"} {
		if !strings.Contains(got, want) {
			t.Errorf("summary() lacks %s:\n%s", want, got)
		}
	}
	if strings.Contains(got, "/github/runner_temp") {
		t.Errorf("summary() shows a container path:\n%s", got)
	}
}

// TestSummaryVerifyCommandsNeedAReferrer: with push-to-registry: false the
// subject is resolved but nothing is attached, so the summary must not offer
// verify commands that could only find nothing.
func TestSummaryVerifyCommandsNeedAReferrer(t *testing.T) {
	t.Parallel()
	r := &pipeline.UnitResult{
		Unit:    &pipeline.Unit{Archive: &oci.Archive{Path: "image.tar", Format: oci.FormatDocker}, Image: &oci.Image{}},
		Subject: &registry.Subject{Repository: ref.Reference{Registry: "registry.example", Repository: "app"}},
		Signed:  &sign.Result{Identity: "https://github.com/o/r/.github/workflows/w.yml@refs/heads/main", Issuer: "https://token.actions.githubusercontent.com", Instance: "public-good", LogIndex: -1},
		Bundle:  "b.json",
	}
	if got := summary(r, nil); strings.Contains(got, "verify") {
		t.Errorf("summary() without a pushed referrer offers verify commands:\n%s", got)
	}
	r.Attached = &registry.AttachResult{}
	if got := summary(r, nil); !strings.Contains(got, "oci-attest verify registry.example/app@") || !strings.Contains(got, "cosign verify-attestation") {
		t.Errorf("summary() with a referrer lacks the verify commands:\n%s", got)
	}
}

// TestSummaryHeadline: the summary opens with one sentence that says what
// was attested, where it is attached, who signed and that it was verified;
// key-signed runs get their verify commands too.
func TestSummaryHeadline(t *testing.T) {
	t.Parallel()
	d := digest.Digest("sha256:" + strings.Repeat("e", 64))
	base := func() *pipeline.UnitResult {
		return &pipeline.UnitResult{
			Unit:    &pipeline.Unit{Archive: &oci.Archive{Path: "image.tar", Format: oci.FormatDocker}, Image: &oci.Image{RepoTags: []string{"ghcr.io/o/app:1.0"}, ImageID: digest.Digest("sha256:" + strings.Repeat("a", 64))}},
			Subject: &registry.Subject{Repository: ref.Reference{Registry: "ghcr.io", Repository: "o/app"}, Descriptor: ocispec.Descriptor{Digest: d}, Image: ocispec.Descriptor{Digest: d}},
			Bundle:  "b.json",
		}
	}
	keyless := base()
	keyless.Signed = &sign.Result{Identity: "https://github.com/o/app/.github/workflows/release.yml@refs/tags/v1", Issuer: "https://token.actions.githubusercontent.com", Instance: sign.InstancePublicGood, LogIndex: 7}
	keyless.Attached = &registry.AttachResult{ReferrersTag: "sha256-" + strings.Repeat("e", 64)}
	got := html.UnescapeString(summary(keyless, nil))
	first := strings.SplitN(strings.TrimPrefix(got, "## oci-attest\n\n"), "\n", 2)[0]
	for _, want := range []string{"**Attested <code>ghcr.io/o/app:1.0</code>**", "sha256:aaaaaaaaaaaa…", "attached to <code>ghcr.io/o/app@sha256:eeeeeeeeeeee…</code> (referrers fallback tag)", "signed keylessly by <code>https://github.com/o/app/.github/workflows/release.yml@refs/tags/v1</code>", "verified before it was published"} {
		if !strings.Contains(first, want) {
			t.Errorf("summary's first line lacks %q:\n%s", want, first)
		}
	}
	keyed := base()
	keyed.Signed = &sign.Result{KeyHint: "abcdefghijklmnop", Instance: "key", LogIndex: -1}
	keyed.Attached = &registry.AttachResult{}
	keyed.PublicKey = "b.json.pub"
	got = summary(keyed, nil)
	for _, want := range []string{"signed with key <code>abcdefghijkl…</code> (not keyless)", "oci-attest verify ghcr.io/o/app@sha256:" + strings.Repeat("e", 64) + " --key b.json.pub", "cosign verify-attestation --type https://aflock.ai/attestations/oci/v0.1 \\\n  --key b.json.pub \\\n  --insecure-ignore-tlog \\\n  ghcr.io/o/app@"} {
		if !strings.Contains(got, want) {
			t.Errorf("key-signed summary lacks %q:\n%s", want, got)
		}
	}
}

// TestSummaryEscapesData: nothing from the archive or a registry can add a
// line, a table cell or markup to the summary.
func TestSummaryEscapesData(t *testing.T) {
	t.Parallel()
	r := &pipeline.UnitResult{
		Unit:     &pipeline.Unit{Archive: &oci.Archive{Path: "image.tar", Format: oci.FormatDocker}, Image: &oci.Image{RepoTags: []string{"app:1|x\n## forged", "b`<img src=x>`"}}},
		Subject:  &registry.Subject{Repository: ref.Reference{Registry: "r.example", Repository: "app"}},
		Attached: &registry.AttachResult{Reason: "the referrers API answered 404 Not Found\r\n| forged | row |"},
		Signed:   &sign.Result{KeyHint: "k", LogIndex: -1},
		Bundle:   "b.json",
	}
	got := summary(r, nil)
	for _, line := range strings.Split(got, "\n") {
		if strings.HasPrefix(line, "## forged") || strings.HasPrefix(line, "| forged") || strings.Contains(line, "<img") || strings.Contains(line, "\r") {
			t.Errorf("summary line %q carries data as markup", line)
		}
		if strings.HasPrefix(line, "| ") && strings.Count(line, "|") != 3 {
			t.Errorf("summary row %q has more than two cells", line)
		}
	}
}

// TestSummaryAll: with several images the summary has one row per image,
// platform included (six cells, whatever the data holds), lists what was
// skipped, and gives each registry subject's verify commands once.
func TestSummaryAll(t *testing.T) {
	t.Parallel()
	a := &oci.Archive{Path: "/github/runner_temp/image.tar", Format: oci.FormatOCILayout}
	idx := digest.Digest("sha256:" + strings.Repeat("c", 64))
	signed := &sign.Result{Identity: "https://github.com/o/app/.github/workflows/release.yml@refs/tags/v1", Issuer: "https://token.actions.githubusercontent.com", Instance: sign.InstancePublicGood, LogIndex: 3}
	var units []*pipeline.UnitResult
	for i, pl := range []oci.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64", Variant: "v8"}} {
		img := digest.Digest("sha256:" + strings.Repeat(string(rune('1'+i)), 64))
		units = append(units, &pipeline.UnitResult{
			Unit:     &pipeline.Unit{Archive: a, Image: &oci.Image{RepoTags: []string{"ghcr.io/o/app:v1|x"}, ImageID: digest.Digest("sha256:" + strings.Repeat(string(rune('a'+i)), 64)), Platform: pl}},
			Subject:  &registry.Subject{Repository: ref.Reference{Registry: "ghcr.io", Repository: "o/app"}, Descriptor: ocispec.Descriptor{Digest: idx}, Image: ocispec.Descriptor{Digest: img}},
			Signed:   signed,
			Bundle:   "/github/runner_temp/oci-attest/" + string(rune('a'+i)) + ".sigstore.json",
			Attached: &registry.AttachResult{Artifact: ocispec.Descriptor{Digest: digest.Digest("sha256:" + strings.Repeat(string(rune('e'+i)), 64))}},
		})
	}
	skipped := []pipeline.Skipped{{Archive: a, Image: &oci.Image{ImageID: digest.Digest("sha256:" + strings.Repeat("9", 64))}, Why: "no RepoTag names a registry repository"}}
	paths := func(p string) string { return strings.Replace(p, "/github/runner_temp", "/home/runner/work/_temp", 1) }
	got := summaryAll(units, skipped, paths)
	plain := html.UnescapeString(got)
	for _, want := range []string{
		"**Attested 2 images** from <code>/home/runner/work/_temp/image.tar</code>, each attached to its registry image",
		"| linux/amd64 |", "| linux/arm64/v8 |", "platform <code>sha256:111111111111…</code>", "platform <code>sha256:222222222222…</code>",
		"<code>/home/runner/work/_temp/oci-attest/a.sigstore.json</code>", "**Not attested:**", "no RepoTag names a registry repository",
	} {
		if !strings.Contains(plain, want) {
			t.Errorf("summaryAll() lacks %q:\n%s", want, plain)
		}
	}
	if n := strings.Count(got, "oci-attest verify ghcr.io/o/app@"+idx.String()); n != 1 {
		t.Errorf("summaryAll() gives the index's verify command %d times, want once:\n%s", n, got)
	}
	rows := 0
	for _, line := range strings.Split(got, "\n") {
		if strings.HasPrefix(line, "| <code>ghcr.io") {
			rows++
			if strings.Count(line, "|") != 7 {
				t.Errorf("row %q has other than six cells", line)
			}
		}
	}
	if rows != 2 || strings.Contains(got, "/github/runner_temp") {
		t.Errorf("summaryAll() has %d image rows (want 2), container paths: %v\n%s", rows, strings.Contains(got, "/github/runner_temp"), got)
	}
	// One image: the one-image summary, with its platform.
	if one := summaryAll(units[:1], nil, nil); !strings.Contains(one, "| Platform | linux/amd64 |") || strings.Contains(one, "| Image | Platform |") {
		t.Errorf("summaryAll(one image) is not the one-image summary:\n%s", one)
	}
}

// TestSummaryGhCommands: an attestation stored in GitHub by the GitHub or
// public-good instance gets gh's verify commands, for the image and for the
// bundle in the registry; a custom instance's does not (gh would not trust
// it).
func TestSummaryGhCommands(t *testing.T) {
	t.Parallel()
	d := digest.Digest("sha256:" + strings.Repeat("e", 64))
	r := &pipeline.UnitResult{
		Unit:     &pipeline.Unit{Archive: &oci.Archive{Path: "image.tar"}, Image: &oci.Image{}},
		Subject:  &registry.Subject{Repository: ref.Reference{Registry: "ghcr.io", Repository: "o/app"}, Descriptor: ocispec.Descriptor{Digest: d}, Image: ocispec.Descriptor{Digest: d}},
		Signed:   &sign.Result{Identity: "https://github.com/o/app/.github/workflows/release.yml@refs/tags/v1", Issuer: "https://token.actions.githubusercontent.com", Instance: sign.InstanceGitHub, LogIndex: -1},
		Attached: &registry.AttachResult{},
		GitHub:   &pipeline.GitHubResult{ID: 7, URL: "https://github.com/o/app/attestations/7", Owner: "o"},
		Bundle:   "b.json",
	}
	image := "ghcr.io/o/app@" + d.String()
	want := []string{
		"gh attestation verify oci://" + image + " --owner o \\\n  --predicate-type " + attest.PredicateType,
		"gh attestation verify oci://" + image + " --owner o --bundle-from-oci \\\n  --predicate-type " + attest.PredicateType,
	}
	got := summary(r, nil)
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("summary lacks %q:\n%s", w, got)
		}
	}
	r.Signed.Instance = sign.InstanceCustom
	if got := summary(r, nil); strings.Contains(got, "gh attestation") {
		t.Errorf("a custom instance's summary offers gh:\n%s", got)
	}
}

// TestSummaryVerifyCommands: the verify commands carry what each bundle
// needs and nothing it lacks: the instance's trusted root (a key-signed
// bundle's too when it carries a log entry or a timestamp), cosign's
// --use-signed-timestamps only with an RFC 3161 timestamp and
// --insecure-ignore-tlog only without a log entry. (internal/cli's
// TestSigningConfigInput runs the summary's commands on real bundles.)
func TestSummaryVerifyCommands(t *testing.T) {
	t.Parallel()
	const (
		image = "ghcr.io/o/app@sha256:eeee"
		id    = "https://github.com/o/app/.github/workflows/release.yml@refs/tags/v1"
		iss   = "https://token.actions.githubusercontent.com"
		typ   = attest.PredicateType
	)
	now := []time.Time{time.Unix(1700000000, 0)}
	keyless := "oci-attest verify " + image + " \\\n  --certificate-identity " + id + " \\\n  --certificate-oidc-issuer " + iss
	cosignKeyless := "cosign verify-attestation --type " + typ + " \\\n  --certificate-identity " + id + " \\\n  --certificate-oidc-issuer " + iss
	for _, tc := range []struct {
		name string
		res  sign.Result
		want string
	}{
		{"keyless, custom, Rekor v1 and a TSA", sign.Result{Identity: id, Issuer: iss, Instance: sign.InstanceCustom, LogIndex: 3, SignedTimestamps: now, LogTimes: now},
			keyless + " \\\n  --trusted-root trusted_root.json\n" +
				cosignKeyless + " \\\n  --trusted-root trusted_root.json --use-signed-timestamps \\\n  " + image + "\n"},
		{"keyless, custom, Rekor v1 only", sign.Result{Identity: id, Issuer: iss, Instance: sign.InstanceCustom, LogIndex: 3, LogTimes: now},
			keyless + " \\\n  --trusted-root trusted_root.json\n" +
				cosignKeyless + " \\\n  --trusted-root trusted_root.json \\\n  " + image + "\n"},
		{"keyless, custom, a TSA only", sign.Result{Identity: id, Issuer: iss, Instance: sign.InstanceCustom, LogIndex: -1, SignedTimestamps: now},
			keyless + " \\\n  --trusted-root trusted_root.json\n" +
				cosignKeyless + " \\\n  --trusted-root trusted_root.json --use-signed-timestamps --insecure-ignore-tlog \\\n  " + image + "\n"},
		{"keyless, github", sign.Result{Identity: id, Issuer: iss, Instance: sign.InstanceGitHub, LogIndex: -1, SignedTimestamps: now},
			keyless + " \\\n  --sigstore github\n" +
				cosignKeyless + " \\\n  --trusted-root github_trusted_root.json --use-signed-timestamps --insecure-ignore-tlog \\\n  " + image + "\n"},
		{"keyless, public-good, Rekor v1 only", sign.Result{Identity: id, Issuer: iss, Instance: sign.InstancePublicGood, LogIndex: 3, LogTimes: now},
			keyless + "\n" + cosignKeyless + " \\\n  " + image + "\n"},
		{"key and a Rekor v1 log", sign.Result{KeyHint: "k", Instance: sign.InstanceCustom, LogIndex: 5, LogTimes: now},
			"oci-attest verify " + image + " \\\n  --key k.pub \\\n  --trusted-root trusted_root.json\n" +
				"cosign verify-attestation --type " + typ + " \\\n  --key k.pub \\\n  --trusted-root trusted_root.json \\\n  " + image + "\n"},
		{"key, a log and a TSA", sign.Result{KeyHint: "k", Instance: sign.InstanceCustom, LogIndex: 5, LogTimes: now, SignedTimestamps: now},
			"oci-attest verify " + image + " \\\n  --key k.pub \\\n  --trusted-root trusted_root.json\n" +
				"cosign verify-attestation --type " + typ + " \\\n  --key k.pub \\\n  --trusted-root trusted_root.json --use-signed-timestamps \\\n  " + image + "\n"},
		{"key only", sign.Result{KeyHint: "k", Instance: "key", LogIndex: -1},
			"oci-attest verify " + image + " --key k.pub\n" +
				"cosign verify-attestation --type " + typ + " \\\n  --key k.pub \\\n  --insecure-ignore-tlog \\\n  " + image + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := verifyCommands(image, &tc.res, "k.pub"); got != tc.want {
				t.Errorf("verifyCommands() =\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}
