package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/oci-attest/oci-attest/internal/actions"
)

// docsEntry is one input or output of docs/inputs.md: the paragraphs the
// tables give (generated) and the notes written by hand after them.
type docsEntry struct {
	name      string
	generated []string
}

// docsInputEntries are docs/inputs.md's "## Inputs" entries, from the inputs
// table: where the input is (flag, action input), its default, and its
// description in full, the text action.yml carries.
func docsInputEntries() []docsEntry {
	var es []docsEntry
	for _, in := range inputs {
		flag := "`--" + in.name + "`"
		if h := attestHelp[in.name]; h.arg != "" {
			flag = "`--" + in.name + " " + h.arg + "`"
		}
		var where string
		switch {
		case in.actionOnly:
			where = "Action input only, no flag"
		case in.cliOnly:
			where = "Flag " + flag + " only, no action input"
		default:
			where = "Action input; flag " + flag
		}
		var def string
		switch {
		case in.required:
			def = "required"
		case in.actionDef != "" && in.def == "":
			def = "default in the action `" + in.actionDef + "`"
		case in.actionDef != "":
			def = "default in the action `" + in.actionDef + "`, on the command line `" + in.def + "`"
		case in.def != "":
			def = "default `" + in.def + "`"
		default:
			def = "default: none"
		}
		es = append(es, docsEntry{in.name, []string{where + "; " + def + ".", markdownText(in.usage)}})
	}
	return es
}

// docsOutputEntries are docs/inputs.md's "## Outputs" entries: each output's
// description as action.yml carries it.
func docsOutputEntries() []docsEntry {
	var es []docsEntry
	for _, o := range actions.OutputList {
		es = append(es, docsEntry{o.Name, []string{"Output; on the command line a line `" + o.Name + "=…`.", markdownText(o.Description)}})
	}
	return es
}

