//go:build !purego

#include "textflag.h"
#include "rows8_amd64.h"

// AVX-512 (F, BW, VL, VNNI) versions of the 8-row decode kernels and the 8-row × 4-token
// GEMM of the codebook types (IQ4_NL, NF4, FP4, NF4_64, FP4_64) and Q8_0 in
// nib8_amd64.s. Each gives bit for bit the result of the AVX2 kernel it replaces: the
// block dot products are the same exact int32 sums, and the float operations per row
// and block (convert, scale product, one fused multiply-add in block order, post) are
// the same instructions in the same order.
//
// The integer part uses VPDPBUSD (unsigned bytes × signed bytes, four products summed
// into each int32 lane, no saturation) with the weights made unsigned by a +128 bias:
// the codebook is looked up biased (tab XOR 0x80 = w+128), Q8_0 weights and the GEMM's
// decoded w are XORed with 0x80, and the activations stay signed, broadcast from memory
// by the instruction itself (embedded broadcast). Σ(w+128)·x = Σw·x + 128·Σx, so each
// block's sum starts from -128·Σx: read from the prepared activation blocks (decode;
// biasBlocks), from the activation groups' block sums (GEMM: -16 · 8Σx) or accumulated
// beside the products (Q8_0 decode, whose activation is not prepared). One VPDPBUSD
// replaces VPSIGNB + VPMADDUBSW + VPMADDWD (+ VPADDD) and the broadcast of the AVX2
// kernels. The decode kernels run two groups of 8 rows at a time in 512-bit registers
// (16 rows, one per dword lane) and a last odd group in 256-bit ones; the GEMM keeps
// the AVX2 kernel's 256-bit layout (8 rows × 1 token a vector: a 512-bit register of
// two tokens would need a permute per activation group instead of the free broadcast).
//
// Instructions per loop iteration (binutils objdump of the test binary; AVX2 in
// brackets): codebook decode 91 per 16 rows and block, 70 per 8 in the 256-bit pass
// [106 per 8]; NF4_64/FP4_64 157 per 16 rows and 64 elements, 124 per 8 [196 per 8];
// Q8_0 decode 118 per 16, 89 per 8 [107 per 8]; GEMM 73 per block column of 8 rows ×
// 4 tokens [201]; prepBiasAVX2 20 per activation block, once per token row [10].

// NIBV_K adds to acc the 8 rows' dot products of the transposed quant bytes yk (bytes
// 4k..4k+3 of the 8 rows) with the activation groups at xlo (low nibbles) and xhi (high
// nibbles), the codes mapped through the biased codebook Y12. Y15 = 0x0f mask; clobbers
// yk, yh.
#define NIBV_K(yk, yh, xlo, xhi, acc) \
	VPSRLW        $4, yk, yh \
	VPAND         Y15, yk, yk \
	VPAND         Y15, yh, yh \
	VPSHUFB       yk, Y12, yk \
	VPSHUFB       yh, Y12, yh \
	VPDPBUSD.BCST xlo, yk, acc \
	VPDPBUSD.BCST xhi, yh, acc

// NIBV_DOT computes the 8 rows' block dot products into Y0 (int32) from the transposed
// bytes in Y0..Y3 with the prepared activation block at xb (32 bytes, then the int32
// -128·Σx at 32), in two chains (Y16, Y17). Clobbers Y1..Y7, Y16, Y17.
#define NIBV_DOT(xb) \
	VPBROADCASTD 32+xb, Y16 \
	VPXORD       Y17, Y17, Y17 \
	NIBV_K(Y0, Y4, 0+xb, 16+xb, Y16) \
	NIBV_K(Y1, Y5, 4+xb, 20+xb, Y17) \
	NIBV_K(Y2, Y6, 8+xb, 24+xb, Y16) \
	NIBV_K(Y3, Y7, 12+xb, 28+xb, Y17) \
	VPADDD       Y17, Y16, Y0

