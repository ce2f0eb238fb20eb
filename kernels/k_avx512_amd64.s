//go:build !purego

#include "textflag.h"
#include "rows8_amd64.h"

// AVX-512 (F, BW, VL, VNNI) versions of the Q4_K and Q6_K 8-row decode kernels and
// 8-row × 4-token GEMMs (q4k8_amd64.s, q6k8_amd64.s). Each gives bit for bit the result
// of the AVX2 function it replaces: the integer sums per row and 32-element block are
// exact whatever instructions compute them, and every float operation (conversions,
// products, fused multiply-adds, their operands and their order per output) is the
// one the AVX2 kernel does. The gains: VPDPBUSD (u8 × s8 products summed by 4 into
// int32 and accumulated) replaces VPMADDUBSW + VPADDW (+ VPMADDWD); embedded broadcasts
// (.BCST) fold the activation and scale broadcasts into the instructions that use them;
// the 32 vector registers hold what the AVX2 kernels keep in their frames; the Q6_K
// decode works on two 32-element blocks per 512-bit register and the Q6_K GEMM on two
// tokens per 512-bit register.
//
// Like every kernel tested under Bochs (bochs_amd64_test.go), these are NOSPLIT and call
// nothing.
//
// Instructions per super-block (256 weights) and 8 rows in the loops, counted in the
// test binary's machine code (objdump; AVX2 / AVX-512):
//
//	Q4_K decode   607 / 273.5 (547 per 16-row pass; prefetches 20 / 18)
//	Q4_K GEMM     1088 / 560  (136 / 70 per block column and 4 tokens)
//	Q6_K decode   837 / 416   (prefetches 27 / 27)
//	Q6_K GEMM     1624 / 688  (203 / 86 per block column and 4 tokens)
//	Q6_K tile     1014 / 498  (once per MatMul and tile)
//
// The Q4_K tile builder stays the AVX2 one (390 per super-block, under 5% of the GEMM's
// time from 32 tokens on).

// k5c: 0x3f bytes, 0x30 bytes, 0.125 as float32, 0x80 bytes, 0x0f bytes, 0x20 bytes (4 bytes
// each, for embedded or register broadcasts).
DATA k5c<>+0(SB)/4, $0x3f3f3f3f
DATA k5c<>+4(SB)/4, $0x30303030
DATA k5c<>+8(SB)/4, $0x3e000000
DATA k5c<>+12(SB)/4, $0x80808080
DATA k5c<>+16(SB)/4, $0x0f0f0f0f
DATA k5c<>+20(SB)/4, $0x20202020
GLOBL k5c<>(SB), RODATA|NOPTR, $24

// k6t44: per 128-bit lane, the 4×4 byte transpose (byte 4r+m to byte 4m+r).
DATA k6t44<>+0(SB)/8, $0x0d0905010c080400
DATA k6t44<>+8(SB)/8, $0x0f0b07030e0a0602
DATA k6t44<>+16(SB)/8, $0x0d0905010c080400
DATA k6t44<>+24(SB)/8, $0x0f0b07030e0a0602
GLOBL k6t44<>(SB), RODATA|NOPTR, $32

// k6sh: VPSLLVW counts 4 (words 0..15) and 2 (16..31), then VPSRLVW counts 0 and 2.
DATA k6sh<>+0(SB)/8, $0x0004000400040004
DATA k6sh<>+8(SB)/8, $0x0004000400040004
DATA k6sh<>+16(SB)/8, $0x0004000400040004
DATA k6sh<>+24(SB)/8, $0x0004000400040004
DATA k6sh<>+32(SB)/8, $0x0002000200020002
DATA k6sh<>+40(SB)/8, $0x0002000200020002
DATA k6sh<>+48(SB)/8, $0x0002000200020002
DATA k6sh<>+56(SB)/8, $0x0002000200020002
DATA k6sh<>+64(SB)/8, $0
DATA k6sh<>+72(SB)/8, $0
DATA k6sh<>+80(SB)/8, $0
DATA k6sh<>+88(SB)/8, $0
DATA k6sh<>+96(SB)/8, $0x0002000200020002
DATA k6sh<>+104(SB)/8, $0x0002000200020002
DATA k6sh<>+112(SB)/8, $0x0002000200020002
DATA k6sh<>+120(SB)/8, $0x0002000200020002
GLOBL k6sh<>(SB), RODATA|NOPTR, $128

// k6idx+64m: the VPERMD index putting dword m of a register's low 256 bits in its low
// 256 bits and dword m of its high 256 bits in its high 256 bits (m < 8).
#define K6IDX(m) \
	DATA k6idx<>+(64*m)(SB)/8, $(m | m<<32) \
	DATA k6idx<>+(64*m+8)(SB)/8, $(m | m<<32) \
	DATA k6idx<>+(64*m+16)(SB)/8, $(m | m<<32) \
	DATA k6idx<>+(64*m+24)(SB)/8, $(m | m<<32) \
	DATA k6idx<>+(64*m+32)(SB)/8, $((m+8) | (m+8)<<32) \
	DATA k6idx<>+(64*m+40)(SB)/8, $((m+8) | (m+8)<<32) \
	DATA k6idx<>+(64*m+48)(SB)/8, $((m+8) | (m+8)<<32) \
	DATA k6idx<>+(64*m+56)(SB)/8, $((m+8) | (m+8)<<32)

K6IDX(0)
K6IDX(1)
K6IDX(2)
K6IDX(3)
K6IDX(4)
K6IDX(5)
K6IDX(6)
K6IDX(7)
GLOBL k6idx<>(SB), RODATA|NOPTR, $512

