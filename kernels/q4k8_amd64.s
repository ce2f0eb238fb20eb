//go:build !purego

#include "textflag.h"
#include "rows8_amd64.h"

// Q4_K 8-row decode kernel and 8-row × 4-token GEMM (AVX2); the arithmetic is in q4k.go
// (above q4kTileBlockBytes). As in the other 8-row kernels (nib8_amd64.s) the 8 rows'
// bytes of a super-block are transposed so that one 32-byte vector holds 4 bytes of
// every row and the accumulator lanes are the rows. The nibbles are unsigned, so
// VPMADDUBSW takes them as they are (no sign trick); a pair sum is at most
// 2·15·128 = 3840, so the 8 products of a sub-block add up in int16 (≤ 30720) before
// one VPMADDWD widens them. The rows' 6-bit scales and mins are unpacked for 8 rows at
// once from the transposed first 16 bytes of the super-blocks (d, dmin, the 12 scale
// bytes). The decode kernel keeps A_j, B_j of the current super-block in its frame; the
// GEMM reads them from the tile (q4kTileBlockBytes) built by q4kTile8AVX2.

// q4k8dm gathers per 128-bit lane the four rows' fp16 d (bytes 0..7) and dmin (8..15)
// from the transposed dwords d|dmin.
DATA q4k8dm<>+0(SB)/8, $0x0d0c090805040100
DATA q4k8dm<>+8(SB)/8, $0x0f0e0b0a07060302
DATA q4k8dm<>+16(SB)/8, $0x0d0c090805040100
DATA q4k8dm<>+24(SB)/8, $0x0f0e0b0a07060302
GLOBL q4k8dm<>(SB), RODATA|NOPTR, $32

// q4k8ext+32i extracts byte i of every dword as an int32.
DATA q4k8ext<>+0(SB)/8, $0x8080800480808000
DATA q4k8ext<>+8(SB)/8, $0x8080800c80808008
DATA q4k8ext<>+16(SB)/8, $0x8080800480808000
DATA q4k8ext<>+24(SB)/8, $0x8080800c80808008
DATA q4k8ext<>+32(SB)/8, $0x8080800580808001
DATA q4k8ext<>+40(SB)/8, $0x8080800d80808009
DATA q4k8ext<>+48(SB)/8, $0x8080800580808001
DATA q4k8ext<>+56(SB)/8, $0x8080800d80808009
DATA q4k8ext<>+64(SB)/8, $0x8080800680808002
DATA q4k8ext<>+72(SB)/8, $0x8080800e8080800a
DATA q4k8ext<>+80(SB)/8, $0x8080800680808002
DATA q4k8ext<>+88(SB)/8, $0x8080800e8080800a
DATA q4k8ext<>+96(SB)/8, $0x8080800780808003
DATA q4k8ext<>+104(SB)/8, $0x8080800f8080800b
DATA q4k8ext<>+112(SB)/8, $0x8080800780808003
DATA q4k8ext<>+120(SB)/8, $0x8080800f8080800b
GLOBL q4k8ext<>(SB), RODATA|NOPTR, $128

DATA q4k8c3f<>+0(SB)/8, $0x3f3f3f3f3f3f3f3f
DATA q4k8c3f<>+8(SB)/8, $0x3f3f3f3f3f3f3f3f
DATA q4k8c3f<>+16(SB)/8, $0x3f3f3f3f3f3f3f3f
DATA q4k8c3f<>+24(SB)/8, $0x3f3f3f3f3f3f3f3f
GLOBL q4k8c3f<>(SB), RODATA|NOPTR, $32

DATA q4k8c30<>+0(SB)/8, $0x3030303030303030
DATA q4k8c30<>+8(SB)/8, $0x3030303030303030
DATA q4k8c30<>+16(SB)/8, $0x3030303030303030
DATA q4k8c30<>+24(SB)/8, $0x3030303030303030
GLOBL q4k8c30<>(SB), RODATA|NOPTR, $32

DATA q4k8eighth<>+0(SB)/8, $0x3e0000003e000000
DATA q4k8eighth<>+8(SB)/8, $0x3e0000003e000000
DATA q4k8eighth<>+16(SB)/8, $0x3e0000003e000000
DATA q4k8eighth<>+24(SB)/8, $0x3e0000003e000000
GLOBL q4k8eighth<>(SB), RODATA|NOPTR, $32

