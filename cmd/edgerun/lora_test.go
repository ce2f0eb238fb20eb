package main

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/edgerun/edgerun/int4"
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

// TestConvertLoraEmbeddingAndModulesToSave: convert-lora converts embedding LoRA (the
// GGUF file runs like the PEFT original) and refuses modules_to_save weights, naming
// them; run --adapter and merge -o apply both, and the merged file runs like the live
// adapter.
func TestConvertLoraEmbeddingAndModulesToSave(t *testing.T) {
	model := filepath.Join(testmodels.Dir(t), "stories260K", "stories260K.gguf")
	a, err := loader.OpenAdapter(writeSynthAdapter(t, model))
	if err != nil {
		t.Fatal(err)
	}
	ckpt, err := loader.Open(model)
	if err != nil {
		t.Fatal(err)
	}
	cfg := ckpt.Config
	head := ckpt.Tensors["output.weight"]
	norm := make([]float32, cfg.Dim)
	if err := int4.DequantizeRow(ckpt.Tensors["output_norm.weight"].Type, ckpt.Tensors["output_norm.weight"].Data, norm); err != nil {
		t.Fatal(err)
	}
	headF := make([]float32, cfg.Vocab*cfg.Dim)
	if err := int4.DequantizeRow(head.Type, head.Data, headF); err != nil {
		t.Fatal(err)
	}
	ckpt.Close()
	rng := rand.New(rand.NewPCG(8, 9))
	emb := &loader.LoraModule{Target: "token_embd.weight", Key: "model.embed_tokens", Embedding: true, Rank: 8, In: cfg.Vocab, Out: cfg.Dim, Alpha: 16, Scale: 2,
		A: make([]float32, 8*cfg.Vocab), B: make([]float32, cfg.Dim*8)}
	for i := range emb.A {
		emb.A[i] = float32(rng.NormFloat64())
	}
	for i := range emb.B {
		emb.B[i] = float32(rng.NormFloat64() * 0.05)
	}
	a.Modules = append(a.Modules, emb)
	embDir := t.TempDir()
	if err := loader.WritePEFTAdapter(embDir, a); err != nil {
		t.Fatal(err)
	}
	for i := range norm {
		norm[i] *= 1 + 0.3*float32(rng.NormFloat64())
	}
	for i := range headF {
		headF[i] += 0.05 * float32(rng.NormFloat64())
	}
	a.Replacements = []*loader.Replacement{{Target: "output_norm.weight", Shape: []int{cfg.Dim}, Data: norm}, {Target: "output.weight", Shape: []int{cfg.Vocab, cfg.Dim}, Data: headF}}
	savedDir := t.TempDir()
	if err := loader.WritePEFTAdapter(savedDir, a); err != nil {
		t.Fatal(err)
	}

	tokens := func(m string, extra ...string) []int {
		t.Helper()
		args := append([]string{"run", "-m", m, "-p", "Once upon a time", "-n", "24", "--temp", "0", "--json", "-t", "2", "--ignore-eos"}, extra...)
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
	gguf := filepath.Join(t.TempDir(), "emb.gguf")
	if _, errOut, code := runCLI(t, "convert-lora", embDir, "-m", model, "-o", gguf); code != 0 {
		t.Fatalf("convert-lora with embedding LoRA: exit %d: %s", code, errOut)
	}
	live := tokens(model, "--adapter", embDir)
	if conv := tokens(model, "--adapter", gguf); !slices.Equal(conv, live) {
		t.Errorf("converted embedding LoRA tokens %v, PEFT %v", conv, live)
	}

	refused := filepath.Join(t.TempDir(), "saved.gguf")
	_, errOut, code := runCLI(t, "convert-lora", savedDir, "-m", model, "-o", refused)
	if code == 0 || !strings.Contains(errOut, "modules_to_save") || !strings.Contains(errOut, "lm_head.weight") {
		t.Fatalf("convert-lora with modules_to_save: exit %d: %s", code, errOut)
	}
	saved := tokens(model, "--adapter", savedDir)
	if slices.Equal(saved, live) {
		t.Fatal("the modules_to_save weights do not change the greedy tokens")
	}
	mergedFile := filepath.Join(t.TempDir(), "merged.gguf")
	if _, errOut, code := runCLI(t, "merge", "-m", model, "--adapter", savedDir, "-o", mergedFile, "--type", "f32"); code != 0 {
		t.Fatalf("merge: exit %d: %s", code, errOut)
	}
	if got := tokens(mergedFile); !slices.Equal(got, saved) {
		t.Errorf("merged file tokens %v, live %v", got, saved)
	}
}
