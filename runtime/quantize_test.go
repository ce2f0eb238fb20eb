package runtime_test

import (
	"math"
	"path/filepath"
	"slices"
	"testing"

	"github.com/edgerun/edgerun/int4"
	"github.com/edgerun/edgerun/internal/testmodels"
	"github.com/edgerun/edgerun/runtime"
)

// quantQuality compares quantized logits with the F32 ones (both len(ids) × vocab):
// mean KL(P_f32 || P_q) and top-1 agreement over the positions from start on.
func quantQuality(lr, lq []float32, vocab, start int) (kl, top1 float64) {
	n := 0
	for pos := start; pos < len(lr)/vocab; pos++ {
		a, b := lr[pos*vocab:(pos+1)*vocab], lq[pos*vocab:(pos+1)*vocab]
		p, r := softmax64(a), softmax64(b)
		var d float64
		for i := range p {
			if p[i] > 0 {
				d += p[i] * (math.Log(p[i]) - math.Log(max(r[i], 1e-300)))
			}
		}
		kl += d
		if argmaxQ(a) == argmaxQ(b) {
			top1++
		}
		n++
	}
	return kl / float64(n), top1 / float64(n)
}

func softmax64(x []float32) []float64 {
	m := float64(slices.Max(x))
	out := make([]float64, len(x))
	var s float64
	for i, v := range x {
		out[i] = math.Exp(float64(v) - m)
		s += out[i]
	}
	for i := range out {
		out[i] /= s
	}
	return out
}

func argmaxQ(x []float32) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}

// TestQuantizeOnLoadQuality quantizes the F32 stories260K HF checkpoint at load to each
// type and reports, over 256 positions generated greedily by the F32 model after BOS
// (golden-greedy.json's bos_only run, so no generation is needed here), the mean KL
// divergence from the F32 distribution and the top-1 agreement. ffn_down (172 columns)
// is not a multiple of 32: it takes the fallback (NF4/FP4: bitsandbytes flat blocks,
// dequantized to F32; ggml types: left F32).
func TestQuantizeOnLoadQuality(t *testing.T) {
	dir := filepath.Join(testmodels.Dir(t), "stories260K", "hf")
	ref, err := runtime.Open(dir, runtime.WithThreads(2))
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	g := loadGolden(t)["bos_only"]
	ids := append(slices.Clone(g.PromptIDs), g.ContinuationIDs...)[:256]
	lr, err := ref.NewSession().EvalAll(ids)
	if err != nil {
		t.Fatal(err)
	}
	vocab := ref.Model.Config.Vocab
	for _, c := range []struct {
		typ          int4.Type
		maxKL        float64
		minTop1      float64
		wantFallback int
	}{
		{int4.NF4, 0.2, 0.8, 5},
		{int4.FP4, 0.3, 0.75, 5},
		{int4.Q4_0, 0.15, 0.8, 5},
		{int4.IQ4_NL, 0.15, 0.8, 5},
		{int4.Q8_0, 0.002, 0.97, 5},
	} {
		t.Run(c.typ.String(), func(t *testing.T) {
			e, rep, err := runtime.OpenQuantized(dir, runtime.QuantizeOptions{Type: c.typ}, runtime.WithThreads(2))
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			if len(rep.Quantized) != 30 || len(rep.Fallback) != c.wantFallback {
				t.Fatalf("quantized %d tensors, fallback %v", len(rep.Quantized), rep.Fallback)
			}
			want := c.typ // bitsandbytes blocksize 64: the 64-element type
			if t64, ok := int4.Bnb4RowType(c.typ, 64); ok {
				want = t64
			}
			if got := e.Model.Ckpt.Tensors["blk.0.attn_q.weight"].Type; got != want {
				t.Fatalf("attn_q is %v", got)
			}
			lq, err := e.NewSession().EvalAll(ids)
			if err != nil {
				t.Fatal(err)
			}
			kl, top1 := quantQuality(lr, lq, vocab, 0)
			t.Logf("%-6v mean KL %.5f  top-1 agreement %.4f over %d positions (fallback: %d ffn_down tensors)", c.typ, kl, top1, len(ids), len(rep.Fallback))
			if kl > c.maxKL || top1 < c.minTop1 {
				t.Errorf("%v: KL %.4f (max %.2f), top-1 %.3f (min %.2f)", c.typ, kl, c.maxKL, top1, c.minTop1)
			}
		})
	}
}
