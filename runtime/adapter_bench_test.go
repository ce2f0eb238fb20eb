package runtime_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/edgerun/edgerun/runtime"
)

// tinyLlamaShape opens the TinyLlama-1.1B-shaped random Q4_0 model that
// tools/anchors writes (skipping when absent).
func tinyLlamaShape(b *testing.B) *runtime.Engine {
	b.Helper()
	dir := os.Getenv("ANCHORS_DIR")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "anchors")
	}
	p := filepath.Join(dir, "models", "tinyllama-shape-q4_0.gguf")
	if _, err := os.Stat(p); err != nil {
		b.Skipf("%s not found (run `make peers` / tools/anchors)", p)
	}
	e, err := runtime.Open(p, runtime.WithContext(512))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { e.Close() })
	return e
}

// BenchmarkLoraTinyLlama measures, on the TinyLlama-1.1B-shaped Q4_0 model, one decode
// step without adapters, with a live r=16 adapter on all seven projections, and with
// the same adapter merged (requantized to Q4_0, so the per-token cost equals the base).
// The live/merged ratio is the per-token overhead of unmerged LoRA.
func BenchmarkLoraTinyLlama(b *testing.B) {
	e := tinyLlamaShape(b)
	if _, err := e.AddAdapter("r16", synthAdapterB(e, 1, 16)); err != nil {
		b.Fatal(err)
	}
	set := []runtime.AdapterScale{{Name: "r16", Scale: 1}}
	for _, mode := range []string{"base", "live-r16", "merged-r16"} {
		b.Run(mode, func(b *testing.B) {
			s := e.NewSession()
			defer s.Close()
			switch mode {
			case "live-r16":
				if err := s.SetAdapters(set); err != nil {
					b.Fatal(err)
				}
			case "merged-r16":
				if _, err := e.Merge(set, runtime.MergeOptions{}); err != nil {
					b.Fatal(err)
				}
				defer e.Unmerge()
			}
			if _, err := s.Eval([]int{1, 2, 3, 4}); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if len(s.Tokens()) >= 500 {
					s.Reset()
				}
				if _, err := s.Eval([]int{300}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("switch", func(b *testing.B) { benchSwitch(b, e) })
}

// BenchmarkLoraMergeTinyLlama measures merging an r=16 adapter on all seven projections
// into the TinyLlama-1.1B-shaped Q4_0 model (dequantize, add, requantize to Q4_0).
// Run it with -benchtime 1x: one merge takes seconds.
func BenchmarkLoraMergeTinyLlama(b *testing.B) {
	e := tinyLlamaShape(b)
	if _, err := e.AddAdapter("r16", synthAdapterB(e, 1, 16)); err != nil {
		b.Fatal(err)
	}
	set := []runtime.AdapterScale{{Name: "r16", Scale: 1}}
	for b.Loop() {
		if _, err := e.Merge(set, runtime.MergeOptions{}); err != nil {
			b.Fatal(err)
		}
		e.Unmerge()
	}
}

// benchSwitch measures SetAdapters latency and reports its p50 and p99.
func benchSwitch(b *testing.B, e *runtime.Engine) {
	if _, err := e.AddAdapter("other", synthAdapterB(e, 2, 4)); err != nil {
		b.Fatal(err)
	}
	defer e.UnloadAdapter("other")
	s := e.NewSession()
	defer s.Close()
	sets := [][]runtime.AdapterScale{{{Name: "r16", Scale: 1}}, {{Name: "other", Scale: 0.5}, {Name: "r16", Scale: 1}}, nil}
	var lat []time.Duration
	for i := 0; b.Loop(); i++ {
		t0 := time.Now()
		if err := s.SetAdapters(sets[i%len(sets)]); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
}
