package oracle

import (
	"math"
	"math/rand/v2"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// TestGradients checks the lean matmul gradients and the Rsqrt gradient that
// InstallGradients registers against gomlx's own rules (plain DotGeneral, 1/Sqrt).
func TestGradients(t *testing.T) {
	InstallGradients()
	r := rand.New(rand.NewPCG(3, 4))
	randT := func(dims ...int) *tensors.Tensor {
		n := 1
		for _, d := range dims {
			n *= d
		}
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(r.NormFloat64())
		}
		return tensors.FromFlatDataAndDimensions(x, dims...)
	}
	cases := []struct {
		name   string
		a, b   []int
		lean   func(a, b *Node) *Node
		ca, cb int
	}{
		{"NN", []int{2, 3, 5, 4}, []int{2, 3, 4, 6}, MatMulNN, 3, 2},
		{"NT", []int{2, 5, 4}, []int{2, 6, 4}, MatMulNT, 2, 2},
		{"TN", []int{4, 5}, []int{4, 6}, MatMulTN, 0, 0},
	}
	for _, c := range cases {
		a, b := randT(c.a...), randT(c.b...)
		grads := func(lean bool) []*tensors.Tensor {
			e := MustNewExec(backend(t), func(a, b *Node) (*Node, *Node) {
				var y *Node
				if lean {
					y = c.lean(a, b)
				} else {
					batch := batchAxes(a.Rank())
					y = DotGeneral(a, []int{c.ca}, batch, b, []int{c.cb}, batch)
				}
				w := Sin(IotaFull(a.Graph(), y.Shape())) // a non-uniform upstream gradient
				g := Gradient(ReduceAllSum(Mul(y, w)), a, b)
				return g[0], g[1]
			})
			out, err := e.Exec(a, b)
			if err != nil {
				t.Fatal(err)
			}
			return out
		}
		want, got := grads(false), grads(true)
		for i := range want {
			if d := maxAbs(got[i], want[i]); d > 1e-5 {
				t.Errorf("%s: gradient %d differs from gomlx's by %g", c.name, i, d)
			}
		}
	}
	x := randT(3, 7)
	rs := func(lean bool) *tensors.Tensor {
		e := MustNewExec(backend(t), func(x *Node) *Node {
			y := AddScalar(Square(x), 0.5)
			var z *Node
			if lean {
				z = Rsqrt(y)
			} else {
				z = Inverse(Sqrt(y))
			}
			return Gradient(ReduceAllSum(Mul(z, x)), x)[0]
		})
		out, err := e.Exec(x)
		if err != nil {
			t.Fatal(err)
		}
		return out[0]
	}
	if d := maxAbs(rs(true), rs(false)); d > 1e-5 {
		t.Errorf("Rsqrt gradient differs from 1/Sqrt's by %g", d)
	}
}

func maxAbs(a, b *tensors.Tensor) float64 {
	x, y := tensors.MustCopyFlatData[float32](a), tensors.MustCopyFlatData[float32](b)
	var d float64
	for i := range x {
		d = math.Max(d, math.Abs(float64(x[i]-y[i])))
	}
	if len(x) != len(y) {
		return math.Inf(1)
	}
	return d
}
