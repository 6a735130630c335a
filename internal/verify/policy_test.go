package verify

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCertPolicy(t *testing.T) {
	t.Parallel()
	const repo = "https://github.com/o/r"
	const signer = repo + "/.github/workflows/release.yml@refs/tags/v1"
	tests := []struct {
		name                 string
		repository, workflow string
		want                 certPolicy
		newErr               bool
		checkErr             bool
	}{
		{name: "nothing", want: certPolicy{}},
		{name: "owner/repo", repository: "o/r", want: certPolicy{repository: repo}},
		{name: "repo URL", repository: "https://github.com/o/r/", want: certPolicy{repository: repo}},
		{name: "GHE host", repository: "ghe.example.com/o/r", want: certPolicy{repository: "https://ghe.example.com/o/r"}, checkErr: true},
		{name: "bare repo name", repository: "r", newErr: true},
		{name: "workflow file", repository: "o/r", workflow: "release.yml",
			want: certPolicy{repository: repo, workflow: repo + "/.github/workflows/release.yml"}},
		{name: "workflow path in repo", repository: "o/r", workflow: ".github/workflows/release.yml@refs/heads/x",
			want: certPolicy{repository: repo, workflow: repo + "/.github/workflows/release.yml"}},
		{name: "workflow full path", workflow: "o/r/.github/workflows/release.yml",
			want: certPolicy{workflow: repo + "/.github/workflows/release.yml"}},
		{name: "workflow URL", workflow: repo + "/.github/workflows/release.yml",
			want: certPolicy{workflow: repo + "/.github/workflows/release.yml"}},
		{name: "relative workflow without repository", workflow: "release.yml", newErr: true},
		{name: "other workflow", workflow: "o/r/.github/workflows/ci.yml",
			want: certPolicy{workflow: repo + "/.github/workflows/ci.yml"}, checkErr: true},
		{name: "other repository", repository: "o/other", want: certPolicy{repository: "https://github.com/o/other"}, checkErr: true},
		{name: "workflow with something else after @", workflow: "o/r/.github/workflows/release.yml@x.yml", newErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, err := newCertPolicy(tc.repository, tc.workflow)
			if (err != nil) != tc.newErr {
				t.Fatalf("newCertPolicy(%q, %q) error = %v, want error %v", tc.repository, tc.workflow, err, tc.newErr)
			}
			if err != nil {
				return
			}
			if diff := cmp.Diff(tc.want, p, cmp.AllowUnexported(certPolicy{})); diff != "" {
				t.Errorf("newCertPolicy(%q, %q) (-want +got):\n%s", tc.repository, tc.workflow, diff)
			}
			if err := p.check(repo, signer); (err != nil) != tc.checkErr {
				t.Errorf("check(%s, %s) = %v, want error %v", repo, signer, err, tc.checkErr)
			}
		})
	}
}

// TestCertPolicyWorkflowRef: the certificate's Build Signer URI must be the
// workflow file, "@" and a ref: a workflow file whose name starts with the
// policy's and an "@" ("release.yml@x.yml") is another workflow.
func TestCertPolicyWorkflowRef(t *testing.T) {
	t.Parallel()
	const wf = "https://github.com/o/r/.github/workflows/release.yml"
	p, err := newCertPolicy("", wf)
	if err != nil {
		t.Fatal(err)
	}
	for signer, ok := range map[string]bool{
		wf + "@refs/tags/v1":          true,
		wf + "@refs/heads/main":       true,
		wf + "@x.yml@refs/heads/main": false,
		wf + "@":                      false,
		wf:                            false,
		wf + ".bak@refs/heads/main":   false,
		"https://github.com/o/r/.github/workflows/": false,
	} {
		if err := p.check("", signer); (err == nil) != ok {
			t.Errorf("check(%q) = %v, want accepted %v", signer, err, ok)
		}
	}
}
