package oci

import (
	"fmt"
	"strings"
	"testing"
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

// TestResolveLinear: resolving through 39 directory links costs work
// linear in the path's length, counted (never timed) as the tree's map
// look-ups and the bytes of their keys. It used to be quadratic: every hop
// looked every prefix of the whole path up again (4 KiB paths cost
// milliseconds per manifest entry; that is 64 times the key bytes for 8
// times the depth). A walk jumps to the deepest real directory its path
// names by binary search over the path's slashes: 8 times the depth adds at
// most 2 look-ups per doubling, and hashes at most 16 times the key bytes
// (linear with the search's log factor: about 11).
func TestResolveLinear(t *testing.T) {
	t.Parallel()
	cost := func(depth int) work {
		tb, p := linkChainTableDepth(t, depth)
		before := tb.work
		if _, err := tb.resolve(p, "test"); err != nil {
			t.Fatal(err)
		}
		return work{lookups: tb.work.lookups - before.lookups, keyBytes: tb.work.keyBytes - before.keyBytes}
	}
	short, long := cost(250), cost(2000)
	t.Logf("depth 250: %d look-ups, %d key bytes; depth 2000: %d look-ups, %d key bytes", short.lookups, short.keyBytes, long.lookups, long.keyBytes)
	if long.lookups > short.lookups+2*3 {
		t.Errorf("8 times the depth costs %d look-ups, %d more than %d: the walk looks components up one by one", long.lookups, long.lookups-short.lookups, short.lookups)
	}
	if long.keyBytes > 16*short.keyBytes {
		t.Errorf("resolution is not linear: 8 times the depth hashes %.1f times the key bytes", float64(long.keyBytes)/float64(short.keyBytes))
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

// TestPlaceDeepNamesLinear: placing an entry whose 4 KiB name has 2000
// components in an existing directory costs a few look-ups of its
// directory's path (counted, never timed), not one per component: that
// was about 40 times the time of putting the names in a map. Once the
// shared directories exist, each further entry costs at most 4 look-ups
// and 3 times its name's length in key bytes.
func TestPlaceDeepNamesLinear(t *testing.T) {
	t.Parallel()
	const n = 500
	one, two := deepNamesTable(t, n).work, deepNamesTable(t, 2*n).work
	lookups, keyBytes := (two.lookups-one.lookups)/n, (two.keyBytes-one.keyBytes)/n
	name := len(fmt.Sprintf("%s%d/f", strings.Repeat("y/", 1990), 2*n))
	t.Logf("per entry of %d bytes: %d look-ups, %d key bytes", name, lookups, keyBytes)
	if lookups > 4 {
		t.Errorf("placing an entry of 2000 components costs %d look-ups, want at most 4 (one per component is the old cost)", lookups)
	}
	if keyBytes > 3*int64(name) {
		t.Errorf("placing an entry of %d bytes hashes %d key bytes, want at most 3 times its length", name, keyBytes)
	}
}

// BenchmarkPlaceDeepNames places 1000 entries of 4 KiB names.
func BenchmarkPlaceDeepNames(b *testing.B) {
	for b.Loop() {
		deepNamesTable(b, 1000)
	}
}

// BenchmarkResolveDepth times one resolution of linkChainTableDepth's path
// at depths 250 and 2000 (the sizes TestResolveLinear counts): the ratio of
// the two is the time TestResolveLinear used to assert.
func BenchmarkResolveDepth(b *testing.B) {
	for _, depth := range []int{250, 2000} {
		b.Run(fmt.Sprint(depth), func(b *testing.B) {
			t, p := linkChainTableDepth(b, depth)
			for b.Loop() {
				t.tree.links = nil
				if _, err := t.resolve(p, "bench"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
