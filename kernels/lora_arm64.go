//go:build !purego

package kernels

// f16NEON are the LoRA f16 factor kernels for arm64 (NEON: FCVTL widens four halves
// to float32; base ASIMD, so every arm64 CPU has it).
var f16NEON = &f16Kernels{dotRows: dotRowsF16NEONGo, axpy: axpyF16NEONGo, panels: panelsF16NEONGo}

// dotRowsF16NEON sets, for r < rows, y[r] = the dot product of the n halves at
// w + r·stride (stride in elements) with x: four four-wide accumulators over blocks of
// 16 (FCVTL, fused multiply-add), then blocks of 4 into the first, reduced as
// dotF32NEON reduces, then the n%4 last products (rounded) added one by one.
//
//go:noescape
func dotRowsF16NEON(w *uint16, stride, rows int, x *float32, n int, y *float32)

// axpyF16NEON computes dst[i] = fma(a, f16(x[i]), dst[i]) for i < n - n%4, and
// dst[i] += a·f16(x[i]) (rounded product) for the n%4 last elements.
//
//go:noescape
func axpyF16NEON(dst *float32, x *uint16, n int, a float32)

// panelsF16NEON adds, for the first 8·panels rows o of the packed B p (rank ≥ 1),
// t = Σ_k f16(B[o,k])·u[k] (fused, in k order from 0) to y[o]; two panels at a time.
//
//go:noescape
func panelsF16NEON(p *uint16, rank, panels int, u, y *float32)

func dotRowsF16NEONGo(w []uint16, stride int, x, y []float32) {
	n := len(x)
	if n == 0 {
		clear(y)
		return
	}
	_ = w[(len(y)-1)*stride+n-1]
	dotRowsF16NEON(&w[0], stride, len(y), &x[0], n, &y[0])
}

func axpyF16NEONGo(dst []float32, a float32, x []uint16) {
	x = x[:len(dst)]
	axpyF16NEON(&dst[0], &x[0], len(dst), a)
}

func panelsF16NEONGo(p []uint16, u, y []float32) {
	full := len(y) / PanelRows
	if full > 0 {
		_ = p[full*PanelRows*len(u)-1]
		panelsF16NEON(&p[0], len(u), full, &u[0], &y[0])
	}
	if tail := full * PanelRows; tail < len(y) {
		panelsF16Generic(p[tail*len(u):], u, y[tail:])
	}
}