// markdownText escapes the characters Markdown would read as markup in a
// description (<image-id> as an HTML tag, ** as emphasis).
func markdownText(s string) string {
	return strings.NewReplacer(`\`, `\\`, "*", `\*`, "_", `\_`, "<", `\<`, ">", `\>`, "[", `\[`, "]", `\]`, "`", "\\`").Replace(s)
}

var docsEntryHeading = regexp.MustCompile("^### `([a-z-]+)`$")

// renderDocsPart rewrites the part of doc under the "## "+part heading (to
// the next "## " heading): its prose up to the first entry is kept, then
// every entry of want in order, each with its generated paragraphs and the
// notes that followed them in doc. Entries doc has and want lacks are
// dropped, and reported.
func renderDocsPart(doc []string, part string, want []docsEntry) ([]string, []string, error) {
	start := slices.Index(doc, "## "+part)
	if start < 0 {
		return nil, nil, fmt.Errorf("no %q heading", "## "+part)
	}
	end := len(doc)
	for i := start + 1; i < len(doc); i++ {
		if strings.HasPrefix(doc[i], "## ") {
			end = i
			break
		}
	}
	body := doc[start+1 : end]
	first := slices.IndexFunc(body, func(l string) bool { return docsEntryHeading.MatchString(l) })
	if first < 0 {
		first = len(body)
	}
	// The notes of each entry: what follows its generated paragraphs up to
	// the next entry's heading.
	notes := map[string][]string{}
	var order []string
	for i := first; i < len(body); {
		name := docsEntryHeading.FindStringSubmatch(body[i])[1]
		j := i + 1
		for j < len(body) && !docsEntryHeading.MatchString(body[j]) {
			j++
		}
		notes[name] = trimBlank(skipGenerated(body[i+1 : j]))
		order = append(order, name)
		i = j
	}
	out := append([]string{}, doc[:start+1]...)
	out = append(out, body[:first]...)
	for _, e := range want {
		out = append(out, "### `"+e.name+"`")
		for _, p := range e.generated {
			out = append(out, "", p)
		}
		if n := notes[e.name]; len(n) > 0 {
			out = append(out, "")
			out = append(out, n...)
		}
		out = append(out, "")
	}
	out = append(out, doc[end:]...)
	var dropped []string
	for _, name := range order {
		if !slices.ContainsFunc(want, func(e docsEntry) bool { return e.name == name }) {
			dropped = append(dropped, name)
		}
	}
	return out, dropped, nil
}

// docsGenerated starts the first generated paragraph of an entry (where
// the input or output is), which the description follows.
var docsGenerated = regexp.MustCompile(`^(Action input|Flag |Output;)`)

// skipGenerated drops an entry's generated paragraphs: the first two, when
// the first is one this test writes (an entry written by hand has none).
func skipGenerated(lines []string) []string {
	lines = trimBlank(lines)
	if len(lines) == 0 || !docsGenerated.MatchString(lines[0]) {
		return lines
	}
	for n := 2; n > 0; n-- {
		lines = trimBlank(lines)
		i := slices.Index(lines, "")
		if i < 0 {
			return nil
		}
		lines = lines[i:]
	}
	return lines
}

// trimBlank drops the blank lines at either end.
func trimBlank(lines []string) []string {
	for len(lines) > 0 && lines[0] == "" {
		lines = lines[1:]
	}
	for len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

// TestDocsInputs holds docs/inputs.md to the inputs and outputs tables: each
// input and output has its entry, in the tables' order, opening with what
// the tables say of it (flag, default, the full description action.yml
// carries); what follows in an entry is written by hand. -update rewrites
// the tables' paragraphs and adds or drops entries, keeping the notes.
func TestDocsInputs(t *testing.T) {
	path := filepath.Join(repoRoot, docsInputs)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc := strings.Split(string(b), "\n")
	want, droppedIn, err := renderDocsPart(doc, "Inputs", docsInputEntries())
	if err != nil {
		t.Fatalf("%s: %v", docsInputs, err)
	}
	want, droppedOut, err := renderDocsPart(want, "Outputs", docsOutputEntries())
	if err != nil {
		t.Fatalf("%s: %v", docsInputs, err)
	}
	if *update {
		if err := os.WriteFile(path, []byte(strings.Join(want, "\n")), 0o644); err != nil {
			t.Fatal(err)
		}
		if d := append(droppedIn, droppedOut...); len(d) > 0 {
			t.Logf("dropped the entries of %v, which are no longer inputs or outputs", d)
		}
		return
	}
	if d := append(droppedIn, droppedOut...); len(d) > 0 {
		t.Errorf("%s describes %v, which are not inputs or outputs", docsInputs, d)
	}
	if diff := cmp.Diff(strings.Join(want, "\n"), string(b)); diff != "" {
		t.Errorf("%s is out of date with inputs.go and actions.OutputList (run go test ./internal/cli -run TestDocsInputs -update) (-want +got):\n%s", docsInputs, diff)
	}
}

// TestREADMETables holds the README's short tables of inputs and outputs to
// the inputs and outputs: every action input and output has a row, none
// that is not one, and each input row gives the default action.yml
// declares.
func TestREADMETables(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := strings.Split(string(b), "\n")
	var wantIn, wantOut []string
	defaults := map[string]string{}
	for _, in := range inputs {
		if in.cliOnly {
			continue
		}
		wantIn = append(wantIn, in.name)
		switch {
		case in.required:
			defaults[in.name] = "required"
		case in.actionDef != "":
			defaults[in.name] = in.actionDef
		case in.def == "":
			defaults[in.name] = "''"
		default:
			defaults[in.name] = in.def
		}
	}
	for _, o := range actions.OutputList {
		wantOut = append(wantOut, o.Name)
	}
	gotIn, rowDefaults := readmeTable(t, readme, "## Inputs")
	gotOut, _ := readmeTable(t, readme, "## Outputs")
	if diff := cmp.Diff(wantIn, gotIn); diff != "" {
		t.Errorf("README's inputs table (-inputs.go +README):\n%s", diff)
	}
	if diff := cmp.Diff(wantOut, gotOut); diff != "" {
		t.Errorf("README's outputs table (-actions.OutputList +README):\n%s", diff)
	}
	for name, got := range rowDefaults {
		if want, ok := defaults[name]; ok && got != want {
			t.Errorf("README's inputs table gives %s the default %q, action.yml %q", name, got, want)
		}
	}
}

var backticked = regexp.MustCompile("`([^`]+)`")

// readmeTable reads the first table under heading: the names in backticks
// of each row's first cell, and each name's second cell without its
// backticks and parenthesised words ("(required)" is "required").
func readmeTable(t *testing.T, readme []string, heading string) ([]string, map[string]string) {
	t.Helper()
	i := slices.Index(readme, heading)
	if i < 0 {
		t.Fatalf("README has no %q", heading)
	}
	for i < len(readme) && !strings.HasPrefix(readme[i], "|") {
		i++
	}
	var names []string
	second := map[string]string{}
	for i += 2; i < len(readme) && strings.HasPrefix(readme[i], "|"); i++ {
		cells := strings.Split(readme[i], "|")
		if len(cells) < 4 {
			t.Fatalf("README %s: a row without cells: %q", heading, readme[i])
		}
		def := strings.Trim(strings.TrimSpace(cells[2]), "`()")
		for _, m := range backticked.FindAllStringSubmatch(cells[1], -1) {
			names = append(names, m[1])
			second[m[1]] = def
		}
	}
	return names, second
}
