//go:build !purego

#include "textflag.h"
#include "rows8_amd64.h"

// 8-row decode kernels and 8-row × 4-token GEMM kernels for the codebook 4-bit types
// (IQ4_NL: 18-byte blocks, fp16 scale; NF4/FP4: 20-byte blocks, float32 absmax), AVX2.
//
// The decode kernels hold one row's 16 quant bytes per 128-bit lane, rows r and r+4 in
// one 32-byte vector (no transpose), against the activation block's 16 low-nibble and 16
// high-nibble values broadcast to both lanes once per block; a 4×4 dword unpack-and-add
// at the end of the block leaves the 8 rows' sums in the dword lanes (rows 0..3 | rows
// 4..7). The nibbles map through the codebook (16 int8 values in both 128-bit lanes)
// with VPSHUFB to full-range signed int8 weights w; VPMADDUBSW multiplies the
// activation's magnitude (unsigned) by w carrying the activation's sign (VPSIGNB), and
// each pair sum (at most 2·127·127 = 32258, so two of them could overflow int16) is
// widened at once by VPMADDWD with int16 ones. Per 8 rows and block the IQ4_NL loop is
// 92 instructions: 8 row loads/inserts, 4 activation loads, 48 for the products, 9 for
// the reduction, 13 for the conversion, scales and fused multiply-add, 10 loop and
// prefetch. The transposed layout (q4_0Rows8AVX2 and the tile builders below: one
// 32-byte vector holds 4 bytes of every row, lanes = rows) took 106: 8 unpacks to
// transpose and 16 activation broadcasts instead of 4 loads and the 9-instruction
// reduction; on Zen 3 the 8-row decode takes 0.90-0.92 of its time (single thread, L1-
// to L3-resident rows). The GEMM reads tiles decoded once per MatMul (|w| and w,
// nibTileBlockBytes), so its inner loop is 4 vector operations per token and 32
// products. The block dot products are exact int32 (the order of the integer additions
// does not matter); per block and row, the accumulator gets one fused multiply-add of
// (row scale · activation scale) · float32(dot), in block order, so the decode kernels
// and the GEMM agree bit for bit.
//
// NF4/FP4 blocks hold element 2i in the high nibble of byte i and 2i+1 in the low one;
// the kernels see low nibbles as the block's first 16 values and high nibbles as the
// last 16, so they take the activation block permuted to match: xp[j] = x[2j+1],
// xp[16+j] = x[2j] (the decode kernels read the blocks prepared once per token row,
// prepBlocksAVX2; the GEMM gets groups packed that way, q8Act.packGQ).

// NIB8_LOAD loads the 16 quant bytes at qoff of the 8 rows' current blocks (rows 0..3
// at BX, BX+R8, BX+2·R8, BX+R11; rows 4..7 the same from R12) and transposes them into
// Y0..Y3 (Yk: bytes 4k..4k+3 of rows 0..3 | rows 4..7), for the tile builders.
// Clobbers Y4..Y7.
#define NIB8_LOAD(qoff) \
	LOAD8T(qoff, X0, X1, X2, X3, Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7)

// NIB8_PAIRS loads the 16 quant bytes at qoff of the 8 rows' current blocks (rows as
// for NIB8_LOAD) into Y0..Y3: Yk holds row k in its low lane and row k+4 in its high
// lane.
#define NIB8_PAIRS(qoff) \
	VMOVDQU     qoff(BX), X0 \
	VINSERTI128 $1, qoff(R12), Y0, Y0 \
	VMOVDQU     qoff(BX)(R8*1), X1 \
	VINSERTI128 $1, qoff(R12)(R8*1), Y1, Y1 \
	VMOVDQU     qoff(BX)(R8*2), X2 \
	VINSERTI128 $1, qoff(R12)(R8*2), Y2, Y2 \
	VMOVDQU     qoff(BX)(R11*1), X3 \
	VINSERTI128 $1, qoff(R12)(R11*1), Y3, Y3

