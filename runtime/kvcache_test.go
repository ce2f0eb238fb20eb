package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/edgerun/edgerun/int4"
	"github.com/edgerun/edgerun/loader"
)

// maxAbsDiff returns max |a[i] - b[i]|.
func maxAbsDiff(a, b []float32) float64 {
	var worst float64
	for i := range a {
		worst = max(worst, math.Abs(float64(a[i])-float64(b[i])))
	}
	return worst
}

// kvLogits runs ids through a new session of e and returns every position's logits.
func kvLogits(t *testing.T, e *Engine, ids []int) []float32 {
	t.Helper()
	out, err := e.NewSession().EvalAll(ids)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func greedy(t *testing.T, e *Engine, prompt []int, n int) []int {
	t.Helper()
	res, err := e.NewSession().GenerateTokens(context.Background(), prompt, GenerateOptions{MaxTokens: n, IgnoreEOS: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return res.Tokens
}

func TestKVTypeF16Stories260K(t *testing.T) {
	b, err := os.ReadFile(stories260KPath(t, "golden-greedy.json"))
	if err != nil {
		t.Fatal(err)
	}
	var golden struct {
		Once struct {
			PromptIDs       []int `json:"prompt_ids"`
			ContinuationIDs []int `json:"continuation_ids"`
		} `json:"once_upon_a_time"`
	}
	if err := json.Unmarshal(b, &golden); err != nil {
		t.Fatal(err)
	}
	g := golden.Once
	path := stories260KPath(t, "stories260K.gguf")
	f32, err := Open(path, WithThreads(2))
	if err != nil {
		t.Fatal(err)
	}
	defer f32.Close()
	f16, err := Open(path, WithThreads(2), WithKVType(int4.F16))
	if err != nil {
		t.Fatal(err)
	}
	defer f16.Close()
	if typ := f16.NewSession().KVCache().Type(); typ != int4.F16 {
		t.Fatalf("session KV type %v, want F16", typ)
	}
	res, err := f16.NewSession().GenerateTokens(context.Background(), g.PromptIDs, GenerateOptions{MaxTokens: len(g.ContinuationIDs)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(g.ContinuationIDs) != 60 || !slices.Equal(res.Tokens, g.ContinuationIDs) {
		t.Errorf("f16 KV greedy continuation\n got %v\nwant %v", res.Tokens, g.ContinuationIDs)
	}
	ids := append(slices.Clone(g.PromptIDs), g.ContinuationIDs...)
	d := maxAbsDiff(kvLogits(t, f16, ids), kvLogits(t, f32, ids))
	// Rounding keys and values to half precision (relative error 2^-11) moves
	// stories260K's logits (magnitudes up to ~20) by up to 0.018 over 65 positions.
	if d > 2.5e-2 || d == 0 {
		t.Errorf("f16 KV logits differ from f32 KV by %g over %d positions (want 0 < d <= 2.5e-2)", d, len(ids))
	}
	t.Logf("max |logit(f16 KV) - logit(f32 KV)| over %d positions: %.3g", len(ids), d)

	// stories260K's heads have 8 dimensions: no room for a Q8_0 block of 32.
	for _, open := range []func() (*Engine, error){
		func() (*Engine, error) { return Open(path, WithKVType(int4.Q8_0)) },
		func() (*Engine, error) { return Open(path, WithKVType(int4.Q8_0), WithMemoryCheck(false)) },
	} {
		_, err := open()
		if !errors.Is(err, ErrKVType) || !strings.Contains(err.Error(), "head_dim is 8") {
			t.Errorf("Open(stories260K, q8_0 KV) = %v, want ErrKVType naming head_dim 8", err)
		}
	}
	if _, err := Open(path, WithKVType(int4.Q4_0)); !errors.Is(err, ErrKVType) {
		t.Errorf("Open(q4_0 KV) = %v, want ErrKVType", err)
	}
	if _, err := EstimateMemory(path, WithKVType(int4.Q8_0)); !errors.Is(err, ErrKVType) {
		t.Errorf("EstimateMemory(q8_0 KV) = %v, want ErrKVType", err)
	}
}

// kvTestCheckpoint builds a small LLaMA-architecture model with float32 weights drawn
// from a fixed seed, scaled so activations stay of order one: heads of headDim, grouped
// query attention (2 query heads per KV head), a vocabulary of 96 with no tokenizer.
func kvTestCheckpoint(headDim int) *loader.Checkpoint {
	const layers, heads, kvHeads, vocab = 2, 4, 2, 96
	dim := heads * headDim
	ffn := 2 * dim
	rng := rand.New(rand.NewPCG(8, uint64(headDim)))
	ck := &loader.Checkpoint{
		Path:   fmt.Sprintf("kv-test-hd%d", headDim),
		Format: "demo",
		Config: loader.Config{Arch: "llama", Dim: dim, FFN: ffn, Layers: layers, Heads: heads, KVHeads: kvHeads,
			HeadDim: headDim, RopeDim: headDim, Vocab: vocab, Context: 256, RMSEps: 1e-5, RopeBase: 10000},
		Tensors: map[string]*loader.Tensor{},
	}
	add := func(name string, rows, cols int, std float32) {
		vals := make([]float32, rows*cols)
		for i := range vals {
			if std == 0 {
				vals[i] = 1
			} else {
				vals[i] = float32(rng.NormFloat64()) * std
			}
		}
		t := &loader.Tensor{Name: name, Type: int4.F32, Shape: []int{rows, cols}, Data: make([]byte, 4*len(vals))}
		if rows == 1 {
			t.Shape = []int{cols}
		}
		_ = int4.QuantizeRow(int4.F32, vals, t.Data)
		ck.Tensors[name] = t
		ck.Order = append(ck.Order, name)
	}
	s := 1 / float32(math.Sqrt(float64(dim)))
	add("token_embd.weight", vocab, dim, 1)
	for l := range layers {
		p := fmt.Sprintf("blk.%d.", l)
		add(p+"attn_norm.weight", 1, dim, 0)
		add(p+"attn_q.weight", dim, dim, 2*s)
		add(p+"attn_k.weight", kvHeads*headDim, dim, 2*s)
		add(p+"attn_v.weight", kvHeads*headDim, dim, s)
		add(p+"attn_output.weight", dim, dim, s)
		add(p+"ffn_norm.weight", 1, dim, 0)
		add(p+"ffn_gate.weight", ffn, dim, s)
		add(p+"ffn_up.weight", ffn, dim, s)
		add(p+"ffn_down.weight", dim, ffn, s)
	}
	add("output_norm.weight", 1, dim, 0)
	add("output.weight", vocab, dim, 4*s)
	return ck
}

// TestKVTypeSynthetic runs models of head_dim 32 and 64 with each KV type against
// float32.
func TestKVTypeSynthetic(t *testing.T) {
	for _, hd := range []int{32, 64} {
		engines := map[int4.Type]*Engine{}
		for _, typ := range KVTypes {
			e, err := NewEngine(kvTestCheckpoint(hd), WithThreads(2), WithKVType(typ), WithContext(96))
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			engines[typ] = e
		}
		ids := make([]int, 40)
		for i := range ids {
			ids[i] = (i*37 + 5) % 96
		}
		ref := kvLogits(t, engines[int4.F32], ids)
		var scale float64
		for _, v := range ref {
			scale = max(scale, math.Abs(float64(v)))
		}
		// A short greedy run (random weights leave near-ties that a longer run can hit).
		refGen := greedy(t, engines[int4.F32], ids, 8)
		// Stated tolerances, with the logits of these models reaching |15|: f16 rounds
		// each key and value by at most 2^-11 relative (measured: up to 0.014), q8_0 by
		// up to half a step of amax/127 per block of 32, about 20 times more (measured:
		// up to 0.27, 2% of the largest logit).
		for typ, tol := range map[int4.Type]float64{int4.F16: 2e-2, int4.Q8_0: 0.4} {
			e := engines[typ]
			d := maxAbsDiff(kvLogits(t, e, ids), ref)
			t.Logf("head_dim %d, %v KV: max |logit - f32 KV logit| over %d positions: %.3g (max |logit| %.3g)", hd, typ, len(ids), d, scale)
			if d > tol || d == 0 {
				t.Errorf("head_dim %d, %v KV: logits differ from f32 KV by %g (want 0 < d <= %g)", hd, typ, d, tol)
			}
			if got := greedy(t, e, ids, 8); !slices.Equal(got, refGen) {
				t.Errorf("head_dim %d, %v KV: greedy\n got %v\nwant %v", hd, typ, got, refGen)
			}
		}
		// A full cache holds rows of the chosen type: F16 is half of F32, Q8_0 34/128.
		full := map[int4.Type]int64{}
		for typ, e := range engines {
			s := e.NewSession()
			fill := make([]int, s.KVCache().Context())
			for i := range fill {
				fill[i] = ids[i%len(ids)]
			}
			if _, err := s.Eval(fill); err != nil {
				t.Fatal(err)
			}
			full[typ] = s.KVCache().Bytes()
		}
		want := int64(2 * 2 * 96 * 2 * hd * 4) // K and V × layers × positions × kvDim × 4 bytes
		if full[int4.F32] != want || full[int4.F16] != want/2 || full[int4.Q8_0] != want/128*34 {
			t.Errorf("head_dim %d: full KV bytes %v, want f32 %d, f16 %d, q8_0 %d", hd, full, want, want/2, want/128*34)
		}
	}
	// head_dim 48: Q8_0 refused by NewEngine, naming the head size.
	if _, err := NewEngine(kvTestCheckpoint(48), WithKVType(int4.Q8_0)); !errors.Is(err, ErrKVType) || !strings.Contains(err.Error(), "head_dim is 48") {
		t.Errorf("NewEngine(head_dim 48, q8_0 KV) = %v, want ErrKVType naming head_dim 48", err)
	}
}

// TestPrefillEqualsDecodeKVTypes checks that prompt batches and single-token decoding
// read the quantized cache the same way.
func TestPrefillEqualsDecodeKVTypes(t *testing.T) {
	for _, typ := range []int4.Type{int4.F16, int4.Q8_0} {
		e, err := NewEngine(kvTestCheckpoint(32), WithThreads(2), WithKVType(typ))
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		ids := []int{1, 30, 31, 32, 40, 50, 60, 70, 80}
		batch := kvLogits(t, e, ids)
		s := e.NewSession()
		vocab := e.Model.Config.Vocab
		for i, id := range ids {
			l, err := s.Eval([]int{id})
			if err != nil {
				t.Fatal(err)
			}
			if d := maxAbsDiff(l, batch[i*vocab:(i+1)*vocab]); d > 1e-5 {
				t.Fatalf("%v: position %d: decode and prefill differ by %g", typ, i, d)
			}
		}
	}
}

func TestEstimateMemoryKVType(t *testing.T) {
	path := stories260KPath(t, "stories260K.gguf")
	f32, err := EstimateMemory(path, WithContext(64))
	if err != nil {
		t.Fatal(err)
	}
	f16, err := EstimateMemory(path, WithContext(64), WithKVType(int4.F16))
	if err != nil {
		t.Fatal(err)
	}
	if f32.KVCache != 64*2*5*32*4 || f16.KVCache != f32.KVCache/2 || f16.KVType != int4.F16 || f16.Total != f32.Total-f32.KVCache/2 {
		t.Errorf("f32 %+v, f16 %+v: want the f16 KV cache half of f32", f32, f16)
	}
	// The estimate covers a full f16 cache.
	e, err := Open(path, WithContext(64), WithKVType(int4.F16), WithThreads(1))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	s := e.NewSession()
	fill := make([]int, 64)
	for i := range fill {
		fill[i] = 1 + i
	}
	if _, err := s.Eval(fill); err != nil {
		t.Fatal(err)
	}
	if got := s.KVCache().Bytes(); got != f16.KVCache {
		t.Errorf("full f16 KV cache holds %d bytes, estimate %d", got, f16.KVCache)
	}

	// head_dim 128 (8192 / 64): every type fits; Q8_0 is 34/128 of F32.
	huge := hugeHeader(t)
	var kv [3]int64
	for i, typ := range KVTypes {
		est, err := EstimateMemory(huge, WithKVType(typ))
		if err != nil {
			t.Fatal(err)
		}
		kv[i] = est.KVCache
		if !strings.Contains(est.String(), "at "+strings.ToLower(typ.String())) {
			t.Errorf("%q does not name the KV type", est)
		}
	}
	if kv[1] != kv[0]/2 || kv[2] != kv[0]/128*34 {
		t.Errorf("KV estimates f32/f16/q8_0 %v", kv)
	}
}

func TestOpenRefusalNamesKVType(t *testing.T) {
	if _, _, ok := AvailableMemory(); !ok {
		t.Skip("this system reports no available memory; the check is skipped")
	}
	path := hugeHeader(t)
	_, err := Open(path, WithKVType(int4.F16))
	if !errors.Is(err, ErrInsufficientMemory) || !strings.Contains(err.Error(), "positions at f16") || !strings.Contains(err.Error(), "--kv-type") {
		t.Errorf("Open(huge, f16 KV) = %v, want a refusal naming the f16 KV cache and --kv-type", err)
	}
	_, err = Open(path, WithKVType(int4.Q8_0))
	if !errors.Is(err, ErrInsufficientMemory) || !strings.Contains(err.Error(), "positions at q8_0") || strings.Contains(err.Error(), "--kv-type") {
		t.Errorf("Open(huge, q8_0 KV) = %v, want a refusal naming q8_0 and no smaller KV type", err)
	}
}

// BenchmarkDecodeKVType decodes one token after 480 cached positions on the head_dim 64
// synthetic model, with each KV type: attention reads the whole cache per token.
func BenchmarkDecodeKVType(b *testing.B) {
	for _, typ := range KVTypes {
		b.Run(strings.ToLower(typ.String()), func(b *testing.B) {
			ck := kvTestCheckpoint(64)
			ck.Config.Context = 512
			e, err := NewEngine(ck, WithThreads(1), WithKVType(typ))
			if err != nil {
				b.Fatal(err)
			}
			defer e.Close()
			s := e.NewSession()
			fill := make([]int, 480)
			for i := range fill {
				fill[i] = i % 96
			}
			if _, err := s.Eval(fill); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for b.Loop() {
				s.tokens = s.tokens[:480]
				if _, err := s.Eval([]int{7}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
