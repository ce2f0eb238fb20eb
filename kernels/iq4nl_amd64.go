//go:build !purego

package kernels

import "github.com/edgerun/edgerun/int4"

// archKT sets the AVX2 kernels on the "avx2" implementation (registered only when the
// CPU has AVX2, FMA and F16C, which these kernels need too).
func archKT(i *impl) {
	if i.name != "avx2" {
		return
	}
	i.kt.set(int4.IQ4_NL, iq4nlRowsAVX2Go, iq4nlRows4AVX2Go)
	i.kt.set(int4.NF4, nf4RowsAVX2Go, nf4Rows4AVX2Go)
	i.kt.set(int4.FP4, fp4RowsAVX2Go, fp4Rows4AVX2Go)
	i.kt.set(int4.Q4_K, q4kRowsAVX2Go, q4kRows4AVX2Go)
	i.kt.set(int4.Q6_K, q6kRowsAVX2Go, q6kRows4AVX2Go)
	i.kt.f16 = f16RowsAVX2Go
}

// iq4nlRowsAVX2 is q4_0RowsAVX2 for IQ4_NL blocks (18 bytes) with the codebook tab
// (kvaluesIQ4NL in both 16-byte lanes) in place of the -8 offset:
//
//	var acc [2][8]float32 // even and odd blocks
//	for b := 0; b < nb; b++ {
//		blk := row[18·b:]
//		for l := 0; l < 8; l++ { // lane l: elements 4l..4l+3 of the block
//			s := Σ_{e=4l}^{4l+3} int32(tab[nibble_e(blk)])·int32(xq[32b+e])
//			acc[b&1][l] += (f16(blk[0:2])·xd[b]) · float32(s) // fused multiply-add
//		}
//	}
//	a := acc[0] + acc[1] (lane-wise)
//	y[r] = ((a[0]+a[4]) + (a[2]+a[6])) + ((a[1]+a[5]) + (a[3]+a[7]))
//
// where nibble_e is the low nibble of blk[2+e] for e < 16 and the high nibble of
// blk[2+e-16] otherwise. rows ≥ 1 and nb ≥ 1.
//
//go:noescape
func iq4nlRowsAVX2(w *byte, rowBytes, rows int, xq *int8, xd *float32, nb int, y *float32, tab *int8)

// iq4nlRows4AVX2 is iq4nlRowsAVX2 for the four activation rows of a group
// (q8Act.pack4), bit for bit:
//
//	for r := 0; r < rows; r++ {
//		for t := 0; t < 4; t++ {
//			y[t·ystride/4 + r] = iq4nlRowsAVX2 result for weight row r and group row t
//		}
//	}
//
// ystride is in bytes; rows ≥ 1 and nb ≥ 1.
//
//go:noescape
func iq4nlRows4AVX2(w *byte, rowBytes, rows int, xg *byte, nb int, y *float32, ystride int, tab *int8)

func iq4nlRowsAVX2Go(w []byte, rowBytes int, q []int8, d []float32, _ []int32, y []float32) {
	nb := len(d)
	if len(y) == 0 || nb == 0 {
		clear(y)
		return
	}
	_ = w[(len(y)-1)*rowBytes+nb*18-1]
	_ = q[nb*qBlock-1]
	iq4nlRowsAVX2(&w[0], rowBytes, len(y), &q[0], &d[0], nb, &y[0], &iq4nlTab[0])
}

func iq4nlRows4AVX2Go(w []byte, rowBytes, rows int, g []byte, nb int, y []float32, ystride int) {
	if rows <= 0 || nb <= 0 {
		for t := 0; t < 4 && rows > 0; t++ {
			clear(y[t*ystride : t*ystride+rows])
		}
		return
	}
	_ = w[(rows-1)*rowBytes+nb*18-1]
	_ = g[nb*g4BlockBytes-1]
	_ = y[3*ystride+rows-1]
	iq4nlRows4AVX2(&w[0], rowBytes, rows, &g[0], nb, &y[0], 4*ystride, &iq4nlTab[0])
}
