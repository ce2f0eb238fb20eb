//go:build !purego

#include "textflag.h"
#include "rows8_amd64.h"

// Q6_K 8-row decode kernel, 8-row × 4-token GEMM and its tile builder (AVX2). See
// q6k.go (the specification and q6kTileBlockBytes) and q6k_amd64.go.
//
// Both compute, per row r and 32-element activation block b (sub-block scales sc[2j],
// sc[2j+1] of the row's super-block, j = b%8), the exact int32
//
//	s(r,b) = sc[2j]·Σ_{e<16} (q_e-32)·x_e + sc[2j+1]·Σ_{e≥16} (q_e-32)·x_e
//
// and accumulate acc[r] += (d_r·xd_b)·float32(s(r,b)) with one fused multiply-add per
// block in block order (d_r the row's super-block scale as float32), so the decode kernel
// and the GEMM agree bit for bit; they differ only in how they get s.
//
// The decode kernel reads the rows as they are stored: per row and block it builds the
// 32 6-bit values q (ql nibble | qh bit pair << 4, as q6kRowsAVX2), VPMADDUBSW(q, x)
// gives int16 pair sums (unsigned q ≤ 63; the 128-bit lanes hold elements 0..15 and
// 16..31). The 8 rows' pair sums are reduced by an unpack tree (the first level adds two
// rows' interleaved pair sums in int16, then VPMADDWD with int16 ones) to one vector of
// the rows' half sums (L: elements 0..15, H: 16..31, lane r = row r); the -32 offset is
// taken off with the activation's block sums (q8Act's xc: 8·Σ of each 4 elements, so
// 32·Σ_half x = 4·Σ of its 4 lanes), and s = SCL·L + SCH·H with the rows'
// sign-extended int32 scales (computed once per super-block into the frame).
//
// The GEMM reads tiles decoded once per MatMul (q6kTileBlockBytes: |w| and w = q-32
// per element, the scales as int16 pairs): per token and 4-element group, VPMADDUBSW(|w|,
// x·sign(w)) (pair sums ≤ 2·32·127) and VPMADDWD with the rows' scale pairs of that half
// give sc·Σ(q-32)·x exactly; 5 vector ops per token and 32 products.