// ---- Q4_K ----

// k5ext64+64i extracts byte i of every dword as an int32 (q4k8ext for 512 bits).
DATA k5ext64<>+0(SB)/8, $0x8080800480808000
DATA k5ext64<>+8(SB)/8, $0x8080800c80808008
DATA k5ext64<>+16(SB)/8, $0x8080800480808000
DATA k5ext64<>+24(SB)/8, $0x8080800c80808008
DATA k5ext64<>+32(SB)/8, $0x8080800480808000
DATA k5ext64<>+40(SB)/8, $0x8080800c80808008
DATA k5ext64<>+48(SB)/8, $0x8080800480808000
DATA k5ext64<>+56(SB)/8, $0x8080800c80808008
DATA k5ext64<>+64(SB)/8, $0x8080800580808001
DATA k5ext64<>+72(SB)/8, $0x8080800d80808009
DATA k5ext64<>+80(SB)/8, $0x8080800580808001
DATA k5ext64<>+88(SB)/8, $0x8080800d80808009
DATA k5ext64<>+96(SB)/8, $0x8080800580808001
DATA k5ext64<>+104(SB)/8, $0x8080800d80808009
DATA k5ext64<>+112(SB)/8, $0x8080800580808001
DATA k5ext64<>+120(SB)/8, $0x8080800d80808009
DATA k5ext64<>+128(SB)/8, $0x8080800680808002
DATA k5ext64<>+136(SB)/8, $0x8080800e8080800a
DATA k5ext64<>+144(SB)/8, $0x8080800680808002
DATA k5ext64<>+152(SB)/8, $0x8080800e8080800a
DATA k5ext64<>+160(SB)/8, $0x8080800680808002
DATA k5ext64<>+168(SB)/8, $0x8080800e8080800a
DATA k5ext64<>+176(SB)/8, $0x8080800680808002
DATA k5ext64<>+184(SB)/8, $0x8080800e8080800a
DATA k5ext64<>+192(SB)/8, $0x8080800780808003
DATA k5ext64<>+200(SB)/8, $0x8080800f8080800b
DATA k5ext64<>+208(SB)/8, $0x8080800780808003
DATA k5ext64<>+216(SB)/8, $0x8080800f8080800b
DATA k5ext64<>+224(SB)/8, $0x8080800780808003
DATA k5ext64<>+232(SB)/8, $0x8080800f8080800b
DATA k5ext64<>+240(SB)/8, $0x8080800780808003
DATA k5ext64<>+248(SB)/8, $0x8080800f8080800b
GLOBL k5ext64<>(SB), RODATA|NOPTR, $256

// k5dm64 gathers per 128-bit lane the four rows' fp16 d (bytes 0..7) and dmin (8..15)
// from the transposed dwords d|dmin (q4k8dm for 512 bits).
DATA k5dm64<>+0(SB)/8, $0x0d0c090805040100
DATA k5dm64<>+8(SB)/8, $0x0f0e0b0a07060302
DATA k5dm64<>+16(SB)/8, $0x0d0c090805040100
DATA k5dm64<>+24(SB)/8, $0x0f0e0b0a07060302
DATA k5dm64<>+32(SB)/8, $0x0d0c090805040100
DATA k5dm64<>+40(SB)/8, $0x0f0e0b0a07060302
DATA k5dm64<>+48(SB)/8, $0x0d0c090805040100
DATA k5dm64<>+56(SB)/8, $0x0f0e0b0a07060302
GLOBL k5dm64<>(SB), RODATA|NOPTR, $64

// k5qperm: the VPERMQ index of qwords 0, 2, 4, 6, 1, 3, 5, 7 (the 16 rows' d, then dmin).
DATA k5qperm<>+0(SB)/8, $0
DATA k5qperm<>+8(SB)/8, $2
DATA k5qperm<>+16(SB)/8, $4
DATA k5qperm<>+24(SB)/8, $6
DATA k5qperm<>+32(SB)/8, $1
DATA k5qperm<>+40(SB)/8, $3
DATA k5qperm<>+48(SB)/8, $5
DATA k5qperm<>+56(SB)/8, $7
GLOBL k5qperm<>(SB), RODATA|NOPTR, $64

// The decode kernel runs two groups of 8 rows per pass (16 rows, one per dword of a
// 512-bit register; the activation dwords are the same for both groups, so they stay
// embedded broadcasts). An odd last group runs as a pass whose second group is the
// first one again, storing only its 8 results.

// K5_SC: dst = mul·float32(byte i of each dword of src) (i = mo/64), the operations of
// Q4K8_SC (without the store).
#define K5_SC(src, mo, mul, dst) \
	VPSHUFB   k5ext64<>+mo(SB), src, dst \
	VCVTDQ2PS dst, dst \
	VMULPS    mul, dst, dst

