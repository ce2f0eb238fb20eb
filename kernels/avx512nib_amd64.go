//go:build !purego

package kernels

import "encoding/binary"

// avx512Nib sets its AVX-512 kernels on i (see avx512Impl): the 8-row decode kernels
// and the GEMM of IQ4_NL, NF4, FP4, NF4_64, FP4_64 and Q8_0 (nib_avx512_amd64.s), run
// by the same Go wrappers as the AVX2 ones (nibAsm). The tile builders and the one-row
// tail kernels stay the AVX2 ones.
func avx512Nib(i *impl) {
	nibKT(i, &nibAVX512)
	i.q8_0 = nibAVX512.q8_0Rows
	i.q8_0gemm = gemmSpec{kern: nibAVX512.q8_0Gemm8x4, il: q8_0Tile8AVX2Go, blkSize: nibTileBlockBytes}
}

// nibAVX512 are the AVX-512 kernels; their decode kernels read the activation blocks
// prepared with the block sums (biasBlocks, permBiasBlocks) instead of the magnitudes.
var nibAVX512 = nibAsm{
	iq4nlRows8: iq4nlRows8AVX512, bnb4Rows8: bnb4Rows8AVX512, bnb4_64Rows8: bnb4_64Rows8AVX512,
	q8_0Rows8: q8_0Rows8AVX512, gemm: nibGemm8x4AVX512,
	absPrep: biasPrepAVX2, permPrep: permBiasPrepAVX2,
}

// biasBlocks is the actPrep definition of the AVX-512 codebook kernels (IQ4_NL): per
// block b, dst[64b+j] = q[32b+j] for j < 32, then the int32 -128·Σ_j q[32b+j] (little
// endian) and 28 zero bytes. The kernels multiply the weights biased by +128 (unsigned)
// with q and start each block's sum from that term.
func biasBlocks(q []int8, dst []byte) {
	eachPrepBlock(q, dst, func(o []byte, x []int8) {
		for j, v := range x {
			o[j] = byte(v)
		}
		putBlockBias(o, x)
	})
}

// permBiasBlocks is biasBlocks with each block's values permuted to NF4/FP4's nibble
// order (permuteBnb4; the sum does not change).
func permBiasBlocks(q []int8, dst []byte) {
	eachPrepBlock(q, dst, func(o []byte, x []int8) {
		permuteBnb4(o, x)
		putBlockBias(o, x)
	})
}

// putBlockBias writes o[32:64]: the int32 -128·Σx, then zeros.
func putBlockBias(o []byte, x []int8) {
	var s int32
	for _, v := range x {
		s += int32(v)
	}
	binary.LittleEndian.PutUint32(o[32:], uint32(-128*s))
	clear(o[36:64])
}

// biasPrepAVX2 and permBiasPrepAVX2 prepare the activation blocks of the AVX-512
// decode kernels (the preparation itself is AVX2: once per token row, it is not where
// the time goes).
var (
	biasPrepAVX2     = &actPrep{spec: biasBlocks, fill: func(q []int8, dst []byte) { prepBiasAVX2Go(q, dst, &prepIdentity) }}
	permBiasPrepAVX2 = &actPrep{spec: permBiasBlocks, fill: func(q []int8, dst []byte) { prepBiasAVX2Go(q, dst, &prepBnb4) }}
)

// prepBiasAVX2Go checks the sizes and runs prepBiasAVX2 over the blocks of q.
func prepBiasAVX2Go(q []int8, dst []byte, tab *[64]byte) {
	nb := len(q) / qBlock
	if nb == 0 {
		return
	}
	_ = dst[nb*prepBlockBytes-1]
	prepBiasAVX2(&q[0], nb, &dst[0], &tab[0])
}

// prepBiasAVX2 writes, per activation block b < nb of xq, the block rearranged by tab
// (as prepBlocksAVX2) and the int32 -128·Σ of its values, then 28 zero bytes, at
// dst+64·b: biasBlocks / permBiasBlocks with prepIdentity / prepBnb4.
//
//go:noescape
func prepBiasAVX2(xq *int8, nb int, dst *byte, tab *byte)

// iq4nlRows8AVX512 is iq4nlRows8AVX2 (bit for bit) on blocks prepared by biasBlocks.
//
//go:noescape
func iq4nlRows8AVX512(w *byte, rowBytes, groups int, xp *byte, xd *float32, nb int, y *float32, tab *int8)

// bnb4Rows8AVX512 is bnb4Rows8AVX2 (bit for bit) on blocks prepared by permBiasBlocks.
//
//go:noescape
func bnb4Rows8AVX512(w *byte, rowBytes, groups int, xp *byte, xd *float32, nb int, y *float32, tab *int8, post float32)

// bnb4_64Rows8AVX512 is bnb4_64Rows8AVX2 (bit for bit) on blocks prepared by
// permBiasBlocks.
//
//go:noescape
func bnb4_64Rows8AVX512(w *byte, rowBytes, groups int, xp *byte, xd *float32, nb int, y *float32, tab *int8, post float32)

// q8_0Rows8AVX512 is q8_0Rows8AVX2, bit for bit.
//
//go:noescape
func q8_0Rows8AVX512(w *byte, rowBytes, groups int, xq *int8, xd *float32, nb int, y *float32)

// nibGemm8x4AVX512 is nibGemm8x4AVX2, bit for bit.
//
//go:noescape
func nibGemm8x4AVX512(w *byte, nb int, xg *byte, out *float32, post float32)