// NIBV_CONSTS loads the nibble mask into Z15 and the codebook at AX (16 bytes), biased
// by 128, into every 128-bit lane of Z12 (0x80 bytes left in Z14).
#define NIBV_CONSTS \
	MOVL            $0x0f0f0f0f, DX \
	VPBROADCASTD    DX, Z15 \
	MOVL            $0x80808080, DX \
	VPBROADCASTD    DX, Z14 \
	VBROADCASTI32X4 (AX), Z12 \
	VPXORD          Z14, Z12, Z12

// The 16-row pass: two groups of 8 rows in the 512-bit registers, rows 0..3 at BX,
// 4..7 at R12, 8..11 at R13 and 12..15 at DX (each base plus 0, R8, 2·R8, R11 = 3·R8);
// the dword lanes are the rows 0..15.

// NIBZ_K is NIBV_K on 16 rows: adds to acc the rows' dot products of the transposed
// quant bytes zk with the activation groups at xlo and xhi (broadcast to 16 lanes).
#define NIBZ_K(zk, zh, xlo, xhi, acc) \
	VPSRLW        $4, zk, zh \
	VPANDD        Z15, zk, zk \
	VPANDD        Z15, zh, zh \
	VPSHUFB       zk, Z12, zk \
	VPSHUFB       zh, Z12, zh \
	VPDPBUSD.BCST xlo, zk, acc \
	VPDPBUSD.BCST xhi, zh, acc

// NIBZ_LOAD loads the 16 quant bytes at qoff of the 16 rows' current blocks into
// Z0..Z3 (LOAD16T). Clobbers Z4..Z7.
#define NIBZ_LOAD(qoff) \
	LOAD16T(qoff, R12, R13, DX, X0, X1, X2, X3, Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7)

// NIBZ_DOT is NIBV_DOT on 16 rows: the block dot products into Z0. Clobbers Z1..Z7,
// Z16, Z17.
#define NIBZ_DOT(xb) \
	VPBROADCASTD 32+xb, Z16 \
	VPXORD       Z17, Z17, Z17 \
	NIBZ_K(Z0, Z4, 0+xb, 16+xb, Z16) \
	NIBZ_K(Z1, Z5, 4+xb, 20+xb, Z17) \
	NIBZ_K(Z2, Z6, 8+xb, 24+xb, Z16) \
	NIBZ_K(Z3, Z7, 12+xb, 28+xb, Z17) \
	VPADDD       Z17, Z16, Z0

// F16Z_SCALES: Z4 = the 16 rows' fp16 scales as float32.
#define F16Z_SCALES F16X16_SCALES(R12, R13, DX)

// F32Z_SCALES: Z4 = the 16 rows' float32 scales (NF4/FP4 absmax). Clobbers Z5..Z7.
#define F32Z_SCALES \
	F32X4AT(BX, X4) \
	F32X4AT(R12, X5) \
	F32X4AT(R13, X6) \
	F32X4AT(DX, X7) \
	VINSERTI128  $1, X5, Y4, Y4 \
	VINSERTI128  $1, X7, Y6, Y6 \
	VINSERTI64X4 $1, Y6, Z4, Z4

#define NIBV_NOPOST
#define NIBZ_NOPOST

// BNBV_POST multiplies the 8 results by the table's post factor.
#define BNBV_POST \
	VBROADCASTSS post+64(FP), Y4 \
	VMULPS       Y4, Y13, Y13

// BNBZ_POST multiplies the 16 results by the table's post factor.
#define BNBZ_POST \
	VBROADCASTSS post+64(FP), Z4 \
	VMULPS       Z4, Z13, Z13