// K5_SCALES: with Z0..Z3 the transposed first 16 bytes of the 16 rows' super-blocks
// (Z0: d|dmin, Z1..Z3: scale bytes 0..3, 4..7, 8..11), A_j = d·sc_j in Z16+j and
// B_j = (dmin·0.125)·m_j in Z24+j for j < 8, with the operations of Q4K8_SCALES.
// Z15 = 0x0f mask, Z11 = k5qperm; clobbers Z4..Z10.
#define K5_SCALES \
	VPSHUFB       k5dm64<>(SB), Z0, Z4 \
	VPERMQ        Z4, Z11, Z4 \
	VCVTPH2PS     Y4, Z5 \
	VEXTRACTI64X4 $1, Z4, Y4 \
	VCVTPH2PS     Y4, Z6 \
	VMULPS.BCST   k5c<>+8(SB), Z6, Z6 \
	VPANDD.BCST   k5c<>+0(SB), Z1, Z7 \
	VPANDD.BCST   k5c<>+0(SB), Z2, Z9 \
	VPSRLW        $2, Z1, Z8 \
	VPANDD.BCST   k5c<>+4(SB), Z8, Z8 \
	VPANDD        Z15, Z3, Z4 \
	VPORD         Z4, Z8, Z8 \
	VPSRLW        $2, Z2, Z10 \
	VPANDD.BCST   k5c<>+4(SB), Z10, Z10 \
	VPSRLW        $4, Z3, Z4 \
	VPANDD        Z15, Z4, Z4 \
	VPORD         Z4, Z10, Z10 \
	K5_SC(Z7, 0, Z5, Z16) \
	K5_SC(Z7, 64, Z5, Z17) \
	K5_SC(Z7, 128, Z5, Z18) \
	K5_SC(Z7, 192, Z5, Z19) \
	K5_SC(Z8, 0, Z5, Z20) \
	K5_SC(Z8, 64, Z5, Z21) \
	K5_SC(Z8, 128, Z5, Z22) \
	K5_SC(Z8, 192, Z5, Z23) \
	K5_SC(Z9, 0, Z6, Z24) \
	K5_SC(Z9, 64, Z6, Z25) \
	K5_SC(Z9, 128, Z6, Z26) \
	K5_SC(Z9, 192, Z6, Z27) \
	K5_SC(Z10, 0, Z6, Z28) \
	K5_SC(Z10, 64, Z6, Z29) \
	K5_SC(Z10, 128, Z6, Z30) \
	K5_SC(Z10, 192, Z6, Z31)

// K5_CSUM stores the 8 activation blocks' c = Σ of their 8 lane offsets at R13 as
// float32 at dst (Q4K8_CSUM). Clobbers Y0..Y3.
#define K5_CSUM(dst) \
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

// K5_K adds the products of the transposed bytes zk (elements 4k..4k+3 of a sub-block
// pair's bytes, 16 rows) with the activation dwords at xl(R9) (low nibbles) and xh(R9)
// (high nibbles) to the int32 sums acl and ach. Z15 = mask; clobbers Z12.
#define K5_K(zk, xl, xh, acl, ach) \
	VPSRLW        $4, zk, Z12 \
	VPANDD        Z15, zk, zk \
	VPANDD        Z15, Z12, Z12 \
	VPDPBUSD.BCST xl(R9), zk, acl \
	VPDPBUSD.BCST xh(R9), Z12, ach

// K5_FIN adds the int32 sums acc of one sub-block to Z13 as Q4K8_FIN does:
// u = A·float32(s), u -= B·float32(c), Z13 += xd·u (fused), A and B in registers, c at
// co(SP), xd at xdo(R10).
#define K5_FIN(acc, A, B, xdo, co) \
	VCVTDQ2PS         acc, acc \
	VMULPS            A, acc, acc \
	VFNMADD231PS.BCST co(SP), B, acc \
	VFMADD231PS.BCST  xdo(R10), acc, Z13

// K5_CHUNK accumulates sub-blocks 2c and 2c+1 (nibbles at qo of the super-block;
// activations at xo(R9) and xo+32(R9)) of the 16 rows into Z13, and prefetches 576
// bytes of the next pass at po(AX).
#define K5_CHUNK(qo, xo, A0, A1, B0, B1, xdo, co, po) \
	PREFETCHT0 po(AX) \
	PREFETCHT0 (po+64)(AX) \
	PREFETCHT0 (po+128)(AX) \
	PREFETCHT0 (po+192)(AX) \
	PREFETCHT0 (po+256)(AX) \
	PREFETCHT0 (po+320)(AX) \
	PREFETCHT0 (po+384)(AX) \
	PREFETCHT0 (po+448)(AX) \
	PREFETCHT0 (po+512)(AX) \
	LOAD16T(qo, R12, DX, R14, X0, X1, X2, X3, Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7) \
	VPXORD Z8, Z8, Z8 \
	VPXORD Z9, Z9, Z9 \
	K5_K(Z0, xo, xo+32, Z8, Z9) \
	K5_K(Z1, xo+4, xo+36, Z8, Z9) \
	K5_K(Z2, xo+8, xo+40, Z8, Z9) \
	K5_K(Z3, xo+12, xo+44, Z8, Z9) \
	LOAD16T(qo+16, R12, DX, R14, X0, X1, X2, X3, Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7) \
	K5_K(Z0, xo+16, xo+48, Z8, Z9) \
	K5_K(Z1, xo+20, xo+52, Z8, Z9) \
	K5_K(Z2, xo+24, xo+56, Z8, Z9) \
	K5_K(Z3, xo+28, xo+60, Z8, Z9) \
	K5_FIN(Z8, A0, B0, xdo, co) \
	K5_FIN(Z9, A1, B1, xdo+4, co+4)

// func q4kRows8AVX512(w *byte, rowBytes, groups int, xq *int8, xd *float32, xc *int32, nsb int, y *float32)
//
// q4kRows8AVX2 with VPDPBUSD and 16 rows per pass, bit for bit. A_j, B_j of the current
// super-blocks live in Z16..Z31; the frame holds the 8 blocks' float32(c) at 0 and the
// groups left at 32.
TEXT ·q4kRows8AVX512(SB), NOSPLIT, $48-64
	MOVQ         rowBytes+8(FP), R8
	LEAQ         (R8)(R8*2), R11
	MOVQ         w+0(FP), SI
	MOVQ         groups+16(FP), AX
	MOVQ         AX, 32(SP)
	MOVQ         y+56(FP), DI
	VPBROADCASTD k5c<>+16(SB), Z15
	VMOVDQU64    k5qperm<>(SB), Z11

