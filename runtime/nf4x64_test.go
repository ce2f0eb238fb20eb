package runtime

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/edgerun/edgerun/int4"
	"github.com/edgerun/edgerun/internal/testmodels"
	"github.com/edgerun/edgerun/loader"
)

// TestNF4_64MatchesNF4 quantizes stories260K at load to NF4_64/FP4_64 and runs it beside
// the same weights converted to the 32-element layout (NF4/FP4, absmax repeated): the
// prompt's logits (prefill GEMM) and 8 decode steps' must agree bit for bit, since every
// kernel computes the 64-element rows exactly as the 32-element ones.
func TestNF4_64MatchesNF4(t *testing.T) {
	path := filepath.Join(testmodels.Dir(t), "stories260K", "stories260K.gguf")
	for _, typ := range []int4.Type{int4.NF4_64, int4.FP4_64} {
		open := func(to32 bool) *Engine {
			ck, err := loader.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			rep, err := QuantizeCheckpoint(ck, QuantizeOptions{Type: typ})
			if err != nil {
				t.Fatal(err)
			}
			n64 := 0
			for _, name := range rep.Quantized {
				tt := ck.Tensors[name]
				if tt.Type != typ {
					continue
				}
				n64++
				if to32 {
					data := make([]byte, 0, len(tt.Data)/36*40)
					for b := 0; b < len(tt.Data); b += 36 {
						blk := tt.Data[b : b+36]
						data = append(data, blk[0:20]...)
						data = append(data, blk[0:4]...)
						data = append(data, blk[20:36]...)
					}
					ck.Tensors[name] = &loader.Tensor{Name: name, Type: int4.Bnb4Base(typ), Shape: tt.Shape, Data: data}
				}
			}
			if n64 == 0 {
				t.Fatalf("%v: no tensor in the 64-element layout (quantized %v, fallback %v)", typ, rep.Quantized, rep.Fallback)
			}
			e, err := NewEngine(ck, WithThreads(2))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { e.Close() })
			return e
		}
		a, b := open(false).NewSession(), open(true).NewSession()
		prompt := []int{1, 403, 407, 261, 378, 290, 300}
		la, err := a.EvalAll(prompt)
		if err != nil {
			t.Fatal(err)
		}
		lb, err := b.EvalAll(prompt)
		if err != nil {
			t.Fatal(err)
		}
		for step := 0; ; step++ {
			if len(la) != len(lb) {
				t.Fatalf("%v step %d: %d and %d logits", typ, step, len(la), len(lb))
			}
			for i := range la {
				if math.Float32bits(la[i]) != math.Float32bits(lb[i]) {
					t.Fatalf("%v step %d: logit %d is %g, 32-element layout %g", typ, step, i, la[i], lb[i])
				}
			}
			if step == 8 {
				break
			}
			tok := 3 + step*37%200
			if la, err = a.Eval([]int{tok}); err != nil {
				t.Fatal(err)
			}
			if lb, err = b.Eval([]int{tok}); err != nil {
				t.Fatal(err)
			}
		}
	}
}
