package runtime_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/edgerun/edgerun/int4"
	"github.com/edgerun/edgerun/internal/testmodels"
	"github.com/edgerun/edgerun/kernels"
	"github.com/edgerun/edgerun/loader"
	"github.com/edgerun/edgerun/runtime"
)

var loraPrompt = []int{1, 403, 407, 261, 378, 432, 383, 286, 261, 376, 260, 300}

// synthAdapter builds a PEFT-layout (HF q/k row order) adapter for every one of the
// seven projections of every layer of a model with configuration cfg, from a fixed
// seed. With dora, magnitudes are drawn around the row norms of the base weights
// (read through e) so the DoRA rescaling is not the identity.
func synthAdapter(t *testing.T, e *runtime.Engine, seed uint64, r int, rslora, dora bool) *loader.Adapter {
	t.Helper()
	cfg := e.Model.Config
	rng := rand.New(rand.NewPCG(seed, seed*7+1))
	alpha := float64(2 * r)
	ac := &loader.AdapterConfig{PeftType: "LORA", R: r, Alpha: alpha, UseRSLoRA: rslora, UseDoRA: dora}
	a := &loader.Adapter{Format: "peft", Config: ac, NeoxQK: true}
	for li := 0; li < cfg.Layers; li++ {
		for _, proj := range []string{"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"} {
			target := fmt.Sprintf("blk.%d.%s.weight", li, proj)
			out, in, _ := loader.TargetShape(cfg, target)
			key, _ := loader.GGUFToHFModule(target)
			m := &loader.LoraModule{Target: target, Key: key, Rank: r, In: in, Out: out, Alpha: alpha, Scale: ac.Scaling(r, alpha)}
			m.A = make([]float32, r*in)
			for i := range m.A {
				m.A[i] = float32(rng.NormFloat64() / math.Sqrt(float64(in)))
			}
			m.B = make([]float32, out*r)
			for i := range m.B {
				m.B[i] = float32(rng.NormFloat64() * 0.05 / math.Sqrt(float64(r)) / float64(m.Scale))
			}
			if dora {
				typ, data, _ := e.WeightData(target)
				row := make([]float32, in)
				rb, _ := int4.RowBytes(typ, in)
				m.Magnitude = make([]float32, out)
				for o := range out {
					int4.DequantizeRow(typ, data[o*rb:(o+1)*rb], row)
					m.Magnitude[o] = float32(math.Sqrt(float64(kernels.DotF32(row, row))) * (1 + 0.2*rng.NormFloat64()))
				}
			}
			a.Modules = append(a.Modules, m)
		}
	}
	return a
}

// writeAdapter saves a as a PEFT directory and returns its path.
func writeAdapter(t *testing.T, a *loader.Adapter) string {
	t.Helper()
	dir := t.TempDir()
	if err := loader.WritePEFTAdapter(dir, a); err != nil {
		t.Fatal(err)
	}
	return dir
}

