package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync/atomic"
	"testing"

	"github.com/edgerun/edgerun/int4"
)

// randF16Rows returns rows×n F16 weights: Gaussian values, with some extreme ones
// (largest finite half, subnormals, zeros) in every row.
func randF16Rows(r *rand.Rand, rows, n int) []byte {
	data := make([]byte, rows*2*n)
	for i := 0; i < rows*n; i++ {
		v := float32(r.NormFloat64())
		switch r.IntN(64) {
		case 0:
			v = 65504
		case 1:
			v = 3e-6
		case 2:
			v = 0
		}
		h := int4.F32ToF16(v)
		data[2*i], data[2*i+1] = byte(h), byte(h>>8)
	}
	return data
}

// TestF16RowsMatch checks the generic F16 kernel against a float64 product and every
// implementation against the generic one (float rounding only) on many lengths,
// including tails that are not multiples of the SIMD widths, with guards around y.
func TestF16RowsMatch(t *testing.T) {
	r := rand.New(rand.NewPCG(51, 52))
	for _, n := range []int{1, 3, 7, 8, 9, 31, 32, 33, 64, 100, 2048, 2053} {
		for _, rows := range []int{1, 2, 5, 17} {
			rowBytes := 2*n + 2*r.IntN(3) // rows may be padded
			w := randF16Rows(r, rows, rowBytes/2)
			x := randVec(r, n)
			want := make([]float32, rows)
			ktSpec.f16(w, rowBytes, x, want)
			bounds := make([]float64, rows)
			for k := 0; k < rows; k++ {
				var ref float64
				for i := 0; i < n; i++ {
					wv := float64(int4.F16ToF32(uint16(w[k*rowBytes+2*i]) | uint16(w[k*rowBytes+2*i+1])<<8))
					ref += wv * float64(x[i])
					bounds[k] += math.Abs(wv * float64(x[i]))
				}
				tol := 2e-7*float64(n+8)*bounds[k] + 1e-30
				if d := math.Abs(float64(want[k]) - ref); !(d <= tol) {
					t.Fatalf("generic n=%d row %d: %g, float64 %g", n, k, want[k], ref)
				}
			}
			for _, im := range impls {
				const g = 4
				got := make([]float32, rows+2*g)
				for i := range got {
					got[i] = -3.25
				}
				im.kt.f16(w, rowBytes, x, got[g:g+rows])
				for i := 0; i < g; i++ {
					if got[i] != -3.25 || got[g+rows+i] != -3.25 {
						t.Fatalf("%s n=%d rows=%d: wrote outside y", im.name, n, rows)
					}
				}
				for k := 0; k < rows; k++ {
					tol := 2e-7*float64(n+8)*bounds[k] + 1e-30
					if d := math.Abs(float64(got[g+k]) - float64(want[k])); !(d <= tol) {
						t.Fatalf("%s n=%d row %d: %g, generic %g", im.name, n, k, got[g+k], want[k])
					}
				}
			}
		}
	}
}

// TestF16MatMulEqualsMatVec checks, for every implementation, that the F16 prefill path
// gives exactly each token's decode result and allocates nothing.
func TestF16MatMulEqualsMatVec(t *testing.T) {
	r := rand.New(rand.NewPCG(53, 54))
	p := NewPool(2)
	defer p.Close()
	for _, im := range impls {
		withImpl(im, func() {
			for _, shape := range [][3]int{{1, 8, 1}, {5, 37, 3}, {70, 256, 6}} {
				rows, cols, n := shape[0], shape[1], shape[2]
				m, err := NewMatrix(int4.F16, rows, cols, randF16Rows(r, rows, cols))
				if err != nil {
					t.Fatal(err)
				}
				x := randVec(r, n*cols)
				y := make([]float32, n*rows+1)
				y[n*rows] = 42
				p.MatMul(m, x, n, y[:n*rows])
				if y[n*rows] != 42 {
					t.Fatalf("%s: MatMul wrote past y", im.name)
				}
				yv := make([]float32, rows)
				for i := 0; i < n; i++ {
					p.MatVec(m, x[i*cols:(i+1)*cols], yv)
					for k := range yv {
						if math.Float32bits(yv[k]) != math.Float32bits(y[i*rows+k]) {
							t.Fatalf("%s %dx%d n=%d: MatMul[%d,%d] = %g, MatVec %g", im.name, rows, cols, n, i, k, y[i*rows+k], yv[k])
						}
					}
				}
				if a := testing.AllocsPerRun(5, func() { p.MatMul(m, x, n, y[:n*rows]) }); a != 0 {
					t.Errorf("%s: F16 MatMul allocates %v times per call", im.name, a)
				}
			}
		})
	}
}

// BenchmarkF16MatVec reports F16 decode speed (MB/s of weights) per implementation on
// TinyLlama's 2048×2048 and 5632×2048 shapes with a 2-thread pool.
func BenchmarkF16MatVec(b *testing.B) {
	r := rand.New(rand.NewPCG(55, 56))
	p := NewPool(2)
	defer p.Close()
	for _, sh := range [][2]int{{2048, 2048}, {5632, 2048}} {
		rows, cols := sh[0], sh[1]
		data := randF16Rows(r, rows, cols)
		m, _ := NewMatrix(int4.F16, rows, cols, data)
		x := randVec(r, cols)
		y := make([]float32, rows)
		for _, im := range impls {
			if im == genericImpl && rows > 2048 && len(impls) > 1 {
				continue
			}
			b.Run(fmt.Sprintf("F16/%dx%d/%s", rows, cols, im.name), func(b *testing.B) {
				withImpl(im, func() {
					b.SetBytes(int64(len(data)))
					for b.Loop() {
						p.MatVec(m, x, y)
					}
				})
			})
		}
	}
}

// TestFloatMatVecRowsOnce checks that decode through the F16 and F32 rows kernels
// computes each output row once (a chunk of rows is one kernel call, not one call per
// tile start running to the chunk's end).
func TestFloatMatVecRowsOnce(t *testing.T) {
	r := rand.New(rand.NewPCG(57, 58))
	p := NewPool(2)
	defer p.Close()
	var n atomic.Int64
	counting := *active
	f16, f32 := active.kt.f16, active.f32Rows
	counting.kt.f16 = func(w []byte, rowBytes int, x, y []float32) { n.Add(int64(len(y))); f16(w, rowBytes, x, y) }
	counting.f32Rows = func(w []float32, stride int, x, y []float32) { n.Add(int64(len(y))); f32(w, stride, x, y) }
	const rows, cols = 1000, 64
	for _, typ := range []int4.Type{int4.F16, int4.F32} {
		rb, _ := int4.RowBytes(typ, cols)
		data := make([]byte, rows*rb)
		for i := 0; i < rows; i++ {
			_ = int4.QuantizeRow(typ, randVec(r, cols), data[i*rb:(i+1)*rb])
		}
		m, _ := NewMatrix(typ, rows, cols, data)
		x, y := randVec(r, 3*cols), make([]float32, 3*rows)
		withImpl(&counting, func() {
			n.Store(0)
			p.MatVec(m, x[:cols], y[:rows])
			if got := n.Load(); got != rows {
				t.Errorf("%v MatVec: kernels computed %d rows, want %d", typ, got, rows)
			}
			n.Store(0)
			p.MatMul(m, x, 3, y)
			if got := n.Load(); got != 3*rows {
				t.Errorf("%v MatMul n=3: kernels computed %d rows, want %d", typ, got, 3*rows)
			}
		})
	}
}