// NIB8_PK turns the quant bytes yk of two rows (one per lane) into their int32 dot
// products with the activation block, 4 partial sums per row (elements 4k..4k+3 and
// 16+4k..16+4k+3 in dword k), left in yk: Y8/Y9 = the block's 16 low-nibble/high-nibble
// activations in both lanes, Y10/Y11 their magnitudes (the unsigned operand; the
// weights carry the activation's sign). Y12 = codebook, Y14 = int16 ones, Y15 = 0x0f
// mask; clobbers yh.
#define NIB8_PK(yk, yh) \
	VPSRLW     $4, yk, yh \
	VPAND      Y15, yk, yk \
	VPAND      Y15, yh, yh \
	VPSHUFB    yk, Y12, yk \
	VPSHUFB    yh, Y12, yh \
	VPSIGNB    Y8, yk, yk \
	VPSIGNB    Y9, yh, yh \
	VPMADDUBSW yk, Y10, yk \
	VPMADDUBSW yh, Y11, yh \
	VPMADDWD   Y14, yk, yk \
	VPMADDWD   Y14, yh, yh \
	VPADDD     yh, yk, yk

// NIB8_DOT computes the 8 rows' block dot products into Y0 (int32, row r in dword r)
// from the row pairs in Y0..Y3 (NIB8_PAIRS), with the prepared activation block at xb
// (32 bytes, then their magnitudes). Clobbers Y1..Y11.
#define NIB8_DOT(xb) \
	VBROADCASTI128 0+xb, Y8 \
	VBROADCASTI128 16+xb, Y9 \
	VBROADCASTI128 32+xb, Y10 \
	VBROADCASTI128 48+xb, Y11 \
	NIB8_PK(Y0, Y4) \
	NIB8_PK(Y1, Y5) \
	NIB8_PK(Y2, Y6) \
	NIB8_PK(Y3, Y7) \
	VPUNPCKLDQ  Y1, Y0, Y4 \
	VPUNPCKHDQ  Y1, Y0, Y5 \
	VPADDD      Y5, Y4, Y4 \
	VPUNPCKLDQ  Y3, Y2, Y5 \
	VPUNPCKHDQ  Y3, Y2, Y6 \
	VPADDD      Y6, Y5, Y5 \
	VPUNPCKLQDQ Y5, Y4, Y0 \
	VPUNPCKHQDQ Y5, Y4, Y1 \
	VPADDD      Y1, Y0, Y0

// NIB8_CONSTS loads the int16 ones into Y14 and the nibble mask into Y15.
#define NIB8_CONSTS \
	MOVL         $0x0f0f0f0f, AX \
	VMOVD        AX, X15 \
	VPBROADCASTD X15, Y15 \
	MOVL         $0x00010001, AX \
	VMOVD        AX, X14 \
	VPBROADCASTD X14, Y14

// NIB8_PREFETCH prefetches the next group of 8 rows, 8·(BX-SI) bytes into it.
#define NIB8_PREFETCH \
	MOVQ       BX, AX \
	SUBQ       SI, AX \
	LEAQ       (SI)(AX*8), AX \
	LEAQ       (AX)(R8*8), AX \
	PREFETCHT0 (AX) \
	PREFETCHT0 64(AX) \
	PREFETCHT0 128(AX)

// NIB8_ROWS and NIB8_TILE stand before the first TEXT because they read arguments by
// name (the kernels below that use them share their argument frames): go vet checks a
// macro's frame references against the function it is defined in.

// NIB8_ROWS is the body of the 8-row decode kernels over blocks of bsz bytes with the
// 16 quant bytes at qoff: per group of 8 rows, per block, the rows' dot products with
// the prepared activation block (xp: 32 bytes and their magnitudes) times SCALES (Y4 =
// the rows' scales as float32) times the activation's scale, summed in block order with
// fused multiply-adds into Y13, which POST may scale before the store. grp and blk name
// the two loops.
#define NIB8_ROWS(grp, blk, bsz, qoff, SCALES, POST) \
	MOVQ rowBytes+8(FP), R8 \
	LEAQ (R8)(R8*2), R11 \
	MOVQ w+0(FP), SI \
	MOVQ groups+16(FP), R14 \
	MOVQ y+48(FP), DI \
	MOVQ tab+56(FP), AX \
	VMOVDQU (AX), Y12 \
	NIB8_CONSTS \
grp: \
	VXORPS Y13, Y13, Y13 \
	MOVQ   SI, BX \
	LEAQ   (SI)(R8*4), R12 \
	LEAQ   (SI)(R8*8), R13 \
	MOVQ   xp+24(FP), R9 \
	MOVQ   xd+32(FP), R10 \
	MOVQ   nb+40(FP), CX \
