package kernels

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/edgerun/edgerun/int4"
)

// randMatrix returns a rows × cols matrix of type t with random quantized rows.
func randMatrix(t *testing.T, r *rand.Rand, typ int4.Type, rows, cols int) *Matrix {
	t.Helper()
	rb, _ := int4.RowBytes(typ, cols)
	data := make([]byte, rows*rb)
	for i := 0; i < rows; i++ {
		if err := int4.QuantizeRow(typ, randVec(r, cols), data[i*rb:(i+1)*rb]); err != nil {
			t.Fatal(err)
		}
	}
	m, err := NewMatrix(typ, rows, cols, data)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// guarded returns a slice of n floats inside a buffer with NaN guards on both sides;
// check reports whether the guards are intact.
func guarded(n int) (y []float32, check func() bool) {
	buf := make([]float32, n+16)
	for i := range buf {
		buf[i] = float32(math.NaN())
	}
	y = buf[8 : 8+n : 8+n]
	return y, func() bool {
		for _, v := range append(buf[:8:8], buf[8+n:]...) {
			if !math.IsNaN(float64(v)) {
				return false
			}
		}
		return true
	}
}

// TestMatMulMultiEqualsMatMul checks the fused products bit for bit against one MatMul
// per matrix (and MatMul + SwiGLU), for row counts that are and are not multiples of
// the 8-row groups, mixed weight types, types without a quantized-activation kernel
// (the unfused fallback), batches (n > 1) and pools of 1-3 threads, with guards around
// every output.
func TestMatMulMultiEqualsMatMul(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	for _, threads := range []int{1, 2, 3} {
		p := NewPool(threads)
		for _, tc := range []struct {
			types []int4.Type
			rows  []int
			cols  int
			n     int
		}{
			{[]int4.Type{int4.Q4_0, int4.Q4_0, int4.Q4_0}, []int{256, 32, 32}, 256, 1},
			{[]int4.Type{int4.Q4_0, int4.Q4_0, int4.Q4_0}, []int{61, 13, 5}, 64, 1},
			{[]int4.Type{int4.Q4_0, int4.Q8_0, int4.IQ4_NL}, []int{40, 7, 9}, 96, 1},
			{[]int4.Type{int4.NF4, int4.IQ4_NL, int4.FP4, int4.NF4}, []int{24, 9, 16, 8}, 96, 1},
			{[]int4.Type{int4.Q4_K, int4.Q6_K}, []int{19, 33}, 256, 1},
			{[]int4.Type{int4.Q4_0, int4.F32}, []int{24, 8}, 64, 1},
			{[]int4.Type{int4.Q4_0, int4.Q4_0, int4.Q4_0}, []int{24, 8, 8}, 64, 5},
			{[]int4.Type{int4.Q8_0}, []int{1}, 32, 1},
		} {
			ms := make([]*Matrix, len(tc.types))
			parts := make([]MatOut, len(ms))
			checks := make([]func() bool, len(ms))
			for i, typ := range tc.types {
				ms[i] = randMatrix(t, r, typ, tc.rows[i], tc.cols)
				parts[i].M = ms[i]
				parts[i].Y, checks[i] = guarded(tc.n * tc.rows[i])
			}
			x := randVec(r, tc.n*tc.cols)
			p.MatMulMulti(x, tc.n, parts...)
			for i, m := range ms {
				want := make([]float32, tc.n*m.Rows)
				p.MatMul(m, x, tc.n, want)
				for k := range want {
					if math.Float32bits(parts[i].Y[k]) != math.Float32bits(want[k]) {
						t.Fatalf("threads %d %v rows %v n %d: part %d (%v) y[%d] = %v, MatMul gives %v", threads, tc.types, tc.rows, tc.n, i, m.Type, k, parts[i].Y[k], want[k])
					}
				}
				if !checks[i]() {
					t.Fatalf("threads %d %v rows %v: part %d wrote outside its output", threads, tc.types, tc.rows, i)
				}
			}
		}
		for _, tc := range []struct {
			typ        int4.Type
			rows, cols int
		}{{int4.Q4_0, 176, 64}, {int4.Q4_0, 37, 96}, {int4.IQ4_NL, 64, 64}, {int4.NF4, 40, 64}, {int4.Q8_0, 9, 32}, {int4.F16, 24, 64}} {
			gate, up := randMatrix(t, r, tc.typ, tc.rows, tc.cols), randMatrix(t, r, tc.typ, tc.rows, tc.cols)
			x := randVec(r, tc.cols)
			g, gok := guarded(tc.rows)
			u, uok := guarded(tc.rows)
			p.MatVecSwiGLU(gate, up, x, g, u)
			wg, wu := make([]float32, tc.rows), make([]float32, tc.rows)
			p.MatVec(gate, x, wg)
			p.MatVec(up, x, wu)
			SwiGLU(wg, wu)
			for k := range wg {
				if math.Float32bits(g[k]) != math.Float32bits(wg[k]) || math.Float32bits(u[k]) != math.Float32bits(wu[k]) {
					t.Fatalf("threads %d %v %dx%d: row %d: fused (%v, %v), unfused (%v, %v)", threads, tc.typ, tc.rows, tc.cols, k, g[k], u[k], wg[k], wu[k])
				}
			}
			if !gok() || !uok() {
				t.Fatalf("threads %d %v %dx%d: MatVecSwiGLU wrote outside its outputs", threads, tc.typ, tc.rows, tc.cols)
			}
		}
		p.Close()
	}
}

// TestMatMulMultiNoAllocs checks that the fused decode products do not allocate (also
// with kernels on prepared activation blocks, of two layouts in one call).
func TestMatMulMultiNoAllocs(t *testing.T) {
	r := rand.New(rand.NewPCG(33, 34))
	p := NewPool(2)
	defer p.Close()
	const cols = 256
	for _, typ := range []int4.Type{int4.Q4_0, int4.IQ4_NL, int4.NF4} {
		q, k, v := randMatrix(t, r, typ, 64, cols), randMatrix(t, r, int4.Q4_0, 16, cols), randMatrix(t, r, int4.FP4, 16, cols)
		x := randVec(r, cols)
		yq, yk, yv := make([]float32, 64), make([]float32, 16), make([]float32, 16)
		if a := testing.AllocsPerRun(50, func() {
			p.MatMulMulti(x, 1, MatOut{q, yq}, MatOut{k, yk}, MatOut{v, yv})
		}); a != 0 {
			t.Errorf("%v: MatMulMulti allocates %v times per call", typ, a)
		}
		if a := testing.AllocsPerRun(50, func() { p.MatVecSwiGLU(q, q, x, yq, yq) }); a != 0 {
			t.Errorf("%v: MatVecSwiGLU allocates %v times per call", typ, a)
		}
	}
}
