//go:build !purego

package kernels

// bnb4RowsAVX2 computes, for r < rows, with row = w[r·rowBytes:], nb NF4/FP4 blocks of
// 20 bytes and tab a bnb4Split (hi table at tab[0:32], lo at tab[32:64]):
//
//	var acc [8]float32
//	for b := 0; b < nb; b++ {
//		blk := row[20·b:]
//		for l := 0; l < 8; l++ { // lane l: elements 4l..4l+3 of the block
//			s := Σ_{e=4l}^{4l+3} (128·int32(hi[c_e]) + int32(lo[c_e]))·int32(xq[32b+e])
//			acc[l] += (f32(blk[0:4])·xd[b]) · float32(s) // fused multiply-add
//		}
//	}
//	y[r] = (((acc[0]+acc[4]) + (acc[2]+acc[6])) + ((acc[1]+acc[5]) + (acc[3]+acc[7]))) · 2^-13
//
// where c_e is the high nibble of blk[4+e/2] for even e and the low nibble for odd e.
// rows ≥ 1 and nb ≥ 1.
//
//go:noescape
func bnb4RowsAVX2(w *byte, rowBytes, rows int, xq *int8, xd *float32, nb int, y *float32, tab *int8)

// bnb4Rows4AVX2 is bnb4RowsAVX2 for the four activation rows of a group (q8Act.pack4),
// bit for bit:
//
//	for r := 0; r < rows; r++ {
//		for t := 0; t < 4; t++ {
//			y[t·ystride/4 + r] = bnb4RowsAVX2 result for weight row r and group row t
//		}
//	}
//
// ystride is in bytes; rows ≥ 1 and nb ≥ 1.
//
//go:noescape
func bnb4Rows4AVX2(w *byte, rowBytes, rows int, xg *byte, nb int, y *float32, ystride int, tab *int8)

func nf4RowsAVX2Go(w []byte, rowBytes int, q []int8, d []float32, _ []int32, y []float32) {
	bnb4RowsAVX2Go(nf4Split, w, rowBytes, q, d, y)
}

func fp4RowsAVX2Go(w []byte, rowBytes int, q []int8, d []float32, _ []int32, y []float32) {
	bnb4RowsAVX2Go(fp4Split, w, rowBytes, q, d, y)
}

func nf4Rows4AVX2Go(w []byte, rowBytes, rows int, g []byte, nb int, y []float32, ystride int) {
	bnb4Rows4AVX2Go(nf4Split, w, rowBytes, rows, g, nb, y, ystride)
}

func fp4Rows4AVX2Go(w []byte, rowBytes, rows int, g []byte, nb int, y []float32, ystride int) {
	bnb4Rows4AVX2Go(fp4Split, w, rowBytes, rows, g, nb, y, ystride)
}

func bnb4RowsAVX2Go(tab *bnb4Split, w []byte, rowBytes int, q []int8, d []float32, y []float32) {
	nb := len(d)
	if len(y) == 0 || nb == 0 {
		clear(y)
		return
	}
	_ = w[(len(y)-1)*rowBytes+nb*20-1]
	_ = q[nb*qBlock-1]
	bnb4RowsAVX2(&w[0], rowBytes, len(y), &q[0], &d[0], nb, &y[0], &tab[0])
}

func bnb4Rows4AVX2Go(tab *bnb4Split, w []byte, rowBytes, rows int, g []byte, nb int, y []float32, ystride int) {
	if rows <= 0 || nb <= 0 {
		for t := 0; t < 4 && rows > 0; t++ {
			clear(y[t*ystride : t*ystride+rows])
		}
		return
	}
	_ = w[(rows-1)*rowBytes+nb*20-1]
	_ = g[nb*g4BlockBytes-1]
	_ = y[3*ystride+rows-1]
	bnb4Rows4AVX2(&w[0], rowBytes, rows, &g[0], nb, &y[0], 4*ystride, &tab[0])
}