blk: \
	PREFETCHT0 (R13) \
	PREFETCHT0 64(R13) \
	PREFETCHT0 128(R13) \
	ADDQ       $(8*bsz), R13 \
	NIB8_PAIRS(qoff) \
	NIB8_DOT(0(R9)) \
	VCVTDQ2PS    Y0, Y0 \
	SCALES \
	VBROADCASTSS (R10), Y5 \
	VMULPS       Y4, Y5, Y5 \
	VFMADD231PS  Y0, Y5, Y13 \
	ADDQ         $bsz, BX \
	ADDQ         $bsz, R12 \
	ADDQ         $64, R9 \
	ADDQ         $4, R10 \
	DECQ         CX \
	JNZ          blk \
	POST \
	VMOVUPS      Y13, (DI) \
	ADDQ         $32, DI \
	LEAQ         (SI)(R8*8), SI \
	DECQ         R14 \
	JNZ          grp \
	VZEROUPPER \
	RET

// NIB8_NOPOST leaves the results as they are (IQ4_NL).
#define NIB8_NOPOST

// BNB4_POST multiplies the 8 results by the table's post factor.
#define BNB4_POST \
	VBROADCASTSS post+64(FP), Y4 \
	VMULPS       Y4, Y13, Y13

// NIB8_TILE is the body of the tile builders over blocks of bsz bytes with the 16 quant
// bytes at qoff: per block column the 8 rows' quant bytes transposed in registers
// (NIB8_LOAD: the tile's vectors hold 4 bytes of every row), decoded (TILE_ALLK), and
// stored after the rows' scales, which SCALES writes at (DI) as float32 (F16X8_STORE,
// F32X8_STORE). blk names the loop.
#define NIB8_TILE(blk, bsz, qoff, SCALES) \
	MOVQ w+0(FP), BX \
	MOVQ BX, SI \
	MOVQ rowBytes+8(FP), R8 \
	MOVQ nb+16(FP), CX \
	MOVQ dst+24(FP), DI \
	MOVQ tab+32(FP), AX \
	VMOVDQU (AX), Y12 \
	NIB8_CONSTS \
	LEAQ (R8)(R8*2), R11 \
	LEAQ (BX)(R8*4), R12 \
blk: \
	NIB8_PREFETCH \
	NIB8_LOAD(qoff) \
	TILE_ALLK \
	SCALES \
	ADDQ        $bsz, BX \
	ADDQ        $bsz, R12 \
	ADDQ        $544, DI \
	DECQ        CX \
	JNZ         blk \
	VZEROUPPER \
	RET

// F16X8_STORE and F32X8_STORE write the 8 rows' scales (fp16 or float32 in the
// blocks) at (DI) as float32.
#define F16X8_STORE \
	F16X8_SCALES \
	VMOVUPS Y4, (DI)

#define F32X8_STORE \
	F32X4X2 \
	VMOVDQU X4, (DI) \
	VMOVDQU X5, 16(DI)

// func prepBlocksAVX2(xq *int8, nb int, dst *byte, tab *byte)
//
// Writes per activation block the 32 bytes x rearranged by tab (VPSHUFB by tab[0:32]
// within each 128-bit lane, then VPERMD by the dwords at tab[32:64]) and their
// magnitudes, 64 bytes a block: what the decode kernels below read.
TEXT ·prepBlocksAVX2(SB), NOSPLIT, $0-32
	MOVQ    xq+0(FP), SI
	MOVQ    nb+8(FP), CX
	MOVQ    dst+16(FP), DI
	MOVQ    tab+24(FP), AX
	VMOVDQU (AX), Y1
	VMOVDQU 32(AX), Y2
prepblk:
	VMOVDQU (SI), Y0
	VPSHUFB Y1, Y0, Y0
	VPERMD  Y0, Y2, Y0
	VMOVDQU Y0, (DI)
	VPABSB  Y0, Y0
	VMOVDQU Y0, 32(DI)
	ADDQ    $32, SI
	ADDQ    $64, DI
	DECQ    CX
	JNZ     prepblk
	VZEROUPPER
	RET

// func iq4nlRows8AVX2(w *byte, rowBytes, groups int, xp *byte, xd *float32, nb int, y *float32, tab *int8)
//
// Decode over groups of 8 IQ4_NL rows, each activation block read with its magnitudes
// as prepBlocksAVX2 wrote them (xp, 64 bytes a block).
TEXT ·iq4nlRows8AVX2(SB), NOSPLIT, $0-64
	NIB8_ROWS(ip8grp, ip8blk, 18, 2, F16X8_SCALES, NIB8_NOPOST)

