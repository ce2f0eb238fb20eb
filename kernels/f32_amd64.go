//go:build !purego

package kernels

// dotF32AVX2 returns Σ a[i]·b[i] for i < n: eight-wide fused multiply-adds into four
// accumulators over blocks of 32 (acc[k] for elements 32j+8k .. 32j+8k+7), then blocks of
// 8 into acc[0]; the lanes are reduced as
//
//	v := (acc[0]+acc[1]) + (acc[2]+acc[3]) // lane-wise
//	u := v[0:4] + v[4:8]
//	s := (u[0]+u[2]) + (u[1]+u[3])
//
// and the n%8 remaining elements are added to s one by one with fused multiply-adds.
//
//go:noescape
func dotF32AVX2(a, b *float32, n int) float32

// axpyF32AVX2 computes dst[i] = fma(a, x[i], dst[i]) for i < n.
//
//go:noescape
func axpyF32AVX2(dst, x *float32, n int, a float32)

// f32RowsAVX2 sets y[r] = dotF32AVX2(w + r·stride, x, n) for r < rows (stride in
// elements).
//
//go:noescape
func f32RowsAVX2(w *float32, stride, rows int, x *float32, n int, y *float32)

// dotF32Go, axpyF32Go and f32RowsGo check the lengths and run the assembly entry
// point k: dotF32AVX2 etc., or the AVX-512 functions with the same signatures and
// results bit for bit, so both implementations share this code. They are inlined into
// each implementation's one-line wrapper, where k becomes a direct call (attention
// calls the dot product and axpy once per position on short vectors).
func dotF32Go(k func(a, b *float32, n int) float32, a, b []float32) float32 {
	if len(a) == 0 {
		return 0
	}
	b = b[:len(a)]
	return k(&a[0], &b[0], len(a))
}

func axpyF32Go(k func(dst, x *float32, n int, a float32), dst []float32, a float32, x []float32) {
	if len(dst) == 0 {
		return
	}
	x = x[:len(dst)]
	k(&dst[0], &x[0], len(dst), a)
}

func f32RowsGo(k func(w *float32, stride, rows int, x *float32, n int, y *float32), w []float32, stride int, x, y []float32) {
	n := len(x)
	if len(y) == 0 {
		return
	}
	if n == 0 {
		clear(y)
		return
	}
	_ = w[(len(y)-1)*stride+n-1]
	k(&w[0], stride, len(y), &x[0], n, &y[0])
}

func dotF32AVX2Go(a, b []float32) float32 { return dotF32Go(dotF32AVX2, a, b) }

func axpyF32AVX2Go(dst []float32, a float32, x []float32) { axpyF32Go(axpyF32AVX2, dst, a, x) }

func f32RowsAVX2Go(w []float32, stride int, x, y []float32) { f32RowsGo(f32RowsAVX2, w, stride, x, y) }