k5pass:
	VPXORD Z13, Z13, Z13
	MOVQ   SI, BX
	LEAQ   (SI)(R8*4), R12
	MOVQ   SI, DX
	CMPQ   32(SP), $1
	JEQ    k5one
	LEAQ   (SI)(R8*8), DX

k5one:
	LEAQ (DX)(R8*4), R14
	MOVQ xq+24(FP), R9
	MOVQ xd+32(FP), R10
	MOVQ xc+40(FP), R13
	MOVQ nsb+48(FP), CX

k5sb:
	MOVQ BX, AX
	SUBQ SI, AX
	SHLQ $4, AX
	ADDQ SI, AX
	LEAQ (AX)(R8*8), AX
	LEAQ (AX)(R8*8), AX // the next pass, 16·(BX-SI) bytes into it
	K5_CSUM(0(SP))
	LOAD16T(0, R12, DX, R14, X0, X1, X2, X3, Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7)
	K5_SCALES
	K5_CHUNK(16, 0, Z16, Z17, Z24, Z25, 0, 0, 0)
	K5_CHUNK(48, 64, Z18, Z19, Z26, Z27, 8, 8, 576)
	K5_CHUNK(80, 128, Z20, Z21, Z28, Z29, 16, 16, 1152)
	K5_CHUNK(112, 192, Z22, Z23, Z30, Z31, 24, 24, 1728)
	ADDQ $144, BX
	ADDQ $144, R12
	ADDQ $144, DX
	ADDQ $144, R14
	ADDQ $256, R9
	ADDQ $32, R10
	ADDQ $256, R13
	DECQ CX
	JNZ  k5sb

	CMPQ    32(SP), $1
	JEQ     k5last
	VMOVUPS Z13, (DI)
	ADDQ    $64, DI
	LEAQ    (SI)(R8*8), SI
	LEAQ    (SI)(R8*8), SI
	SUBQ    $2, 32(SP)
	JNZ     k5pass
	VZEROUPPER
	RET

k5last:
	VMOVUPS Y13, (DI)
	VZEROUPPER
	RET

// K5G_K adds the products of the tile's vector w (nibbles of elements 4k..4k+3 of the
// 8 rows) with the 4 tokens' activation dwords at 32t+xo(DX) to the int32 sums Y0..Y3.
#define K5G_K(w, xo) \
	VPDPBUSD.BCST xo(DX), w, Y0 \
	VPDPBUSD.BCST (xo+32)(DX), w, Y1 \
	VPDPBUSD.BCST (xo+64)(DX), w, Y2 \
	VPDPBUSD.BCST (xo+96)(DX), w, Y3

// K5G_FIN adds token t's int32 sums acc to facc as Q4KG_FIN does: u = A·float32(s),
// u -= B·float32(c), facc += xd·u (A in Y24, B in Y25, c at 128+4t(DX), xd at
// 144+4t(DX)). Clobbers Y26.
#define K5G_FIN(t, acc, facc) \
	VCVTDQ2PS        acc, acc \
	VMULPS           Y24, acc, acc \
	VCVTDQ2PS.BCST   (128+4*t)(DX), Y26 \
	VFNMADD231PS     Y25, Y26, acc \
	VFMADD231PS.BCST (144+4*t)(DX), acc, facc

// func q4kGemm8x4AVX512(w *byte, nb int, xg *byte, out *float32)
//
// q4kGemm8x4AVX2 with VPDPBUSD, bit for bit.
TEXT ·q4kGemm8x4AVX512(SB), NOSPLIT, $0-32
	MOVQ   w+0(FP), SI
	MOVQ   nb+8(FP), CX
	MOVQ   xg+16(FP), DX
	MOVQ   out+24(FP), DI
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7

k5gblk:
	VPXOR   Y0, Y0, Y0
	VPXOR   Y1, Y1, Y1
	VPXOR   Y2, Y2, Y2
	VPXOR   Y3, Y3, Y3
	VMOVDQU32 64(SI), Y16
	VMOVDQU32 96(SI), Y17
	VMOVDQU32 128(SI), Y18
	VMOVDQU32 160(SI), Y19
	VMOVDQU32 192(SI), Y20
	VMOVDQU32 224(SI), Y21
	VMOVDQU32 256(SI), Y22
	VMOVDQU32 288(SI), Y23
	K5G_K(Y16, 0)
	K5G_K(Y17, 4)
	K5G_K(Y18, 8)
	K5G_K(Y19, 12)
	K5G_K(Y20, 16)
	K5G_K(Y21, 20)
	K5G_K(Y22, 24)
	K5G_K(Y23, 28)
	VMOVUPS 0(SI), Y24
	VMOVUPS 32(SI), Y25
	K5G_FIN(0, Y0, Y4)
	K5G_FIN(1, Y1, Y5)
	K5G_FIN(2, Y2, Y6)
	K5G_FIN(3, Y3, Y7)
	ADDQ    $320, SI
	ADDQ    $160, DX
	DECQ    CX
	JNZ     k5gblk

	VMOVUPS Y4, 0(DI)
	VMOVUPS Y5, 32(DI)
	VMOVUPS Y6, 64(DI)
	VMOVUPS Y7, 96(DI)
	VZEROUPPER
	RET

