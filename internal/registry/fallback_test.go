package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/oci-attest/oci-attest/internal/testenv"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// resolvedSubject pushes a random image to repository:v1 and resolves it.
func resolvedSubject(t testing.TB, c *Client, repository string) *Subject {
	t.Helper()
	img := pushRandomImage(t, repository+":v1")
	s, err := c.Resolve(context.Background(), testenv.Ref(t, repository+":v1"), imageID(t, img))
	if err != nil {
		t.Fatalf("Resolve() = %v", err)
	}
	return s
}

// fallbackEntries returns the digests in the fallback tag of s.
func fallbackEntries(t testing.TB, c *Client, s *Subject) (map[digest.Digest]bool, []byte) {
	t.Helper()
	raw, _, err := c.FetchManifest(context.Background(), s.Repository, fallbackTag(s.Descriptor.Digest.String()))
	if err != nil {
		t.Fatalf("reading fallback tag: %v", err)
	}
	var idx ocispec.Index
	if err := json.Unmarshal(raw, &idx); err != nil {
		t.Fatal(err)
	}
	got := map[digest.Digest]bool{}
	for _, m := range idx.Manifests {
		if got[m.Digest] {
			t.Errorf("fallback index has %s twice", m.Digest)
		}
		got[m.Digest] = true
	}
	return got, raw
}

func TestFallbackForeignTag(t *testing.T) {
	t.Parallel()
	for _, reg := range testenv.InProcessRegistries(t) {
		t.Run(reg.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			c := newTestClient(t, Options{})
			repository := reg.Host + "/foreign"
			s := resolvedSubject(t, c, repository)
			tag := fallbackTag(s.Descriptor.Digest.String())
			squatter := pushRandomImage(t, repository+":"+tag)
			_, err := c.Attach(ctx, s, testBundle(1), AttachOptions{Mode: ModeTag, Settle: testSettle})
			if !errors.Is(err, ErrForeignTag) || !strings.Contains(err.Error(), tag) {
				t.Fatalf("Attach(foreign tag) = %v, want ErrForeignTag naming %s", err, tag)
			}
			_, desc, err := c.FetchManifest(ctx, testenv.Ref(t, repository), tag)
			if err != nil || desc.Digest != manifestDigest(t, squatter) {
				t.Errorf("fallback tag now %v, %v; want the untouched image %s", desc.Digest, err, manifestDigest(t, squatter))
			}
		})
	}
}

