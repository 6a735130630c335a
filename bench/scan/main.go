// Command scan runs the archive scanner (oci.Scan) on one archive and prints
// the oci predicate of its first image as JSON. The archive benchmark
// (bench/archive.sh) runs it beside the CLI's dry run: it measures the
// scanner without CLI start-up, and its -cpuprofile/-memprofile flags are
// where a profile of a slow scan comes from.
//
//	go run ./bench/scan -cpuprofile cpu.prof bench/out/plain/archive.tar
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"

	"github.com/oci-attest/oci-attest/internal/attest"
	"github.com/oci-attest/oci-attest/internal/oci"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "scan:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) (err error) {
	fs := flag.NewFlagSet("scan", flag.ContinueOnError)
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the scan to this file")
	memprofile := fs.String("memprofile", "", "write a heap profile (after the scan) to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("usage: scan [-cpuprofile FILE] [-memprofile FILE] ARCHIVE")
	}
	path := fs.Arg(0)

	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return fmt.Errorf("creating CPU profile: %w", err)
		}
		defer func() {
			if cerr := f.Close(); err == nil && cerr != nil {
				err = fmt.Errorf("writing CPU profile: %w", cerr)
			}
		}()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("starting CPU profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}

	a, err := oci.Scan(ctx, path, oci.ScanOptions{})
	if err != nil {
		return err
	}
	if len(a.Images) == 0 {
		return fmt.Errorf("scanning %s: no image in the archive", path)
	}

	if *memprofile != "" {
		if err := writeHeap(*memprofile); err != nil {
			return err
		}
	}
	out, err := json.MarshalIndent(attest.NewPredicate(a, &a.Images[0]), "", "  ")
	if err != nil {
		return fmt.Errorf("encoding predicate: %w", err)
	}
	_, err = fmt.Fprintf(stdout, "%s\n", out)
	return err
}

func writeHeap(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("creating heap profile: %w", err)
	}
	runtime.GC()
	if err := pprof.WriteHeapProfile(f); err != nil {
		_ = f.Close()
		return fmt.Errorf("writing heap profile: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing heap profile: %w", err)
	}
	return nil
}