// Q4K8_T loads the 16 bytes at qoff of the 8 rows' current super-blocks (rows 0..3 at
// BX, BX+R8, BX+2·R8, BX+R11; rows 4..7 the same from R12) and transposes them into
// d0..d3 (x0..x3: their low halves; dk: bytes 4k..4k+3 of rows 0..3 | rows 4..7).
// Clobbers t0..t3.
#define Q4K8_T(qoff, x0, x1, x2, x3, d0, d1, d2, d3, t0, t1, t2, t3) \
	LOAD8T(qoff, x0, x1, x2, x3, d0, d1, d2, d3, t0, t1, t2, t3)

// Q4K8_SC stores mul·float32(byte i of each dword of src) (i = mo/32) at dst; clobbers Y4.
#define Q4K8_SC(src, mo, mul, dst) \
	VPSHUFB   q4k8ext<>+mo(SB), src, Y4 \
	VCVTDQ2PS Y4, Y4 \
	VMULPS    mul, Y4, Y4 \
	VMOVUPS   Y4, dst

// Q4K8_SCALES: with Y0..Y3 the transposed first 16 bytes of the 8 rows' super-blocks
// (Y0: d|dmin, Y1..Y3: scale bytes 0..3, 4..7, 8..11), stores for j < 8 the rows'
// A_j = d·sc_j at (a+s·j)(base) and B_j = (dmin·0.125)·m_j at (b+s·j)(base) (get_scale_min_k4
// on bytes: sc_j = s_j&63, m_j = s_{j+4}&63, sc_{j+4} = s_{j+8}&15 | (s_j>>6)<<4,
// m_{j+4} = s_{j+8}>>4 | (s_{j+4}>>6)<<4 for j < 4). Y15 = 0x0f mask; clobbers Y4..Y10.
#define Q4K8_SCALES(base, a, b, s) \
	VPSHUFB      q4k8dm<>(SB), Y0, Y4 \
	VPERMQ       $0xd8, Y4, Y4 \
	VCVTPH2PS    X4, Y5 \
	VEXTRACTI128 $1, Y4, X4 \
	VCVTPH2PS    X4, Y6 \
	VMULPS       q4k8eighth<>(SB), Y6, Y6 \
	VPAND        q4k8c3f<>(SB), Y1, Y7 \
	VPAND        q4k8c3f<>(SB), Y2, Y9 \
	VPSRLW       $2, Y1, Y8 \
	VPAND        q4k8c30<>(SB), Y8, Y8 \
	VPAND        Y15, Y3, Y4 \
	VPOR         Y4, Y8, Y8 \
	VPSRLW       $2, Y2, Y10 \
	VPAND        q4k8c30<>(SB), Y10, Y10 \
	VPSRLW       $4, Y3, Y4 \
	VPAND        Y15, Y4, Y4 \
	VPOR         Y4, Y10, Y10 \
	Q4K8_SC(Y7, 0, Y5, (a)(base)) \
	Q4K8_SC(Y7, 32, Y5, (a+s)(base)) \
	Q4K8_SC(Y7, 64, Y5, (a+2*s)(base)) \
	Q4K8_SC(Y7, 96, Y5, (a+3*s)(base)) \
	Q4K8_SC(Y8, 0, Y5, (a+4*s)(base)) \
	Q4K8_SC(Y8, 32, Y5, (a+5*s)(base)) \
	Q4K8_SC(Y8, 64, Y5, (a+6*s)(base)) \
	Q4K8_SC(Y8, 96, Y5, (a+7*s)(base)) \
	Q4K8_SC(Y9, 0, Y6, (b)(base)) \
	Q4K8_SC(Y9, 32, Y6, (b+s)(base)) \
	Q4K8_SC(Y9, 64, Y6, (b+2*s)(base)) \
	Q4K8_SC(Y9, 96, Y6, (b+3*s)(base)) \
	Q4K8_SC(Y10, 0, Y6, (b+4*s)(base)) \
	Q4K8_SC(Y10, 32, Y6, (b+5*s)(base)) \
	Q4K8_SC(Y10, 64, Y6, (b+6*s)(base)) \
	Q4K8_SC(Y10, 96, Y6, (b+7*s)(base))

