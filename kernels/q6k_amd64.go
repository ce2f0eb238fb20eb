//go:build !purego

package kernels

// q6kRowsAVX2 computes, for r < rows, with row = w[r·rowBytes:] and nb/8 Q6_K
// super-blocks of 210 bytes:
//
//	var acc [2][8]float32 // even and odd activation blocks
//	for k := 0; k < nb/8; k++ {
//		sb := row[210·k:]
//		for j := 0; j < 8; j++ { // activation block b = 8k+j
//			for l := 0; l < 8; l++ { // lane l: elements 4l..4l+3 (scale 2j + l/4)
//				s := int32(int8(sb[192+2j+l/4])) · Σ_{e=4l}^{4l+3} (int32(q_e)-32)·int32(xq[32b+e])
//				acc[j&1][l] += (xd[b]·f16(sb[208:210])) · float32(s) // fused multiply-add
//			}
//		}
//	}
//	a := acc[0] + acc[1] (lane-wise)
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