// ---- Q6_K ----

// K6_D: Y28 = the 8 rows' fp16 super-block scales d (at 208) as float32. Clobbers X4.
#define K6_D F16X8AT(208, Y28)

// K6_SC: from Yp (the transposed scale bytes 4p..4p+3 of rows 0..3 | rows 4..7), the
// int32 scales of blocks 2p, 2p+1 in the layout of a block pair's row sums: sa = rows
// 0..3 of sc[4p], sc[4p+1], sc[4p+2], sc[4p+3] (one 128-bit lane each), sb = the same
// for rows 4..7. Clobbers Yp, xt.
#define K6_SC(yp, xp, xt, sa, sb) \
	VPSHUFB      k6t44<>(SB), yp, yp \
	VPMOVSXBD    xp, sa \
	VEXTRACTI128 $1, yp, xt \
	VPMOVSXBD    xt, sb

// K6_U01 builds into out the 6-bit values of quarters 0 (low 256 bits) and 1 (high) of
// super-block half h of row base: (ql & 0x0f) | ((qh << 4 | qh << 2) & 0x30), as Q6U0
// and Q6U1. Z24 = 0x0f, Z25 = 0x30, Z26 = the shift counts 4|2.
#define K6_U01(h, base, out, t) \
	VBROADCASTI64X4 (128+32*h)base, out \
	VPSLLVW         Z26, out, out \
	VPANDD          Z25, out, out \
	VPTERNLOGD      $0xf8, (64*h)base, Z24, out

// K6_U23: quarters 2 and 3: (ql >> 4 & 0x0f) | ((qh | qh >> 2) & 0x30), as Q6U2 and
// Q6U3. Z27 = the shift counts 0|2; clobbers t.
#define K6_U23(h, base, out, t) \
	VPSRLW          $4, (64*h)base, t \
	VBROADCASTI64X4 (128+32*h)base, out \
	VPSRLVW         Z27, out, out \
	VPANDD          Z25, out, out \
	VPTERNLOGD      $0xf8, t, Z24, out

// K6_R: row base's corrected lane sums of the block pair into acc: for each dword i,
// Σ_{e=4i}^{4i+3} (q_e-32)·x_e of the two blocks' 64 elements (x at xo(R9); Z30 =
// -32·Σ of each 4 activations).
#define K6_R(U, h, xo, base, acc, t0, t1) \
	U(h, base, t0, t1) \
	VMOVDQA64 Z30, acc \
	VPDPBUSD  xo(R9), t0, acc

// K6_P1 folds two rows' dword sums a, b: per 128-bit lane a = [a0+a2, b0+b2, a1+a3,
// b1+b3]. Clobbers t.
#define K6_P1(a, b, t) \
	VPUNPCKHDQ b, a, t \
	VPUNPCKLDQ b, a, a \
	VPADDD     t, a, a

// K6_P2 folds two K6_P1 results of rows (0,1) and (2,3): per 128-bit lane, the 4 rows'
// sums. Clobbers t.
#define K6_P2(a, b, t) \
	VPUNPCKHQDQ b, a, t \
	VPUNPCKLQDQ b, a, a \
	VPADDD      t, a, a

// K6_PAIR accumulates blocks 2p and 2p+1 of the super-block (unpack U of half h) for
// the 8 rows into Y29, each with one fused multiply-add (d·xd)·float32(s) in block order
// as Q6BLK does. Scales sa, sb (K6_SC of p). Clobbers Z0..Z15, Z30.
#define K6_PAIR(U, h, p, sa, sb) \
	VPSLLD       $2, (64*p)(R13), Z30 \
	VPXORD       Z15, Z15, Z15 \
	VPSUBD       Z30, Z15, Z30 \
	K6_R(U, h, (64*p), (BX), Z0, Z8, Z9) \
	K6_R(U, h, (64*p), (BX)(R8*1), Z1, Z10, Z11) \
	K6_R(U, h, (64*p), (BX)(R8*2), Z2, Z12, Z13) \
	K6_R(U, h, (64*p), (BX)(R11*1), Z3, Z14, Z15) \
	K6_R(U, h, (64*p), (R12), Z4, Z8, Z9) \
	K6_R(U, h, (64*p), (R12)(R8*1), Z5, Z10, Z11) \
	K6_R(U, h, (64*p), (R12)(R8*2), Z6, Z12, Z13) \
	K6_R(U, h, (64*p), (R12)(R11*1), Z7, Z14, Z15) \
	K6_P1(Z0, Z1, Z8) \
	K6_P1(Z2, Z3, Z9) \
	K6_P1(Z4, Z5, Z10) \
	K6_P1(Z6, Z7, Z11) \
	K6_P2(Z0, Z2, Z8) \
	K6_P2(Z4, Z6, Z9) \
	VPMULLD        sa, Z0, Z0 \
	VPMULLD        sb, Z4, Z4 \
	VSHUFI64X2     $0x88, Z4, Z0, Z8 \
	VSHUFI64X2     $0xdd, Z4, Z0, Z9 \
	VPADDD         Z9, Z8, Z8 \
	VSHUFI64X2     $0xd8, Z8, Z8, Z8 \
	VCVTDQ2PS      Z8, Z8 \
	VMULPS.BCST    (8*p)(R10), Y28, Y9 \
	VFMADD231PS    Y8, Y9, Y29 \
	VEXTRACTF64X4  $1, Z8, Y10 \
	VMULPS.BCST    (8*p+4)(R10), Y28, Y11 \
	VFMADD231PS    Y10, Y11, Y29