// func bnb4Rows8AVX2(w *byte, rowBytes, groups int, xp *byte, xd *float32, nb int, y *float32, tab *int8, post float32)
//
// As iq4nlRows8AVX2 for 20-byte NF4/FP4 blocks (float32 absmax scales, codes at 4), the
// activation blocks permuted (xp with |xp|, 64 bytes a block, from prepBlocksAVX2), and
// the 8 results multiplied by post at the end.
TEXT ·bnb4Rows8AVX2(SB), NOSPLIT, $0-68
	NIB8_ROWS(bp8grp, bp8blk, 20, 4, F32X8_SCALES, BNB4_POST)

// GTOK adds to acc the 8 rows' int32 products of the weights w (|w| in aw) with the
// token's 4-byte activation group at xo(DX). Y14 = int16 ones; clobbers Y12.
#define GTOK(xo, w, aw, acc) \
	VPBROADCASTD xo(DX), Y12 \
	VPSIGNB      w, Y12, Y12 \
	VPMADDUBSW   Y12, aw, Y12 \
	VPMADDWD     Y14, Y12, Y12 \
	VPADDD       Y12, acc, acc

// GK loads the tile's decoded vectors k at qo(SI) (|w| and w of elements 4k..4k+3, then
// of 16+4k..16+4k+3, of the 8 rows) and accumulates their products with the 4 tokens
// into Y0..Y3.
#define GK(qo, lo0, hi0, lo1, hi1, lo2, hi2, lo3, hi3) \
	VMOVDQU qo(SI), Y8 \
	VMOVDQU 32+qo(SI), Y10 \
	VMOVDQU 64+qo(SI), Y9 \
	VMOVDQU 96+qo(SI), Y11 \
	GTOK(lo0, Y10, Y8, Y0) \
	GTOK(hi0, Y11, Y9, Y0) \
	GTOK(lo1, Y10, Y8, Y1) \
	GTOK(hi1, Y11, Y9, Y1) \
	GTOK(lo2, Y10, Y8, Y2) \
	GTOK(hi2, Y11, Y9, Y2) \
	GTOK(lo3, Y10, Y8, Y3) \
	GTOK(hi3, Y11, Y9, Y3)

// GFIN accumulates token t's block dot products acc (int32, the 8 rows) into facc with
// the rows' scales (Y8, float32) times the token's scale at so(DX).
#define GFIN(so, acc, facc) \
	VCVTDQ2PS    acc, acc \
	VBROADCASTSS so(DX), Y12 \
	VMULPS       Y8, Y12, Y12 \
	VFMADD231PS  acc, Y12, facc

// func nibGemm8x4AVX2(w *byte, nb int, xg *byte, out *float32, post float32)
//
// The GEMM over a decoded tile (nibTileBlockBytes: the 8 rows' float32 scales, then per
// k < 4 the vectors |w|, w of elements 4k..4k+3 and |w|, w of 16+4k..16+4k+3, 4 bytes a
// row) and 4 tokens: out[8t+r] = (Σ_b fma in block order of
// (scale(r,b)·xd(t,b))·float32(s(r,t,b)))·post.
TEXT ·nibGemm8x4AVX2(SB), NOSPLIT, $0-36
	MOVQ w+0(FP), SI
	MOVQ nb+8(FP), CX
	MOVQ xg+16(FP), DX
	MOVQ out+24(FP), DI
	MOVL         $0x00010001, AX
	VMOVD        AX, X14
	VPBROADCASTD X14, Y14
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
gnblk:
	VPXOR Y0, Y0, Y0
	VPXOR Y1, Y1, Y1
	VPXOR Y2, Y2, Y2
	VPXOR Y3, Y3, Y3
	GK(32, 0, 16, 32, 48, 64, 80, 96, 112)
	GK(160, 4, 20, 36, 52, 68, 84, 100, 116)
	GK(288, 8, 24, 40, 56, 72, 88, 104, 120)
	GK(416, 12, 28, 44, 60, 76, 92, 108, 124)
	VMOVUPS (SI), Y8
	GFIN(144, Y0, Y4)
	GFIN(148, Y1, Y5)
	GFIN(152, Y2, Y6)
	GFIN(156, Y3, Y7)
	ADDQ $544, SI
	ADDQ $160, DX
	DECQ CX
	JNZ  gnblk
	VBROADCASTSS post+32(FP), Y8
	VMULPS  Y8, Y4, Y4
	VMULPS  Y8, Y5, Y5
	VMULPS  Y8, Y6, Y6
	VMULPS  Y8, Y7, Y7
	VMOVUPS Y4, 0(DI)
	VMOVUPS Y5, 32(DI)
	VMOVUPS Y6, 64(DI)
	VMOVUPS Y7, 96(DI)
	VZEROUPPER
	RET

