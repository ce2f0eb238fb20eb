package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
	"unsafe"

	"github.com/edgerun/edgerun/int4"
)

// f32Lens are vector lengths around the SIMD widths (8, 32) and their tails.
var f32Lens = []int{0, 1, 3, 4, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 255, 2048, 2051, 5632}

// absDot returns Σ|a[i]·b[i]|, the scale of the rounding error of any summation order.
func absDot(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += math.Abs(float64(a[i]) * float64(b[i]))
	}
	return s
}

// TestF32ImplsMatchGeneric checks every implementation's float32 kernels against the
// generic ones: equal within a few ulps of Σ|terms| (the order of summation differs),
// outputs outside the range untouched.
func TestF32ImplsMatchGeneric(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	const guard = 8
	for _, im := range impls {
		for _, n := range f32Lens {
			a, b := randVec(r, n), randVec(r, n)
			want := dotF32Generic(a, b)
			got := im.dotF32(a, b)
			tol := 1e-6*absDot(a, b) + 1e-30
			if math.Abs(float64(got-want)) > tol {
				t.Errorf("%s dot n=%d: got %g, generic %g (tol %g)", im.name, n, got, want, tol)
			}

			// axpy: dst with guard elements on both sides.
			buf := randVec(r, n+2*guard)
			ref := append([]float32(nil), buf...)
			alpha := float32(r.NormFloat64())
			im.axpyF32(buf[guard:guard+n], alpha, a)
			axpyF32Generic(ref[guard:guard+n], alpha, a)
			for i := range buf {
				if i < guard || i >= guard+n {
					if math.Float32bits(buf[i]) != math.Float32bits(ref[i]) {
						t.Fatalf("%s axpy n=%d: guard element %d changed", im.name, n, i)
					}
					continue
				}
				tol := 1e-6 * (math.Abs(float64(ref[i])) + math.Abs(float64(alpha*a[i-guard])))
				if math.Abs(float64(buf[i]-ref[i])) > tol {
					t.Fatalf("%s axpy n=%d [%d]: got %g, generic %g", im.name, n, i-guard, buf[i], ref[i])
				}
			}

			// rows: a few rows with a stride larger than n, guards around y.
			for _, rows := range []int{1, 2, 5, 17} {
				stride := n + r.IntN(3)
				w := randVec(r, rows*stride)
				y := randVec(r, rows+2*guard)
				yc := append([]float32(nil), y...)
				im.f32Rows(w, stride, a, y[guard:guard+rows])
				for i := range y {
					if i < guard || i >= guard+rows {
						if math.Float32bits(y[i]) != math.Float32bits(yc[i]) {
							t.Fatalf("%s rows n=%d rows=%d: guard element %d changed", im.name, n, rows, i)
						}
						continue
					}
					row := w[(i-guard)*stride : (i-guard)*stride+n]
					if got, want := y[i], im.dotF32(row, a); math.Float32bits(got) != math.Float32bits(want) {
						t.Fatalf("%s rows n=%d row %d: got %g, its dot gives %g", im.name, n, i-guard, got, want)
					}
				}
			}
		}
	}
}

// f32Bytes views v as little-endian bytes.
func f32Bytes(v []float32) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), 4*len(v))
}

// TestMatMulF32 checks the F32 MatVec/MatMul path of every implementation against a
// float64 reference, for token counts around the tile sizes and rank-sized columns.
func TestMatMulF32(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	p := NewPool(2)
	defer p.Close()
	for _, im := range impls {
		withImpl(im, func() {
			for _, shape := range [][2]int{{1, 16}, {37, 16}, {48, 2048}, {3, 7}, {100, 33}} {
				rows, cols := shape[0], shape[1]
				w := randVec(r, rows*cols)
				m, err := NewMatrix(int4.F32, rows, cols, f32Bytes(w))
				if err != nil {
					t.Fatal(err)
				}
				for _, n := range []int{1, 2, 5} {
					x := randVec(r, n*cols)
					y := make([]float32, n*rows)
					p.MatMul(m, x, n, y)
					for i := 0; i < n; i++ {
						for rr := 0; rr < rows; rr++ {
							var ref float64
							for c := 0; c < cols; c++ {
								ref += float64(w[rr*cols+c]) * float64(x[i*cols+c])
							}
							tol := 1e-6 * absDot(w[rr*cols:(rr+1)*cols], x[i*cols:(i+1)*cols])
							if d := math.Abs(float64(y[i*rows+rr]) - ref); d > tol+1e-30 {
								t.Fatalf("%s %dx%d n=%d y[%d,%d] = %g, want %g", im.name, rows, cols, n, i, rr, y[i*rows+rr], ref)
							}
						}
					}
				}
			}
		})
	}
}