// NIBZ_SETUP16 points BX, R12, R13, DX at the 16 rows from SI, AX (the prefetch
// address) at the 16 rows after them, and R9, R10, CX at the activation blocks, their
// scales and the block count.
#define NIBZ_SETUP16 \
	VXORPS Z13, Z13, Z13 \
	MOVQ   SI, BX \
	LEAQ   (SI)(R8*4), R12 \
	LEAQ   (SI)(R8*8), R13 \
	LEAQ   (R13)(R8*4), DX \
	LEAQ   (R13)(R8*8), AX \
	MOVQ   xp+24(FP), R9 \
	MOVQ   xd+32(FP), R10 \
	MOVQ   nb+40(FP), CX

// NIBZ_PREFETCH prefetches 320 bytes of the next 16 rows and advances AX by adv.
#define NIBZ_PREFETCH(adv) \
	PREFETCHT0 (AX) \
	PREFETCHT0 64(AX) \
	PREFETCHT0 128(AX) \
	PREFETCHT0 192(AX) \
	PREFETCHT0 256(AX) \
	ADDQ       $(adv), AX

// NIBZ_NEXT16 stores the 16 results, advances DI and SI past them and counts the two
// groups off R14.
#define NIBZ_NEXT16 \
	VMOVUPS Z13, (DI) \
	ADDQ    $64, DI \
	LEAQ    (SI)(R8*8), SI \
	LEAQ    (SI)(R8*8), SI \
	SUBQ    $2, R14

// NIBV_ROWS runs the decode over groups of 8 rows of blocks of bsz bytes (16 quant bytes
// at qoff): pairs of groups in the 16-row pass (SCALESZ, POSTZ), a last odd group in
// the 8-row one (SCALES, POST, as NIB8_ROWS in nib8_amd64.s). Per row, per block, the
// dot product with the prepared activation block times the row's scale times the
// activation's scale, summed in block order with fused multiply-adds; POST may scale
// the sum before the store. grp16, blk16, grp, blk and done name the labels.
#define NIBV_ROWS(grp16, blk16, grp, blk, done, bsz, qoff, SCALES, POST, SCALESZ, POSTZ) \
	MOVQ rowBytes+8(FP), R8 \
	LEAQ (R8)(R8*2), R11 \
	MOVQ w+0(FP), SI \
	MOVQ groups+16(FP), R14 \
	MOVQ y+48(FP), DI \
	MOVQ tab+56(FP), AX \
	NIBV_CONSTS \
grp16: \
	CMPQ R14, $2 \
	JLT  grp \
	NIBZ_SETUP16 \
blk16: \
	NIBZ_PREFETCH(16*bsz) \
	NIBZ_LOAD(qoff) \
	NIBZ_DOT(0(R9)) \
	VCVTDQ2PS    Z0, Z0 \
	SCALESZ \
	VBROADCASTSS (R10), Z5 \
	VMULPS       Z4, Z5, Z5 \
	VFMADD231PS  Z0, Z5, Z13 \
	ADDQ         $bsz, BX \
	ADDQ         $bsz, R12 \
	ADDQ         $bsz, R13 \
	ADDQ         $bsz, DX \
	ADDQ         $64, R9 \
	ADDQ         $4, R10 \
	DECQ         CX \
	JNZ          blk16 \
	POSTZ \
	NIBZ_NEXT16 \
	JMP          grp16 \
grp: \
	TESTQ  R14, R14 \
	JZ     done \
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
	LOAD8T(qoff, X0, X1, X2, X3, Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7) \
	NIBV_DOT(0(R9)) \
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
done: \
	VZEROUPPER \
	RET

// func iq4nlRows8AVX512(w *byte, rowBytes, groups int, xp *byte, xd *float32, nb int, y *float32, tab *int8)
//
// iq4nlRows8AVX2 on activation blocks prepared by biasBlocks (xp, 64 bytes a block).
TEXT ·iq4nlRows8AVX512(SB), NOSPLIT, $0-64
	NIBV_ROWS(iv16grp, iv16blk, iv8grp, iv8blk, ivdone, 18, 2, F16X8_SCALES, NIBV_NOPOST, F16Z_SCALES, NIBZ_NOPOST)

