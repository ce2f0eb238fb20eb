package runtime_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/edgerun/edgerun/internal/testmodels"
	"github.com/edgerun/edgerun/runtime"
)

// benchModels are the files the generation benchmarks run on: stories260K always, and
// the TinyLlama-1.1B-shaped random Q4_0 GGUF when `make peers`-style set-up wrote it
// (TINYLLAMA=1 ../shared/tools/anchors/setup-llamacpp.sh).
func benchModels(b *testing.B) map[string]string {
	m := map[string]string{"stories260K": filepath.Join(testmodels.Dir(b), "stories260K", "stories260K.gguf")}
	dir := os.Getenv("ANCHORS_DIR")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "anchors")
	}
	if p := filepath.Join(dir, "models", "tinyllama-shape-q4_0.gguf"); fileExists(p) {
		m["tinyllama-q4_0"] = p
	}
	return m
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// BenchmarkPrefill64 measures a 64-token prompt pass (tokens/s = 64 / (ns/op)).
// BenchmarkDecode measures one generated token after a 64-token prompt.
func BenchmarkPrefill64(b *testing.B) {
	for name, path := range benchModels(b) {
		b.Run(name, func(b *testing.B) {
			e, err := runtime.Open(path, runtime.WithThreads(2))
			if err != nil {
				b.Fatal(err)
			}
			defer e.Close()
			prompt := benchPrompt(e, 64)
			for b.Loop() {
				if _, err := e.NewSession().Eval(prompt); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(64*float64(b.N)/b.Elapsed().Seconds(), "tok/s")
		})
	}
}

func BenchmarkDecode(b *testing.B) {
	for name, path := range benchModels(b) {
		b.Run(name, func(b *testing.B) {
			e, err := runtime.Open(path, runtime.WithThreads(2))
			if err != nil {
				b.Fatal(err)
			}
			defer e.Close()
			s := e.NewSession()
			if _, err := s.Eval(benchPrompt(e, 64)); err != nil {
				b.Fatal(err)
			}
			tok := []int{e.Tokenizer.BOS()}
			n := 0
			for b.Loop() {
				if len(s.Tokens()) >= s.KVCache().Context() {
					b.StopTimer()
					s.Reset()
					b.StartTimer()
				}
				if _, err := s.Eval(tok); err != nil {
					b.Fatal(err)
				}
				n++
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "tok/s")
		})
	}
}

func benchPrompt(e *runtime.Engine, n int) []int {
	ids := make([]int, n)
	for i := range ids {
		ids[i] = (i*7919 + 3) % e.Model.Config.Vocab
	}
	return ids
}
