package oracle

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/edgerun/edgerun/int4"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// TestDequantNF4 checks the in-graph bitsandbytes dequantization (the trainer's QLoRA
// base and the oracle's view of the demo model) against int4's, with and without
// double quantization, on a shape whose block count is not a multiple of the nested
// block (256).
func TestDequantNF4(t *testing.T) {
	const out, in = 88, 200 // 17600 values: 275 blocks of 64
	r := rand.New(rand.NewPCG(1, 2))
	x := make([]float32, out*in)
	for i := range x {
		x[i] = float32(r.NormFloat64() * (0.01 + float64(i%7)))
	}
	for _, typ := range []int4.Type{int4.NF4, int4.FP4} {
		for _, dq := range []bool{true, false} {
			q, err := int4.QuantizeBnb4(typ, x, 64, dq)
			if err != nil {
				t.Fatal(err)
			}
			want := make([]float32, len(x))
			if err := q.Dequantize(want); err != nil {
				t.Fatal(err)
			}
			got, err := ExecOnce(backend(t), func(g *Graph) *Node {
				qm := Const(g, q.QuantMap[:])
				if dq {
					return DequantNF4(Const(g, q.Packed), Const(g, q.AbsmaxQ), Const(g, q.NestedAbsmax), qm, Const(g, q.NestedMap),
						q.Offset, q.Blocksize, q.NestedBlock, out, in)
				}
				return DequantBnb4Plain(Const(g, q.Packed), Const(g, q.Absmax), qm, q.Blocksize, out, in)
			})
			if err != nil {
				t.Fatal(err)
			}
			g := tensors.MustCopyFlatData[float32](got)
			var maxd float64
			for i := range g {
				maxd = math.Max(maxd, math.Abs(float64(g[i]-want[i])))
			}
			if maxd > 1e-6 {
				t.Errorf("%v double-quant %v: max |graph - int4| = %g", typ, dq, maxd)
			}
		}
	}
}
