//go:build !purego

package kernels

import "github.com/edgerun/edgerun/int4"

// q4kRowsAVX2 computes, for r < rows, with row = w[r·rowBytes:] and nb/8 Q4_K
// super-blocks of 144 bytes:
//
//	var acc [2][8]float32 // even and odd sub-blocks
//	for k := 0; k < nb/8; k++ {
//		sb := row[144·k:]
//		for j := 0; j < 8; j++ { // sub-block j = activation block b = 8k+j
//			A := (f16(sb[0:2])·float32(sc_j))·xd[b]
//			B := ((f16(sb[2:4])·float32(m_j))·0.125)·xd[b]
//			for l := 0; l < 8; l++ { // lane l: elements 4l..4l+3 of the sub-block
//				s := Σ_{e=4l}^{4l+3} int32(n_e)·int32(xq[32b+e])
//				acc[j&1][l] += A·float32(s)         // fused multiply-add
//				acc[j&1][l] -= B·float32(xc[8b+l])  // fused, xc = 8·Σ of the lane's xq
//			}
//		}
//	}
//	a := acc[0] + acc[1] (lane-wise)
//	y[r] = ((a[0]+a[4]) + (a[2]+a[6])) + ((a[1]+a[5]) + (a[3]+a[7]))
//
// with sc_j, m_j the 6-bit scale and min of sub-block j and n_e its nibbles (see
// q4k.go). rows ≥ 1, nb ≥ 8 and a multiple of 8.
//
//go:noescape
func q4kRowsAVX2(w *byte, rowBytes, rows int, xq *int8, xd *float32, xc *int32, nb int, y *float32)

// q4kRows8AVX2 computes groups·8 rows of nsb super-blocks (see q4k8_amd64.s): row r of
// each group of 8 as q4kGemm8x4AVX2 does for a tile row and a token, bit for bit.
// groups ≥ 1, nsb ≥ 1.
//
//go:noescape
func q4kRows8AVX2(w *byte, rowBytes, groups int, xq *int8, xd *float32, xc *int32, nsb int, y *float32)

// q4kGemm8x4AVX2 is the Q4_K gemmKernel over nb ≥ 1 tile columns (q4kTileBlockBytes).
//
//go:noescape
func q4kGemm8x4AVX2(w *byte, nb int, xg *byte, out *float32)

// q4kTile8AVX2 is q4kTile8 for 8 valid rows and nsb ≥ 1 super-blocks.
//
//go:noescape
func q4kTile8AVX2(w *byte, rowBytes, nsb int, dst *byte)

// q4kAsm are the assembly entry points of one implementation's Q4_K kernels (avx2:
// q4kAVX2; avx512: q4kAVX512 in avx512k_amd64.go); the Go wrappers below are the same
// for every implementation.
type q4kAsm struct {
	rows8 func(w *byte, rowBytes, groups int, xq *int8, xd *float32, xc *int32, nsb int, y *float32)
	gemm  func(w *byte, nb int, xg *byte, out *float32)
	tile  func(w *byte, rowBytes, nsb int, dst *byte)
}

// q4kAVX2 are the avx2 Q4_K kernels.
var q4kAVX2 = &q4kAsm{rows8: q4kRows8AVX2, gemm: q4kGemm8x4AVX2, tile: q4kTile8AVX2}

// q4kArchKT registers the Q4_K kernels of the "avx2" implementation: the 8-row decode
// kernel (the one-row kernel for the last rows%8) and the 8×4 GEMM for prefill, which
// replaces the 4-token kernel (that one does not agree bit for bit with the 8-row
// kernel).
func q4kArchKT(i *impl) { q4kAVX2.register(i) }

// register sets a's Q4_K decode kernel and GEMM on i.
func (a *q4kAsm) register(i *impl) {
	i.kt.set(int4.Q4_K, a.rows8Go, nil)
	i.kt.setGemm(int4.Q4_K, gemmSpec{kern: a.gemmGo, il: a.tile8Go, blkSize: q4kTileBlockBytes})
}

// rows8Go runs the 8-row kernel on the aligned groups of 8 rows and the one-row
// kernel on the rest.
func (a *q4kAsm) rows8Go(w []byte, rowBytes int, q []int8, d []float32, c []int32, y []float32) {
	nb := len(d) &^ 7
	if len(y) == 0 || nb == 0 {
		clear(y)
		return
	}
	_ = w[(len(y)-1)*rowBytes+nb/8*144-1]
	_ = q[nb*qBlock-1]
	_ = c[nb*8-1]
	g := len(y) / 8
	if g > 0 {
		a.rows8(&w[0], rowBytes, g, &q[0], &d[0], &c[0], nb/8, &y[0])
	}
	if rest := len(y) - 8*g; rest > 0 {
		q4kRowsAVX2(&w[8*g*rowBytes], rowBytes, rest, &q[0], &d[0], &c[0], nb, &y[8*g])
	}
}

// tile8Go builds a Q4_K GEMM tile: the assembly builder for full tiles, q4kTile8 for
// the last rows%8.
func (a *q4kAsm) tile8Go(w []byte, rowBytes, rows, nb int, dst []byte) {
	if rows < 8 || nb < 8 {
		q4kTile8(w, rowBytes, rows, nb, dst)
		return
	}
	_ = w[7*rowBytes+nb/8*144-1]
	_ = dst[nb/8*8*q4kTileBlockBytes-1]
	a.tile(&w[0], rowBytes, nb/8, &dst[0])
}

// gemmGo checks the sizes and runs the GEMM kernel.
func (a *q4kAsm) gemmGo(w []byte, nb int, g []byte, out *[32]float32) {
	runGemmAsm(a.gemm, q4kTileBlockBytes, w, nb, g, out)
}
