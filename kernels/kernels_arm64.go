//go:build !purego

package kernels

import "golang.org/x/sys/cpu"

func init() {
	if !cpu.ARM64.HasASIMD {
		return
	}
	// NEON kernels for every ARMv8 core (widening multiplies, e.g. Cortex-A53); the
	// dot-product implementation below inherits the float32 kernels.
	register(&impl{name: "neon", q8Quant: q8QuantNEONGo, q4_0: q4_0RowsNEON8Go, q4_0x4: q4_0Rows4NEON4Go, q8_0: q8_0RowsNEON8Go, q8_0x4: q8_0Rows4NEON4Go,
		dotF32: dotF32NEONGo, axpyF32: axpyF32NEONGo, f32Rows: f32RowsNEONGo, f16: f16NEON})
	if cpu.ARM64.HasASIMDDP && cpu.ARM64.HasFPHP {
		register(&impl{name: "neon-dotprod", q4_0: q4_0RowsSDOT8Go, q4_0x4: q4_0Rows4SDOT8Go, q8_0: q8_0RowsSDOT8Go, q8_0x4: q8_0Rows4SDOT8Go})
	}
}

// q4_0RowsSDOT computes, for r < rows, with row = w[r·rowBytes:], nb blocks of 18 bytes,
// four float32 lanes per row into acc[4r:4r+4]:
//
//	for b := 0; b < nb; b++ {
//		blk := row[18·b:]
//		for l := 0; l < 4; l++ { // SDOT lane l: elements 4l..4l+3 and 16+4l..16+4l+3
//			s := Σ_{e=4l}^{4l+3} (int32(blk[2+e]&15)-8)·int32(xq[32b+e]) + (int32(blk[2+e]>>4)-8)·int32(xq[32b+16+e])
//			acc[4r+l] += (f16(blk[0:2])·xd[b]) · float32(s) // fused multiply-add
//		}
//	}
//
// rows ≥ 1 and nb ≥ 1.
//
//go:noescape
func q4_0RowsSDOT(w *byte, rowBytes, rows int, xq *int8, xd *float32, nb int, acc *float32)

// sdotRows is the row count the arm64 wrappers hand to the assembly at once.
const sdotRows = 16

// armRowsGo calls q4_0RowsSDOT on sdotRows rows at a time and adds each row's four
// lanes as (a0+a1)+(a2+a3).
func armRowsGo(w []byte, rowBytes int, q []int8, d []float32, y []float32) {
	nb := len(d)
	if len(y) == 0 || nb == 0 {
		clear(y)
		return
	}
	_ = w[(len(y)-1)*rowBytes+nb*18-1]
	_ = q[nb*qBlock-1]
	var acc [4 * sdotRows]float32
	for r0 := 0; r0 < len(y); r0 += sdotRows {
		n := min(sdotRows, len(y)-r0)
		q4_0RowsSDOT(&w[r0*rowBytes], rowBytes, n, &q[0], &d[0], nb, &acc[0])
		for i := 0; i < n; i++ {
			y[r0+i] = (acc[4*i] + acc[4*i+1]) + (acc[4*i+2] + acc[4*i+3])
		}
	}
}
