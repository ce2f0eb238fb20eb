package main

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"

	"github.com/edgerun/edgerun/internal/testmodels"
	"github.com/edgerun/edgerun/loader"
)

// writeSynthAdapter writes a PEFT adapter (r=8, all seven projections) for the model
// at base and returns its directory.
func writeSynthAdapter(t *testing.T, base string) string {
	t.Helper()
	ckpt, err := loader.Open(base)
	if err != nil {
		t.Fatal(err)
	}
	cfg := ckpt.Config
	ckpt.Close()
	const r = 8
	rng := rand.New(rand.NewPCG(42, 43))
	a := &loader.Adapter{NeoxQK: true, Config: &loader.AdapterConfig{R: r, Alpha: 16}}
	for li := 0; li < cfg.Layers; li++ {
		for _, p := range []string{"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"} {
			target := fmt.Sprintf("blk.%d.%s.weight", li, p)
			out, in, _ := loader.TargetShape(cfg, target)
			key, _ := loader.GGUFToHFModule(target)
			m := &loader.LoraModule{Target: target, Key: key, Rank: r, In: in, Out: out, Alpha: 16, Scale: 2, A: make([]float32, r*in), B: make([]float32, out*r)}
			for i := range m.A {
				m.A[i] = float32(rng.NormFloat64() / math.Sqrt(float64(in)))
			}
			for i := range m.B {
				m.B[i] = float32(rng.NormFloat64() * 0.03)
			}
			a.Modules = append(a.Modules, m)
		}
	}
	dir := t.TempDir()
	if err := loader.WritePEFTAdapter(dir, a); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestRunAdapterLiveMergedAndConverted(t *testing.T) {
	model := filepath.Join(testmodels.Dir(t), "stories260K", "stories260K.gguf")
	peft := writeSynthAdapter(t, model)
	gguf := filepath.Join(t.TempDir(), "lora.gguf")
	if _, errOut, code := runCLI(t, "convert-lora", peft, "-m", model, "-o", gguf); code != 0 {
		t.Fatalf("convert-lora: exit %d: %s", code, errOut)
	}
	tokens := func(extra ...string) []int {
		t.Helper()
		args := append([]string{"run", "-m", model, "-p", "Once upon a time", "-n", "32", "--temp", "0", "--json", "-t", "2", "--ignore-eos"}, extra...)
		out, errOut, code := runCLI(t, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", extra, code, errOut)
		}
		var res struct {
			Tokens []int `json:"tokens"`
		}
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatalf("%v: %v", extra, err)
		}
		return res.Tokens
	}
	base := tokens()
	live := tokens("--adapter", peft+":0.9")
	if slices.Equal(base, live) {
		t.Fatal("the adapter does not change the greedy tokens")
	}
	if merged := tokens("--adapter", peft+":0.9", "--merge"); !slices.Equal(merged, live) {
		t.Errorf("--merge tokens %v, live %v", merged, live)
	}
	if conv := tokens("--adapter", gguf+":0.9"); !slices.Equal(conv, live) {
		t.Errorf("converted GGUF LoRA tokens %v, PEFT %v", conv, live)
	}
	if half := tokens("--adapter", peft+":0.45", "--adapter", gguf+":0.45"); !slices.Equal(half, live) {
		t.Logf("two halves stacked differ from one whole (allowed: float rounding): %v vs %v", half, live)
	}
	mergedFile := filepath.Join(t.TempDir(), "merged.gguf")
	if _, errOut, code := runCLI(t, "merge", "-m", model, "--adapter", peft+":0.9", "-o", mergedFile, "--type", "f32"); code != 0 {
		t.Fatalf("merge: exit %d: %s", code, errOut)
	}
	model0 := model
	model = mergedFile
	if got := tokens(); !slices.Equal(got, live) {
		t.Errorf("merged file tokens %v, live %v", got, live)
	}
	model = model0
	if _, errOut, code := runCLI(t, "run", "-m", model, "-p", "x", "-n", "1", "--merge"); code == 0 {
		t.Fatalf("--merge without --adapter accepted: %s", errOut)
	}
	if _, errOut, code := runCLI(t, "run", "-m", model, "-p", "x", "-n", "1", "--adapter", t.TempDir()); code != 1 {
		t.Fatalf("bad adapter: exit %d: %s", code, errOut)
	}
}

func TestAdapterFlag(t *testing.T) {
	var l adapterList
	for _, v := range []string{"a/b", "dir:0.5", "c:/x/y", "c:/x/y:2"} {
		if err := l.Set(v); err != nil {
			t.Fatal(err)
		}
	}
	want := adapterList{{"a/b", 1}, {"dir", 0.5}, {"c:/x/y", 1}, {"c:/x/y", 2}}
	if !slices.Equal(l, want) {
		t.Fatalf("got %v, want %v", l, want)
	}
	if err := l.Set(""); err == nil {
		t.Fatal("empty path accepted")
	}
}
