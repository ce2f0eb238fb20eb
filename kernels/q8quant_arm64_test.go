//go:build !purego

package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestQ8QuantNEONRounding runs the NEON quantizer on many random blocks against the
// generic one, bit for bit, on data where rounding t = x·id before adding ±0.5 matters:
// the test counts the elements where a fused x·id ± 0.5 (what Go's arm64 compiler made
// of the generic code before t was rounded explicitly) would give another value, and
// requires some.
func TestQ8QuantNEONRounding(t *testing.T) {
	r := rand.New(rand.NewPCG(89, 90))
	nb := 4096
	if testing.Short() {
		nb = 1024
	}
	x := make([]float32, nb*qBlock)
	for b := 0; b < nb; b++ {
		blk := x[b*qBlock : (b+1)*qBlock]
		for i := range blk {
			blk[i] = float32(r.NormFloat64()) * float32(math.Exp(r.NormFloat64()*3))
		}
		if b%2 == 1 {
			// Values with x·id just below ±0.5, where t + 0.5 rounds to a tie at 1 (the
			// binade of t + 0.5 is coarser than t's): rounding t first gives 1, a fused
			// multiply-add 0. blk[0] stays the block's largest magnitude.
			blk[0] = 100 * float32(1+r.Float64())
			id := 1 / (blk[0] / 127)
			for i := 1; i < qBlock; i++ {
				v := float32((0.5 - (0.5+1.5*r.Float64())*0x1p-25) / float64(id))
				if r.IntN(2) == 0 {
					v = -v
				}
				blk[i] = v
			}
		}
	}
	want := make([]int8, len(x))
	wd := make([]float32, nb)
	wc := make([]int32, 8*nb)
	q8QuantGeneric(x, want, wd, wc)
	q := make([]int8, len(x))
	d := make([]float32, nb)
	c := make([]int32, 8*nb)
	q8QuantNEONGo(x, q, d, c)
	fusedDiffers := 0
	for i := range x {
		if q[i] != want[i] {
			t.Fatalf("q[%d] = %d, generic %d (x %g, d %g)", i, q[i], want[i], x[i], wd[i/qBlock])
		}
		id := 1 / wd[i/qBlock]
		if !(id <= math.MaxFloat32) {
			id = 0
		}
		half := 0.5
		if float32(x[i]*id) < 0 {
			half = -0.5
		}
		if int8(float32(math.FMA(float64(x[i]), float64(id), half))) != want[i] {
			fusedDiffers++
		}
	}
	for b := range d {
		if math.Float32bits(d[b]) != math.Float32bits(wd[b]) {
			t.Fatalf("d[%d] = %g, generic %g", b, d[b], wd[b])
		}
	}
	for i := range c {
		if c[i] != wc[i] {
			t.Fatalf("c[%d] = %d, generic %d", i, c[i], wc[i])
		}
	}
	if fusedDiffers == 0 {
		t.Fatalf("no element where a fused multiply-add rounds differently: the data does not test the rounding")
	}
	t.Logf("%d of %d elements would differ with a fused x·id ± 0.5", fusedDiffers, len(x))
}
