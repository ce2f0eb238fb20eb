//go:build !purego

package kernels

import "golang.org/x/sys/cpu"

func init() {
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA && cpu.X86.HasF16C {
		register(&impl{name: "avx2", q4_0: q4_0RowsAVX2Go, q8_0: q8_0RowsAVX2Go})
	}
}

// q4_0RowsAVX2 computes, for r < rows, with row = w[r·rowBytes:], nb blocks of 18 bytes:
//
//	var acc [8]float32
//	for b := 0; b < nb; b++ {
//		blk := row[18·b:]
//		s := Σ_{j<16} int32(blk[2+j]&15)·xq[32b+j] + int32(blk[2+j]>>4)·xq[32b+16+j]  // per 4-element lane
//		for l := 0; l < 8; l++ {
//			acc[l] += (f16(blk[0:2])·xd[b]) · float32(s_l - xc[8b+l])   // fused multiply-add
//		}
//	}
//	y[r] = ((acc[0]+acc[4]) + (acc[2]+acc[6])) + ((acc[1]+acc[5]) + (acc[3]+acc[7]))
//
// where s_l sums elements 4l..4l+3 of the block and xc[8b+l] = 8·Σ of those xq (the -8
// nibble offset). rows ≥ 1 and nb ≥ 1.
//
//go:noescape
func q4_0RowsAVX2(w *byte, rowBytes, rows int, xq *int8, xd *float32, xc *int32, nb int, y *float32)

// q8_0RowsAVX2 is q4_0RowsAVX2 for Q8_0 blocks of 34 bytes: s_l = Σ int32(int8(blk[2+j]))·xq[32b+j]
// over elements j = 4l..4l+3, with no offset (xc is not used).
//
//go:noescape
func q8_0RowsAVX2(w *byte, rowBytes, rows int, xq *int8, xd *float32, nb int, y *float32)

func q4_0RowsAVX2Go(w []byte, rowBytes int, q []int8, d []float32, c []int32, y []float32) {
	nb := len(d)
	if len(y) == 0 || nb == 0 {
		clear(y)
		return
	}
	_ = w[(len(y)-1)*rowBytes+nb*18-1]
	_ = q[nb*qBlock-1]
	_ = c[nb*8-1]
	q4_0RowsAVX2(&w[0], rowBytes, len(y), &q[0], &d[0], &c[0], nb, &y[0])
}

func q8_0RowsAVX2Go(w []byte, rowBytes int, q []int8, d []float32, _ []int32, y []float32) {
	nb := len(d)
	if len(y) == 0 || nb == 0 {
		clear(y)
		return
	}
	_ = w[(len(y)-1)*rowBytes+nb*34-1]
	_ = q[nb*qBlock-1]
	q8_0RowsAVX2(&w[0], rowBytes, len(y), &q[0], &d[0], nb, &y[0])
}