// func q6kRows8AVX512(w *byte, rowBytes, groups int, xq *int8, xd *float32, xc *int32, nb int, y *float32)
//
// q6kRows8AVX2 bit for bit: per row, one VPDPBUSD of the unsigned 6-bit values q with
// the activations (two blocks per 512-bit register), started from -32·Σx per 4
// elements, gives the exact Σ(q-32)·x of each 4 elements; the 8 rows' sums are reduced
// as in the AVX2 kernel, then s = sc·L + sc'·H per row and block and one fused
// multiply-add per block in block order.
TEXT ·q6kRows8AVX512(SB), NOSPLIT, $0-64
	MOVQ            rowBytes+8(FP), R8
	LEAQ            (R8)(R8*2), R11
	MOVQ            w+0(FP), SI
	MOVQ            groups+16(FP), R14
	MOVQ            y+56(FP), DI
	VPBROADCASTD    k5c<>+16(SB), Z24
	VPBROADCASTD    k5c<>+4(SB), Z25
	VMOVDQU64       k6sh<>+0(SB), Z26
	VMOVDQU64       k6sh<>+64(SB), Z27

k6grp:
	VXORPS Y29, Y29, Y29
	MOVQ   SI, BX
	LEAQ   (SI)(R8*4), R12
	LEAQ   (SI)(R8*8), AX     // prefetch: the next group of 8 rows, 8 bytes ahead per byte
	MOVQ   xq+24(FP), R9
	MOVQ   xd+32(FP), R10
	MOVQ   xc+40(FP), R13
	MOVQ   nb+48(FP), CX
	SHRQ   $3, CX

k6sb:
	LOAD8T(192, X0, X1, X2, X3, Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7)
	K6_SC(Y0, X0, X4, Z16, Z17)
	K6_SC(Y1, X1, X5, Z18, Z19)
	K6_SC(Y2, X2, X6, Z20, Z21)
	K6_SC(Y3, X3, X7, Z22, Z23)
	K6_D
	PREFETCHT0 (AX)
	PREFETCHT0 64(AX)
	PREFETCHT0 128(AX)
	PREFETCHT0 192(AX)
	PREFETCHT0 256(AX)
	PREFETCHT0 320(AX)
	PREFETCHT0 384(AX)
	K6_PAIR(K6_U01, 0, 0, Z16, Z17)
	PREFETCHT0 448(AX)
	PREFETCHT0 512(AX)
	PREFETCHT0 576(AX)
	PREFETCHT0 640(AX)
	PREFETCHT0 704(AX)
	PREFETCHT0 768(AX)
	PREFETCHT0 832(AX)
	K6_PAIR(K6_U23, 0, 1, Z18, Z19)
	PREFETCHT0 896(AX)
	PREFETCHT0 960(AX)
	PREFETCHT0 1024(AX)
	PREFETCHT0 1088(AX)
	PREFETCHT0 1152(AX)
	PREFETCHT0 1216(AX)
	PREFETCHT0 1280(AX)
	K6_PAIR(K6_U01, 1, 2, Z20, Z21)
	PREFETCHT0 1344(AX)
	PREFETCHT0 1408(AX)
	PREFETCHT0 1472(AX)
	PREFETCHT0 1536(AX)
	PREFETCHT0 1600(AX)
	PREFETCHT0 1664(AX)
	K6_PAIR(K6_U23, 1, 3, Z22, Z23)
	ADDQ $1680, AX
	ADDQ $210, BX
	ADDQ $210, R12
	ADDQ $256, R9
	ADDQ $32, R10
	ADDQ $256, R13
	DECQ CX
	JNZ  k6sb
	VMOVUPS Y29, (DI)
	ADDQ    $32, DI
	LEAQ    (SI)(R8*8), SI
	DECQ    R14
	JNZ     k6grp
	VZEROUPPER
	RET

// K6G_M adds dword m (idx = the k6idx index of m) of the two token pairs' activations (+128, in Z16 = tokens 0|1,
// Z17 = 2|3) times the weights w (the tile's signed w of the dword's 4 elements, both
// 256-bit halves) to the pairs' sums a01, a23.
#define K6G_M(idx, w, a01, a23) \
	VPERMD   Z16, idx, Z18 \
	VPERMD   Z17, idx, Z19 \
	VPDPBUSD w, Z18, a01 \
	VPDPBUSD w, Z19, a23

// K6G_FIN accumulates the two tokens t (low half of s) and t+1 (high half) of a pair's
// int32 block dot products s into Y27+t, Y28+t with (d·xd)·float32(s) (d in Y10, xd at
// 144+4t(DX)), as Q6GFIN. Clobbers s, Y11..Y13.
#define K6G_FIN(t, s, ys, f0, f1) \
	VCVTDQ2PS     s, s \
	VMULPS.BCST   (144+4*t)(DX), Y10, Y11 \
	VFMADD231PS   ys, Y11, f0 \
	VEXTRACTF64X4 $1, s, Y12 \
	VMULPS.BCST   (148+4*t)(DX), Y10, Y13 \
	VFMADD231PS   Y12, Y13, f1

