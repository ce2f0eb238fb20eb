package oracle

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/edgerun/edgerun/int4"
	"github.com/edgerun/edgerun/loader"
	"github.com/edgerun/edgerun/runtime"
)

// demoDir is the committed demo model (models/demo at the repository root).
func demoDir(t *testing.T) string {
	dir, err := filepath.Abs(filepath.Join("..", "..", "models", "demo"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "model.safetensors")); err != nil {
		t.Fatalf("demo model missing: %v", err)
	}
	return dir
}

// actTol bounds edgerun's native NF4 path against the oracle: its NF4 kernels quantize
// the activations to 8 bits (as llama.cpp's do; kernels/bnb4.go), which moves the demo
// model's logits (up to 15) by about 0.1.
const actTol = 0.3

// demoF32Engine opens the demo model in edgerun with its NF4 weights dequantized to
// float32 by edgerun's own decoder, so the forward pass runs the float kernels and can be
// held to the 1e-4 tolerance.
func demoF32Engine(t *testing.T, dir string) *runtime.Engine {
	t.Helper()
	ck, err := loader.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for name, w := range ck.Tensors {
		if !int4.IsBnb4(w.Type) { // NF4, FP4 and their 64-element layouts
			continue
		}
		x := make([]float32, w.Elems())
		if err := int4.DequantizeRow(w.Type, w.Data, x); err != nil {
			t.Fatal(err)
		}
		b := make([]byte, 4*len(x))
		for i, v := range x {
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
		}
		ck.Tensors[name] = &loader.Tensor{Name: name, Type: int4.F32, Shape: w.Shape, Data: b}
		n++
	}
	if n != 7*ck.Config.Layers {
		t.Fatalf("%s: %d NF4 weights, want %d", dir, n, 7*ck.Config.Layers)
	}
	e, err := runtime.NewEngine(ck, runtime.WithThreads(1))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestDemoModel: the committed NF4 demo model, the oracle dequantizing the
// bitsandbytes pieces itself from the file, alone and with each of its two adapters;
// edgerun with its NF4 decoder and float kernels (adapters live and merged) within
// 1e-4, and its native NF4 kernels (8-bit activations) within actTol.
func TestDemoModel(t *testing.T) {
	dir := demoDir(t)
	ck := openCheckpoint(t, dir)
	cfg, err := ConfigOf(ck.Config)
	if err != nil {
		t.Fatal(err)
	}
	m, err := LoadBnbDir(dir, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Q4) != 7*cfg.Layers {
		t.Fatalf("%s: %d 4-bit weights, want %d", dir, len(m.Q4), 7*cfg.Layers)
	}
	toks := testTokens(32, cfg.Vocab, 4)
	base, err := m.Logits(backend(t), nil, toks)
	if err != nil {
		t.Fatal(err)
	}
	compare(t, "demo base (NF4 decoded to F32)", engineLogits(t, demoF32Engine(t, dir), nil, toks), base)
	compareTol(t, "demo base (native NF4 kernels)", edgerunLogits(t, dir, nil, toks), base, actTol)
	for _, name := range []string{"adapter-fairy.gguf", "adapter-log.gguf"} {
		ad := filepath.Join(dir, name)
		a, err := loader.OpenAdapter(ad)
		if err != nil {
			t.Fatal(err)
		}
		a.MatchRopeLayout(ck.Config) // GGUF LoRA q/k rows to the base's rotate-half pairing
		want, err := m.Logits(backend(t), asStored(ModulesOf(a, 1)), toks)
		if err != nil {
			t.Fatal(err)
		}
		compare(t, "demo + "+name+" (NF4 decoded to F32, merged)", mergedLogits(t, demoF32Engine(t, dir), []string{ad}, toks), want)
		compare(t, "demo + "+name+" (NF4 decoded to F32, live)", engineLogits(t, demoF32Engine(t, dir), []string{ad}, toks), want)
		compareTol(t, "demo + "+name+" (native NF4 kernels)", edgerunLogits(t, dir, []string{ad}, toks), want, actTol)
	}
}