// func bnb4Rows8AVX512(w *byte, rowBytes, groups int, xp *byte, xd *float32, nb int, y *float32, tab *int8, post float32)
//
// bnb4Rows8AVX2 on activation blocks prepared by permBiasBlocks.
TEXT ·bnb4Rows8AVX512(SB), NOSPLIT, $0-68
	NIBV_ROWS(bv16grp, bv16blk, bv8grp, bv8blk, bvdone, 20, 4, F32X8_SCALES, BNBV_POST, F32Z_SCALES, BNBZ_POST)

// func bnb4_64Rows8AVX512(w *byte, rowBytes, groups int, xp *byte, xd *float32, nb int, y *float32, tab *int8, post float32)
//
// bnb4_64Rows8AVX2 on activation blocks prepared by permBiasBlocks: per 64-element
// block the rows' absmax (kept in Z18) and two halves computed as two NF4/FP4 blocks;
// pairs of groups of 8 rows in 512-bit registers, a last odd group in 256-bit ones.
TEXT ·bnb4_64Rows8AVX512(SB), NOSPLIT, $0-68
	MOVQ rowBytes+8(FP), R8
	LEAQ (R8)(R8*2), R11
	MOVQ w+0(FP), SI
	MOVQ groups+16(FP), R14
	MOVQ y+48(FP), DI
	MOVQ tab+56(FP), AX
	NIBV_CONSTS

bz64grp:
	CMPQ R14, $2
	JLT  bv64grp
	NIBZ_SETUP16

bz64blk:
	NIBZ_PREFETCH(0)
	PREFETCHT0   320(AX)
	PREFETCHT0   384(AX)
	PREFETCHT0   448(AX)
	PREFETCHT0   512(AX)
	ADDQ         $576, AX
	F32Z_SCALES
	VMOVAPS      Z4, Z18
	NIBZ_LOAD(4)
	NIBZ_DOT(0(R9))
	VCVTDQ2PS    Z0, Z0
	VBROADCASTSS (R10), Z5
	VMULPS       Z18, Z5, Z5
	VFMADD231PS  Z0, Z5, Z13
	NIBZ_LOAD(20)
	NIBZ_DOT(64(R9))
	VCVTDQ2PS    Z0, Z0
	VBROADCASTSS 4(R10), Z5
	VMULPS       Z18, Z5, Z5
	VFMADD231PS  Z0, Z5, Z13
	ADDQ         $36, BX
	ADDQ         $36, R12
	ADDQ         $36, R13
	ADDQ         $36, DX
	ADDQ         $128, R9
	ADDQ         $8, R10
	DECQ         CX
	JNZ          bz64blk
	BNBZ_POST
	NIBZ_NEXT16
	JMP          bz64grp

bv64grp:
	TESTQ  R14, R14
	JZ     bv64done
	VXORPS Y13, Y13, Y13
	MOVQ   SI, BX
	LEAQ   (SI)(R8*4), R12
	LEAQ   (SI)(R8*8), R13
	MOVQ   xp+24(FP), R9
	MOVQ   xd+32(FP), R10
	MOVQ   nb+40(FP), CX

bv64blk:
	PREFETCHT0   (R13)
	PREFETCHT0   64(R13)
	PREFETCHT0   128(R13)
	PREFETCHT0   192(R13)
	PREFETCHT0   256(R13)
	ADDQ         $288, R13
	F32X8_SCALES
	VMOVDQA64    Y4, Y18
	LOAD8T(4, X0, X1, X2, X3, Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7)
	NIBV_DOT(0(R9))
	VCVTDQ2PS    Y0, Y0
	VBROADCASTSS (R10), Y5
	VMULPS       Y18, Y5, Y5
	VFMADD231PS  Y0, Y5, Y13
	LOAD8T(20, X0, X1, X2, X3, Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7)
	NIBV_DOT(64(R9))
	VCVTDQ2PS    Y0, Y0
	VBROADCASTSS 4(R10), Y5
	VMULPS       Y18, Y5, Y5
	VFMADD231PS  Y0, Y5, Y13
	ADDQ         $36, BX
	ADDQ         $36, R12
	ADDQ         $128, R9
	ADDQ         $8, R10
	DECQ         CX
	JNZ          bv64blk
	BNBV_POST
	VMOVUPS      Y13, (DI)

