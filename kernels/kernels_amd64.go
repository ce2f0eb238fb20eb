//go:build !purego

package kernels

import "golang.org/x/sys/cpu"

func init() {
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA && cpu.X86.HasF16C {
		register(&impl{name: "avx2", q8Quant: q8QuantAVX2Go, q4_0: q4_0AVX2.rows, q8_0: nibAVX2.q8_0Rows, q4_0x8x4: q4_0AVX2.gemm8x4, q4_0x8il: interleaveQ4_0x8AVX2,
			q8_0gemm: gemmSpec{kern: nibAVX2.q8_0Gemm8x4, il: q8_0Tile8AVX2Go, blkSize: nibTileBlockBytes},
			dotF32:   dotF32AVX2Go, axpyF32: axpyF32AVX2Go, f32Rows: f32RowsAVX2Go, f16: f16AVX2})
		if hasAVX512() {
			register(avx512Impl(active))
		}
	}
}

// q4_0RowsAVX2 computes, for r < rows, with row = w[r·rowBytes:], nb blocks of 18 bytes:
//
//	var acc [2][8]float32 // even and odd blocks
//	for b := 0; b < nb; b++ {
//		blk := row[18·b:]
//		for l := 0; l < 8; l++ { // lane l: elements 4l..4l+3 of the block
//			s := Σ_{e=4l}^{4l+3} int32(nibble_e(blk))·int32(xq[32b+e]) - xc[8b+l]
//			acc[b&1][l] += (f16(blk[0:2])·xd[b]) · float32(s) // fused multiply-add
//		}
//	}
//	a := acc[0] + acc[1] (lane-wise)
//	y[r] = ((a[0]+a[4]) + (a[2]+a[6])) + ((a[1]+a[5]) + (a[3]+a[7]))
//
// where nibble_e is the low nibble of blk[2+e] for e < 16 and the high nibble of
// blk[2+e-16] otherwise, and xc[8b+l] = 8·Σ of the lane's xq (the -8 nibble offset).
// rows ≥ 1 and nb ≥ 1.
//
//go:noescape
func q4_0RowsAVX2(w *byte, rowBytes, rows int, xq *int8, xd *float32, xc *int32, nb int, y *float32)

// q8_0RowsAVX2 is q4_0RowsAVX2 for Q8_0 blocks of 34 bytes, with
// s = Σ_{e=4l}^{4l+3} int32(int8(blk[2+e]))·int32(xq[32b+e]) and no offset (no xc).
//
//go:noescape
func q8_0RowsAVX2(w *byte, rowBytes, rows int, xq *int8, xd *float32, nb int, y *float32)

// q4_0Asm are the assembly entry points the Q4_0 wrappers run: the AVX2 ones
// (q4_0AVX2) or AVX-512 ones with the same signatures and results bit for bit
// (q4_0AVX512), so both implementations share the Go code around them.
type q4_0Asm struct {
	rows8 func(w *byte, rowBytes, groups int, xq *int8, xd *float32, xc *int32, nb int, y *float32)
	gemm  func(w *byte, nb int, xg *byte, out *float32)
}

// q4_0AVX2 are the AVX2 Q4_0 kernels.
var q4_0AVX2 = &q4_0Asm{rows8: q4_0Rows8AVX2, gemm: q4_0Gemm8x4AVX2}

// rows runs the 8-row kernel on the aligned groups of 8 rows and the one-row AVX2
// kernel on the rest (a rowsKernel).
func (k *q4_0Asm) rows(w []byte, rowBytes int, q []int8, d []float32, c []int32, y []float32) {
	nb := len(d)
	if len(y) == 0 || nb == 0 {
		clear(y)
		return
	}
	_ = w[(len(y)-1)*rowBytes+nb*18-1]
	_ = q[nb*qBlock-1]
	_ = c[nb*8-1]
	g := len(y) / 8
	if g > 0 {
		k.rows8(&w[0], rowBytes, g, &q[0], &d[0], &c[0], nb, &y[0])
	}
	if rest := len(y) - 8*g; rest > 0 {
		q4_0RowsAVX2(&w[8*g*rowBytes], rowBytes, rest, &q[0], &d[0], &c[0], nb, &y[8*g])
	}
}

// q4_0Rows8AVX2 computes groups·8 rows (see kernels_amd64.s): row r of each group of 8
// as q4_0Gemm8x4AVX2 does for a tile row and a token, bit for bit. groups ≥ 1, nb ≥ 1.
//
//go:noescape
func q4_0Rows8AVX2(w *byte, rowBytes, groups int, xq *int8, xd *float32, xc *int32, nb int, y *float32)

