//go:build !purego

package kernels

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

func q6kRowsAVX2Go(w []byte, rowBytes int, q []int8, d []float32, _ []int32, y []float32) {
	nb := len(d) &^ 7
	if len(y) == 0 || nb == 0 {
		clear(y)
		return
	}
	_ = w[(len(y)-1)*rowBytes+nb/8*210-1]
	_ = q[nb*qBlock-1]
	q6kRowsAVX2(&w[0], rowBytes, len(y), &q[0], &d[0], nb, &y[0])
}

// q6kRows4AVX2 is q6kRowsAVX2 for the four activation rows of a group (q8Act.pack4),
// bit for bit:
//
//	for r := 0; r < rows; r++ {
//		for t := 0; t < 4; t++ {
//			y[t·ystride/4 + r] = q6kRowsAVX2 result for weight row r and group row t
//		}
//	}
//
// ystride is in bytes; rows ≥ 1, nb ≥ 8 and a multiple of 8.
//
//go:noescape
func q6kRows4AVX2(w *byte, rowBytes, rows int, xg *byte, nb int, y *float32, ystride int)

func q6kRows4AVX2Go(w []byte, rowBytes, rows int, g []byte, nb int, y []float32, ystride int) {
	nb &^= 7
	if rows <= 0 || nb <= 0 {
		for t := 0; t < 4 && rows > 0; t++ {
			clear(y[t*ystride : t*ystride+rows])
		}
		return
	}
	_ = w[(rows-1)*rowBytes+nb/8*210-1]
	_ = g[nb*g4BlockBytes-1]
	_ = y[3*ystride+rows-1]
	q6kRows4AVX2(&w[0], rowBytes, rows, &g[0], nb, &y[0], 4*ystride)
}
