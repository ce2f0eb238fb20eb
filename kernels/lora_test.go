package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/edgerun/edgerun/int4"
)

// randF16 returns n random halves of Gaussian values (σ = 1).
func randF16(r *rand.Rand, n int) []uint16 {
	h := make([]uint16, n)
	for i := range h {
		h[i] = int4.F32ToF16(float32(r.NormFloat64()))
	}
	return h
}

// checkGuards fails when an element of buf outside [lo, hi) differs from ref.
func checkGuards(t *testing.T, what string, buf, ref []float32, lo, hi int) {
	t.Helper()
	for i := range buf {
		if (i < lo || i >= hi) && math.Float32bits(buf[i]) != math.Float32bits(ref[i]) {
			t.Fatalf("%s: guard element %d changed", what, i)
		}
	}
}

// TestF16ImplsMatchGeneric checks every implementation's LoRA f16 kernels against the
// generic ones (the specification) on lengths around the SIMD widths, rank 1 to 64
// and row counts with partial panels: equal within a few ulps of Σ|terms|, elements
// outside the output untouched.
func TestF16ImplsMatchGeneric(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	const guard = 8
	for _, im := range impls {
		for _, n := range f32Lens {
			x := randVec(r, n)
			// dotRows: stride larger than n, guards around y.
			for _, rows := range []int{1, 2, 5, 17, 48} {
				stride := n + r.IntN(3)
				w := randF16(r, rows*stride+1)[:rows*stride]
				y := randVec(r, rows+2*guard)
				ref := append([]float32(nil), y...)
				im.f16.dotRows(w, stride, x, y[guard:guard+rows])
				dotRowsF16Generic(w, stride, x, ref[guard:guard+rows])
				what := fmt.Sprintf("%s dotRows n=%d rows=%d", im.name, n, rows)
				checkGuards(t, what, y, ref, guard, guard+rows)
				for i := 0; i < rows; i++ {
					var abs float64
					for j := 0; j < n; j++ {
						abs += math.Abs(float64(int4.F16ToF32(w[i*stride+j]) * x[j]))
					}
					if d := math.Abs(float64(y[guard+i] - ref[guard+i])); d > 1e-6*abs+1e-30 {
						t.Fatalf("%s row %d: got %g, generic %g", what, i, y[guard+i], ref[guard+i])
					}
				}
			}
			// axpy.
			if n > 0 {
				h := randF16(r, n)
				buf := randVec(r, n+2*guard)
				ref := append([]float32(nil), buf...)
				a := float32(r.NormFloat64())
				im.f16.axpy(buf[guard:guard+n], a, h)
				axpyF16Generic(ref[guard:guard+n], a, h)
				what := fmt.Sprintf("%s axpy n=%d", im.name, n)
				checkGuards(t, what, buf, ref, guard, guard+n)
				for i := 0; i < n; i++ {
					tol := 1e-6 * (math.Abs(float64(ref[guard+i])) + math.Abs(float64(a*int4.F16ToF32(h[i]))))
					if d := math.Abs(float64(buf[guard+i] - ref[guard+i])); d > tol {
						t.Fatalf("%s [%d]: got %g, generic %g", what, i, buf[guard+i], ref[guard+i])
					}
				}
			}
		}
		// panels: every row count around the panel and four-panel widths.
		for _, rank := range []int{1, 2, 7, 16, 64} {
			for _, rows := range []int{1, 7, 8, 9, 16, 31, 32, 33, 40, 255, 256, 2048} {
				b := randVec(r, rows*rank)
				p, _ := PackLoraB(b, rows, rank)
				u := randVec(r, rank)
				y := randVec(r, rows+2*guard)
				ref := append([]float32(nil), y...)
				im.f16.panels(p, u, y[guard:guard+rows])
				panelsF16Generic(p, u, ref[guard:guard+rows])
				what := fmt.Sprintf("%s panels rank=%d rows=%d", im.name, rank, rows)
				checkGuards(t, what, y, ref, guard, guard+rows)
				for o := 0; o < rows; o++ {
					abs := math.Abs(float64(ref[guard+o]))
					for k := 0; k < rank; k++ {
						abs += math.Abs(float64(LoraBAt(p, rank, o, k) * u[k]))
					}
					if d := math.Abs(float64(y[guard+o] - ref[guard+o])); d > 1e-6*abs {
						t.Fatalf("%s row %d: got %g, generic %g", what, o, y[guard+o], ref[guard+o])
					}
				}
			}
		}
	}
}

// TestLoraF16Products checks the public kernels against float64 products of the
// original float32 factors: A·x and B·u within the f16 rounding of the factors
// (relative 2⁻¹¹ of Σ|terms|), for factors of very different magnitudes (the power
// of two scaling keeps tiny B factors out of f16's subnormal range).
func TestLoraF16Products(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 24))
	for _, im := range impls {
		withImpl(im, func() {
			for _, mag := range []float64{1e-9, 1e-4, 1, 1e6} {
				const rank, in, out = 16, 100, 37
				a, b := randVec(r, rank*in), randVec(r, out*rank)
				for i := range a {
					a[i] *= float32(mag)
				}
				for i := range b {
					b[i] *= float32(mag)
				}
				ah, amul := ToF16Scaled(a)
				bp, bmul := PackLoraB(b, out, rank)
				x := randVec(r, in)
				u := make([]float32, rank)
				DotRowsF16(ah, in, x, u)
				for k := range u {
					var ref, abs float64
					for i := 0; i < in; i++ {
						ref += float64(a[k*in+i]) * float64(x[i])
						abs += math.Abs(float64(a[k*in+i]) * float64(x[i]))
					}
					if d := math.Abs(float64(amul*u[k]) - ref); d > abs/2048 {
						t.Fatalf("%s mag %g: (A·x)[%d] = %g, want %g", im.name, mag, k, amul*u[k], ref)
					}
				}
				y := make([]float32, out)
				LoraPanelsF16(bp, x[:rank], y)
				for o := range y {
					var ref, abs float64
					for k := 0; k < rank; k++ {
						ref += float64(b[o*rank+k]) * float64(x[k])
						abs += math.Abs(float64(b[o*rank+k]) * float64(x[k]))
					}
					if d := math.Abs(float64(bmul*y[o]) - ref); d > abs/2048 {
						t.Fatalf("%s mag %g: (B·u)[%d] = %g, want %g", im.name, mag, o, bmul*y[o], ref)
					}
				}
				// AxpyF16 rebuilds a row of A.
				row := make([]float32, in)
				AxpyF16(row, amul, ah[in:2*in])
				for i, v := range row {
					if d := math.Abs(float64(v - a[in+i])); d > math.Abs(float64(a[in+i]))/2048 {
						t.Fatalf("%s mag %g: A[1,%d] = %g, want %g", im.name, mag, i, v, a[in+i])
					}
				}
			}
		})
	}
}