func TestFallbackKeepsForeignEntries(t *testing.T) {
	t.Parallel()
	for _, reg := range testenv.InProcessRegistries(t) {
		t.Run(reg.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			c := newTestClient(t, Options{})
			repository := reg.Host + "/keep"
			s := resolvedSubject(t, c, repository)
			tag := fallbackTag(s.Descriptor.Digest.String())
			// Another tool's entry, with fields we do not model, and index annotations.
			other := pushRandomImage(t, repository+":other")
			foreignEntry := fmt.Sprintf(`{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":%q,"size":1,"artifactType":"application/vnd.example+json","x-vendor":{"keep":[1,2,3]}}`, manifestDigest(t, other))
			foreign := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[` + foreignEntry + `],"annotations":{"x":"y"}}`
			at := testenv.Ref(t, repository)
			ctx2, rp := c.repository(ctx, at, "pull", "push")
			if _, err := rp.putManifest(ctx2, tag, ocispec.MediaTypeImageIndex, []byte(foreign), nil); err != nil {
				t.Fatalf("seeding fallback tag: %v", err)
			}
			res, err := c.Attach(ctx, s, testBundle(2), AttachOptions{Mode: ModeTag, Settle: testSettle})
			if err != nil {
				t.Fatalf("Attach() = %v", err)
			}
			got, raw := fallbackEntries(t, c, s)
			if !got[manifestDigest(t, other)] || !got[res.Artifact.Digest] || len(got) != 2 {
				t.Errorf("fallback index %s, want the foreign entry and ours", raw)
			}
			if !strings.Contains(string(raw), foreignEntry) || !strings.Contains(string(raw), `"annotations":{"x":"y"}`) {
				t.Errorf("fallback index %s did not keep the foreign entry byte for byte", raw)
			}
			// Attaching the same artifact again adds no duplicate.
			if _, err := c.Attach(ctx, s, testBundle(2), AttachOptions{Mode: ModeTag, Now: func() time.Time { return time.Time{} }, Settle: testSettle}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestFallbackConcurrentGoroutines(t *testing.T) {
	t.Parallel()
	reg := testenv.StartGGCR(t)
	c := newTestClient(t, Options{})
	s := resolvedSubject(t, c, reg.Host+"/goroutines")
	const n = 8
	var wg sync.WaitGroup
	want := make([]digest.Digest, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// One Client per writer, as separate processes would have.
			res, err := newTestClient(t, Options{}).Attach(context.Background(), s, testBundle(100+i), AttachOptions{Mode: ModeTag, Settle: 300 * time.Millisecond})
			errs[i] = err
			if res != nil {
				want[i] = res.Artifact.Digest
			}
		}()
	}
	wg.Wait()
	got, raw := fallbackEntries(t, c, s)
	for i := range n {
		if errs[i] != nil {
			t.Errorf("writer %d: %v", i, errs[i])
		}
		if !got[want[i]] {
			t.Errorf("writer %d's entry %s is missing from %s", i, want[i], raw)
		}
	}
}

// Environment of a child writer process (TestFallbackRaceChild).
const (
	childEnv     = "OCI_ATTEST_PUSH_RACE_CHILD" // writer number
	childRepo    = "OCI_ATTEST_PUSH_RACE_REPO"
	childSubject = "OCI_ATTEST_PUSH_RACE_SUBJECT" // JSON descriptor
	childStart   = "OCI_ATTEST_PUSH_RACE_START"   // unix nanos to start at
	childSettle  = "OCI_ATTEST_PUSH_RACE_SETTLE"
	childNaive   = "OCI_ATTEST_RACE_NAIVE"        // set: writers skip the protocol (control)
	childReads   = "OCI_ATTEST_RACE_VERIFY_READS" // ablation: verification reads per round
)

// TestFallbackRaceChild is one writer of TestFallbackConcurrentProcesses; it
// only runs when re-executed by it.
func TestFallbackRaceChild(t *testing.T) {
	n := os.Getenv(childEnv)
	if n == "" {
		t.Skip("child of TestFallbackConcurrentProcesses")
	}
	i, _ := strconv.Atoi(n)
	var desc ocispec.Descriptor
	if err := json.Unmarshal([]byte(os.Getenv(childSubject)), &desc); err != nil {
		t.Fatal(err)
	}
	settle, err := time.ParseDuration(os.Getenv(childSettle))
	if err != nil {
		t.Fatal(err)
	}
	start, _ := strconv.ParseInt(os.Getenv(childStart), 10, 64)
	time.Sleep(time.Until(time.Unix(0, start)))
	s := &Subject{Repository: testenv.Ref(t, os.Getenv(childRepo)), Descriptor: desc, Image: desc}
	c := newTestClient(t, Options{})
	if os.Getenv(childNaive) != "" {
		// The control: what a client without the protocol does (one read,
		// merge, write), to show the race is real.
		res, err := c.Attach(context.Background(), s, testBundle(1000+i), AttachOptions{Mode: ModeAPI})
		if err != nil {
			t.Fatalf("writer %d: Attach() = %v", i, err)
		}
		at := s.Repository
		ctx, rp := c.repository(context.Background(), at, "pull", "push")
		tag := fallbackTag(desc.Digest.String())
		idx, _, err := rp.readFallback(ctx, tag)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := idx.with(res.Artifact)
		if _, err := rp.putManifest(ctx, tag, ocispec.MediaTypeImageIndex, raw, nil); err != nil {
			t.Fatal(err)
		}
		fmt.Printf("WRITER %d %s requests=%d\n", i, res.Artifact.Digest, 0)
		return
	}
	reads, _ := strconv.Atoi(os.Getenv(childReads))
	res, err := c.Attach(context.Background(), s, testBundle(1000+i), AttachOptions{Mode: ModeTag, Settle: settle, verifyReads: reads})
	if err != nil {
		t.Fatalf("writer %d: Attach() = %v", i, err)
	}
	fmt.Printf("WRITER %d %s requests=%d\n", i, res.Artifact.Digest, res.Requests)
}

// TestFallbackConcurrentProcesses runs OCI_ATTEST_RACE_WRITERS (default 16)
// separate processes that attach distinct bundles to one subject of a
// registry without the referrers API (OCI_ATTEST_RACE_REGISTRY: ggcr, the
// default, distribution or docker-registry) at the same instant, and checks that
// the final fallback index holds every entry (ARCHITECTURE.md, "The fallback tag").
func TestFallbackConcurrentProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 16 processes")
	}
	writers := 16
	if v := os.Getenv("OCI_ATTEST_RACE_WRITERS"); v != "" {
		writers, _ = strconv.Atoi(v)
	}
	settle := "1s"
	if v := os.Getenv("OCI_ATTEST_RACE_SETTLE"); v != "" {
		settle = v
	}
	host := ""
	switch v := os.Getenv("OCI_ATTEST_RACE_REGISTRY"); v {
	case "", "ggcr":
		host = testenv.StartGGCR(t).Host
	case "distribution":
		host = testenv.StartDistribution(t).Host
	case "docker-registry":
		host = testenv.StartDockerRegistry(t).Host
	default:
		t.Fatalf("OCI_ATTEST_RACE_REGISTRY=%q: want ggcr, distribution or docker-registry", v)
	}
	c := newTestClient(t, Options{})
	s := resolvedSubject(t, c, host+"/race")
	subj, _ := json.Marshal(s.Descriptor)
	start := time.Now().Add(3 * time.Second).UnixNano()
	type child struct {
		cmd *exec.Cmd
		out strings.Builder
	}
	children := make([]*child, writers)
	for i := range writers {
		ch := &child{cmd: exec.Command(os.Args[0], "-test.run=^TestFallbackRaceChild$", "-test.v", "-test.count=1")}
		ch.cmd.Env = append(os.Environ(),
			childEnv+"="+strconv.Itoa(i), childRepo+"="+s.Repository.Name(), childSubject+"="+string(subj),
			childStart+"="+strconv.FormatInt(start, 10), childSettle+"="+settle)
		ch.cmd.Stdout, ch.cmd.Stderr = &ch.out, &ch.out
		if err := ch.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		children[i] = ch
	}
	want := map[digest.Digest]int{}
	failed := 0
	for i, ch := range children {
		if err := ch.cmd.Wait(); err != nil {
			failed++
			t.Errorf("writer %d failed: %v\n%s", i, err, ch.out.String())
			continue
		}
		var j, req int
		var d digest.Digest
		for _, line := range strings.Split(ch.out.String(), "\n") {
			if _, err := fmt.Sscanf(line, "WRITER %d %s requests=%d", &j, &d, &req); err == nil {
				want[d] = i
			}
		}
	}
	got, raw := fallbackEntries(t, c, s)
	lost := 0
	naive := os.Getenv(childNaive) != "" || os.Getenv(childReads) != ""
	for d, i := range want {
		if !got[d] {
			lost++
			if !naive {
				t.Errorf("writer %d's entry %s is missing from the final index", i, d)
			}
		}
	}
	if len(want)+failed != writers {
		t.Errorf("%d writers reported a digest, %d failed, want %d in all", len(want), failed, writers)
	}
	if naive {
		t.Logf("control run without the full protocol (%s or %s set)", childNaive, childReads)
	}
	t.Logf("RESULT writers=%d succeeded=%d failed=%d lost=%d entries=%d", writers, len(want), failed, lost, len(got))
	if t.Failed() {
		t.Logf("final index: %s", raw)
	}
}

// TestFallbackIndexWithRestore: entries put back keep their bytes and come
// before ours; ours is not added twice when it is one of them.
func TestFallbackIndexWithRestore(t *testing.T) {
	t.Parallel()
	ours := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromString("ours"), Size: 1}
	oursRaw, _ := json.Marshal(ours)
	lost := json.RawMessage(`{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` + digest.FromString("lost").String() + `","size":2,"x-extra":true}`)
	cases := []struct {
		name    string
		restore []json.RawMessage
		want    []digest.Digest
	}{
		{"nothing to restore", nil, []digest.Digest{ours.Digest}},
		{"another entry", []json.RawMessage{lost}, []digest.Digest{digest.FromString("lost"), ours.Digest}},
		{"ours among them", []json.RawMessage{lost, oursRaw}, []digest.Digest{digest.FromString("lost"), ours.Digest}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			raw, err := newFallbackIndex().with(ours, tc.restore...)
			if err != nil {
				t.Fatal(err)
			}
			idx, err := parseFallbackIndex(&fetched{Raw: raw, Desc: ocispec.Descriptor{MediaType: ocispec.MediaTypeImageIndex}})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, idx.digests); diff != "" {
				t.Errorf("entries (-want +got):\n%s", diff)
			}
			if len(tc.restore) > 0 && !strings.Contains(string(raw), `"x-extra":true`) {
				t.Errorf("restored entry lost its bytes: %s", raw)
			}
		})
	}
}
