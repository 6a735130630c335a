package oci

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// linkChainTable is an entry table where a 4 KiB path reaches its file
// through 39 directory symbolic links, each in a directory 1000 levels
// deep: the worst case the README's limits allow (4096-byte paths, 40
// links).
func linkChainTable(tb testing.TB) (*table, string) {
	return linkChainTableDepth(tb, 1000)
}

func linkChainTableDepth(tb testing.TB, depth int) (*table, string) {
	tb.Helper()
	deep := strings.Repeat("x/", depth)
	t := &table{path: "bench.tar", byName: map[string]*entry{}}
	const links = 39
	for i := range links {
		next := fmt.Sprintf("D%d", i+1)
		if i == links-1 {
			next = "real"
		}
		if err := t.add(&entry{name: fmt.Sprintf("%sD%d", deep, i), typ: '2', linkname: deep + next}); err != nil {
			tb.Fatal(err)
		}
	}
	if err := t.add(&entry{name: deep + "real/f", typ: '0'}); err != nil {
		tb.Fatal(err)
	}
	return t, deep + "D0/f"
}

// BenchmarkResolveLinkChain measures one resolution of the worst-case path
// of linkChainTable, each time with nothing remembered of earlier ones (as
// the first resolution in a scan); it must cost time linear in the bytes
// walked.
func BenchmarkResolveLinkChain(b *testing.B) {
	t, p := linkChainTable(b)
	for b.Loop() {
		if t.tree != nil {
			t.tree.links = nil
		}
		e, err := t.resolve(p, "bench")
		if err != nil || !strings.HasSuffix(e.name, "/real/f") {
			b.Fatalf("resolve = %v, %v", e, err)
		}
	}
}

// TestResolveLinear: resolving through 39 directory links costs time
// linear in the path's length. It used to be quadratic: every hop looked
// every prefix of the whole path up again (4 KiB paths cost milliseconds
// per manifest entry). Eight times the depth must cost under sixteen times
// the time (linear gives about eight, the old code about twenty).
func TestResolveLinear(t *testing.T) {
	if testing.Short() {
		t.Skip("measures time")
	}
	cost := func(depth int) time.Duration {
		tb, p := linkChainTableDepth(t, depth)
		best := time.Duration(1 << 62)
		for range 5 {
			start := time.Now()
			for range 20 {
				if tb.tree != nil {
					tb.tree.links = nil
				}
				if _, err := tb.resolve(p, "test"); err != nil {
					t.Fatal(err)
				}
			}
			best = min(best, time.Since(start))
		}
		return best
	}
	short, long := cost(250), cost(2000)
	t.Logf("depth 250: %v, depth 2000: %v (20 resolutions each)", short, long)
	if long > 16*short {
		t.Errorf("resolution is not linear: 8 times the depth costs %.1f times the time", float64(long)/float64(short))
	}
}

// deepNamesTable adds n files named by 2000-component paths (4 KiB),
// each in its own directory under a shared deep one.
func deepNamesTable(tb testing.TB, n int) *table {
	tb.Helper()
	deep := strings.Repeat("y/", 1990)
	t := &table{path: "bench.tar", byName: map[string]*entry{}}
	for i := range n {
		if err := t.add(&entry{name: fmt.Sprintf("%s%d/f", deep, i), typ: '0'}); err != nil {
			tb.Fatal(err)
		}
	}
	return t
}

// TestPlaceDeepNamesLinear: placing entries with 4 KiB names of 2000
// components costs a few times what building the names and putting them
// in a map costs — one look-up per name, not one per component (that was
// about 40 times; this allows 6; it is about 2.4).
func TestPlaceDeepNamesLinear(t *testing.T) {
	if testing.Short() {
		t.Skip("measures time")
	}
	const n = 2000
	best := func(f func()) time.Duration {
		d := time.Duration(1 << 62)
		for range 5 {
			start := time.Now()
			f()
			d = min(d, time.Since(start))
		}
		return d
	}
	deep := strings.Repeat("y/", 1990)
	baseline := best(func() {
		m := map[string]*entry{}
		for i := range n {
			name := fmt.Sprintf("%s%d/f", deep, i)
			m[name] = &entry{name: name}
		}
	})
	place := best(func() { deepNamesTable(t, n) })
	t.Logf("%d entries: names in a map %v, placed %v", n, baseline, place)
	if place > 6*baseline {
		t.Errorf("placing %d deep entries took %v, %.1f times building their names into a map", n, place, float64(place)/float64(baseline))
	}
}

// BenchmarkPlaceDeepNames places 1000 entries of 4 KiB names.
func BenchmarkPlaceDeepNames(b *testing.B) {
	for b.Loop() {
		deepNamesTable(b, 1000)
	}
}