// TestMatVecF32NoAllocs checks that the F32 decode path does not allocate.
func TestMatVecF32NoAllocs(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	p := NewPool(2)
	defer p.Close()
	w := randVec(r, 256*64)
	m, _ := NewMatrix(int4.F32, 256, 64, f32Bytes(w))
	x, y := randVec(r, 64), make([]float32, 256)
	if a := testing.AllocsPerRun(50, func() { p.MatVec(m, x, y) }); a != 0 {
		t.Errorf("MatVec F32 allocates %v times per call", a)
	}
}

// BenchmarkF32 measures the float32 kernels of every implementation at LoRA shapes:
// A·x (48 stacked rank rows × 2048) and B·(Ax) (5632 rows × rank 16).
func BenchmarkF32(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, im := range impls {
		for _, shape := range [][2]int{{48, 2048}, {5632, 16}} {
			rows, cols := shape[0], shape[1]
			w, x, y := randVec(r, rows*cols), randVec(r, cols), make([]float32, rows)
			b.Run(im.name+"/rows"+itoa(rows)+"x"+itoa(cols), func(b *testing.B) {
				b.SetBytes(int64(4 * rows * cols))
				for b.Loop() {
					im.f32Rows(w, cols, x, y)
				}
			})
		}
		a, c := randVec(r, 2048), randVec(r, 2048)
		b.Run(im.name+"/axpy2048", func(b *testing.B) {
			b.SetBytes(4 * 2048)
			for b.Loop() {
				im.axpyF32(a, 1e-9, c)
			}
		})
	}
}

func itoa(v int) string {
	if v == 0 {
		return "0"
	}
	var d []byte
	for ; v > 0; v /= 10 {
		d = append([]byte{byte('0' + v%10)}, d...)
	}
	return string(d)
}

// BenchmarkF32LoraTinyLlama runs, single-threaded, the float32 products of one decode
// token of an r=16 LoRA on all seven projections of a TinyLlama-1.1B-shaped model
// (22 layers; A·x for the stacked A factors of each input group, B·(A x) for every
// projection), with separate factors per layer (50 MB, so they stream from memory as
// in the model). One op is one token.
func BenchmarkF32LoraTinyLlama(b *testing.B) {
	const layers, rank, dim, ff = 22, 16, 2048, 5632
	type prod struct{ rows, cols int }
	shapes := []prod{
		{3 * rank, dim}, {rank, dim}, {2 * rank, dim}, {rank, ff}, // A: qkv, o, gate+up, down
		{dim + 2*256, rank}, {dim, rank}, {2 * ff, rank}, {dim, rank}, // B
	}
	r := rand.New(rand.NewPCG(3, 4))
	ws := make([][]float32, 0, layers*len(shapes))
	var bytes int64
	for l := 0; l < layers; l++ {
		for _, s := range shapes {
			ws = append(ws, randVec(r, s.rows*s.cols))
			bytes += int64(4 * s.rows * s.cols)
		}
	}
	x, y := randVec(r, ff), make([]float32, 2*ff)
	for _, im := range impls {
		b.Run(im.name, func(b *testing.B) {
			b.SetBytes(bytes)
			for b.Loop() {
				for i, w := range ws {
					s := shapes[i%len(shapes)]
					im.f32Rows(w, s.cols, x[:s.cols], y[:s.rows])
				}
			}
		})
	}
}
