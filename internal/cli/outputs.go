package cli

import (
	"encoding/json"
	"fmt"
	"io"
)

// printOutputs writes the action's outputs for CLI users: name=value lines,
// or one JSON object.
func printOutputs(w io.Writer, format string, outs map[string]string) error {
	if format == "json" {
		b, err := json.MarshalIndent(outs, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	}
	for _, o := range outputs {
		if v, ok := outs[o.name]; ok {
			if _, err := fmt.Fprintf(w, "%s=%s\n", o.name, v); err != nil {
				return err
			}
		}
	}
	return nil
}

// humanBytes formats a size in bytes with binary units (KiB, MiB, …).
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