// func q6kGemm8x4AVX512(w *byte, nb int, xg *byte, out *float32)
//
// q6kGemm8x4AVX2 bit for bit. Two tokens per 512-bit register (tokens 0|1 and 2|3, the
// 8 rows in each half): VPDPBUSD of the activations +128 (unsigned) with the tile's
// signed weights w, started from -128·Σw per row and half, gives Σ w·x of each half
// exactly; s = sc·L + sc'·H per row and token, then one fused multiply-add per block.
TEXT ·q6kGemm8x4AVX512(SB), NOSPLIT, $0-32
	MOVQ         w+0(FP), SI
	MOVQ         nb+8(FP), CX
	MOVQ         xg+16(FP), DX
	MOVQ         out+24(FP), DI
	VMOVDQU64    k6idx<>+0(SB), Z0
	VMOVDQU64    k6idx<>+64(SB), Z1
	VMOVDQU64    k6idx<>+128(SB), Z2
	VMOVDQU64    k6idx<>+192(SB), Z3
	VMOVDQU64    k6idx<>+256(SB), Z4
	VMOVDQU64    k6idx<>+320(SB), Z5
	VMOVDQU64    k6idx<>+384(SB), Z6
	VMOVDQU64    k6idx<>+448(SB), Z7
	VPBROADCASTD k5c<>+12(SB), Z26
	VXORPS       Y27, Y27, Y27
	VXORPS       Y28, Y28, Y28
	VXORPS       Y29, Y29, Y29
	VXORPS       Y30, Y30, Y30

k6gblk:
	VBROADCASTI64X4 128(SI), Z8
	VBROADCASTI64X4 256(SI), Z9
	VBROADCASTI64X4 384(SI), Z10
	VBROADCASTI64X4 512(SI), Z11
	VBROADCASTI64X4 192(SI), Z12
	VBROADCASTI64X4 320(SI), Z13
	VBROADCASTI64X4 448(SI), Z14
	VBROADCASTI64X4 576(SI), Z15
	// Z24, Z25 = -128·Σw of each row's 4-element groups of elements 0..15, 16..31
	VPXORD   Z18, Z18, Z18
	VPXORD   Z19, Z19, Z19
	VPDPBUSD Z8, Z26, Z18
	VPDPBUSD Z12, Z26, Z19
	VPDPBUSD Z9, Z26, Z18
	VPDPBUSD Z13, Z26, Z19
	VPDPBUSD Z10, Z26, Z18
	VPDPBUSD Z14, Z26, Z19
	VPDPBUSD Z11, Z26, Z18
	VPDPBUSD Z15, Z26, Z19
	VPXORD   Z24, Z24, Z24
	VPSUBD   Z19, Z24, Z25
	VPSUBD   Z18, Z24, Z24
	VPXORD   0(DX), Z26, Z16
	VPXORD   64(DX), Z26, Z17
	VMOVDQA64 Z24, Z20
	VMOVDQA64 Z25, Z21
	VMOVDQA64 Z24, Z22
	VMOVDQA64 Z25, Z23
	K6G_M(Z0, Z8, Z20, Z22)
	K6G_M(Z1, Z9, Z20, Z22)
	K6G_M(Z2, Z10, Z20, Z22)
	K6G_M(Z3, Z11, Z20, Z22)
	K6G_M(Z4, Z12, Z21, Z23)
	K6G_M(Z5, Z13, Z21, Z23)
	K6G_M(Z6, Z14, Z21, Z23)
	K6G_M(Z7, Z15, Z21, Z23)
	VBROADCASTI64X4 32(SI), Z8
	VBROADCASTI64X4 64(SI), Z9
	VPSRAD   $16, Z8, Z8
	VPSRAD   $16, Z9, Z9
	VPMULLD  Z8, Z20, Z20
	VPMULLD  Z9, Z21, Z21
	VPMULLD  Z8, Z22, Z22
	VPMULLD  Z9, Z23, Z23
	VPADDD   Z21, Z20, Z20
	VPADDD   Z23, Z22, Z22
	VMOVUPS  0(SI), Y10
	K6G_FIN(0, Z20, Y20, Y27, Y28)
	K6G_FIN(2, Z22, Y22, Y29, Y30)
	ADDQ     $608, SI
	ADDQ     $160, DX
	DECQ     CX
	JNZ      k6gblk

	VMOVUPS Y27, 0(DI)
	VMOVUPS Y28, 32(DI)
	VMOVUPS Y29, 64(DI)
	VMOVUPS Y30, 96(DI)
	VZEROUPPER
	RET

// k6sh8: q6k8sh (byte m of each dword into the high byte of both its words, 32 bytes
// per m): [m=0 | m=1] at 0 and [m=2 | m=3] at 64.
DATA k6sh8<>+0(SB)/8, $0x0480048000800080
DATA k6sh8<>+8(SB)/8, $0x0c800c8008800880
DATA k6sh8<>+16(SB)/8, $0x0480048000800080
DATA k6sh8<>+24(SB)/8, $0x0c800c8008800880
DATA k6sh8<>+32(SB)/8, $0x0580058001800180
DATA k6sh8<>+40(SB)/8, $0x0d800d8009800980
DATA k6sh8<>+48(SB)/8, $0x0580058001800180
DATA k6sh8<>+56(SB)/8, $0x0d800d8009800980
DATA k6sh8<>+64(SB)/8, $0x0680068002800280
DATA k6sh8<>+72(SB)/8, $0x0e800e800a800a80
DATA k6sh8<>+80(SB)/8, $0x0680068002800280
DATA k6sh8<>+88(SB)/8, $0x0e800e800a800a80
DATA k6sh8<>+96(SB)/8, $0x0780078003800380
DATA k6sh8<>+104(SB)/8, $0x0f800f800b800b80
DATA k6sh8<>+112(SB)/8, $0x0780078003800380
DATA k6sh8<>+120(SB)/8, $0x0f800f800b800b80
GLOBL k6sh8<>(SB), RODATA|NOPTR, $128

