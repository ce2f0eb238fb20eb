//go:build !purego

package kernels

// f16AVX2 are the LoRA f16 factor kernels for CPUs with AVX2, FMA and F16C (the avx2
// implementation requires all three).
var f16AVX2 = &f16Kernels{dotRows: dotRowsF16AVX2Go, axpy: axpyF16AVX2Go, panels: panelsF16AVX2Go}

// dotRowsF16AVX2 sets, for r < rows, y[r] = the dot product of the n halves at
// w + r·stride (stride in elements) with x: four eight-wide accumulators over blocks of
// 32 (VCVTPH2PS, fused multiply-add), then blocks of 8 into the first, reduced as
// dotF32AVX2 reduces, then the n%8 last elements added one by one (fused).
//
//go:noescape
func dotRowsF16AVX2(w *uint16, stride, rows int, x *float32, n int, y *float32)

// axpyF16AVX2 computes dst[i] = fma(a, f16(x[i]), dst[i]) for i < n.
//
//go:noescape
func axpyF16AVX2(dst *float32, x *uint16, n int, a float32)

// panelsF16AVX2 adds, for the first 8·panels rows o of the packed B p (rank ≥ 1),
// t = Σ_k f16(B[o,k])·u[k] (fused, in k order from 0) to y[o]; four panels at a time.
//
//go:noescape
func panelsF16AVX2(p *uint16, rank, panels int, u, y *float32)

func dotRowsF16AVX2Go(w []uint16, stride int, x, y []float32) {
	n := len(x)
	if n == 0 {
		clear(y)
		return
	}
	_ = w[(len(y)-1)*stride+n-1]
	dotRowsF16AVX2(&w[0], stride, len(y), &x[0], n, &y[0])
}

func axpyF16AVX2Go(dst []float32, a float32, x []uint16) {
	x = x[:len(dst)]
	axpyF16AVX2(&dst[0], &x[0], len(dst), a)
}

func panelsF16AVX2Go(p []uint16, u, y []float32) {
	full := len(y) / PanelRows
	if full > 0 {
		_ = p[full*PanelRows*len(u)-1]
		panelsF16AVX2(&p[0], len(u), full, &u[0], &y[0])
	}
	if tail := full * PanelRows; tail < len(y) {
		panelsF16Generic(p[tail*len(u):], u, y[tail:])
	}
}
