package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// newFlagSet is a flag set for one command whose help (-h, --help, on
// stdout) is header followed by one line per flag — its value's name (set
// with arg; bool flags have none) and its usage, which says its default
// (flag's own "(default …)" suffix is not added) — and whose parse errors
// are short: an unknown flag gets a "did you mean" instead of the help.
func newFlagSet(name string, stdout io.Writer, header func() string) *flagSet {
	fs := &flagSet{FlagSet: flag.NewFlagSet(name, flag.ContinueOnError), args: map[string]string{}}
	// The flag package prints its own usage on every parse error: the
	// output is discarded and ours is printed for -h only.
	fs.SetOutput(io.Discard)
	fs.usage = func() {
		var lines []helpLine
		fs.VisitAll(func(f *flag.Flag) {
			arg := fs.args[f.Name]
			if isBoolFlag(f) {
				arg = ""
			} else if arg == "" {
				arg = "VALUE"
			}
			lines = append(lines, helpLine{name: f.Name, arg: arg, help: f.Usage})
		})
		writeHelp(stdout, header(), lines)
	}
	return fs
}

// flagSet is a flag.FlagSet with the help parseFlags prints for -h.
type flagSet struct {
	*flag.FlagSet
	usage func()
	// args name each flag's value in the help ("FILE"); "VALUE" when unset.
	args map[string]string
}

// arg names flag name's value in the help.
func (fs *flagSet) arg(name, arg string) { fs.args[name] = arg }

// parseFlags parses args with fs. -h/--help print the usage and return
// flag.ErrHelp; any other error is a usage error that names the flag, with
// the closest known flag for an unknown one.
func parseFlags(fs *flagSet, args []string) error {
	err := fs.Parse(args)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, flag.ErrHelp):
		fs.usage()
		return err
	}
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
		name = strings.TrimPrefix(name, "-")
		if s := closestFlag(fs, name); s != "" {
			return fmt.Errorf("%w: unknown flag --%s: did you mean --%s? (--help lists the flags)", errUsage, name, s)
		}
		return fmt.Errorf("%w: unknown flag --%s (--help lists the flags)", errUsage, name)
	}
	return fmt.Errorf("%w: %s (--help lists the flags)", errUsage, strings.Replace(msg, " -", " --", 1))
}

// closestFlag is the flag of fs nearest to name by edit distance, when it is
// near enough to be a typo (at most a third of the name's length).
func closestFlag(fs *flagSet, name string) string {
	best, bestD := "", len(name)/3+1
	fs.VisitAll(func(f *flag.Flag) {
		if d := editDistance(name, f.Name); d < bestD {
			best, bestD = f.Name, d
		}
	})
	return best
}

// editDistance is the optimal string alignment distance of a and b: the
// Levenshtein distance with a swap of two neighbours counted as one edit
// ("dmeo" is one edit from "demo").
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

// commands are the CLI's commands besides attest (which is the default).
var commands = []string{"attest", "verify", "attach", "demo", "version"}

// unexpectedArgument says what to do about the first argument fs did not
// take as a flag: a bool flag's value given as a separate word
// (--push-to-registry false), a mistyped command (verfy), or anything else.
func unexpectedArgument(fs *flagSet, args []string) error {
	arg := fs.Arg(0)
	i := len(args) - fs.NArg()
	if i > 0 {
		name := strings.TrimLeft(args[i-1], "-")
		if f := fs.Lookup(name); f != nil && !strings.Contains(args[i-1], "=") && isBoolFlag(f) {
			if _, err := parseBool("", arg); err == nil {
				return fmt.Errorf("%w: --%s takes no separate value: write --%s=%s", errUsage, name, name, arg)
			}
		}
	}
	if i == 0 {
		best, bestD := "", len(arg)/3+1
		for _, c := range commands {
			if d := editDistance(arg, c); d < bestD {
				best, bestD = c, d
			}
		}
		if best != "" {
			return fmt.Errorf("%w: unknown command %q: did you mean %q? (--help lists the commands)", errUsage, arg, best)
		}
	}
	return fmt.Errorf("%w: unexpected argument %q (inputs are flags: --subject-path FILE; --help lists the commands)", errUsage, arg)
}

// isBoolFlag reports whether f takes no value.
func isBoolFlag(f *flag.Flag) bool {
	bf, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && bf.IsBoolFlag()
}
