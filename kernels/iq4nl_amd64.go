//go:build !purego

package kernels

import (
	"encoding/binary"

	"github.com/edgerun/edgerun/int4"
)

// archKT sets the AVX2 kernels on the "avx2" implementation (registered only when the
// CPU has AVX2, FMA and F16C, which these kernels need too).
func archKT(i *impl) {
	if i.name != "avx2" {
		return
	}
	nibKT(i, &nibAVX2)
	q4kArchKT(i)
	q6kArchKT(i)
	i.kt.f16 = f16RowsAVX2Go
}

// nibAsm is one instruction set's assembly entry points for the codebook types
// (IQ4_NL, NF4, FP4, NF4_64, FP4_64) and Q8_0: the 8-row decode kernels, the GEMM, and
// the activation preparations the decode kernels read. The Go wrappers (its methods)
// are shared by the avx2 and avx512 implementations; each avx512 kernel gives bit for
// bit the result of the AVX2 one it replaces. The one-row tail kernels and the tile
// builders are the AVX2 ones in both.
type nibAsm struct {
	iq4nlRows8   func(w *byte, rowBytes, groups int, xp *byte, xd *float32, nb int, y *float32, tab *int8)
	bnb4Rows8    func(w *byte, rowBytes, groups int, xp *byte, xd *float32, nb int, y *float32, tab *int8, post float32)
	bnb4_64Rows8 func(w *byte, rowBytes, groups int, xp *byte, xd *float32, nb int, y *float32, tab *int8, post float32)
	q8_0Rows8    func(w *byte, rowBytes, groups int, xq *int8, xd *float32, nb int, y *float32)
	gemm         func(w *byte, nb int, xg *byte, out *float32, post float32)
	// absPrep and permPrep are the activation blocks iq4nlRows8 and bnb4Rows8 /
	// bnb4_64Rows8 read (in the codebook order and permuted to NF4/FP4's nibble order).
	absPrep, permPrep *actPrep
}

// nibAVX2 are the AVX2 kernels (nib8_amd64.s).
var nibAVX2 = nibAsm{
	iq4nlRows8: iq4nlRows8AVX2, bnb4Rows8: bnb4Rows8AVX2, bnb4_64Rows8: bnb4_64Rows8AVX2,
	q8_0Rows8: q8_0Rows8AVX2, gemm: nibGemm8x4AVX2,
	absPrep: absPrepAVX2, permPrep: permPrepAVX2,
}