bv64done:
	VZEROUPPER
	RET

// Q8V_K adds to acc the 8 rows' products of the biased transposed weights yk with the
// activation group at xo(R9), and to Y18 128 times the group's sum. Y14 = 0x80 bytes.
#define Q8V_K(yk, xo, acc) \
	VPXOR         Y14, yk, yk \
	VPDPBUSD.BCST xo(R9), yk, acc \
	VPDPBUSD.BCST xo(R9), Y14, Y18

// Q8Z_K is Q8V_K on 16 rows (Z14 = 0x80 bytes, the group sums into Z18).
#define Q8Z_K(zk, xo, acc) \
	VPXORD        Z14, zk, zk \
	VPDPBUSD.BCST xo(R9), zk, acc \
	VPDPBUSD.BCST xo(R9), Z14, Z18

// func q8_0Rows8AVX512(w *byte, rowBytes, groups int, xq *int8, xd *float32, nb int, y *float32)
//
// q8_0Rows8AVX2: per block, Σ(w+128)·x in two chains less 128·Σx; pairs of groups of 8
// rows in 512-bit registers (rows as in NIBV_ROWS), a last odd group in 256-bit ones.
TEXT ·q8_0Rows8AVX512(SB), NOSPLIT, $0-56
	MOVQ rowBytes+8(FP), R8
	LEAQ (R8)(R8*2), R11
	MOVQ w+0(FP), SI
	MOVQ groups+16(FP), R14
	MOVQ y+48(FP), DI
	MOVL         $0x80808080, AX
	VPBROADCASTD AX, Z14

qz8grp:
	CMPQ   R14, $2
	JLT    qv8grp
	VXORPS Z13, Z13, Z13
	MOVQ   SI, BX
	LEAQ   (SI)(R8*4), R12
	LEAQ   (SI)(R8*8), R13
	LEAQ   (R13)(R8*4), DX
	LEAQ   (R13)(R8*8), AX
	MOVQ   xq+24(FP), R9
	MOVQ   xd+32(FP), R10
	MOVQ   nb+40(FP), CX

qz8blk:
	NIBZ_PREFETCH(0)
	PREFETCHT0   320(AX)
	PREFETCHT0   384(AX)
	PREFETCHT0   448(AX)
	PREFETCHT0   512(AX)
	ADDQ         $544, AX
	LOAD16T(2, R12, R13, DX, X0, X1, X2, X3, Z0, Z1, Z2, Z3, Z8, Z9, Z10, Z11)
	LOAD16T(18, R12, R13, DX, X4, X5, X6, X7, Z4, Z5, Z6, Z7, Z8, Z9, Z10, Z11)
	VPXORD       Z16, Z16, Z16
	VPXORD       Z17, Z17, Z17
	VPXORD       Z18, Z18, Z18
	Q8Z_K(Z0, 0, Z16)
	Q8Z_K(Z1, 4, Z17)
	Q8Z_K(Z2, 8, Z16)
	Q8Z_K(Z3, 12, Z17)
	Q8Z_K(Z4, 16, Z16)
	Q8Z_K(Z5, 20, Z17)
	Q8Z_K(Z6, 24, Z16)
	Q8Z_K(Z7, 28, Z17)
	VPADDD       Z17, Z16, Z0
	VPSUBD       Z18, Z0, Z0
	VCVTDQ2PS    Z0, Z0
	F16Z_SCALES
	VBROADCASTSS (R10), Z5
	VMULPS       Z4, Z5, Z5
	VFMADD231PS  Z0, Z5, Z13
	ADDQ         $34, BX
	ADDQ         $34, R12
	ADDQ         $34, R13
	ADDQ         $34, DX
	ADDQ         $32, R9
	ADDQ         $4, R10
	DECQ         CX
	JNZ          qz8blk
	NIBZ_NEXT16
	JMP          qz8grp