func ggufEngine(t *testing.T) *runtime.Engine {
	t.Helper()
	e, err := runtime.Open(filepath.Join(testmodels.Dir(t), "stories260K", "stories260K.gguf"), runtime.WithThreads(2))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func evalAll(t *testing.T, e *runtime.Engine, set []runtime.AdapterScale, ids []int) []float32 {
	t.Helper()
	s := e.NewSession()
	defer s.Close()
	if err := s.SetAdapters(set); err != nil {
		t.Fatal(err)
	}
	l, err := s.EvalAll(ids)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func maxDiff(a, b []float32) float64 {
	var worst float64
	for i := range a {
		worst = max(worst, math.Abs(float64(a[i])-float64(b[i])))
	}
	return worst
}

// weightsSnapshot copies the bytes of every adaptable weight.
func weightsSnapshot(e *runtime.Engine) map[string][]byte {
	out := map[string][]byte{}
	for li := 0; li < e.Model.Config.Layers; li++ {
		for _, p := range []string{"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"} {
			name := fmt.Sprintf("blk.%d.%s.weight", li, p)
			_, d, _ := e.WeightData(name)
			out[name] = bytes.Clone(d)
		}
	}
	return out
}

// TestLoraUnmergedMatchesMerged is the done-when test: synthetic adapters on all seven
// projections of stories260K, applied unmerged, give the logits of the weights merged
// into F32 within 1e-4; Unmerge restores the base bit for bit.
func TestLoraUnmergedMatchesMerged(t *testing.T) {
	e := ggufEngine(t)
	base := evalAll(t, e, nil, loraPrompt)
	snap := weightsSnapshot(e)
	for _, tc := range []struct {
		name         string
		r            int
		rslora, dora bool
		scale        float32
	}{{"r4", 4, false, false, 1}, {"r16", 16, false, false, 0.7}, {"rslora-r16", 16, true, false, 1}, {"dora-r4", 4, false, true, 1}, {"dora-rslora-r16", 16, true, true, 0.5}} {
		t.Run(tc.name, func(t *testing.T) {
			a := synthAdapter(t, e, uint64(tc.r)*31+boolSeed(tc.rslora, tc.dora), tc.r, tc.rslora, tc.dora)
			info, err := e.LoadAdapter(tc.name, writeAdapter(t, a))
			if err != nil {
				t.Fatal(err)
			}
			defer e.UnloadAdapter(tc.name)
			if info.Rank != tc.r || len(info.Targets) != 7*e.Model.Config.Layers || info.DoRA != tc.dora || info.RSLoRA != tc.rslora {
				t.Fatalf("info %+v", info)
			}
			set := []runtime.AdapterScale{{Name: tc.name, Scale: tc.scale}}
			unmerged := evalAll(t, e, set, loraPrompt)
			if d := maxDiff(unmerged, base); d < 1e-2 {
				t.Fatalf("the adapter barely changes the logits (max diff %g)", d)
			}
			rep, err := e.Merge(set, runtime.MergeOptions{Type: "f32"})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Tensors != 7*e.Model.Config.Layers || rep.MaxAbsErr != 0 {
				t.Fatalf("merge report %+v", rep)
			}
			merged := evalAll(t, e, nil, loraPrompt)
			d := maxDiff(unmerged, merged)
			t.Logf("unmerged vs merged-F32 logits: max |diff| %.3g over %d positions", d, len(loraPrompt))
			if d > 1e-4 {
				t.Fatalf("unmerged and merged logits differ by %g (> 1e-4)", d)
			}
			e.Unmerge()
			for name, want := range snap {
				if _, got, _ := e.WeightData(name); !bytes.Equal(got, want) {
					t.Fatalf("%s differs from the base after Unmerge", name)
				}
			}
			if again := evalAll(t, e, nil, loraPrompt); !slices.Equal(again, base) {
				t.Fatal("base logits after Unmerge differ from before")
			}
		})
	}
}

func boolSeed(a, b bool) uint64 {
	var s uint64
	if a {
		s++
	}
	if b {
		s += 2
	}
	return s
}

// TestLoraMergeRequantized reports the error of merging and requantizing (Q8_0, F16)
// and checks what the report claims.
func TestLoraMergeRequantized(t *testing.T) {
	e := ggufEngine(t)
	if _, err := e.AddAdapter("a", synthAdapter(t, e, 5, 16, false, false)); err != nil {
		t.Fatal(err)
	}
	set := []runtime.AdapterScale{{Name: "a", Scale: 1}}
	unmerged := evalAll(t, e, set, loraPrompt)
	for _, typ := range []string{"f16", "q8_0", "q4_0"} {
		rep, err := e.Merge(set, runtime.MergeOptions{Type: typ})
		if err != nil {
			t.Fatal(err)
		}
		merged := evalAll(t, e, nil, loraPrompt)
		e.Unmerge()
		t.Logf("merge as %s: weights max |err| %.3g, rms %.3g, relative %.3g; %d weights kept F32 (row length 172); logits max |diff| vs unmerged %.3g",
			typ, rep.MaxAbsErr, rep.RMSErr, rep.RelErr, len(rep.Fallback), maxDiff(unmerged, merged))
		if rep.RMSErr <= 0 || rep.RelErr > 0.2 {
			t.Fatalf("%s: implausible error report %+v", typ, rep)
		}
		if typ != "f16" && len(rep.Fallback) != e.Model.Config.Layers {
			t.Fatalf("%s: fallback %v, want every ffn_down (172 columns)", typ, rep.Fallback)
		}
	}
	if _, err := e.Merge(set, runtime.MergeOptions{Type: "nonsense"}); err == nil {
		t.Fatal("unknown merge type accepted")
	}
	if _, err := e.Merge(set, runtime.MergeOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Merge(set, runtime.MergeOptions{}); !errors.Is(err, runtime.ErrMerged) {
		t.Fatalf("second merge: %v", err)
	}
	e.Unmerge()
}

// hfLayoutEngine builds stories260K in Hugging Face layout: q/k rows un-permuted and
// rotate-half RoPE. It computes the same function as the GGUF file.
func hfLayoutEngine(t *testing.T) *runtime.Engine {
	t.Helper()
	ckpt, err := loader.Open(filepath.Join(testmodels.Dir(t), "stories260K", "stories260K.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	c := ckpt.Config
	for li := 0; li < c.Layers; li++ {
		for name, heads := range map[string]int{"attn_q": c.Heads, "attn_k": c.KVHeads} {
			tn := ckpt.Tensors[fmt.Sprintf("blk.%d.%s.weight", li, name)]
			if tn.Type != int4.F32 {
				t.Fatalf("%s is %v, want F32", tn.Name, tn.Type)
			}
			w := make([]float32, tn.Elems())
			int4.DequantizeRow(int4.F32, tn.Data, w)
			w = loader.PermuteQKRows(w, heads, c.HeadDim, tn.Cols(), false)
			data := make([]byte, len(tn.Data))
			int4.QuantizeRow(int4.F32, w, data)
			tn.Data = data
		}
	}
	ckpt.Config.RopeNeox = true
	e, err := runtime.NewEngine(ckpt, runtime.WithThreads(2))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// TestLoraQKPermutation checks the classic silent bug: a PEFT (HF-layout) adapter on a
// GGUF llama base needs its q/k lora_B rows permuted like the base's q/k rows. The
// same adapter on an HF-layout copy of the model (no permutation) must give the same
// logits as on the GGUF base (with permutation); skipping the permutation must not.
func TestLoraQKPermutation(t *testing.T) {
	g, h := ggufEngine(t), hfLayoutEngine(t)
	if d := maxDiff(evalAll(t, g, nil, loraPrompt), evalAll(t, h, nil, loraPrompt)); d > 1e-4 {
		t.Fatalf("the HF-layout copy of the model differs from the GGUF by %g", d)
	}
	dir := writeAdapter(t, synthAdapter(t, g, 77, 4, false, false))
	for _, e := range []*runtime.Engine{g, h} {
		if _, err := e.LoadAdapter("hf", dir); err != nil {
			t.Fatal(err)
		}
	}
	set := []runtime.AdapterScale{{Name: "hf", Scale: 1}}
	lg, lh := evalAll(t, g, set, loraPrompt), evalAll(t, h, set, loraPrompt)
	d := maxDiff(lg, lh)
	t.Logf("PEFT adapter on GGUF base vs on HF-layout base: max |diff| %.3g", d)
	if d > 1e-4 {
		t.Fatalf("logits differ by %g: q/k rows not permuted correctly", d)
	}
	// The real Hugging Face directory of the model (safetensors, rotate-half RoPE) with
	// the same adapter: no permutation, same logits.
	real, err := runtime.Open(filepath.Join(testmodels.Dir(t), "stories260K", "hf"), runtime.WithThreads(2))
	if err != nil {
		t.Fatal(err)
	}
	defer real.Close()
	if !real.Model.Config.RopeNeox {
		t.Fatal("the HF directory is not run with rotate-half RoPE")
	}
	if _, err := real.LoadAdapter("hf", dir); err != nil {
		t.Fatal(err)
	}
	if d := maxDiff(evalAll(t, real, set, loraPrompt), lg); d > 1e-4 {
		t.Fatalf("PEFT adapter on the HF directory vs on the GGUF: logits differ by %g", d)
	}
	// The same factors declared to be in GGUF order already (so not permuted) on the
	// GGUF base: wrong, and visibly so.
	wrong, err := loader.OpenAdapter(dir)
	if err != nil {
		t.Fatal(err)
	}
	wrong.NeoxQK = false
	if _, err := g.AddAdapter("unpermuted", wrong); err != nil {
		t.Fatal(err)
	}
	if d := maxDiff(evalAll(t, g, []runtime.AdapterScale{{Name: "unpermuted", Scale: 1}}, loraPrompt), lh); d < 1e-3 {
		t.Fatalf("unpermuted adapter gives the same logits (diff %g): the test cannot see the bug", d)
	}
}

// TestGGUFLoraMatchesPEFT converts a PEFT adapter to a GGUF LoRA file (rsLoRA, so the
// scaling must be carried over) and checks both give the same logits.
func TestGGUFLoraMatchesPEFT(t *testing.T) {
	e := ggufEngine(t)
	dir := writeAdapter(t, synthAdapter(t, e, 9, 8, true, false))
	peft, err := loader.OpenAdapter(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "lora.gguf")
	if err := loader.WriteGGUFAdapter(out, peft, "llama", e.Model.Config); err != nil {
		t.Fatal(err)
	}
	if _, err := e.LoadAdapter("peft", dir); err != nil {
		t.Fatal(err)
	}
	info, err := e.LoadAdapter("gguf", out)
	if err != nil {
		t.Fatal(err)
	}
	if info.Format != "gguf" {
		t.Fatalf("format %q", info.Format)
	}
	for _, scale := range []float32{1, 0.5} {
		a := evalAll(t, e, []runtime.AdapterScale{{Name: "peft", Scale: scale}}, loraPrompt)
		b := evalAll(t, e, []runtime.AdapterScale{{Name: "gguf", Scale: scale}}, loraPrompt)
		if d := maxDiff(a, b); d > 1e-4 {
			t.Fatalf("scale %v: GGUF LoRA and PEFT logits differ by %g", scale, d)
		}
	}
}

// TestLoraStacking checks two adapters applied together with scales against merging
// both.
func TestLoraStacking(t *testing.T) {
	e := ggufEngine(t)
	for i, name := range []string{"x", "y"} {
		if _, err := e.AddAdapter(name, synthAdapter(t, e, uint64(40+i), 4+4*i, false, false)); err != nil {
			t.Fatal(err)
		}
	}
	set := []runtime.AdapterScale{{Name: "x", Scale: 0.8}, {Name: "y", Scale: -0.5}}
	unmerged := evalAll(t, e, set, loraPrompt)
	if d := maxDiff(unmerged, evalAll(t, e, set[:1], loraPrompt)); d < 1e-3 {
		t.Fatalf("second adapter has no effect (%g)", d)
	}
	if _, err := e.Merge(set, runtime.MergeOptions{Type: "f32"}); err != nil {
		t.Fatal(err)
	}
	defer e.Unmerge()
	if d := maxDiff(unmerged, evalAll(t, e, nil, loraPrompt)); d > 1e-4 {
		t.Fatalf("stacked unmerged vs merged differ by %g", d)
	}
}

// TestAdapterRegistry covers listing, refusal to unload an active adapter, unknown
// names, and bad adapters that must leave the engine untouched.
func TestAdapterRegistry(t *testing.T) {
	e := ggufEngine(t)
	base := evalAll(t, e, nil, loraPrompt)
	a := synthAdapter(t, e, 1, 4, false, false)
	if _, err := e.AddAdapter("a", a); err != nil {
		t.Fatal(err)
	}
	if _, err := e.AddAdapter("a", synthAdapter(t, e, 1, 4, false, false)); !errors.Is(err, runtime.ErrAdapterExists) {
		t.Fatalf("duplicate name: %v", err)
	}
	s := e.NewSession()
	if err := s.SetAdapters([]runtime.AdapterScale{{Name: "a", Scale: 1}}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetAdapters([]runtime.AdapterScale{{Name: "missing", Scale: 1}}); !errors.Is(err, runtime.ErrUnknownAdapter) {
		t.Fatalf("unknown adapter: %v", err)
	}
	if got := s.ActiveAdapters(); len(got) != 1 || got[0].Name != "a" {
		t.Fatalf("a failed SetAdapters changed the set: %v", got)
	}
	list := e.Adapters()
	if len(list) != 1 || list[0].Sessions != 1 || list[0].Bytes != a.Bytes() || list[0].Rank != 4 {
		t.Fatalf("Adapters() = %+v", list)
	}
	if err := e.UnloadAdapter("a"); !errors.Is(err, runtime.ErrAdapterInUse) {
		t.Fatalf("unload while active: %v", err)
	}
	s.Close()
	if err := e.UnloadAdapter("a"); err != nil {
		t.Fatal(err)
	}
	if err := e.UnloadAdapter("a"); !errors.Is(err, runtime.ErrUnknownAdapter) {
		t.Fatalf("unload twice: %v", err)
	}

	// Bad adapters: wrong base shapes, NaN, truncated file.
	other := synthAdapter(t, e, 2, 4, false, false)
	other.Modules[3].Out, other.Modules[3].B = 16, other.Modules[3].B[:16*4] // attn_output of a narrower model
	if _, err := e.LoadAdapter("bad", writeAdapter(t, other)); err == nil {
		t.Fatal("adapter for another base accepted")
	} else {
		t.Logf("wrong base: %v", err)
	}
	nan := synthAdapter(t, e, 3, 4, false, false)
	nan.Modules[5].A[7] = float32(math.NaN())
	if _, err := e.LoadAdapter("nan", writeAdapter(t, nan)); err == nil {
		t.Fatal("NaN adapter accepted")
	}
	if _, err := e.LoadAdapter("none", t.TempDir()); !errors.Is(err, loader.ErrNotFound) {
		t.Fatalf("empty dir: %v", err)
	}
	if len(e.Adapters()) != 0 {
		t.Fatalf("failed loads left adapters: %+v", e.Adapters())
	}
	if got := evalAll(t, e, nil, loraPrompt); !slices.Equal(got, base) {
		t.Fatal("the base changed")
	}
}

// TestLoraConcurrentSessions runs 8 sessions with different adapter sets at the same
// time while other adapters are loaded and unloaded, and checks each produces exactly
// the tokens it produces alone.
func TestLoraConcurrentSessions(t *testing.T) {
	e := ggufEngine(t)
	for i := range 3 {
		if _, err := e.AddAdapter(fmt.Sprintf("a%d", i), synthAdapter(t, e, uint64(100+i), 4*(i+1), i == 2, i == 1)); err != nil {
			t.Fatal(err)
		}
	}
	sets := [][]runtime.AdapterScale{
		nil,
		{{Name: "a0", Scale: 1}},
		{{Name: "a1", Scale: 1}},
		{{Name: "a2", Scale: 1}},
		{{Name: "a0", Scale: 0.5}, {Name: "a1", Scale: 0.5}},
		{{Name: "a1", Scale: 2}},
		{{Name: "a0", Scale: 1}, {Name: "a2", Scale: -1}},
		{{Name: "a0", Scale: 1}, {Name: "a1", Scale: 1}, {Name: "a2", Scale: 1}},
	}
	const nGen = 12
	gen := func(set []runtime.AdapterScale) ([]int, error) {
		s := e.NewSession()
		defer s.Close()
		if err := s.SetAdapters(set); err != nil {
			return nil, err
		}
		res, err := s.GenerateTokens(context.Background(), loraPrompt[:4], runtime.GenerateOptions{MaxTokens: nGen, IgnoreEOS: true}, nil)
		if err != nil {
			return nil, err
		}
		return res.Tokens, nil
	}
	alone := make([][]int, len(sets))
	distinct := map[string]bool{}
	for i, set := range sets {
		toks, err := gen(set)
		if err != nil {
			t.Fatal(err)
		}
		alone[i] = toks
		distinct[fmt.Sprint(toks)] = true
	}
	if len(distinct) < 4 {
		t.Fatalf("only %d distinct outputs over %d adapter sets: adapters have too little effect to test isolation", len(distinct), len(sets))
	}
	extra := synthAdapter(t, e, 999, 4, false, false)
	stop := make(chan struct{})
	var churn sync.WaitGroup
	churn.Add(1)
	go func() {
		defer churn.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			name := fmt.Sprintf("extra%d", i%2)
			if _, err := e.AddAdapter(name, extra); err != nil {
				t.Error(err)
				return
			}
			if err := e.UnloadAdapter(name); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	var wg sync.WaitGroup
	got := make([][]int, len(sets))
	errs := make([]error, len(sets))
	for i, set := range sets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], errs[i] = gen(set)
		}()
	}
	wg.Wait()
	close(stop)
	churn.Wait()
	for i := range sets {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if !slices.Equal(got[i], alone[i]) {
			t.Errorf("set %d: concurrent tokens %v, alone %v", i, got[i], alone[i])
		}
	}
}

// BenchmarkAdapterSwitch measures SetAdapters (the hot-swap) on stories260K; compare
// with BenchmarkLoraTinyLlama/switch: it must not depend on the model size.
func BenchmarkAdapterSwitch(b *testing.B) {
	e, err := runtime.Open(filepath.Join(testmodels.Dir(b), "stories260K", "stories260K.gguf"), runtime.WithThreads(1))
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	if _, err := e.AddAdapter("r16", synthAdapterB(e, 0, 16)); err != nil {
		b.Fatal(err)
	}
	benchSwitch(b, e)
}

// BenchmarkDecodeLora compares one decode step with no adapter, a live r=16 adapter on
// all seven projections, and the same adapter merged (F32 base: merged cost = base).
func BenchmarkDecodeLora(b *testing.B) {
	e, err := runtime.Open(filepath.Join(testmodels.Dir(b), "stories260K", "stories260K.gguf"), runtime.WithThreads(1))
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	if _, err := e.AddAdapter("r16", synthAdapterB(e, 1, 16)); err != nil {
		b.Fatal(err)
	}
	for _, mode := range []string{"base", "live", "merged"} {
		b.Run(mode, func(b *testing.B) {
			s := e.NewSession()
			defer s.Close()
			switch mode {
			case "live":
				s.SetAdapters([]runtime.AdapterScale{{Name: "r16", Scale: 1}})
			case "merged":
				if _, err := e.Merge([]runtime.AdapterScale{{Name: "r16", Scale: 1}}, runtime.MergeOptions{}); err != nil {
					b.Fatal(err)
				}
				defer e.Unmerge()
			}
			if _, err := s.Eval([]int{1}); err != nil {
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
}

// synthAdapterB is synthAdapter for benchmarks (plain LoRA only).
func synthAdapterB(e *runtime.Engine, seed uint64, r int) *loader.Adapter {
	cfg := e.Model.Config
	rng := rand.New(rand.NewPCG(seed, 3))
	a := &loader.Adapter{Format: "peft", NeoxQK: true, Config: &loader.AdapterConfig{R: r, Alpha: float64(r)}}
	for li := 0; li < cfg.Layers; li++ {
		for _, proj := range []string{"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"} {
			target := fmt.Sprintf("blk.%d.%s.weight", li, proj)
			out, in, _ := loader.TargetShape(cfg, target)
			m := &loader.LoraModule{Target: target, Rank: r, In: in, Out: out, Scale: 1, A: make([]float32, r*in), B: make([]float32, out*r)}
			for i := range m.A {
				m.A[i] = float32(rng.NormFloat64() * 0.1)
			}
			for i := range m.B {
				m.B[i] = float32(rng.NormFloat64() * 0.01)
			}
			a.Modules = append(a.Modules, m)
		}
	}
	return a
}

// withEmbeddingAndSaved adds to a embedding LoRA (rank r, from seed) and
// modules_to_save replacements of lm_head, the final norm and layer 0's FFN norm,
// drawn around the base tensors read through e.
func withEmbeddingAndSaved(t *testing.T, e *runtime.Engine, a *loader.Adapter, seed uint64, r int) {
	t.Helper()
	cfg := e.Model.Config
	rng := rand.New(rand.NewPCG(seed, seed^0x9e37))
	emb := &loader.LoraModule{Target: "token_embd.weight", Key: "model.embed_tokens", Embedding: true, Rank: r, In: cfg.Vocab, Out: cfg.Dim, Alpha: a.Config.Alpha, Scale: a.Config.Scaling(r, a.Config.Alpha)}
	emb.A = make([]float32, r*cfg.Vocab)
	for i := range emb.A {
		emb.A[i] = float32(rng.NormFloat64())
	}
	emb.B = make([]float32, cfg.Dim*r)
	for i := range emb.B {
		emb.B[i] = float32(rng.NormFloat64() * 0.1 / float64(emb.Scale))
	}
	a.Modules = append(a.Modules, emb)
	perturb := func(target string, shape []int) {
		typ, data, ok := e.WeightData(target)
		if !ok {
			t.Fatalf("no base tensor %s", target)
		}
		n := 1
		for _, d := range shape {
			n *= d
		}
		v := make([]float32, n)
		rb, _ := int4.RowBytes(typ, shape[len(shape)-1])
		for row := 0; row < n/shape[len(shape)-1]; row++ {
			c := shape[len(shape)-1]
			int4.DequantizeRow(typ, data[row*rb:(row+1)*rb], v[row*c:(row+1)*c])
		}
		for i := range v {
			v[i] = v[i]*(1+0.3*float32(rng.NormFloat64())) + 0.01*float32(rng.NormFloat64())
		}
		a.Replacements = append(a.Replacements, &loader.Replacement{Target: target, Shape: shape, Data: v})
	}
	perturb("output.weight", []int{cfg.Vocab, cfg.Dim})
	perturb("output_norm.weight", []int{cfg.Dim})
	perturb("blk.0.ffn_norm.weight", []int{cfg.Dim})
}

// allWeights copies the bytes of every tensor Merge may replace.
func allWeights(e *runtime.Engine) map[string][]byte {
	snap := weightsSnapshot(e)
	names := []string{"token_embd.weight", "output.weight", "output_norm.weight"}
	for li := 0; li < e.Model.Config.Layers; li++ {
		names = append(names, fmt.Sprintf("blk.%d.attn_norm.weight", li), fmt.Sprintf("blk.%d.ffn_norm.weight", li))
	}
	for _, n := range names {
		_, d, _ := e.WeightData(n)
		snap[n] = bytes.Clone(d)
	}
	return snap
}

// TestLoraEmbeddingAndModulesToSave is the done-when test for embedding LoRA and
// modules_to_save: a synthetic PEFT adapter for stories260K with embedding LoRA,
// replacements of lm_head and two norms and all seven projections, applied unmerged,
// gives the logits of the weights merged into F32 within 1e-4; Unmerge restores every
// base tensor bit for bit; a session without the adapter is unaffected while another
// has it active.
func TestLoraEmbeddingAndModulesToSave(t *testing.T) {
	e := ggufEngine(t)
	base := evalAll(t, e, nil, loraPrompt)
	snap := allWeights(e)
	for _, tc := range []struct {
		name       string
		proj, repl bool
		scale      float32
	}{{"all", true, true, 1}, {"all-scale0.6", true, true, 0.6}, {"embedding+saved", false, true, 1}, {"embedding", false, false, 1.3}} {
		t.Run(tc.name, func(t *testing.T) {
			a := synthAdapter(t, e, 77, 4, false, false)
			if !tc.proj {
				a.Modules = nil
			}
			withEmbeddingAndSaved(t, e, a, 78, 4)
			if !tc.repl {
				a.Replacements = nil
			}
			dir := writeAdapter(t, a)
			info, err := e.LoadAdapter(tc.name, dir)
			if err != nil {
				t.Fatal(err)
			}
			defer e.UnloadAdapter(tc.name)
			if !slices.Contains(info.Targets, "token_embd.weight") || (tc.repl && !slices.Equal(info.Replaced, []string{"blk.0.ffn_norm.weight", "output.weight", "output_norm.weight"})) {
				t.Fatalf("info %+v", info)
			}
			set := []runtime.AdapterScale{{Name: tc.name, Scale: tc.scale}}

			// Another session keeps the base while this one has the adapter active.
			on := e.NewSession()
			defer on.Close()
			if err := on.SetAdapters(set); err != nil {
				t.Fatal(err)
			}
			unmerged, err := on.EvalAll(loraPrompt)
			if err != nil {
				t.Fatal(err)
			}
			if d := maxDiff(unmerged, base); d < 1e-2 {
				t.Fatalf("the adapter barely changes the logits (max diff %g)", d)
			}
			if off := evalAll(t, e, nil, loraPrompt); !slices.Equal(off, base) {
				t.Fatal("a session without the adapter sees different logits while another has it active")
			}

			rep, err := e.Merge(set, runtime.MergeOptions{Type: "f32"})
			if err != nil {
				t.Fatal(err)
			}
			want := 1 // token_embd
			if tc.proj {
				want += 7 * e.Model.Config.Layers
			}
			if tc.repl {
				want += 3
			}
			if rep.Tensors != want || rep.MaxAbsErr != 0 {
				t.Fatalf("merge report %+v, want %d tensors", rep, want)
			}
			// The merged embedding row of a token is base + s·Σ_k A[k, t]·B[:, k]
			// (PEFT: ΔW = (B·A)ᵀ·scaling), computed here independently.
			emb := a.Module("token_embd.weight")
			dim := e.Model.Config.Dim
			typ, mdata, _ := e.WeightData("token_embd.weight")
			btyp := int4.F32
			bdata := snap["token_embd.weight"]
			if b, ok := e.Model.Ckpt.Tensors["token_embd.weight"]; ok {
				btyp = b.Type
			}
			for _, tok := range []int{loraPrompt[1], e.Model.Config.Vocab - 1} {
				got := make([]float32, dim)
				rb, _ := int4.RowBytes(typ, dim)
				int4.DequantizeRow(typ, mdata[tok*rb:(tok+1)*rb], got)
				wantRow := make([]float32, dim)
				brb, _ := int4.RowBytes(btyp, dim)
				int4.DequantizeRow(btyp, bdata[tok*brb:(tok+1)*brb], wantRow)
				for j := range dim {
					var dsum float64
					for k := range emb.Rank {
						dsum += float64(emb.A[k*emb.In+tok]) * float64(emb.B[j*emb.Rank+k])
					}
					wantRow[j] += float32(float64(tc.scale) * float64(emb.Scale) * dsum)
				}
				if d := maxDiff(got, wantRow); d > 1e-5 {
					t.Fatalf("merged embedding row %d differs from base + s·(B·A)ᵀ by %g", tok, d)
				}
			}
			merged := evalAll(t, e, nil, loraPrompt)
			d := maxDiff(unmerged, merged)
			t.Logf("unmerged vs merged-F32 logits: max |diff| %.3g over %d positions", d, len(loraPrompt))
			if d > 1e-4 {
				t.Fatalf("unmerged and merged logits differ by %g (> 1e-4)", d)
			}
			e.Unmerge()
			for name, w := range snap {
				if _, got, _ := e.WeightData(name); !bytes.Equal(got, w) {
					t.Fatalf("%s differs from the base after Unmerge", name)
				}
			}
			if again := evalAll(t, e, nil, loraPrompt); !slices.Equal(again, base) {
				t.Fatal("base logits after Unmerge differ from before")
			}
			// The active session still runs the adapter unmerged, as before the merge.
			on.Reset()
			if again, err := on.EvalAll(loraPrompt); err != nil || !slices.Equal(again, unmerged) {
				t.Fatalf("adapter session after Unmerge: err %v, max diff %g", err, maxDiff(again, unmerged))
			}
		})
	}
}

// TestLoraReplacementRefusals: DoRA on a weight the same adapter replaces is refused
// by name, and a refused adapter leaves the registry as it was.
func TestLoraReplacementRefusals(t *testing.T) {
	e := ggufEngine(t)
	cfg := e.Model.Config
	a := synthAdapter(t, e, 5, 2, false, false)
	withEmbeddingAndSaved(t, e, a, 6, 2)
	rng := rand.New(rand.NewPCG(7, 8))
	head := &loader.LoraModule{Target: "output.weight", Key: "lm_head", Rank: 2, In: cfg.Dim, Out: cfg.Vocab, Alpha: 4, Scale: 2,
		A: make([]float32, 2*cfg.Dim), B: make([]float32, cfg.Vocab*2), Magnitude: make([]float32, cfg.Vocab)}
	for _, v := range [][]float32{head.A, head.B, head.Magnitude} {
		for i := range v {
			v[i] = float32(rng.NormFloat64())
		}
	}
	a.Modules = append(a.Modules, head)
	_, err := e.LoadAdapter("bad", writeAdapter(t, a))
	if err == nil || !strings.Contains(err.Error(), "lm_head") || !strings.Contains(err.Error(), "DoRA") || !strings.Contains(err.Error(), "modules_to_save") {
		t.Fatalf("DoRA on a replaced weight: err %v", err)
	}
	if len(e.Adapters()) != 0 {
		t.Fatal("a refused adapter was registered")
	}
}