// nibKT sets a's kernels for IQ4_NL, NF4, FP4, NF4_64 and FP4_64 on i.
func nibKT(i *impl, a *nibAsm) {
	// IQ4_NL, NF4 and FP4: the 8-row decode kernels (nib8_amd64.s) on the activation
	// blocks prepared once per token row (with their magnitudes; NF4/FP4 permuted to
	// their nibble order), the one-row kernel for the last rows%8, and the 8×4 GEMM for
	// prefill; their 4-token kernels are not used (the GEMM replaces them, and they do
	// not agree bit for bit with the 8-row kernels).
	i.kt.setPrep(int4.IQ4_NL, a.absPrep, a.iq4nlRows)
	i.kt.setGemm(int4.IQ4_NL, gemmSpec{kern: a.iq4nlGemm8x4, il: iq4nlTile8AVX2Go, blkSize: nibTileBlockBytes})
	i.kt.setPrep(int4.NF4, a.permPrep, a.nf4Rows)
	i.kt.setGemm(int4.NF4, gemmSpec{kern: a.nf4Gemm8x4, il: nf4Tile8AVX2Go, blkSize: nibTileBlockBytes, perm: true})
	i.kt.setPrep(int4.FP4, a.permPrep, a.fp4Rows)
	i.kt.setGemm(int4.FP4, gemmSpec{kern: a.fp4Gemm8x4, il: fp4Tile8AVX2Go, blkSize: nibTileBlockBytes, perm: true})
	// NF4_64 and FP4_64: the 64-element block variants of the NF4/FP4 decode kernel and
	// tile builder (the same tile, so the same GEMM), bit for bit the NF4/FP4 results.
	i.kt.setPrep(int4.NF4_64, a.permPrep, a.nf4_64Rows)
	i.kt.setGemm(int4.NF4_64, gemmSpec{kern: a.nf4Gemm8x4, il: nf4_64Tile8AVX2Go, blkSize: nibTileBlockBytes, perm: true})
	i.kt.setPrep(int4.FP4_64, a.permPrep, a.fp4_64Rows)
	i.kt.setGemm(int4.FP4_64, gemmSpec{kern: a.fp4Gemm8x4, il: fp4_64Tile8AVX2Go, blkSize: nibTileBlockBytes, perm: true})
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

// iq4nlRows8AVX2 computes groups·8 rows (see nib8_amd64.s) from the activation blocks
// prepared by absBlocks (xp): row r of each group of 8 as nibGemm8x4AVX2 does for a
// tile row and a token, bit for bit. groups ≥ 1, nb ≥ 1.
//
//go:noescape
func iq4nlRows8AVX2(w *byte, rowBytes, groups int, xp *byte, xd *float32, nb int, y *float32, tab *int8)

// nibGemm8x4AVX2 is the gemmKernel of IQ4_NL, NF4 and FP4 over nb ≥ 1 block columns
// of a decoded tile (nibTileBlockBytes; see nib8_amd64.s): out[8t+r] =
// (Σ_b fma in block order of (scale(r,b)·xd(t,b))·float32(s(r,t,b)))·post.
//
//go:noescape
func nibGemm8x4AVX2(w *byte, nb int, xg *byte, out *float32, post float32)

// prepBlocksAVX2 writes, per activation block b < nb of xq, the block rearranged by
// tab (see nib8_amd64.s: its in-lane byte shuffle, then its dword permutation) and the
// magnitudes of the result, 64 bytes, at dst+64·b.
//
//go:noescape
func prepBlocksAVX2(xq *int8, nb int, dst *byte, tab *byte)

// prepTabAVX2 returns prepBlocksAVX2's table: the byte shuffle sh in both 128-bit lanes,
// then the dword order perm.
func prepTabAVX2(sh [16]byte, perm [8]uint32) (t [64]byte) {
	copy(t[:16], sh[:])
	copy(t[16:32], sh[:])
	for i, v := range perm {
		binary.LittleEndian.PutUint32(t[32+4*i:], v)
	}
	return t
}

// prepIdentity is prepBlocksAVX2's table that leaves the block as it is (absBlocks).
var prepIdentity = prepTabAVX2([16]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, [8]uint32{0, 1, 2, 3, 4, 5, 6, 7})

// absPrepAVX2 prepares the activation blocks of the IQ4_NL kernels.
var absPrepAVX2 = &actPrep{spec: absBlocks, fill: func(q []int8, dst []byte) { prepBlocksAVX2Go(q, dst, &prepIdentity) }}

// prepBlocksAVX2Go checks the sizes and runs prepBlocksAVX2 over the blocks of q.
func prepBlocksAVX2Go(q []int8, dst []byte, tab *[64]byte) {
	nb := len(q) / qBlock
	if nb == 0 {
		return
	}
	_ = dst[nb*prepBlockBytes-1]
	prepBlocksAVX2(&q[0], nb, &dst[0], &tab[0])
}

// iq4nlTile8AVX2 is decodeTileIQ4NL for 8 valid rows and nb ≥ 1 blocks.
//
//go:noescape
func iq4nlTile8AVX2(w *byte, rowBytes, nb int, dst *byte, tab *int8)

func iq4nlTile8AVX2Go(w []byte, rowBytes, rows, nb int, dst []byte) {
	if rows < 8 || nb <= 0 {
		decodeTileIQ4NL(w, rowBytes, rows, nb, dst)
		return
	}
	_ = w[7*rowBytes+nb*18-1]
	_ = dst[nb*nibTileBlockBytes-1]
	iq4nlTile8AVX2(&w[0], rowBytes, nb, &dst[0], &iq4nlTab[0])
}

// iq4nlRows runs the 8-row kernel on the aligned groups of 8 rows (with the prepared
// blocks xa) and the AVX2 one-row kernel on the rest (with q).
func (a *nibAsm) iq4nlRows(w []byte, rowBytes int, q []int8, d []float32, _ []int32, xa []byte, y []float32) {
	nb := len(d)
	if len(y) == 0 || nb == 0 {
		clear(y)
		return
	}
	_ = w[(len(y)-1)*rowBytes+nb*18-1]
	_ = q[nb*qBlock-1]
	g := len(y) / 8
	if g > 0 {
		_ = xa[nb*prepBlockBytes-1]
		a.iq4nlRows8(&w[0], rowBytes, g, &xa[0], &d[0], nb, &y[0], &iq4nlTab[0])
	}
	if rest := len(y) - 8*g; rest > 0 {
		iq4nlRowsAVX2(&w[8*g*rowBytes], rowBytes, rest, &q[0], &d[0], nb, &y[8*g], &iq4nlTab[0])
	}
}

func (a *nibAsm) iq4nlGemm8x4(w []byte, nb int, g []byte, out *[32]float32) {
	a.gemm8x4(w, nb, g, out, 1)
}

// gemm8x4 checks the sizes and runs the GEMM kernel.
func (a *nibAsm) gemm8x4(w []byte, nb int, g []byte, out *[32]float32, post float32) {
	if nb <= 0 {
		*out = [32]float32{}
		return
	}
	_ = w[nb*nibTileBlockBytes-1]
	_ = g[nb*gqBlockBytes-1]
	a.gemm(&w[0], nb, &g[0], &out[0], post)
}
