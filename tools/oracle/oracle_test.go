package oracle

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"testing"

	"github.com/edgerun/edgerun/internal/testadapter"
	"github.com/edgerun/edgerun/internal/testmodels"
	"github.com/edgerun/edgerun/loader"
	"github.com/edgerun/edgerun/runtime"
	"github.com/gomlx/gomlx/backends"
	"github.com/x448/float16"
)

// tol is the largest absolute logit difference accepted between edgerun and the oracle.
const tol = 1e-4

var (
	beOnce sync.Once
	be     backends.Backend
	beErr  error
)

func backend(t *testing.T) backends.Backend {
	t.Helper()
	beOnce.Do(func() { be, beErr = Backend() })
	if beErr != nil {
		t.Fatal(beErr)
	}
	return be
}

// edgerunLogits evaluates tokens in one session of path with the adapters (dirs)
// active, returning every position's logits.
func edgerunLogits(t *testing.T, path string, adapters []string, tokens []int) []float32 {
	t.Helper()
	e, err := runtime.Open(path, runtime.WithThreads(1))
	if err != nil {
		t.Fatal(err)
	}
	return engineLogits(t, e, adapters, tokens)
}

// asStored rounds adapter factors the way edgerun stores them once loaded (runtime,
// kernels.ToF16Scaled): each factor tensor scaled so its largest magnitude is 2¹⁴,
// rounded to f16 (nearest even), scaled back. Written here with x448/float16, not with
// edgerun's conversion. Without it the strong test adapters' logits differ by ~1e-2.
func asStored(mods []Module) []Module {
	round := func(v []float32) []float32 {
		var amax float32
		for _, x := range v {
			amax = max(amax, float32(math.Abs(float64(x))))
		}
		if amax == 0 {
			return v
		}
		f, mul := float32(1<<14)/amax, amax/float32(1<<14)
		out := make([]float32, len(v))
		for i, x := range v {
			out[i] = mul * float16.Fromfloat32(x*f).Float32()
		}
		return out
	}
	out := make([]Module, len(mods))
	for i, m := range mods {
		m.A, m.B = round(m.A), round(m.B)
		out[i] = m
	}
	return out
}

// mergedLogits evaluates tokens on path with the adapters merged into float32 weights
// (Engine.Merge, type f32): the float kernels and the exact update W + s·B·A (DoRA:
// rescaled rows), so it is held to tol.
func mergedLogits(t *testing.T, e *runtime.Engine, adapters []string, tokens []int) []float32 {
	t.Helper()
	defer e.Close()
	var set []runtime.AdapterScale
	for i, a := range adapters {
		name := filepath.Base(a) + string(rune('0'+i))
		if _, err := e.LoadAdapter(name, a); err != nil {
			t.Fatal(err)
		}
		set = append(set, runtime.AdapterScale{Name: name, Scale: 1})
	}
	if _, err := e.Merge(set, runtime.MergeOptions{Type: "f32"}); err != nil {
		t.Fatal(err)
	}
	s := e.NewSession()
	defer s.Close()
	out, err := s.EvalAll(tokens)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func openEngine(t *testing.T, path string) *runtime.Engine {
	t.Helper()
	e, err := runtime.Open(path, runtime.WithThreads(1))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// engineLogits is edgerunLogits on an engine (closed on return).
func engineLogits(t *testing.T, e *runtime.Engine, adapters []string, tokens []int) []float32 {
	t.Helper()
	defer e.Close()
	var set []runtime.AdapterScale
	for i, a := range adapters {
		name := filepath.Base(a) + string(rune('0'+i))
		if _, err := e.LoadAdapter(name, a); err != nil {
			t.Fatal(err)
		}
		set = append(set, runtime.AdapterScale{Name: name, Scale: 1})
	}
	s := e.NewSession()
	defer s.Close()
	if err := s.SetAdapters(set); err != nil {
		t.Fatal(err)
	}
	out, err := s.EvalAll(tokens)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// compare fails when got and want differ by more than tol anywhere, and checks the
// logits are not degenerate (a test on all-zero logits would prove nothing).
func compare(t *testing.T, what string, got, want []float32) {
	t.Helper()
	compareTol(t, what, got, want, tol)
}

// compareTol is compare with tolerance tl.
func compareTol(t *testing.T, what string, got, want []float32, tl float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d logits, oracle %d", what, len(got), len(want))
	}
	var maxd, spread float64
	at := 0
	for i := range got {
		d := math.Abs(float64(got[i] - want[i]))
		if d > maxd || math.IsNaN(d) {
			maxd, at = d, i
		}
		spread = math.Max(spread, math.Abs(float64(want[i])))
	}
	t.Logf("%s: %d logits, max |edgerun - oracle| = %.2e (at %d), max |logit| %.2f", what, len(got), maxd, at, spread)
	if !(maxd <= tl) {
		t.Errorf("%s: logit %d: edgerun %g, oracle %g (|diff| %.3e > %g)", what, at, got[at], want[at], maxd, tl)
	}
	if spread < 1 {
		t.Errorf("%s: logits are all below 1 in magnitude: the comparison is vacuous", what)
	}
}

func testTokens(n, vocab int, seed uint64) []int {
	r := rand.New(rand.NewPCG(seed, 3))
	ids := []int{1}
	for len(ids) < n {
		ids = append(ids, 3+r.IntN(vocab-3))
	}
	return ids
}

func openCheckpoint(t *testing.T, path string) *loader.Checkpoint {
	t.Helper()
	ck, err := loader.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ck.Close() })
	return ck
}

