//go:build !purego

package kernels

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

func q4kRowsAVX2Go(w []byte, rowBytes int, q []int8, d []float32, c []int32, y []float32) {
	nb := len(d) &^ 7
	if len(y) == 0 || nb == 0 {
		clear(y)
		return
	}
	_ = w[(len(y)-1)*rowBytes+nb/8*144-1]
	_ = q[nb*qBlock-1]
	_ = c[nb*8-1]
	q4kRowsAVX2(&w[0], rowBytes, len(y), &q[0], &d[0], &c[0], nb, &y[0])
}

// q4kRows4AVX2 is q4kRowsAVX2 for the four activation rows of a group (q8Act.pack4),
// bit for bit:
//
//	for r := 0; r < rows; r++ {
//		for t := 0; t < 4; t++ {
//			y[t·ystride/4 + r] = q4kRowsAVX2 result for weight row r and group row t
//		}
//	}
//
// ystride is in bytes; rows ≥ 1, nb ≥ 8 and a multiple of 8.
//
//go:noescape
func q4kRows4AVX2(w *byte, rowBytes, rows int, xg *byte, nb int, y *float32, ystride int)

func q4kRows4AVX2Go(w []byte, rowBytes, rows int, g []byte, nb int, y []float32, ystride int) {
	nb &^= 7
	if rows <= 0 || nb <= 0 {
		for t := 0; t < 4 && rows > 0; t++ {
			clear(y[t*ystride : t*ystride+rows])
		}
		return
	}
	_ = w[(rows-1)*rowBytes+nb/8*144-1]
	_ = g[nb*g4BlockBytes-1]
	_ = y[3*ystride+rows-1]
	q4kRows4AVX2(&w[0], rowBytes, rows, &g[0], nb, &y[0], 4*ystride)
}