// TILE_K decodes the transposed quant bytes yk through the codebook Y12 and stores
// |w|, w of its low nibbles and |w|, w of its high nibbles at qo(DI). Y15 = mask;
// clobbers Y8..Y11.
#define TILE_K(yk, qo) \
	VPSRLW  $4, yk, Y9 \
	VPAND   Y15, yk, Y8 \
	VPAND   Y15, Y9, Y9 \
	VPSHUFB Y8, Y12, Y8 \
	VPSHUFB Y9, Y12, Y9 \
	VPABSB  Y8, Y10 \
	VPABSB  Y9, Y11 \
	VMOVDQU Y10, qo(DI) \
	VMOVDQU Y8, 32+qo(DI) \
	VMOVDQU Y11, 64+qo(DI) \
	VMOVDQU Y9, 96+qo(DI)

#define TILE_ALLK \
	TILE_K(Y0, 32) \
	TILE_K(Y1, 160) \
	TILE_K(Y2, 288) \
	TILE_K(Y3, 416)

// func iq4nlTile8AVX2(w *byte, rowBytes, nb int, dst *byte, tab *int8)
//
// decodeTile8 for a full tile of 8 IQ4_NL rows (18-byte blocks, fp16 scales).
TEXT ·iq4nlTile8AVX2(SB), NOSPLIT, $0-40
	NIB8_TILE(itl8blk, 18, 2, F16X8_STORE)

// func bnb4Tile8AVX2(w *byte, rowBytes, nb int, dst *byte, tab *int8)
//
// decodeTile8 for a full tile of 8 NF4/FP4 rows (20-byte blocks, float32 absmax).
TEXT ·bnb4Tile8AVX2(SB), NOSPLIT, $0-40
	NIB8_TILE(btl8blk, 20, 4, F32X8_STORE)

// Q8_0 (34-byte blocks: fp16 scale, 32 int8 weights) with the same 8-row structure: the
// decoded tile of the codebook types holds int8 weights already, so the Q8_0 GEMM is
// nibGemm8x4AVX2 on a tile built from the raw bytes (elements 4k..4k+3 and
// 16+4k..16+4k+3 of each row per vector pair, as for the nibbles).

// Q8T_LOAD loads the 16 bytes at qoff of the 8 rows' current blocks (as NIB8_LOAD) and
// transposes them into d0..d3 (x0..x3: their low halves) (dk: bytes 4k..4k+3 of rows 0..3 | rows 4..7); clobbers
// t0..t3.
#define Q8T_LOAD(qoff, x0, x1, x2, x3, d0, d1, d2, d3, t0, t1, t2, t3) \
	LOAD8T(qoff, x0, x1, x2, x3, d0, d1, d2, d3, t0, t1, t2, t3)

// Q8R_K turns the transposed weights yk into the 8 rows' int32 products with the
// activation group at xo(R9), left in yk; clobbers xa.
#define Q8R_K(yk, xa, xo) \
	VPBROADCASTD xo(R9), xa \
	VPSIGNB      yk, xa, xa \
	VPABSB       yk, yk \
	VPMADDUBSW   xa, yk, yk \
	VPMADDWD     Y14, yk, yk

// func q8_0Rows8AVX2(w *byte, rowBytes, groups int, xq *int8, xd *float32, nb int, y *float32)
//
// Decode over groups of 8 Q8_0 rows: per row r, y[r] = Σ_b fma in block order of
// (f16(scale r,b)·xd[b])·float32(s(r,b)), bit for bit what nibGemm8x4AVX2 gives on the
// row's q8_0Tile8 tile (post 1).
TEXT ·q8_0Rows8AVX2(SB), NOSPLIT, $0-56
	MOVQ rowBytes+8(FP), R8
	LEAQ (R8)(R8*2), R11
	MOVQ w+0(FP), SI
	MOVQ groups+16(FP), R14
	MOVQ y+48(FP), DI
	MOVL         $0x00010001, AX
	VMOVD        AX, X14
	VPBROADCASTD X14, Y14