// q8_0Rows runs the 8-row kernel on the aligned groups of 8 rows and the AVX2
// one-row kernel on the rest.
func (a *nibAsm) q8_0Rows(w []byte, rowBytes int, q []int8, d []float32, _ []int32, y []float32) {
	nb := len(d)
	if len(y) == 0 || nb == 0 {
		clear(y)
		return
	}
	_ = w[(len(y)-1)*rowBytes+nb*34-1]
	_ = q[nb*qBlock-1]
	g := len(y) / 8
	if g > 0 {
		a.q8_0Rows8(&w[0], rowBytes, g, &q[0], &d[0], nb, &y[0])
	}
	if rest := len(y) - 8*g; rest > 0 {
		q8_0RowsAVX2(&w[8*g*rowBytes], rowBytes, rest, &q[0], &d[0], nb, &y[8*g])
	}
}

// q8_0Rows8AVX2 computes groups·8 Q8_0 rows (see nib8_amd64.s): row r of each group of 8
// as nibGemm8x4AVX2 does on its q8_0Tile8 tile for a tile row and a token (post 1), bit
// for bit. groups ≥ 1, nb ≥ 1.
//
//go:noescape
func q8_0Rows8AVX2(w *byte, rowBytes, groups int, xq *int8, xd *float32, nb int, y *float32)

// q8_0Tile8AVX2 is q8_0Tile8 for 8 valid rows and nb ≥ 1 blocks.
//
//go:noescape
func q8_0Tile8AVX2(w *byte, rowBytes, nb int, dst *byte)

func q8_0Tile8AVX2Go(w []byte, rowBytes, rows, nb int, dst []byte) {
	if rows < 8 || nb <= 0 {
		q8_0Tile8(w, rowBytes, rows, nb, dst)
		return
	}
	_ = w[7*rowBytes+nb*34-1]
	_ = dst[nb*nibTileBlockBytes-1]
	q8_0Tile8AVX2(&w[0], rowBytes, nb, &dst[0])
}

func (a *nibAsm) q8_0Gemm8x4(w []byte, nb int, g []byte, out *[32]float32) {
	a.gemm8x4(w, nb, g, out, 1)
}

// q8QuantAVX2 is q8QuantGeneric for nb ≥ 1 blocks (x: 32·nb floats, q: 32·nb, d: nb,
// c: 8·nb), bit for bit: the same float32 operations per element (the maximum is
// order-independent for finite x; rounding adds ±0.5 by the sign, then truncates).
//
//go:noescape
func q8QuantAVX2(x *float32, q *int8, d *float32, c *int32, nb int)

func q8QuantAVX2Go(x []float32, q []int8, d []float32, c []int32) {
	nb := len(d)
	if nb == 0 {
		return
	}
	_ = x[nb*qBlock-1]
	_ = q[nb*qBlock-1]
	_ = c[nb*8-1]
	q8QuantAVX2(&x[0], &q[0], &d[0], &c[0], nb)
}

// q4_0Gemm8x4AVX2 is the gemmKernel for Q4_0 (see gemm.go) over nb ≥ 1 block columns:
// out[8t+r] = Σ_b fma in block order of (f16(scale r,b)·xd(t,b)) · float32(s(r,t,b)).
//
//go:noescape
func q4_0Gemm8x4AVX2(w *byte, nb int, xg *byte, out *float32)

// gemm8x4 checks the sizes and runs the GEMM kernel (a gemmKernel).
func (k *q4_0Asm) gemm8x4(w []byte, nb int, g []byte, out *[32]float32) {
	runGemmAsm(k.gemm, q4x8BlockBytes, w, nb, g, out)
}

// runGemmAsm runs the GEMM micro-kernel k (assembly; see gemmKernel) on a tile w of nb
// block columns of blk bytes and the 4-token group g after checking their sizes; nb ≤ 0
// clears out.
func runGemmAsm(k func(w *byte, nb int, xg *byte, out *float32), blk int, w []byte, nb int, g []byte, out *[32]float32) {
	if nb <= 0 {
		*out = [32]float32{}
		return
	}
	_ = w[nb*blk-1]
	_ = g[nb*gqBlockBytes-1]
	k(&w[0], nb, &g[0], &out[0])
}

// q4_0Interleave8AVX2 is interleaveQ4_0x8 for 8 valid rows and nb ≥ 1 blocks.
//
//go:noescape
func q4_0Interleave8AVX2(w *byte, rowBytes, nb int, dst *byte)

func interleaveQ4_0x8AVX2(w []byte, rowBytes, rows, nb int, dst []byte) {
	if rows < 8 || nb <= 0 {
		interleaveQ4_0x8(w, rowBytes, rows, nb, dst)
		return
	}
	_ = w[7*rowBytes+nb*18-1]
	_ = dst[nb*q4x8BlockBytes-1]
	q4_0Interleave8AVX2(&w[0], rowBytes, nb, &dst[0])
}
