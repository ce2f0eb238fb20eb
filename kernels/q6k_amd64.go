//go:build !purego

package kernels

import "github.com/edgerun/edgerun/int4"

// q6kRowsAVX2 computes, for r < rows, with row = w[r·rowBytes:] and nb/8 Q6_K
// super-blocks of 210 bytes:
//
//	var a [8]float32
//	for k := 0; k < nb/8; k++ {
//		sb := row[210·k:]
//		for j := 0; j < 8; j++ { // activation block b = 8k+j
//			for l := 0; l < 8; l++ { // lane l: elements 4l..4l+3 (scale 2j + l/4)
//				s := int32(int8(sb[192+2j+l/4])) · Σ_{e=4l}^{4l+3} (int32(q_e)-32)·int32(xq[32b+e])
//				a[l] += (xd[b]·f16(sb[208:210])) · float32(s) // fused multiply-add
//			}
//		}
//	}
//	y[r] = ((a[0]+a[4]) + (a[2]+a[6])) + ((a[1]+a[5]) + (a[3]+a[7]))
//
// with q_e the 6-bit values of block j (q6kQuants). rows ≥ 1, nb ≥ 8 and a multiple of 8.
//
//go:noescape
func q6kRowsAVX2(w *byte, rowBytes, rows int, xq *int8, xd *float32, nb int, y *float32)

// q6kRows8AVX2 computes groups·8 Q6_K rows (see q6k8_amd64.s): row r of each group of 8
// as q6kGemm8x4AVX2 does on its tile for a tile row and a token, bit for bit. xc are the
// activation's lane sums (q8Act: 8·Σ of each 4 elements). groups ≥ 1, nb ≥ 8 and a
// multiple of 8.
//
//go:noescape
func q6kRows8AVX2(w *byte, rowBytes, groups int, xq *int8, xd *float32, xc *int32, nb int, y *float32)

// q6kGemm8x4AVX2 is the Q6_K gemmKernel over nb ≥ 1 block columns of a decoded tile
// (q6kTileBlockBytes; see q6k8_amd64.s).
//
//go:noescape
func q6kGemm8x4AVX2(w *byte, nb int, xg *byte, out *float32)

// q6kTile8AVX2 is q6kTile8 for 8 valid rows and nb ≥ 8 blocks (a multiple of 8).
//
//go:noescape
func q6kTile8AVX2(w *byte, rowBytes, nb int, dst *byte)

// q6kAsm are the assembly entry points of one implementation's Q6_K kernels (avx2:
// q6kAVX2; avx512: q6kAVX512 in avx512k_amd64.go); the Go wrappers below are the same
// for every implementation.
type q6kAsm struct {
	rows8 func(w *byte, rowBytes, groups int, xq *int8, xd *float32, xc *int32, nb int, y *float32)
	gemm  func(w *byte, nb int, xg *byte, out *float32)
	tile  func(w *byte, rowBytes, nb int, dst *byte)
}

// q6kAVX2 are the avx2 Q6_K kernels.
var q6kAVX2 = &q6kAsm{rows8: q6kRows8AVX2, gemm: q6kGemm8x4AVX2, tile: q6kTile8AVX2}

// q6kArchKT registers the avx2 Q6_K kernels on i: the 8-row decode kernel (with the
// one-row kernel for the last rows%8) and the 8×4 GEMM for prefill; there is no 4-token
// kernel (the GEMM takes the groups of 4 tokens, the one-row kernels the rest).
func q6kArchKT(i *impl) { q6kAVX2.register(i) }

// register sets a's Q6_K decode kernel and GEMM on i.
func (a *q6kAsm) register(i *impl) {
	i.kt.set(int4.Q6_K, a.rows8Go, nil)
	i.kt.setGemm(int4.Q6_K, gemmSpec{kern: a.gemmGo, il: a.tile8Go, blkSize: q6kTileBlockBytes})
}

// rows8Go is the Q6_K rowsKernel: the 8-row kernel on the aligned groups of 8 rows and
// the one-row kernel on the rest.
func (a *q6kAsm) rows8Go(w []byte, rowBytes int, q []int8, d []float32, c []int32, y []float32) {
	nb := len(d) &^ 7
	if len(y) == 0 || nb == 0 {
		clear(y)
		return
	}
	_ = w[(len(y)-1)*rowBytes+nb/8*210-1]
	_ = q[nb*qBlock-1]
	_ = c[nb*8-1]
	g := len(y) / 8
	if g > 0 {
		a.rows8(&w[0], rowBytes, g, &q[0], &d[0], &c[0], nb, &y[0])
	}
	if rest := len(y) - 8*g; rest > 0 {
		q6kRowsAVX2(&w[8*g*rowBytes], rowBytes, rest, &q[0], &d[0], nb, &y[8*g])
	}
}

// gemmGo checks the sizes and runs the GEMM kernel.
func (a *q6kAsm) gemmGo(w []byte, nb int, g []byte, out *[32]float32) {
	runGemmAsm(a.gemm, q6kTileBlockBytes, w, nb, g, out)
}

// tile8Go builds a Q6_K GEMM tile: the assembly builder for full tiles and whole
// super-blocks, q6kTile8 otherwise.
func (a *q6kAsm) tile8Go(w []byte, rowBytes, rows, nb int, dst []byte) {
	if rows < 8 || nb < 8 || nb%8 != 0 {
		q6kTile8(w, rowBytes, rows, nb, dst)
		return
	}
	_ = w[7*rowBytes+nb/8*210-1]
	_ = dst[nb*q6kTileBlockBytes-1]
	a.tile(&w[0], rowBytes, nb, &dst[0])
}
