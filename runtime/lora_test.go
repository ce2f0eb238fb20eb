package runtime

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/edgerun/edgerun/kernels"
	"github.com/edgerun/edgerun/loader"
)

// TestApplyLoraPaths checks applyLora's three loop shapes — inline (no pool), two
// threads each running whole module sets (loopAB), and the A·x / B·u loops split over
// the pool (loopA, loopB, with a bias module) — against float64 products of the bound
// f16 factors (row by row through deltaRow, so through other kernels), on groups big
// enough to be split, for one and several tokens.
func TestApplyLoraPaths(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	const r, in = 16, 1024
	mk := func(out int, bias bool) *loader.LoraModule {
		m := &loader.LoraModule{Rank: r, In: in, Out: out, Scale: 0.5, A: make([]float32, r*in), B: make([]float32, out*r)}
		for i := range m.A {
			m.A[i] = float32(rng.NormFloat64())
		}
		for i := range m.B {
			m.B[i] = float32(rng.NormFloat64() * 1e-3)
		}
		if bias {
			m.Bias = make([]float32, out)
			for i := range m.Bias {
				m.Bias[i] = float32(rng.NormFloat64())
			}
		}
		return m
	}
	groups := map[string]*loraGroup{
		"plain": newLoraGroup([]*loader.LoraModule{mk(1024, false), mk(128, false), mk(131, false)}, []int{projQ, projK, projV}),
		"bias":  newLoraGroup([]*loader.LoraModule{mk(1024, false), mk(128, true), mk(131, false)}, []int{projQ, projK, projV}),
	}
	if g := groups["plain"]; g.split != 1 || !g.plain || g.cost < 2*loraChunk {
		t.Fatalf("plain group: split %d, plain %v, cost %d: the test would not reach loopAB", g.split, g.plain, g.cost)
	}
	pool := kernels.NewPool(2)
	defer pool.Close()
	for name, g := range groups {
		for _, n := range []int{1, 3, 6} {
			for _, p := range []*kernels.Pool{nil, pool} {
				x := make([]float32, n*in)
				for i := range x {
					x[i] = float32(rng.NormFloat64())
				}
				outs := map[int][]float32{}
				want := map[int][]float64{}
				for k, lp := range g.mods {
					y := make([]float32, n*lp.out)
					w := make([]float64, n*lp.out)
					d := make([]float32, in)
					for o := 0; o < lp.out; o++ {
						lp.deltaRow(o, d)
						for i := 0; i < n; i++ {
							y[i*lp.out+o] = float32(rng.NormFloat64())
							var v float64
							for c := range d {
								v += float64(d[c]) * float64(x[i*in+c])
							}
							if lp.bias != nil {
								v += float64(lp.bias[o])
							}
							w[i*lp.out+o] = float64(y[i*lp.out+o]) + 0.8*float64(lp.scale)*v
						}
					}
					outs[g.projs[k]], want[g.projs[k]] = y, w
				}
				var ls loraScratch
				ad := &Adapter{}
				applyLora(p, &ls, []activeLora{{ad: ad, scale: 0.8}}, func(*Adapter) *loraGroup { return g }, x, n, func(proj int) []float32 { return outs[proj] })
				what := fmt.Sprintf("%s group, %d tokens, pool %v", name, n, p != nil)
				for proj, y := range outs {
					for j, v := range y {
						if d := math.Abs(float64(v) - want[proj][j]); d > 1e-4*(1+math.Abs(want[proj][j])) {
							t.Fatalf("%s: projection %d output %d = %g, want %g", what, proj, j, v, want[proj][j])
						}
					}
				}
			}
		}
	}
}