qv8grp:
	TESTQ  R14, R14
	JZ     qv8done
	VXORPS Y13, Y13, Y13
	MOVQ   SI, BX
	LEAQ   (SI)(R8*4), R12
	MOVQ   xq+24(FP), R9
	MOVQ   xd+32(FP), R10
	MOVQ   nb+40(FP), CX

qv8blk:
	MOVQ       BX, AX
	SUBQ       SI, AX
	LEAQ       (SI)(AX*8), AX
	LEAQ       (AX)(R8*8), AX
	PREFETCHT0 (AX)
	PREFETCHT0 64(AX)
	PREFETCHT0 128(AX)
	PREFETCHT0 192(AX)
	PREFETCHT0 256(AX)
	LOAD8T(2, X0, X1, X2, X3, Y0, Y1, Y2, Y3, Y8, Y9, Y10, Y11)
	LOAD8T(18, X4, X5, X6, X7, Y4, Y5, Y6, Y7, Y8, Y9, Y10, Y11)
	VPXORD       Y16, Y16, Y16
	VPXORD       Y17, Y17, Y17
	VPXORD       Y18, Y18, Y18
	Q8V_K(Y0, 0, Y16)
	Q8V_K(Y1, 4, Y17)
	Q8V_K(Y2, 8, Y16)
	Q8V_K(Y3, 12, Y17)
	Q8V_K(Y4, 16, Y16)
	Q8V_K(Y5, 20, Y17)
	Q8V_K(Y6, 24, Y16)
	Q8V_K(Y7, 28, Y17)
	VPADDD       Y17, Y16, Y0
	VPSUBD       Y18, Y0, Y0
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
	JNZ          qv8blk
	VMOVUPS      Y13, (DI)

qv8done:
	VZEROUPPER
	RET

// GKV adds the products of the tile's decoded vectors k at qo(SI) (w of elements
// 4k..4k+3 at 32+qo, of 16+4k..16+4k+3 at 96+qo; the |w| vectors are not read) with
// the 4 tokens' activation groups: the low ones into Y0..Y3, the high ones into
// Y16..Y19. Y14 = 0x80 bytes.
#define GKV(qo, lo0, hi0, lo1, hi1, lo2, hi2, lo3, hi3) \
	VPXOR         32+qo(SI), Y14, Y8 \
	VPXOR         96+qo(SI), Y14, Y9 \
	VPDPBUSD.BCST lo0(DX), Y8, Y0 \
	VPDPBUSD.BCST hi0(DX), Y9, Y16 \
	VPDPBUSD.BCST lo1(DX), Y8, Y1 \
	VPDPBUSD.BCST hi1(DX), Y9, Y17 \
	VPDPBUSD.BCST lo2(DX), Y8, Y2 \
	VPDPBUSD.BCST hi2(DX), Y9, Y18 \
	VPDPBUSD.BCST lo3(DX), Y8, Y3 \
	VPDPBUSD.BCST hi3(DX), Y9, Y19

// GFINV is GFIN (nib8_amd64.s): token t's block dot products acc into facc.
#define GFINV(so, acc, facc) \
	VCVTDQ2PS    acc, acc \
	VBROADCASTSS so(DX), Y12 \
	VMULPS       Y8, Y12, Y12 \
	VFMADD231PS  acc, Y12, facc