// Q4K8_CSUM stores the 8 activation blocks' c = Σ of their 8 lane offsets at R13 (that
// is 8·Σq) as float32 at dst. Clobbers Y0..Y3.
#define Q4K8_CSUM(dst) \
	VMOVDQU    0(R13), Y0 \
	VPHADDD    32(R13), Y0, Y0 \
	VMOVDQU    64(R13), Y1 \
	VPHADDD    96(R13), Y1, Y1 \
	VMOVDQU    128(R13), Y2 \
	VPHADDD    160(R13), Y2, Y2 \
	VMOVDQU    192(R13), Y3 \
	VPHADDD    224(R13), Y3, Y3 \
	VPHADDD    Y1, Y0, Y0 \
	VPHADDD    Y3, Y2, Y2 \
	VPERM2I128 $0x20, Y2, Y0, Y1 \
	VPERM2I128 $0x31, Y2, Y0, Y3 \
	VPADDD     Y3, Y1, Y1 \
	VCVTDQ2PS  Y1, Y1 \
	VMOVUPS    Y1, dst

// Q4K8_K multiplies the transposed bytes yk (elements 4k..4k+3 of a sub-block pair) with
// the activation groups at xl(R9) (low nibbles) and xh(R9) (high nibbles), leaving the
// int16 pair sums in yk and yh. Y15 = mask; clobbers ba, bb.
#define Q4K8_K(yk, yh, xl, xh, ba, bb) \
	VPSRLW       $4, yk, yh \
	VPAND        Y15, yk, yk \
	VPAND        Y15, yh, yh \
	VPBROADCASTD xl(R9), ba \
	VPMADDUBSW   ba, yk, yk \
	VPBROADCASTD xh(R9), bb \
	VPMADDUBSW   bb, yh, yh

// Q4K8_FIN adds the int16 sums acc of one sub-block to Y13: u = A·float32(s),
// u -= B·float32(c), Y13 += xd·u (fused) with A at ao(SP), B at bo(SP), xd at xdo(R10),
// c at co(SP). Y14 = int16 ones; clobbers Y8, Y9.
#define Q4K8_FIN(acc, ao, bo, xdo, co) \
	VPMADDWD     Y14, acc, acc \
	VCVTDQ2PS    acc, acc \
	VMULPS       ao(SP), acc, acc \
	VBROADCASTSS co(SP), Y9 \
	VFNMADD231PS bo(SP), Y9, acc \
	VBROADCASTSS xdo(R10), Y8 \
	VFMADD231PS  Y8, acc, Y13

// Q4K8_CHUNK accumulates sub-blocks 2c and 2c+1 (nibbles at 16+32c of the super-block;
// activations at 64c(R9) and 64c+32(R9)) into Y13, and prefetches 320 bytes of the next
// group at po(AX).
#define Q4K8_CHUNK(qo, xo, ao, xdo, co, po) \
	PREFETCHT0 po(AX) \
	PREFETCHT0 (po+64)(AX) \
	PREFETCHT0 (po+128)(AX) \
	PREFETCHT0 (po+192)(AX) \
	PREFETCHT0 (po+256)(AX) \
	Q4K8_T(qo, X0, X1, X2, X3, Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7) \
	Q4K8_K(Y0, Y4, xo, xo+32, Y8, Y9) \
	Q4K8_K(Y1, Y5, xo+4, xo+36, Y8, Y9) \
	Q4K8_K(Y2, Y6, xo+8, xo+40, Y10, Y11) \
	Q4K8_K(Y3, Y7, xo+12, xo+44, Y10, Y11) \
	VPADDW Y1, Y0, Y0 \
	VPADDW Y5, Y4, Y4 \
	VPADDW Y3, Y2, Y2 \
	VPADDW Y7, Y6, Y6 \
	VPADDW Y2, Y0, Y0 \
	VPADDW Y6, Y4, Y4 \
	Q4K8_T(qo+16, X1, X2, X3, X5, Y1, Y2, Y3, Y5, Y6, Y7, Y8, Y9) \
	Q4K8_K(Y1, Y6, xo+16, xo+48, Y10, Y11) \
	Q4K8_K(Y2, Y7, xo+20, xo+52, Y12, Y10) \
	Q4K8_K(Y3, Y8, xo+24, xo+56, Y11, Y12) \
	Q4K8_K(Y5, Y9, xo+28, xo+60, Y10, Y11) \
	VPADDW Y2, Y1, Y1 \
	VPADDW Y7, Y6, Y6 \
	VPADDW Y5, Y3, Y3 \
	VPADDW Y9, Y8, Y8 \
	VPADDW Y3, Y1, Y1 \
	VPADDW Y8, Y6, Y6 \
	VPADDW Y1, Y0, Y0 \
	VPADDW Y6, Y4, Y4 \
	Q4K8_FIN(Y0, ao, ao+256, xdo, co) \
	Q4K8_FIN(Y4, ao+32, ao+288, xdo+4, co+4)