q88grp:
	VXORPS Y13, Y13, Y13
	MOVQ   SI, BX
	LEAQ   (SI)(R8*4), R12
	MOVQ   xq+24(FP), R9
	MOVQ   xd+32(FP), R10
	MOVQ   nb+40(FP), CX
q88blk:
	NIB8_PREFETCH
	PREFETCHT0 192(AX)
	PREFETCHT0 256(AX)
	Q8T_LOAD(2, X0, X1, X2, X3, Y0, Y1, Y2, Y3, Y8, Y9, Y10, Y11)
	Q8T_LOAD(18, X4, X5, X6, X7, Y4, Y5, Y6, Y7, Y8, Y9, Y10, Y11)
	Q8R_K(Y0, Y8, 0)
	Q8R_K(Y1, Y9, 4)
	Q8R_K(Y2, Y10, 8)
	Q8R_K(Y3, Y11, 12)
	Q8R_K(Y4, Y12, 16)
	Q8R_K(Y5, Y15, 20)
	Q8R_K(Y6, Y8, 24)
	Q8R_K(Y7, Y9, 28)
	VPADDD       Y4, Y0, Y0
	VPADDD       Y5, Y1, Y1
	VPADDD       Y6, Y2, Y2
	VPADDD       Y7, Y3, Y3
	VPADDD       Y1, Y0, Y0
	VPADDD       Y3, Y2, Y2
	VPADDD       Y2, Y0, Y0
	VCVTDQ2PS    Y0, Y0
	F16X8_SCALES
	VBROADCASTSS (R10), Y5
	VMULPS       Y4, Y5, Y5
	VFMADD231PS  Y0, Y5, Y13
	ADDQ         $34, BX
	ADDQ         $34, R12
	ADDQ         $32, R9
	ADDQ         $4, R10
	DECQ         CX
	JNZ          q88blk
	VMOVUPS      Y13, (DI)
	ADDQ         $32, DI
	LEAQ         (SI)(R8*8), SI
	DECQ         R14
	JNZ          q88grp
	VZEROUPPER
	RET

// Q8TILE_K stores |lo|, lo, |hi|, hi at qo(DI); clobbers t.
#define Q8TILE_K(lo, hi, qo, t) \
	VPABSB  lo, t \
	VMOVDQU t, qo(DI) \
	VMOVDQU lo, 32+qo(DI) \
	VPABSB  hi, t \
	VMOVDQU t, 64+qo(DI) \
	VMOVDQU hi, 96+qo(DI)

// func q8_0Tile8AVX2(w *byte, rowBytes, nb int, dst *byte)
//
// q8_0Tile8 for a full tile of 8 Q8_0 rows.
TEXT ·q8_0Tile8AVX2(SB), NOSPLIT, $0-32
	MOVQ w+0(FP), BX
	MOVQ BX, SI
	MOVQ rowBytes+8(FP), R8
	MOVQ nb+16(FP), CX
	MOVQ dst+24(FP), DI
	LEAQ (R8)(R8*2), R11
	LEAQ (BX)(R8*4), R12
q8tl8blk:
	NIB8_PREFETCH
	PREFETCHT0 192(AX)
	PREFETCHT0 256(AX)
	Q8T_LOAD(2, X0, X1, X2, X3, Y0, Y1, Y2, Y3, Y8, Y9, Y10, Y11)
	Q8T_LOAD(18, X4, X5, X6, X7, Y4, Y5, Y6, Y7, Y8, Y9, Y10, Y11)
	Q8TILE_K(Y0, Y4, 32, Y8)
	Q8TILE_K(Y1, Y5, 160, Y9)
	Q8TILE_K(Y2, Y6, 288, Y10)
	Q8TILE_K(Y3, Y7, 416, Y11)
	F16X8_SCALES
	VMOVUPS     Y4, (DI)
	ADDQ        $34, BX
	ADDQ        $34, R12
	ADDQ        $544, DI
	DECQ        CX
	JNZ         q8tl8blk
	VZEROUPPER
	RET