// func nibGemm8x4AVX512(w *byte, nb int, xg *byte, out *float32, post float32)
//
// nibGemm8x4AVX2 over the same tiles and activation groups: per token, the low-element
// chain starts from -16 times the group's 8·Σx (at 128+4t), i.e. -128·Σx.
TEXT ·nibGemm8x4AVX512(SB), NOSPLIT, $0-36
	MOVQ w+0(FP), SI
	MOVQ nb+8(FP), CX
	MOVQ xg+16(FP), DX
	MOVQ out+24(FP), DI
	MOVL         $0x80808080, AX
	VMOVD        AX, X14
	VPBROADCASTD X14, Y14
	MOVL         $-16, AX
	VMOVD        AX, X15
	VPBROADCASTD X15, Y15
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7

gvblk:
	VPMULLD.BCST 128(DX), Y15, Y0
	VPMULLD.BCST 132(DX), Y15, Y1
	VPMULLD.BCST 136(DX), Y15, Y2
	VPMULLD.BCST 140(DX), Y15, Y3
	VPXORD Y16, Y16, Y16
	VPXORD Y17, Y17, Y17
	VPXORD Y18, Y18, Y18
	VPXORD Y19, Y19, Y19
	GKV(32, 0, 16, 32, 48, 64, 80, 96, 112)
	GKV(160, 4, 20, 36, 52, 68, 84, 100, 116)
	GKV(288, 8, 24, 40, 56, 72, 88, 104, 120)
	GKV(416, 12, 28, 44, 60, 76, 92, 108, 124)
	VPADDD  Y16, Y0, Y0
	VPADDD  Y17, Y1, Y1
	VPADDD  Y18, Y2, Y2
	VPADDD  Y19, Y3, Y3
	VMOVUPS (SI), Y8
	GFINV(144, Y0, Y4)
	GFINV(148, Y1, Y5)
	GFINV(152, Y2, Y6)
	GFINV(156, Y3, Y7)
	ADDQ $544, SI
	ADDQ $160, DX
	DECQ CX
	JNZ  gvblk
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

// func prepBiasAVX2(xq *int8, nb int, dst *byte, tab *byte)
//
// Writes per activation block the 32 bytes x rearranged by tab (as prepBlocksAVX2),
// then the int32 -128·Σx and 28 zero bytes, 64 bytes a block: what the AVX-512 decode
// kernels read (biasBlocks, permBiasBlocks). AVX2 only. Σx comes from VPSADBW on x+128
// (x XOR 0x80): T = Σx + 32·128, so -128·Σx = 524288 - 128·T.
TEXT ·prepBiasAVX2(SB), NOSPLIT, $0-32
	MOVQ    xq+0(FP), SI
	MOVQ    nb+8(FP), CX
	MOVQ    dst+16(FP), DI
	MOVQ    tab+24(FP), AX
	VMOVDQU (AX), Y1
	VMOVDQU 32(AX), Y2
	MOVL         $0x80808080, AX
	VMOVD        AX, X3
	VPBROADCASTD X3, Y3
	VPXOR        Y4, Y4, Y4

pbblk:
	VMOVDQU      (SI), Y0
	VPSHUFB      Y1, Y0, Y0
	VPERMD       Y0, Y2, Y0
	VMOVDQU      Y0, (DI)
	VPXOR        Y3, Y0, Y0
	VPSADBW      Y4, Y0, Y0
	VEXTRACTI128 $1, Y0, X5
	VPADDQ       X5, X0, X0
	VPSHUFD      $0x4e, X0, X5
	VPADDQ       X5, X0, X0
	VMOVD        X0, AX
	SHLL         $7, AX
	NEGL         AX
	ADDL         $524288, AX
	VMOVD        AX, X0
	VMOVDQU      Y0, 32(DI)
	ADDQ         $32, SI
	ADDQ         $64, DI
	DECQ         CX
	JNZ          pbblk
	VZEROUPPER
	RET
