package kernels

import (
	"math"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgerun/edgerun/int4"
)

func randVec(r *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return v
}

func TestPoolCoversRangeOnce(t *testing.T) {
	p := NewPool(3)
	defer p.Close()
	for _, n := range []int{0, 1, 2, 3, 7, 64, 1001} {
		for _, grain := range []int{0, 1, 4, 32} {
			hits := make([]int32, n)
			p.Run(n, grain, func(lo, hi int) {
				if grain > 1 && lo%grain != 0 {
					t.Errorf("n=%d grain=%d: chunk starts at %d", n, grain, lo)
				}
				for i := lo; i < hi; i++ {
					atomic.AddInt32(&hits[i], 1)
				}
			})
			for i, h := range hits {
				if h != 1 {
					t.Fatalf("n=%d grain=%d: index %d visited %d times", n, grain, i, h)
				}
			}
		}
	}
}

// TestPoolParksAndWakes runs loops with pauses longer than the spin time between them,
// so workers park and are woken (and the caller parks while a slow chunk finishes),
// then closes the pool with parked workers.
func TestPoolParksAndWakes(t *testing.T) {
	p := NewPool(3)
	for round := 0; round < 6; round++ {
		var sum atomic.Int64
		p.Run(300, 1, func(lo, hi int) {
			if lo == 0 && round%2 == 1 {
				time.Sleep(3 * spinWait) // the last chunks outlast the caller's spinning
			}
			for i := lo; i < hi; i++ {
				sum.Add(int64(i))
			}
		})
		if got := sum.Load(); got != 299*300/2 {
			t.Fatalf("round %d: sum %d, want %d", round, got, 299*300/2)
		}
		time.Sleep(3 * spinWait)
	}
	p.Close()
	p.Close() // idempotent
}

// TestMatMulMatchesReference checks MatVec and MatMul against a float64 product of the
// dequantized matrix, for every weight type, odd row counts and batch sizes, with the
// active implementation.
func TestMatMulMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	p := NewPool(2)
	defer p.Close()
	for _, typ := range []int4.Type{int4.F32, int4.F16, int4.BF16, int4.Q8_0, int4.Q4_0, int4.Q4_1, int4.IQ4_NL, int4.Q4_K, int4.Q6_K} {
		for _, shape := range [][2]int{{1, 256}, {7, 256}, {33, 512}} {
			rows, cols := shape[0], shape[1]
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
			w := make([]float32, rows*cols)
			for i := 0; i < rows; i++ {
				m.DequantizeRow(i, w[i*cols:(i+1)*cols])
			}
			for _, n := range []int{1, 3} {
				x := randVec(r, n*cols)
				y := make([]float32, n*rows+1)
				y[n*rows] = 42 // guard
				p.MatMul(m, x, n, y[:n*rows])
				if kernelFor(typ) != nil {
					// The reference of the quantized-activation kernels is the product
					// with the 8-bit-rounded activations (TestQ8ActError bounds the rest).
					var a q8Act
					a.quantize(x, n, cols)
					for k := range x {
						x[k] = float32(a.q[k]) * a.d[k/qBlock]
					}
				}
				if y[n*rows] != 42 {
					t.Fatalf("%v: MatMul wrote past its output", typ)
				}
				for i := 0; i < n; i++ {
					for j := 0; j < rows; j++ {
						var want float64
						for k := 0; k < cols; k++ {
							want += float64(w[j*cols+k]) * float64(x[i*cols+k])
						}
						if d := math.Abs(float64(y[i*rows+j]) - want); d > 1e-4*math.Sqrt(float64(cols))*(1+math.Abs(want)) {
							t.Fatalf("%v %dx%d n=%d: y[%d,%d] = %g, want %g", typ, rows, cols, n, i, j, y[i*rows+j], want)
						}
					}
				}
			}
		}
	}
}

func TestRopePairings(t *testing.T) {
	// Adjacent-pair RoPE on a row-permuted head equals rotate-half RoPE on the original:
	// the identity that lets GGUF (permuted) and HF (unpermuted) weights give the same model.
	r := rand.New(rand.NewPCG(3, 4))
	const hd, heads = 16, 2
	x := randVec(r, hd*heads)
	perm := make([]float32, len(x))
	for h := 0; h < heads; h++ {
		for i := 0; i < hd/2; i++ {
			perm[h*hd+2*i] = x[h*hd+i]
			perm[h*hd+2*i+1] = x[h*hd+i+hd/2]
		}
	}
	neox := NewRopeTable(hd, 10000, true, 1, nil)
	norm := NewRopeTable(hd, 10000, false, 1, nil)
	neox.Apply(x, heads, hd, 7)
	norm.Apply(perm, heads, hd, 7)
	for h := 0; h < heads; h++ {
		for i := 0; i < hd/2; i++ {
			if math.Abs(float64(perm[h*hd+2*i]-x[h*hd+i])) > 1e-6 || math.Abs(float64(perm[h*hd+2*i+1]-x[h*hd+i+hd/2])) > 1e-6 {
				t.Fatalf("head %d pair %d: adjacent-pair result differs from rotate-half", h, i)
			}
		}
	}
}