// func bnb4_64Rows8AVX2(w *byte, rowBytes, groups int, xp *byte, xd *float32, nb int, y *float32, tab *int8, post float32)
//
// As bnb4Rows8AVX2 for NF4_64/FP4_64 rows (nb blocks of 36 bytes: float32 absmax, 32
// code bytes): the 8 rows' absmax are loaded once per block (kept at 0(SP)) and each
// block is two halves of 16 code bytes (at 4 and 20) with two prepared activation
// blocks, computed exactly as two NF4/FP4 blocks with the same absmax:
// y[r] = (Σ_h fma in half order of (absmax(r,h/2)·xd[h])·float32(s(r,h)))·post.
TEXT ·bnb4_64Rows8AVX2(SB), NOSPLIT, $32-68
	MOVQ    rowBytes+8(FP), R8
	LEAQ    (R8)(R8*2), R11
	MOVQ    w+0(FP), SI
	MOVQ    groups+16(FP), R14
	MOVQ    y+48(FP), DI
	MOVQ    tab+56(FP), AX
	VMOVDQU (AX), Y12
	NIB8_CONSTS

b64grp:
	VXORPS Y13, Y13, Y13
	MOVQ   SI, BX
	LEAQ   (SI)(R8*4), R12
	LEAQ   (SI)(R8*8), R13
	MOVQ   xp+24(FP), R9
	MOVQ   xd+32(FP), R10
	MOVQ   nb+40(FP), CX

b64blk:
	PREFETCHT0   (R13)
	PREFETCHT0   64(R13)
	PREFETCHT0   128(R13)
	PREFETCHT0   192(R13)
	PREFETCHT0   256(R13)
	ADDQ         $288, R13
	F32X8_SCALES
	VMOVUPS      Y4, (SP)
	NIB8_PAIRS(4)
	NIB8_DOT(0(R9))
	VCVTDQ2PS    Y0, Y0
	VBROADCASTSS (R10), Y5
	VMULPS       (SP), Y5, Y5
	VFMADD231PS  Y0, Y5, Y13
	NIB8_PAIRS(20)
	NIB8_DOT(64(R9))
	VCVTDQ2PS    Y0, Y0
	VBROADCASTSS 4(R10), Y5
	VMULPS       (SP), Y5, Y5
	VFMADD231PS  Y0, Y5, Y13
	ADDQ         $36, BX
	ADDQ         $36, R12
	ADDQ         $128, R9
	ADDQ         $8, R10
	DECQ         CX
	JNZ          b64blk
	BNB4_POST
	VMOVUPS      Y13, (DI)
	ADDQ         $32, DI
	LEAQ         (SI)(R8*8), SI
	DECQ         R14
	JNZ          b64grp
	VZEROUPPER
	RET

// func bnb4_64Tile8AVX2(w *byte, rowBytes, nb int, dst *byte, tab *int8)
//
// decodeTile8 for a full tile of 8 NF4_64/FP4_64 rows (nb blocks of 36 bytes): each
// block writes the two block columns its halves are as NF4/FP4 blocks with the absmax
// repeated, byte for byte the tile bnb4Tile8AVX2 writes for the 32-element layout.
TEXT ·bnb4_64Tile8AVX2(SB), NOSPLIT, $0-40
	MOVQ    w+0(FP), BX
	MOVQ    BX, SI
	MOVQ    rowBytes+8(FP), R8
	MOVQ    nb+16(FP), CX
	MOVQ    dst+24(FP), DI
	MOVQ    tab+32(FP), AX
	VMOVDQU (AX), Y12
	NIB8_CONSTS
	LEAQ    (R8)(R8*2), R11
	LEAQ    (BX)(R8*4), R12

b64tblk:
	NIB8_PREFETCH
	PREFETCHT0 192(AX)
	PREFETCHT0 256(AX)
	F32X4X2
	VMOVDQU    X4, (DI)
	VMOVDQU    X5, 16(DI)
	VMOVDQU    X4, 544(DI)
	VMOVDQU    X5, 560(DI)
	NIB8_LOAD(4)
	TILE_ALLK
	ADDQ       $544, DI
	NIB8_LOAD(20)
	TILE_ALLK
	ADDQ       $36, BX
	ADDQ       $36, R12
	ADDQ       $544, DI
	DECQ       CX
	JNZ        b64tblk
	VZEROUPPER
	RET
