package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// newFlagSet is a flag set for one command whose usage is header followed
// by the flags, each with its usage text (which says its default: flag's own
// "(default …)" suffix is not added), and whose parse errors are short: an
// unknown flag gets a "did you mean" instead of the whole usage.
func newFlagSet(name string, stderr io.Writer, header func() string) *flagSet {
	fs := &flagSet{FlagSet: flag.NewFlagSet(name, flag.ContinueOnError)}
	// The flag package prints its own usage on every parse error: the
	// output is discarded and ours is printed for -h only.
	fs.SetOutput(io.Discard)
	fs.usage = func() {
		var b strings.Builder
		b.WriteString(header())
		fs.VisitAll(func(f *flag.Flag) {
			arg := " VALUE"
			if bf, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && bf.IsBoolFlag() {
				arg = ""
			}
			fmt.Fprintf(&b, "  --%s%s\n      %s\n", f.Name, arg, f.Usage)
		})
		fmt.Fprint(stderr, b.String())
	}
	return fs
}

// flagSet is a flag.FlagSet with the usage parseFlags prints for -h.
type flagSet struct {
	*flag.FlagSet
	usage func()
}

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

// editDistance is the Levenshtein distance of a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
