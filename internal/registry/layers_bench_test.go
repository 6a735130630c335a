package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"syscall"
	"testing"
	"time"

	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/oci-attest/oci-attest/internal/oci"
	"github.com/oci-attest/oci-attest/internal/oci/ocitest"
	"github.com/oci-attest/oci-attest/internal/testenv"
)

// BenchmarkSameLayers is what binding by layers costs when every layer of
// the registry image was re-compressed (nothing can be skipped by digest):
// 4 gzip layers of 32 MiB of text-like tar each, read from an in-process
// registry over loopback, decompressed and hashed, 4 at a time; per
// uncompressed GiB (BENCHMARKS.md "Binding by layers"): wall time, and the
// process's CPU time (the in-process registry's serving included).
func BenchmarkSameLayers(b *testing.B) {
	reg := testenv.StartGGCR(b)
	c := newTestClient(b, Options{})
	const layers, size = 4, 32 << 20
	img := &oci.Image{}
	var descs []ocispec.Descriptor
	var total int64
	for i := range layers {
		l := ocitest.TextLayer(size, uint64(i))
		s := ocitest.Compress(l, oci.CompressionGzip)
		testenv.PushBlob(b, reg.Host, "bench", s)
		descs = append(descs, ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayerGzip, Digest: digest.FromBytes(s), Size: int64(len(s))})
		img.DiffIDs = append(img.DiffIDs, digest.FromBytes(l))
		img.Layers = append(img.Layers, oci.Layer{Digest: digest.FromBytes(l)}) // as if the archive stored them otherwise
		total += int64(len(l))
	}
	cfg := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
	testenv.PushBlob(b, reg.Host, "bench", cfg)
	img.ImageID = digest.FromBytes(cfg)
	raw, _ := json.Marshal(ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest,
		Config: ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: img.ImageID, Size: int64(len(cfg))}, Layers: descs})
	testenv.PutManifest(b, reg.Host, "bench", "v1", ocispec.MediaTypeImageManifest, raw)
	for i := range img.Layers { // the archive's blobs differ: every layer is read
		img.Layers[i].Digest = digest.FromString(fmt.Sprint(i))
	}
	ref := testenv.Ref(b, reg.Host+"/bench:v1")
	b.SetBytes(total)
	var ru0, ru1 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	for b.Loop() {
		got, err := c.SameLayers(context.Background(), ref, raw, img)
		if err != nil || got.Read != layers {
			b.Fatalf("SameLayers() = %+v, %v", got, err)
		}
	}
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	perGiB := float64(1<<30) / float64(total) / float64(b.N)
	b.ReportMetric(b.Elapsed().Seconds()*perGiB, "s/GiB")
	cpu := time.Duration(ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano())
	b.ReportMetric(cpu.Seconds()*perGiB, "cpu-s/GiB")
}