DATA q6k8c<>+0(SB)/8, $0x0f0f0f0f0f0f0f0f   // low-nibble mask
DATA q6k8c<>+8(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA q6k8c<>+16(SB)/8, $0x3030303030303030  // bits 4, 5
DATA q6k8c<>+24(SB)/8, $0x3030303030303030
DATA q6k8c<>+32(SB)/8, $0x2020202020202020  // 32
DATA q6k8c<>+40(SB)/8, $0x2020202020202020
DATA q6k8c<>+48(SB)/8, $0x0001000100010001  // int16 ones
DATA q6k8c<>+56(SB)/8, $0x0001000100010001
GLOBL q6k8c<>(SB), RODATA|NOPTR, $64

// q6k8sh<>+32m: the byte shuffle putting byte m of each dword into the high byte of both
// its words (then VPSRAW $8 gives the int16 pair (int8(byte m), int8(byte m))).
DATA q6k8sh<>+0(SB)/8, $0x0480048000800080
DATA q6k8sh<>+8(SB)/8, $0x0c800c8008800880
DATA q6k8sh<>+16(SB)/8, $0x0480048000800080
DATA q6k8sh<>+24(SB)/8, $0x0c800c8008800880
DATA q6k8sh<>+32(SB)/8, $0x0580058001800180
DATA q6k8sh<>+40(SB)/8, $0x0d800d8009800980
DATA q6k8sh<>+48(SB)/8, $0x0580058001800180
DATA q6k8sh<>+56(SB)/8, $0x0d800d8009800980
DATA q6k8sh<>+64(SB)/8, $0x0680068002800280
DATA q6k8sh<>+72(SB)/8, $0x0e800e800a800a80
DATA q6k8sh<>+80(SB)/8, $0x0680068002800280
DATA q6k8sh<>+88(SB)/8, $0x0e800e800a800a80
DATA q6k8sh<>+96(SB)/8, $0x0780078003800380
DATA q6k8sh<>+104(SB)/8, $0x0f800f800b800b80
DATA q6k8sh<>+112(SB)/8, $0x0780078003800380
DATA q6k8sh<>+120(SB)/8, $0x0f800f800b800b80
GLOBL q6k8sh<>(SB), RODATA|NOPTR, $128

// Q6K8_CONSTS: Y15 = 0x0f bytes, Y14 = 0x30 bytes, Y13 = int16 ones.
#define Q6K8_CONSTS \
	VBROADCASTI128 q6k8c<>+0(SB), Y15 \
	VBROADCASTI128 q6k8c<>+16(SB), Y14 \
	VBROADCASTI128 q6k8c<>+48(SB), Y13

// Q6K8_T16 loads the 16 bytes at off of the 8 rows' super-blocks (rows 0..3 at BX,
// BX+R8, BX+2·R8, BX+R11; rows 4..7 the same from R12) and transposes them into Y0..Y3
// (Yk: bytes 4k..4k+3 of rows 0..3 | rows 4..7). Clobbers Y4..Y7.
#define Q6K8_T16(off) \
	LOAD8T(off, X0, X1, X2, X3, Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7)

// Q6K8_D: Y4 = the 8 rows' fp16 super-block scales d (at 208) as float32.
#define Q6K8_D F16X8AT(208, Y4)

// Q6U0..Q6U3 build the 6-bit values of quarter 0..3 of a super-block half into out from
// the row's ql bytes at qa (quarters 0, 2) or qa+32 (1, 3) and qh bytes at qh, row at
// base. Y15 = 0x0f, Y14 = 0x30; clobber t.
#define Q6U0(qa, qh, base, out, t) \
	VMOVDQU qh base, t \
	VPSLLW  $4, t, t \
	VPAND   Y14, t, t \
	VPAND   qa base, Y15, out \
	VPOR    t, out, out

#define Q6U1(qa, qh, base, out, t) \
	VMOVDQU qh base, t \
	VPSLLW  $2, t, t \
	VPAND   Y14, t, t \
	VPAND   (qa+32) base, Y15, out \
	VPOR    t, out, out

#define Q6U2(qa, qh, base, out, t) \
	VMOVDQU qa base, out \
	VPSRLW  $4, out, out \
	VPAND   Y15, out, out \
	VPAND   qh base, Y14, t \
	VPOR    t, out, out

#define Q6U3(qa, qh, base, out, t) \
	VMOVDQU (qa+32) base, out \
	VPSRLW  $4, out, out \
	VPAND   Y15, out, out \
	VMOVDQU qh base, t \
	VPSRLW  $2, t, t \
	VPAND   Y14, t, t \
	VPOR    t, out, out

// Q6R computes row base's pair sums for the current block (6-bit values by unpack
// macro U from qa, qh; activation at xo(R9)) into out: int16 word i = q_2i·x_2i +
// q_2i+1·x_2i+1 (at most 2·63·128 in magnitude). Clobbers t.
#define Q6R(U, qa, qh, xo, base, out, t) \
	U(qa, qh, base, out, t) \
	VPMADDUBSW xo(R9), out, out

// Q6PAIR1 folds the pair sums of two rows a, b into int32 sums of 8 products: per 128-bit
// lane a = [a(0..3)+a(8..11), b(0..3)+b(8..11), a(4..7)+a(12..15), b(4..7)+b(12..15)]
// (element ranges of the lane). The int16 sums of two pair sums stay below 2^15.
// Y13 = int16 ones; clobbers t.
#define Q6PAIR1(a, b, t) \
	VPUNPCKHDQ b, a, t \
	VPUNPCKLDQ b, a, a \
	VPADDW     t, a, a \
	VPMADDWD   Y13, a, a

// Q6PAIR2 folds two Q6PAIR1 results of rows (0,1) and (2,3): a = the 4 rows' sums of
// the lane's 16 elements (low 128 bits: elements 0..15, high: 16..31). Clobbers t.
#define Q6PAIR2(a, b, t) \
	VPUNPCKHQDQ b, a, t \
	VPUNPCKLQDQ b, a, a \
	VPADDD      t, a, a

// Q6BLK accumulates activation block j of the super-block (quarter unpack U of the half
// at qa, qh) for the 8 rows into Y12. Frame: int32 scales sc[i] of the 8 rows at 32i(SP),
// their d (float32) at 512(SP). Clobbers Y0..Y11.
#define Q6BLK(U, qa, qh, j) \
	Q6R(U, qa, qh, (32*j), (BX), Y0, Y8) \
	Q6R(U, qa, qh, (32*j), (BX)(R8*1), Y1, Y9) \
	Q6PAIR1(Y0, Y1, Y8) \
	Q6R(U, qa, qh, (32*j), (BX)(R8*2), Y1, Y9) \
	Q6R(U, qa, qh, (32*j), (BX)(R11*1), Y2, Y10) \
	Q6PAIR1(Y1, Y2, Y9) \
	Q6PAIR2(Y0, Y1, Y9) \
	Q6R(U, qa, qh, (32*j), (R12), Y1, Y8) \
	Q6R(U, qa, qh, (32*j), (R12)(R8*1), Y2, Y9) \
	Q6PAIR1(Y1, Y2, Y8) \
	Q6R(U, qa, qh, (32*j), (R12)(R8*2), Y2, Y10) \
	Q6R(U, qa, qh, (32*j), (R12)(R11*1), Y3, Y11) \
	Q6PAIR1(Y2, Y3, Y10) \
	Q6PAIR2(Y1, Y2, Y10) \
	VMOVDQU      (32*j)(R13), Y2 \
	VPSHUFD      $0x4e, Y2, Y3 \
	VPADDD       Y3, Y2, Y2 \
	VPSHUFD      $0xb1, Y2, Y3 \
	VPADDD       Y3, Y2, Y2 \
	VPSLLD       $2, Y2, Y2 \
	VPSUBD       Y2, Y0, Y0 \
	VPSUBD       Y2, Y1, Y1 \
	VPERM2I128   $0x20, Y1, Y0, Y2 \
	VPERM2I128   $0x31, Y1, Y0, Y3 \
	VPMULLD      (64*j)(SP), Y2, Y2 \
	VPMULLD      (64*j+32)(SP), Y3, Y3 \
	VPADDD       Y3, Y2, Y2 \
	VCVTDQ2PS    Y2, Y2 \
	VBROADCASTSS (4*j)(R10), Y3 \
	VMULPS       512(SP), Y3, Y3 \
	VFMADD231PS  Y2, Y3, Y12

// Q6SC32 stores sc[4k+m] of the 8 rows (byte m of Yk's dwords, sign-extended) at
// 32·(4k+m)(SP). Clobbers Y4.
#define Q6SC32(yk, k, m) \
	VPSLLD $(24-8*m), yk, Y4 \
	VPSRAD $24, Y4, Y4 \
	VMOVDQU Y4, (32*(4*k+m))(SP)

#define Q6SC32K(yk, k) \
	Q6SC32(yk, k, 0) \
	Q6SC32(yk, k, 1) \
	Q6SC32(yk, k, 2) \
	Q6SC32(yk, k, 3)

// func q6kRows8AVX2(w *byte, rowBytes, groups int, xq *int8, xd *float32, xc *int32, nb int, y *float32)
TEXT ·q6kRows8AVX2(SB), NOSPLIT, $544-64
	MOVQ rowBytes+8(FP), R8
	LEAQ (R8)(R8*2), R11
	MOVQ w+0(FP), SI
	MOVQ groups+16(FP), R14
	MOVQ y+56(FP), DI
	Q6K8_CONSTS
q68grp:
	VXORPS Y12, Y12, Y12
	MOVQ   SI, BX
	LEAQ   (SI)(R8*4), R12
	LEAQ   (SI)(R8*8), AX     // prefetch: the next group of 8 rows, 8 bytes ahead per byte
	MOVQ   xq+24(FP), R9
	MOVQ   xd+32(FP), R10
	MOVQ   xc+40(FP), R13
	MOVQ   nb+48(FP), CX
	SHRQ   $3, CX
q68sb:
	Q6K8_T16(192)
	Q6SC32K(Y0, 0)
	Q6SC32K(Y1, 1)
	Q6SC32K(Y2, 2)
	Q6SC32K(Y3, 3)
	Q6K8_D
	VMOVUPS Y4, 512(SP)
	PREFETCHT0 (AX)
	PREFETCHT0 64(AX)
	PREFETCHT0 128(AX)
	PREFETCHT0 192(AX)
	PREFETCHT0 256(AX)
	PREFETCHT0 320(AX)
	PREFETCHT0 384(AX)
	Q6BLK(Q6U0, 0, 128, 0)
	Q6BLK(Q6U1, 0, 128, 1)
	PREFETCHT0 448(AX)
	PREFETCHT0 512(AX)
	PREFETCHT0 576(AX)
	PREFETCHT0 640(AX)
	PREFETCHT0 704(AX)
	PREFETCHT0 768(AX)
	PREFETCHT0 832(AX)
	Q6BLK(Q6U2, 0, 128, 2)
	Q6BLK(Q6U3, 0, 128, 3)
	PREFETCHT0 896(AX)
	PREFETCHT0 960(AX)
	PREFETCHT0 1024(AX)
	PREFETCHT0 1088(AX)
	PREFETCHT0 1152(AX)
	PREFETCHT0 1216(AX)
	PREFETCHT0 1280(AX)
	Q6BLK(Q6U0, 64, 160, 4)
	Q6BLK(Q6U1, 64, 160, 5)
	PREFETCHT0 1344(AX)
	PREFETCHT0 1408(AX)
	PREFETCHT0 1472(AX)
	PREFETCHT0 1536(AX)
	PREFETCHT0 1600(AX)
	PREFETCHT0 1664(AX)
	Q6BLK(Q6U2, 64, 160, 6)
	Q6BLK(Q6U3, 64, 160, 7)
	ADDQ $1680, AX
	ADDQ $210, BX
	ADDQ $210, R12
	ADDQ $256, R9
	ADDQ $32, R10
	ADDQ $256, R13
	DECQ CX
	JNZ  q68sb
	VMOVUPS Y12, (DI)
	ADDQ    $32, DI
	LEAQ    (SI)(R8*8), SI
	DECQ    R14
	JNZ     q68grp
	VZEROUPPER
	RET

// Q6GTOK adds to acc the 8 rows' scaled int32 products of the weights w (|w| in aw)
// with the token's 4-byte activation group at xo(DX); sc = the rows' int16 scale pairs
// of the half. Clobbers Y12.
#define Q6GTOK(xo, w, aw, sc, acc) \
	VPBROADCASTD xo(DX), Y12 \
	VPSIGNB      w, Y12, Y12 \
	VPMADDUBSW   Y12, aw, Y12 \
	VPMADDWD     sc, Y12, Y12 \
	VPADDD       Y12, acc, acc

// Q6GK loads the tile's vectors k at qo(SI) (|w|, w of elements 4k..4k+3, then of
// 16+4k..16+4k+3, of the 8 rows) and accumulates their products with the 4 tokens into
// Y0..Y3 (scale pairs: Y13 for elements 0..15, Y14 for 16..31).
#define Q6GK(qo, lo0, hi0, lo1, hi1, lo2, hi2, lo3, hi3) \
	VMOVDQU qo(SI), Y8 \
	VMOVDQU 32+qo(SI), Y10 \
	VMOVDQU 64+qo(SI), Y9 \
	VMOVDQU 96+qo(SI), Y11 \
	Q6GTOK(lo0, Y10, Y8, Y13, Y0) \
	Q6GTOK(hi0, Y11, Y9, Y14, Y0) \
	Q6GTOK(lo1, Y10, Y8, Y13, Y1) \
	Q6GTOK(hi1, Y11, Y9, Y14, Y1) \
	Q6GTOK(lo2, Y10, Y8, Y13, Y2) \
	Q6GTOK(hi2, Y11, Y9, Y14, Y2) \
	Q6GTOK(lo3, Y10, Y8, Y13, Y3) \
	Q6GTOK(hi3, Y11, Y9, Y14, Y3)

// Q6GFIN accumulates token t's block dot products acc (int32, the 8 rows) into facc with
// the rows' d (Y8, float32) times the token's scale at so(DX).
#define Q6GFIN(so, acc, facc) \
	VCVTDQ2PS    acc, acc \
	VBROADCASTSS so(DX), Y12 \
	VMULPS       Y8, Y12, Y12 \
	VFMADD231PS  acc, Y12, facc

// func q6kGemm8x4AVX2(w *byte, nb int, xg *byte, out *float32)
//
// The GEMM over a decoded tile (q6kTileBlockBytes) and 4 tokens (gqBlockBytes):
// out[8t+r] = Σ_b fma in block order of (d(r,b)·xd(t,b))·float32(s(r,t,b)).
TEXT ·q6kGemm8x4AVX2(SB), NOSPLIT, $0-32
	MOVQ w+0(FP), SI
	MOVQ nb+8(FP), CX
	MOVQ xg+16(FP), DX
	MOVQ out+24(FP), DI
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
q6gblk:
	VPXOR   Y0, Y0, Y0
	VPXOR   Y1, Y1, Y1
	VPXOR   Y2, Y2, Y2
	VPXOR   Y3, Y3, Y3
	VMOVDQU 32(SI), Y13
	VMOVDQU 64(SI), Y14
	Q6GK(96, 0, 16, 32, 48, 64, 80, 96, 112)
	Q6GK(224, 4, 20, 36, 52, 68, 84, 100, 116)
	Q6GK(352, 8, 24, 40, 56, 72, 88, 104, 120)
	Q6GK(480, 12, 28, 44, 60, 76, 92, 108, 124)
	VMOVUPS (SI), Y8
	Q6GFIN(144, Y0, Y4)
	Q6GFIN(148, Y1, Y5)
	Q6GFIN(152, Y2, Y6)
	Q6GFIN(156, Y3, Y7)
	ADDQ $608, SI
	ADDQ $160, DX
	DECQ CX
	JNZ  q6gblk
	VMOVUPS Y4, 0(DI)
	VMOVUPS Y5, 32(DI)
	VMOVUPS Y6, 64(DI)
	VMOVUPS Y7, 96(DI)
	VZEROUPPER
	RET

// Q6TW writes row base's signed weights w = q - 32 of the current block (unpack U) at
// ro(SP). Y12 = 32 bytes; clobbers Y0, Y1.
#define Q6TW(U, qa, qh, base, ro) \
	U(qa, qh, base, Y0, Y1) \
	VPSUBB  Y12, Y0, Y0 \
	VMOVDQU Y0, ro(SP)

// Q6T_LOAD transposes the 16 bytes at off of the 8 rows' weights in the frame (row r at
// 32r(SP)) into d0..d3 (x0..x3 their low halves; dk: bytes off+4k..off+4k+3 of rows
// 0..3 | rows 4..7); clobbers t0..t3.
#define Q6T_LOAD(off, x0, x1, x2, x3, d0, d1, d2, d3, t0, t1, t2, t3) \
	VMOVDQU     off(SP), x0 \
	VINSERTI128 $1, (128+off)(SP), d0, d0 \
	VMOVDQU     (32+off)(SP), x1 \
	VINSERTI128 $1, (160+off)(SP), d1, d1 \
	VMOVDQU     (64+off)(SP), x2 \
	VINSERTI128 $1, (192+off)(SP), d2, d2 \
	VMOVDQU     (96+off)(SP), x3 \
	VINSERTI128 $1, (224+off)(SP), d3, d3 \
	TRANSPOSE4D(d0, d1, d2, d3, t0, t1, t2, t3)

// Q6TK stores |lo|, lo, |hi|, hi at qo(DI); clobbers t.
#define Q6TK(lo, hi, qo, t) \
	VPABSB  lo, t \
	VMOVDQU t, qo(DI) \
	VMOVDQU lo, 32+qo(DI) \
	VPABSB  hi, t \
	VMOVDQU t, 64+qo(DI) \
	VMOVDQU hi, 96+qo(DI)

// Q6TBLK writes block j's tile column (without the scales) at DI + 608·j.
#define Q6TBLK(U, qa, qh, j) \
	Q6TW(U, qa, qh, (BX), 0) \
	Q6TW(U, qa, qh, (BX)(R8*1), 32) \
	Q6TW(U, qa, qh, (BX)(R8*2), 64) \
	Q6TW(U, qa, qh, (BX)(R11*1), 96) \
	Q6TW(U, qa, qh, (R12), 128) \
	Q6TW(U, qa, qh, (R12)(R8*1), 160) \
	Q6TW(U, qa, qh, (R12)(R8*2), 192) \
	Q6TW(U, qa, qh, (R12)(R11*1), 224) \
	Q6T_LOAD(0, X0, X1, X2, X3, Y0, Y1, Y2, Y3, Y8, Y9, Y10, Y11) \
	Q6T_LOAD(16, X4, X5, X6, X7, Y4, Y5, Y6, Y7, Y8, Y9, Y10, Y11) \
	Q6TK(Y0, Y4, (608*j+96), Y8) \
	Q6TK(Y1, Y5, (608*j+224), Y9) \
	Q6TK(Y2, Y6, (608*j+352), Y10) \
	Q6TK(Y3, Y7, (608*j+480), Y11)

// Q6TSC stores the int16 scale pairs of sc[4k+m] (from Yk) at the scale slot so of its
// block column: block (4k+m)/2, elements 0..15 for even m, 16..31 for odd. Clobbers Y8.
#define Q6TSC(yk, k, m) \
	VPSHUFB q6k8sh<>+(32*m)(SB), yk, Y8 \
	VPSRAW  $8, Y8, Y8 \
	VMOVDQU Y8, (608*((4*k+m)/2)+32+32*(m%2))(DI)

#define Q6TSCK(yk, k) \
	Q6TSC(yk, k, 0) \
	Q6TSC(yk, k, 1) \
	Q6TSC(yk, k, 2) \
	Q6TSC(yk, k, 3)

// func q6kTile8AVX2(w *byte, rowBytes, nb int, dst *byte)
//
// q6kTile8 for a full tile of 8 Q6_K rows and nb ≥ 8 (a multiple of 8) blocks.
TEXT ·q6kTile8AVX2(SB), NOSPLIT, $256-32
	MOVQ w+0(FP), BX
	MOVQ rowBytes+8(FP), R8
	MOVQ nb+16(FP), CX
	MOVQ dst+24(FP), DI
	SHRQ $3, CX
	LEAQ (R8)(R8*2), R11
	LEAQ (BX)(R8*4), R12
	VBROADCASTI128 q6k8c<>+0(SB), Y15
	VBROADCASTI128 q6k8c<>+16(SB), Y14
	VBROADCASTI128 q6k8c<>+32(SB), Y12
q6tsb:
	Q6K8_T16(192)
	Q6TSCK(Y0, 0)
	Q6TSCK(Y1, 1)
	Q6TSCK(Y2, 2)
	Q6TSCK(Y3, 3)
	Q6K8_D
	VMOVUPS Y4, 0(DI)
	VMOVUPS Y4, 608(DI)
	VMOVUPS Y4, 1216(DI)
	VMOVUPS Y4, 1824(DI)
	VMOVUPS Y4, 2432(DI)
	VMOVUPS Y4, 3040(DI)
	VMOVUPS Y4, 3648(DI)
	VMOVUPS Y4, 4256(DI)
	Q6TBLK(Q6U0, 0, 128, 0)
	Q6TBLK(Q6U1, 0, 128, 1)
	Q6TBLK(Q6U2, 0, 128, 2)
	Q6TBLK(Q6U3, 0, 128, 3)
	Q6TBLK(Q6U0, 64, 160, 4)
	Q6TBLK(Q6U1, 64, 160, 5)
	Q6TBLK(Q6U2, 64, 160, 6)
	Q6TBLK(Q6U3, 64, 160, 7)
	ADDQ $210, BX
	ADDQ $210, R12
	ADDQ $4864, DI
	DECQ CX
	JNZ  q6tsb
	VZEROUPPER
	RET
