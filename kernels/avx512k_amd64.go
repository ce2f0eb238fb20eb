//go:build !purego

package kernels

// avx512K sets its AVX-512 kernels on i (see avx512Impl): the Q4_K and Q6_K 8-row
// decode kernels and 8×4 GEMMs of k_avx512_amd64.s, each bit for bit the AVX2 kernel
// it replaces, behind the same Go wrappers as the avx2 ones (q4kAsm, q6kAsm), and the
// Q6_K GEMM tile builder (the same tile bytes). The Q4_K tile builder stays the AVX2
// one (it runs once per MatMul and tile, and costs a few percent of the GEMM's time
// from about 32 tokens on).
func avx512K(i *impl) {
	q4kAVX512.register(i)
	q6kAVX512.register(i)
}

// q4kAVX512 and q6kAVX512 are the avx512 Q4_K and Q6_K kernels.
var (
	q4kAVX512 = &q4kAsm{rows8: q4kRows8AVX512, gemm: q4kGemm8x4AVX512, tile: q4kTile8AVX2}
	q6kAVX512 = &q6kAsm{rows8: q6kRows8AVX512, gemm: q6kGemm8x4AVX512, tile: q6kTile8AVX512}
)

// q4kRows8AVX512 is q4kRows8AVX2 (same arguments and result, bit for bit) with
// AVX-512 VNNI.
//
//go:noescape
func q4kRows8AVX512(w *byte, rowBytes, groups int, xq *int8, xd *float32, xc *int32, nsb int, y *float32)

// q4kGemm8x4AVX512 is q4kGemm8x4AVX2 (bit for bit) with AVX-512 VNNI.
//
//go:noescape
func q4kGemm8x4AVX512(w *byte, nb int, xg *byte, out *float32)

// q6kRows8AVX512 is q6kRows8AVX2 (bit for bit) with AVX-512 VNNI and two blocks per
// 512-bit register.
//
//go:noescape
func q6kRows8AVX512(w *byte, rowBytes, groups int, xq *int8, xd *float32, xc *int32, nb int, y *float32)

// q6kGemm8x4AVX512 is q6kGemm8x4AVX2 (bit for bit) with AVX-512 VNNI and two tokens
// per 512-bit register.
//
//go:noescape
func q6kGemm8x4AVX512(w *byte, nb int, xg *byte, out *float32)

// q6kTile8AVX512 is q6kTile8AVX2 (the same tile bytes) with two blocks per 512-bit
// register.
//
//go:noescape
func q6kTile8AVX512(w *byte, rowBytes, nb int, dst *byte)