// TestStories260KGGUF: the base model in GGUF (adjacent-pair RoPE, untied output).
func TestStories260KGGUF(t *testing.T) {
	path := filepath.Join(testmodels.Dir(t), "stories260K", "stories260K.gguf")
	ck := openCheckpoint(t, path)
	m, err := FromCheckpoint(ck)
	if err != nil {
		t.Fatal(err)
	}
	if m.Config.Neox || m.Config.Tied {
		t.Fatalf("stories260K.gguf: expected adjacent RoPE and an untied output, got %+v", m.Config)
	}
	toks := testTokens(24, m.Config.Vocab, 1)
	want, err := m.Logits(backend(t), nil, toks)
	if err != nil {
		t.Fatal(err)
	}
	compare(t, "stories260K.gguf", edgerunLogits(t, path, nil, toks), want)
}

// stories260KHF returns the Hugging Face directory of stories260K (rotate-half RoPE,
// tied embeddings) and its oracle model.
func stories260KHF(t *testing.T) (string, *loader.Checkpoint, *Model) {
	dir := filepath.Join(testmodels.Dir(t), "stories260K", "hf")
	ck := openCheckpoint(t, dir)
	m, err := FromCheckpoint(ck)
	if err != nil {
		t.Fatal(err)
	}
	if !m.Config.Neox {
		t.Fatalf("%s: expected rotate-half RoPE", dir)
	}
	return dir, ck, m
}

// TestStories260KLoRA: a rank-4 LoRA on every projection of the HF model.
func TestStories260KLoRA(t *testing.T) {
	dir, ck, m := stories260KHF(t)
	ad := filepath.Join(t.TempDir(), "lora")
	if err := testadapter.WritePEFT(ck.Config, ad, 7); err != nil {
		t.Fatal(err)
	}
	a, err := loader.OpenAdapter(ad)
	if err != nil {
		t.Fatal(err)
	}
	toks := testTokens(20, m.Config.Vocab, 2)
	base, err := m.Logits(backend(t), nil, toks)
	if err != nil {
		t.Fatal(err)
	}
	want, err := m.Logits(backend(t), asStored(ModulesOf(a, 1)), toks)
	if err != nil {
		t.Fatal(err)
	}
	compare(t, "stories260K/hf base", edgerunLogits(t, dir, nil, toks), base)
	compare(t, "stories260K/hf + LoRA merged (f32)", mergedLogits(t, openEngine(t, dir), []string{ad}, toks), want)
	compare(t, "stories260K/hf + LoRA live", edgerunLogits(t, dir, []string{ad}, toks), want)
	if d := maxDiff(base, want); d < 0.1 {
		t.Errorf("the adapter moves the logits by only %g: too weak to test anything", d)
	}
}

// TestStories260KDoRA: a synthetic DoRA adapter (use_dora, lora_magnitude_vector),
// magnitudes set to the merged rows' norms times a random factor in [0.5, 1.5].
func TestStories260KDoRA(t *testing.T) {
	dir, ck, m := stories260KHF(t)
	tmp := t.TempDir()
	if err := testadapter.WritePEFT(ck.Config, filepath.Join(tmp, "lora"), 9); err != nil {
		t.Fatal(err)
	}
	a, err := loader.OpenAdapter(filepath.Join(tmp, "lora"))
	if err != nil {
		t.Fatal(err)
	}
	toks := testTokens(20, m.Config.Vocab, 3)
	lora, err := m.Logits(backend(t), ModulesOf(a, 1), toks)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(5, 5))
	for _, lm := range a.Modules {
		w := m.F32[lm.Target]
		lm.Magnitude = make([]float32, lm.Out)
		for o := 0; o < lm.Out; o++ {
			var ss float64
			for i := 0; i < lm.In; i++ {
				v := float64(w.Data[o*lm.In+i])
				for k := 0; k < lm.Rank; k++ {
					v += float64(lm.Scale) * float64(lm.B[o*lm.Rank+k]) * float64(lm.A[k*lm.In+i])
				}
				ss += v * v
			}
			lm.Magnitude[o] = float32(math.Sqrt(ss) * (0.5 + r.Float64()))
		}
	}
	a.Config.UseDoRA = true
	ad := filepath.Join(tmp, "dora")
	if err := loader.WritePEFTAdapter(ad, a); err != nil {
		t.Fatal(err)
	}
	back, err := loader.OpenAdapter(ad)
	if err != nil {
		t.Fatal(err)
	}
	if !back.Config.UseDoRA || back.Modules[0].Magnitude == nil {
		t.Fatalf("%s: written adapter does not read back as DoRA", ad)
	}
	want, err := m.Logits(backend(t), asStored(ModulesOf(back, 1)), toks)
	if err != nil {
		t.Fatal(err)
	}
	compare(t, "stories260K/hf + DoRA merged (f32)", mergedLogits(t, openEngine(t, dir), []string{ad}, toks), want)
	compare(t, "stories260K/hf + DoRA live", edgerunLogits(t, dir, []string{ad}, toks), want)
	if d := maxDiff(lora, want); d < 0.1 {
		t.Errorf("DoRA moves the logits by only %g", d)
	}
}

func maxDiff(a, b []float32) float64 {
	var d float64
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i]-b[i])))
	}
	return d
}