// TestF16Factor checks the scaling of extreme and degenerate factors, and that a
// factor multiplied by a constant gets the same halves.
func TestF16Factor(t *testing.T) {
	for _, tc := range []struct {
		v    []float32
		want float32 // mul
	}{
		{nil, 1},
		{[]float32{0, 0}, 1},
		{[]float32{1}, 1.0 / f16Top},
		{[]float32{-0.75, 0.5}, 0.75 / f16Top},
		{[]float32{65504}, 65504.0 / f16Top},
		{[]float32{1e-31}, 1},
		{[]float32{1, float32(math.NaN())}, 1},
		{[]float32{float32(math.Inf(-1))}, 1},
	} {
		if _, got := f16Factor(tc.v); got != tc.want {
			t.Errorf("f16Factor(%v) mul = %g, want %g", tc.v, got, tc.want)
		}
	}
	r := rand.New(rand.NewPCG(25, 26))
	v := randVec(r, 4096)
	for i := range v {
		v[i] *= 1e-6
	}
	w := make([]float32, len(v))
	for i := range v {
		w[i] = v[i] * 0.3535534 // an rsLoRA scale folded into B
	}
	hv, mv := ToF16Scaled(v)
	hw, mw := ToF16Scaled(w)
	same := 0
	for i := range hv {
		if hv[i] == hw[i] {
			same++
		}
		if got := mv * int4.F16ToF32(hv[i]); math.Abs(float64(got-v[i])) > math.Abs(float64(v[i]))/2048*1.001 {
			t.Fatalf("v[%d] = %g comes back as %g", i, v[i], got)
		}
		if got := mw * int4.F16ToF32(hw[i]); math.Abs(float64(got-w[i])) > math.Abs(float64(w[i]))/2048*1.001 {
			t.Fatalf("w[%d] = %g comes back as %g", i, w[i], got)
		}
	}
	if same < len(hv)-4 {
		t.Errorf("only %d of %d halves agree after a constant factor", same, len(hv))
	}
}

// BenchmarkLoraF16TinyLlama runs, single-threaded, the f16 factor products of one decode
// token of an r=16 LoRA on all seven projections of a TinyLlama-1.1B-shaped model
// (22 layers: A·x for the stacked A of each input group, B·u for every projection),
// per implementation; compare with BenchmarkF32LoraTinyLlama (same products, float32
// factors, rank-long dot products for B).
func BenchmarkLoraF16TinyLlama(b *testing.B) {
	const layers, rank, dim, ff = 22, 16, 2048, 5632
	r := rand.New(rand.NewPCG(3, 4))
	type prod struct{ rows, cols int }
	as := []prod{{3 * rank, dim}, {rank, dim}, {2 * rank, dim}, {rank, ff}}
	bs := []int{dim, 256, 256, dim, ff, ff, dim}
	var aw, bw [][]uint16
	var bytes int64
	for l := 0; l < layers; l++ {
		for _, s := range as {
			aw = append(aw, randF16(r, s.rows*s.cols))
			bytes += int64(2 * s.rows * s.cols)
		}
		for _, rows := range bs {
			p, _ := PackLoraB(randVec(r, rows*rank), rows, rank)
			bw = append(bw, p)
			bytes += int64(2 * len(p))
		}
	}
	x, u, y := randVec(r, ff), make([]float32, 3*rank), make([]float32, ff)
	for _, im := range impls {
		b.Run(im.name, func(b *testing.B) {
			b.SetBytes(bytes)
			for b.Loop() {
				for i, w := range aw {
					s := as[i%len(as)]
					im.f16.dotRows(w, s.cols, x[:s.cols], u[:s.rows])
				}
				for i, p := range bw {
					im.f16.panels(p, u[:rank], y[:bs[i%len(bs)]])
				}
			}
		})
	}
}

// TestF16ToF32 checks the generic kernels' conversion against int4.F16ToF32 on every
// half (bit for bit, except that NaNs need only stay NaN).
func TestF16ToF32(t *testing.T) {
	for h := 0; h < 1<<16; h++ {
		got, want := f16ToF32(uint16(h)), int4.F16ToF32(uint16(h))
		if want != want {
			if got == got {
				t.Fatalf("f16ToF32(%#04x) = %g, want NaN", h, got)
			}
			continue
		}
		if math.Float32bits(got) != math.Float32bits(want) {
			t.Fatalf("f16ToF32(%#04x) = %g (%#08x), want %g (%#08x)", h, got, math.Float32bits(got), want, math.Float32bits(want))
		}
	}
}
