//go:build !purego

package kernels

// avx512Q4 sets its AVX-512 kernels on i (see avx512Impl): Q4_0's 8-row decode and
// 8×4 prefill GEMM (q4_0_avx512_amd64.s; the tile builder and the one-row kernel for
// the rows%8 stay the AVX2 ones), the float32 dot, axpy and rows kernels and the F16
// rows kernel (float_avx512_amd64.s). Each assembly function gives bit for bit the
// result of the AVX2 one it replaces and runs under the same Go wrapper.
func avx512Q4(i *impl) {
	i.q4_0 = q4_0AVX512.rows
	i.q4_0x8x4 = q4_0AVX512.gemm8x4
	i.dotF32, i.axpyF32, i.f32Rows = dotF32AVX512Go, axpyF32AVX512Go, f32RowsAVX512Go
	i.kt.f16 = f16RowsAsm(f16RowsAVX512).run
}

// q4_0AVX512 are the AVX-512 Q4_0 kernels.
var q4_0AVX512 = &q4_0Asm{rows8: q4_0Rows8AVX512, gemm: q4_0Gemm8x4AVX512}

func dotF32AVX512Go(a, b []float32) float32 { return dotF32Go(dotF32AVX512, a, b) }

func axpyF32AVX512Go(dst []float32, a float32, x []float32) { axpyF32Go(axpyF32AVX512, dst, a, x) }

func f32RowsAVX512Go(w []float32, stride int, x, y []float32) {
	f32RowsGo(f32RowsAVX512, w, stride, x, y)
}

// q4_0Rows8AVX512 is q4_0Rows8AVX2 (same arguments and results, bit for bit) with
// VPDPBUSD and 16 rows per pass (see q4_0_avx512_amd64.s).
//
//go:noescape
func q4_0Rows8AVX512(w *byte, rowBytes, groups int, xq *int8, xd *float32, xc *int32, nb int, y *float32)

// q4_0Gemm8x4AVX512 is q4_0Gemm8x4AVX2 (same arguments and results, bit for bit) with
// VPDPBUSD on embedded-broadcast activation groups.
//
//go:noescape
func q4_0Gemm8x4AVX512(w *byte, nb int, xg *byte, out *float32)

// dotF32AVX512 is dotF32AVX2 (bit for bit) with the four accumulators in two ZMM.
//
//go:noescape
func dotF32AVX512(a, b *float32, n int) float32

// axpyF32AVX512 is axpyF32AVX2 (bit for bit) on ZMM, the tail under a mask.
//
//go:noescape
func axpyF32AVX512(dst, x *float32, n int, a float32)

// f32RowsAVX512 sets y[r] = dotF32AVX512(w + r·stride, x, n) for r < rows: f32RowsAVX2,
// bit for bit.
//
//go:noescape
func f32RowsAVX512(w *float32, stride, rows int, x *float32, n int, y *float32)

// f16RowsAVX512 is f16RowsAVX2 (bit for bit) converting 16 halves at a time.
//
//go:noescape
func f16RowsAVX512(w *byte, rowBytes, rows int, x *float32, n int, y *float32)