// K6T_SC stores the int16 scale pairs of sc[4k..4k+3] (from Yk, the transposed scale
// bytes) at the scale slots of blocks 2k and 2k+1 (64 bytes each, as Q6TSC). Clobbers
// zk, Z8.
#define K6T_SC(zk, k) \
	VSHUFI64X2 $0x44, zk, zk, zk \
	VPSHUFB    k6sh8<>+0(SB), zk, Z8 \
	VPSRAW     $8, Z8, Z8 \
	VMOVDQU64  Z8, (608*(2*k)+32)(DI) \
	VPSHUFB    k6sh8<>+64(SB), zk, Z8 \
	VPSRAW     $8, Z8, Z8 \
	VMOVDQU64  Z8, (608*(2*k+1)+32)(DI)

// K6T_W: out = row base's signed weights w = q - 32 of blocks 2p, 2p+1 (unpack U of half
// h). Z28 = 32 bytes; clobbers t.
#define K6T_W(U, h, base, out, t) \
	U(h, base, out, t) \
	VPSUBB Z28, out, out

// K6T_K writes the tile vectors k of blocks 2p (at o) and 2p+1 (at o+608) from the
// transposed weights a (rows 0..3) and b (rows 4..7): per 128-bit lane L of a and b,
// dword r = bytes 4k..4k+3 of the lane's 16 elements of row r (L = block 2p elements
// 0..15, 16..31, block 2p+1 elements 0..15, 16..31). Clobbers Z8..Z15.
#define K6T_K(a, b, o) \
	VSHUFI64X2 $0x44, b, a, Z8 \
	VSHUFI64X2 $0xee, b, a, Z12 \
	VPABSB     Z8, Z9 \
	VPABSB     Z12, Z13 \
	VSHUFI64X2 $0x88, Z8, Z9, Z10 \
	VSHUFI64X2 $0xdd, Z8, Z9, Z11 \
	VSHUFI64X2 $0x88, Z12, Z13, Z14 \
	VSHUFI64X2 $0xdd, Z12, Z13, Z15 \
	VMOVDQU64  Z10, o(DI) \
	VMOVDQU64  Z11, (o+64)(DI) \
	VMOVDQU64  Z14, (o+608)(DI) \
	VMOVDQU64  Z15, (o+672)(DI)

// K6T_PAIR writes blocks 2p and 2p+1 of the 8 rows (unpack U of half h) into the tile
// (without scales). Clobbers Z0..Z15.
#define K6T_PAIR(U, h, p) \
	K6T_W(U, h, (BX), Z0, Z8) \
	K6T_W(U, h, (BX)(R8*1), Z1, Z9) \
	K6T_W(U, h, (BX)(R8*2), Z2, Z10) \
	K6T_W(U, h, (BX)(R11*1), Z3, Z11) \
	K6T_W(U, h, (R12), Z4, Z12) \
	K6T_W(U, h, (R12)(R8*1), Z5, Z13) \
	K6T_W(U, h, (R12)(R8*2), Z6, Z14) \
	K6T_W(U, h, (R12)(R11*1), Z7, Z15) \
	TRANSPOSE4D(Z0, Z1, Z2, Z3, Z8, Z9, Z10, Z11) \
	TRANSPOSE4D(Z4, Z5, Z6, Z7, Z12, Z13, Z14, Z15) \
	K6T_K(Z0, Z4, (1216*p+96)) \
	K6T_K(Z1, Z5, (1216*p+224)) \
	K6T_K(Z2, Z6, (1216*p+352)) \
	K6T_K(Z3, Z7, (1216*p+480))

// func q6kTile8AVX512(w *byte, rowBytes, nb int, dst *byte)
//
// q6kTile8AVX2 (the same tile bytes) with two blocks per 512-bit register.
TEXT ·q6kTile8AVX512(SB), NOSPLIT, $0-32
	MOVQ            w+0(FP), BX
	MOVQ            rowBytes+8(FP), R8
	MOVQ            nb+16(FP), CX
	MOVQ            dst+24(FP), DI
	SHRQ            $3, CX
	LEAQ            (R8)(R8*2), R11
	LEAQ            (BX)(R8*4), R12
	VPBROADCASTD    k5c<>+16(SB), Z24
	VPBROADCASTD    k5c<>+4(SB), Z25
	VMOVDQU64       k6sh<>+0(SB), Z26
	VMOVDQU64       k6sh<>+64(SB), Z27
	VPBROADCASTD    k5c<>+20(SB), Z28

k6tsb:
	LOAD8T(192, X0, X1, X2, X3, Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7)
	K6T_SC(Z0, 0)
	K6T_SC(Z1, 1)
	K6T_SC(Z2, 2)
	K6T_SC(Z3, 3)
	F16X8AT(208, Y4)
	VMOVUPS   Y4, 0(DI)
	VMOVUPS   Y4, 608(DI)
	VMOVUPS   Y4, 1216(DI)
	VMOVUPS   Y4, 1824(DI)
	VMOVUPS   Y4, 2432(DI)
	VMOVUPS   Y4, 3040(DI)
	VMOVUPS   Y4, 3648(DI)
	VMOVUPS   Y4, 4256(DI)
	K6T_PAIR(K6_U01, 0, 0)
	K6T_PAIR(K6_U23, 0, 1)
	K6T_PAIR(K6_U01, 1, 2)
	K6T_PAIR(K6_U23, 1, 3)
	ADDQ $210, BX
	ADDQ $210, R12
	ADDQ $4864, DI
	DECQ CX
	JNZ  k6tsb
	VZEROUPPER
	RET