// func q4kRows8AVX2(w *byte, rowBytes, groups int, xq *int8, xd *float32, xc *int32, nsb int, y *float32)
//
// Decode over groups of 8 Q4_K rows of nsb super-blocks: y[8g+r] as q4kGemm8x4AVX2
// gives it for tile row r and one token, bit for bit. Frame: A_j at 32j(SP), B_j at
// 256+32j(SP), the 8 blocks' float32(c) at 512(SP).
TEXT ·q4kRows8AVX2(SB), 0, $544-64
	MOVQ rowBytes+8(FP), R8
	LEAQ (R8)(R8*2), R11
	MOVQ w+0(FP), SI
	MOVQ groups+16(FP), R14
	MOVQ y+56(FP), DI
	MOVL         $0x0f0f0f0f, AX
	VMOVD        AX, X15
	VPBROADCASTD X15, Y15
	MOVL         $0x00010001, AX
	VMOVD        AX, X14
	VPBROADCASTD X14, Y14

q4k8grp:
	VXORPS Y13, Y13, Y13
	MOVQ   SI, BX
	LEAQ   (SI)(R8*4), R12
	MOVQ   xq+24(FP), R9
	MOVQ   xd+32(FP), R10
	MOVQ   xc+40(FP), R13
	MOVQ   nsb+48(FP), CX

q4k8sb:
	MOVQ BX, AX
	SUBQ SI, AX
	LEAQ (SI)(AX*8), AX
	LEAQ (AX)(R8*8), AX // the next group, 8·(BX-SI) bytes into it
	Q4K8_CSUM(512(SP))
	Q4K8_T(0, X0, X1, X2, X3, Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7)
	Q4K8_SCALES(SP, 0, 256, 32)
	Q4K8_CHUNK(16, 0, 0, 0, 512, 0)
	Q4K8_CHUNK(48, 64, 64, 8, 520, 320)
	Q4K8_CHUNK(80, 128, 128, 16, 528, 640)
	Q4K8_CHUNK(112, 192, 192, 24, 536, 960)
	ADDQ $144, BX
	ADDQ $144, R12
	ADDQ $256, R9
	ADDQ $32, R10
	ADDQ $256, R13
	DECQ CX
	JNZ  q4k8sb

	VMOVUPS Y13, (DI)
	ADDQ    $32, DI
	LEAQ    (SI)(R8*8), SI
	DECQ    R14
	JNZ     q4k8grp
	VZEROUPPER
	RET

// Q4K8_TSTORE stores the low nibbles of yk at lo(DI) and the high ones at hi(DI) (as
// bytes). Y15 = mask; clobbers Y8.
#define Q4K8_TSTORE(yk, lo, hi) \
	VPSRLW  $4, yk, Y8 \
	VPAND   Y15, yk, yk \
	VPAND   Y15, Y8, Y8 \
	VMOVDQU yk, lo(DI) \
	VMOVDQU Y8, hi(DI)

// Q4K8_TCHUNK writes sub-blocks 2c, 2c+1 (nibbles at qo of the super-block) into the
// tile columns at to(DI) and to+320(DI).
#define Q4K8_TCHUNK(qo, to) \
	Q4K8_T(qo, X0, X1, X2, X3, Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7) \
	Q4K8_TSTORE(Y0, to+64, to+384) \
	Q4K8_TSTORE(Y1, to+96, to+416) \
	Q4K8_TSTORE(Y2, to+128, to+448) \
	Q4K8_TSTORE(Y3, to+160, to+480) \
	Q4K8_T(qo+16, X0, X1, X2, X3, Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7) \
	Q4K8_TSTORE(Y0, to+192, to+512) \
	Q4K8_TSTORE(Y1, to+224, to+544) \
	Q4K8_TSTORE(Y2, to+256, to+576) \
	Q4K8_TSTORE(Y3, to+288, to+608)

// func q4kTile8AVX2(w *byte, rowBytes, nsb int, dst *byte)
//
// q4kTile8 for a full tile of 8 Q4_K rows of nsb super-blocks.
TEXT ·q4kTile8AVX2(SB), NOSPLIT, $0-32
	MOVQ w+0(FP), BX
	MOVQ BX, SI
	MOVQ rowBytes+8(FP), R8
	MOVQ nsb+16(FP), CX
	MOVQ dst+24(FP), DI
	LEAQ (R8)(R8*2), R11
	LEAQ (BX)(R8*4), R12
	MOVL         $0x0f0f0f0f, AX
	VMOVD        AX, X15
	VPBROADCASTD X15, Y15

