//go:build !purego

package kernels

// dotF32NEON returns Σ a[i]·b[i] for i < n: four-wide fused multiply-adds into four
// accumulators over blocks of 16 (acc[k] for elements 16j+4k .. 16j+4k+3), then blocks
// of 4 into acc[0]; v := (acc[0]+acc[1]) + (acc[2]+acc[3]) lane-wise,
// s := (v[0]+v[1]) + (v[2]+v[3]), and the n%4 remaining products (rounded) are added to
// s one by one.
//
//go:noescape
func dotF32NEON(a, b *float32, n int) float32

// axpyF32NEON computes dst[i] = fma(a, x[i], dst[i]) for i < n - n%4, and
// dst[i] += a·x[i] (rounded product) for the n%4 last elements.
//
//go:noescape
func axpyF32NEON(dst, x *float32, n int, a float32)

func dotF32NEONGo(a, b []float32) float32 {
	if len(a) == 0 {
		return 0
	}
	b = b[:len(a)]
	return dotF32NEON(&a[0], &b[0], len(a))
}

func axpyF32NEONGo(dst []float32, a float32, x []float32) {
	if len(dst) == 0 {
		return
	}
	x = x[:len(dst)]
	axpyF32NEON(&dst[0], &x[0], len(dst), a)
}

func f32RowsNEONGo(w []float32, stride int, x, y []float32) {
	n := len(x)
	if len(y) == 0 {
		return
	}
	if n == 0 {
		clear(y)
		return
	}
	_ = w[(len(y)-1)*stride+n-1]
	for r := range y {
		y[r] = dotF32NEON(&w[r*stride], &x[0], n)
	}
}