func TestRMSNormSoftmaxSwiGLU(t *testing.T) {
	x := []float32{1, 2, 3, 4}
	w := []float32{1, 1, 2, 0.5}
	dst := make([]float32, 4)
	RMSNorm(dst, x, w, 0)
	rms := math.Sqrt((1 + 4 + 9 + 16) / 4.0)
	for i := range x {
		want := float64(x[i]) / rms * float64(w[i])
		if math.Abs(float64(dst[i])-want) > 1e-6 {
			t.Fatalf("RMSNorm[%d] = %g, want %g", i, dst[i], want)
		}
	}
	s := []float32{1, 2, 3}
	Softmax(s)
	if math.Abs(float64(s[0]+s[1]+s[2])-1) > 1e-6 || !(s[0] < s[1] && s[1] < s[2]) {
		t.Fatalf("Softmax = %v", s)
	}
	g, u := []float32{0, 1, -1}, []float32{2, 2, 2}
	SwiGLU(g, u)
	want := []float64{0, 2 / (1 + math.Exp(-1)), -2 / (1 + math.Exp(1))}
	for i := range g {
		if math.Abs(float64(g[i])-want[i]) > 1e-6 {
			t.Fatalf("SwiGLU[%d] = %g, want %g", i, g[i], want[i])
		}
	}
}

func BenchmarkMatVec(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 6))
	const rows, cols = 2048, 2048
	for _, typ := range []int4.Type{int4.F32, int4.Q8_0, int4.Q4_0, int4.IQ4_NL, int4.Q4_K, int4.Q6_K} {
		rb, _ := int4.RowBytes(typ, cols)
		data := make([]byte, rows*rb)
		for i := 0; i < rows; i++ {
			_ = int4.QuantizeRow(typ, randVec(r, cols), data[i*rb:(i+1)*rb])
		}
		m, _ := NewMatrix(typ, rows, cols, data)
		x := randVec(r, cols)
		y := make([]float32, rows)
		p := NewPool(0)
		b.Run(typ.String(), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				p.MatVec(m, x, y)
			}
		})
		p.Close()
	}
}

func TestRunScratch(t *testing.T) {
	p := NewPool(2)
	defer p.Close()
	hits := make([]int32, 100)
	p.RunScratch(len(hits), 1, 37, func(lo, hi int, buf []float32) {
		if len(buf) != 37 {
			t.Errorf("scratch has %d floats, want 37", len(buf))
		}
		for i := lo; i < hi; i++ {
			atomic.AddInt32(&hits[i], 1)
		}
	})
	for i, h := range hits {
		if h != 1 {
			t.Fatalf("index %d visited %d times", i, h)
		}
	}
	fn := func(lo, hi int, buf []float32) { buf[0] = float32(lo) }
	if a := testing.AllocsPerRun(20, func() { p.RunScratch(64, 1, 512, fn) }); a > 0 {
		t.Errorf("RunScratch allocates %v times per call once its buffers exist", a)
	}
}

// TestPoolSwiGLU checks the pooled SwiGLU against the package function bit for bit
// (odd lengths, a nil pool) and that it does not allocate.
func TestPoolSwiGLU(t *testing.T) {
	r := rand.New(rand.NewPCG(27, 28))
	p := NewPool(2)
	defer p.Close()
	for _, n := range []int{1, 511, 513, 5632} {
		for _, pool := range []*Pool{p, nil} {
			gate, up := randVec(r, n), randVec(r, n)
			want := append([]float32(nil), gate...)
			SwiGLU(want, up)
			pool.SwiGLU(gate, up)
			for i := range want {
				if math.Float32bits(gate[i]) != math.Float32bits(want[i]) {
					t.Fatalf("n=%d: element %d = %g, want %g", n, i, gate[i], want[i])
				}
			}
		}
	}
	gate, up := randVec(r, 5632), randVec(r, 5632)
	if a := testing.AllocsPerRun(20, func() { p.SwiGLU(gate, up) }); a != 0 {
		t.Errorf("Pool.SwiGLU allocates %v times per call", a)
	}
}