q4kt8sb:
	Q4K8_T(0, X0, X1, X2, X3, Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7)
	Q4K8_SCALES(DI, 0, 32, 320)
	Q4K8_TCHUNK(16, 0)
	Q4K8_TCHUNK(48, 640)
	Q4K8_TCHUNK(80, 1280)
	Q4K8_TCHUNK(112, 1920)
	ADDQ $144, BX
	ADDQ $144, R12
	ADDQ $2560, DI
	DECQ CX
	JNZ  q4kt8sb
	VZEROUPPER
	RET

// Q4KG_K adds the products of the tile's vector k (at 64+32k(SI)) with the 4 tokens'
// activation groups (at 32t+4k(DX)) to the int16 sums Y0..Y3. Clobbers Y8..Y12.
#define Q4KG_K(wo, xo) \
	VMOVDQU      wo(SI), Y8 \
	VPBROADCASTD xo(DX), Y9 \
	VPMADDUBSW   Y9, Y8, Y9 \
	VPADDW       Y9, Y0, Y0 \
	VPBROADCASTD (xo+32)(DX), Y10 \
	VPMADDUBSW   Y10, Y8, Y10 \
	VPADDW       Y10, Y1, Y1 \
	VPBROADCASTD (xo+64)(DX), Y11 \
	VPMADDUBSW   Y11, Y8, Y11 \
	VPADDW       Y11, Y2, Y2 \
	VPBROADCASTD (xo+96)(DX), Y12 \
	VPMADDUBSW   Y12, Y8, Y12 \
	VPADDW       Y12, Y3, Y3

// Q4KG_FIN adds token t's int16 sums acc to facc as Q4K8_FIN does: u = A·float32(s),
// u -= B·float32(c), facc += xd·u (A at 0(SI), B at 32(SI), xd at 144+4t(DX), c at
// 128+4t(DX)). Y14 = int16 ones; clobbers Y9, Y10.
#define Q4KG_FIN(t, acc, facc) \
	VPMADDWD     Y14, acc, acc \
	VCVTDQ2PS    acc, acc \
	VMULPS       0(SI), acc, acc \
	VBROADCASTSS (128+4*t)(DX), Y9 \
	VCVTDQ2PS    Y9, Y9 \
	VFNMADD231PS 32(SI), Y9, acc \
	VBROADCASTSS (144+4*t)(DX), Y10 \
	VFMADD231PS  Y10, acc, facc

// func q4kGemm8x4AVX2(w *byte, nb int, xg *byte, out *float32)
//
// The Q4_K GEMM over nb tile columns (q4kTileBlockBytes) and one 4-token group
// (gqBlockBytes): out[8t+r] = y of tile row r and token t (q4k.go).
TEXT ·q4kGemm8x4AVX2(SB), NOSPLIT, $0-32
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

q4kgblk:
	VMOVDQU      64(SI), Y8
	VPBROADCASTD 0(DX), Y9
	VPMADDUBSW   Y9, Y8, Y0
	VPBROADCASTD 32(DX), Y10
	VPMADDUBSW   Y10, Y8, Y1
	VPBROADCASTD 64(DX), Y11
	VPMADDUBSW   Y11, Y8, Y2
	VPBROADCASTD 96(DX), Y12
	VPMADDUBSW   Y12, Y8, Y3
	Q4KG_K(96, 4)
	Q4KG_K(128, 8)
	Q4KG_K(160, 12)
	Q4KG_K(192, 16)
	Q4KG_K(224, 20)
	Q4KG_K(256, 24)
	Q4KG_K(288, 28)
	Q4KG_FIN(0, Y0, Y4)
	Q4KG_FIN(1, Y1, Y5)
	Q4KG_FIN(2, Y2, Y6)
	Q4KG_FIN(3, Y3, Y7)
	ADDQ $320, SI
	ADDQ $160, DX
	DECQ CX
	JNZ  q4kgblk

	VMOVUPS Y4, 0(DI)
	VMOVUPS Y5, 32(DI)
	VMOVUPS Y6, 64(DI)
	VMOVUPS Y7, 96(DI)
	VZEROUPPER
	RET
