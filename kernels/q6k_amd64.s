//go:build !purego

#include "textflag.h"

// Q6_K × q8 kernel (AVX2); see q6k.go. Per super-block half, ql (two 32-byte loads) and
// qh (one) give the four activation blocks' 6-bit values in element order with shifts
// and masks; VPMADDUBSW(q, x) - VPMADDUBSW(32, x) is Σ (q-32)·x per pair in int16, and
// one VPMADDWD against the block's two scales (each sign-extended to int16 over its 16
// elements' pairs, by a byte shuffle and an arithmetic shift) gives the scaled int32
// lane sums.

DATA q6kConst<>+0(SB)/8, $0x0f0f0f0f0f0f0f0f   // low-nibble mask
DATA q6kConst<>+8(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA q6kConst<>+16(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA q6kConst<>+24(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA q6kConst<>+32(SB)/8, $0x3030303030303030  // bits 4, 5
DATA q6kConst<>+40(SB)/8, $0x3030303030303030
DATA q6kConst<>+48(SB)/8, $0x3030303030303030
DATA q6kConst<>+56(SB)/8, $0x3030303030303030
DATA q6kConst<>+64(SB)/8, $0x2020202020202020  // 32
DATA q6kConst<>+72(SB)/8, $0x2020202020202020
DATA q6kConst<>+80(SB)/8, $0x2020202020202020
DATA q6kConst<>+88(SB)/8, $0x2020202020202020
GLOBL q6kConst<>(SB), RODATA|NOPTR, $96

// q6kShuf<>+32j: the scale shuffle of activation block j (byte 2j in the low lane, 2j+1
// in the high lane).
DATA q6kShuf<>+0(SB)/8, $0x0000000000000000
DATA q6kShuf<>+8(SB)/8, $0x0000000000000000
DATA q6kShuf<>+16(SB)/8, $0x0101010101010101
DATA q6kShuf<>+24(SB)/8, $0x0101010101010101
DATA q6kShuf<>+32(SB)/8, $0x0202020202020202
DATA q6kShuf<>+40(SB)/8, $0x0202020202020202
DATA q6kShuf<>+48(SB)/8, $0x0303030303030303
DATA q6kShuf<>+56(SB)/8, $0x0303030303030303
DATA q6kShuf<>+64(SB)/8, $0x0404040404040404
DATA q6kShuf<>+72(SB)/8, $0x0404040404040404
DATA q6kShuf<>+80(SB)/8, $0x0505050505050505
DATA q6kShuf<>+88(SB)/8, $0x0505050505050505
DATA q6kShuf<>+96(SB)/8, $0x0606060606060606
DATA q6kShuf<>+104(SB)/8, $0x0606060606060606
DATA q6kShuf<>+112(SB)/8, $0x0707070707070707
DATA q6kShuf<>+120(SB)/8, $0x0707070707070707
DATA q6kShuf<>+128(SB)/8, $0x0808080808080808
DATA q6kShuf<>+136(SB)/8, $0x0808080808080808
DATA q6kShuf<>+144(SB)/8, $0x0909090909090909
DATA q6kShuf<>+152(SB)/8, $0x0909090909090909
DATA q6kShuf<>+160(SB)/8, $0x0a0a0a0a0a0a0a0a
DATA q6kShuf<>+168(SB)/8, $0x0a0a0a0a0a0a0a0a
DATA q6kShuf<>+176(SB)/8, $0x0b0b0b0b0b0b0b0b
DATA q6kShuf<>+184(SB)/8, $0x0b0b0b0b0b0b0b0b
DATA q6kShuf<>+192(SB)/8, $0x0c0c0c0c0c0c0c0c
DATA q6kShuf<>+200(SB)/8, $0x0c0c0c0c0c0c0c0c
DATA q6kShuf<>+208(SB)/8, $0x0d0d0d0d0d0d0d0d
DATA q6kShuf<>+216(SB)/8, $0x0d0d0d0d0d0d0d0d
DATA q6kShuf<>+224(SB)/8, $0x0e0e0e0e0e0e0e0e
DATA q6kShuf<>+232(SB)/8, $0x0e0e0e0e0e0e0e0e
DATA q6kShuf<>+240(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA q6kShuf<>+248(SB)/8, $0x0f0f0f0f0f0f0f0f
GLOBL q6kShuf<>(SB), RODATA|NOPTR, $256


// Q6K_HSUM sums the 8 lanes of y into the low lane of x (x is y's low half); clobbers X10.
#define Q6K_HSUM(y, x) \
	VEXTRACTF128 $1, y, X10 \
	VADDPS       X10, x, x \
	VPERMILPS    $0x4e, x, X10 \
	VADDPS       X10, x, x \
	VPERMILPS    $0xb1, x, X10 \
	VADDSS       X10, x, x

// Q6KBLOCK accumulates activation block j (6-bit values in q) into Y0: x at
// xoff(R9)(R13*1), x scale at doff(R14), scale shuffle at q6kShuf<>+so; Y12 = scales in
// both lanes, Y13 = 32s, Y15 = d in all lanes. Clobbers q, t1, t2.
#define Q6KBLOCK(q, xoff, doff, so, t1, t2) \
	VMOVDQU      xoff(R9)(R13*1), t1 \
	VPMADDUBSW   t1, q, q \
	VPMADDUBSW   t1, Y13, t1 \
	VPSUBW       t1, q, q \
	VPSHUFB      q6kShuf<>+so(SB), Y12, t1 \
	VPSRAW       $8, t1, t1 \
	VPMADDWD     t1, q, q \
	VCVTDQ2PS    q, q \
	VBROADCASTSS doff(R14), t2 \
	VMULPS       Y15, t2, t2 \
	VFMADD231PS  q, t2, Y0

// Q6KUNPACK0..3 build the 6-bit values of the four activation blocks of a super-block
// half into q from ql[0:32] (Y1), ql[32:64] (Y2) and qh (Y3); Y8 = 0x0f, Y9 = 0x30.
#define Q6KUNPACK0(q, t) \
	VPAND  Y8, Y1, q \
	VPSLLW $4, Y3, t \
	VPAND  Y9, t, t \
	VPOR   t, q, q

#define Q6KUNPACK1(q, t) \
	VPAND  Y8, Y2, q \
	VPSLLW $2, Y3, t \
	VPAND  Y9, t, t \
	VPOR   t, q, q

#define Q6KUNPACK2(q, t) \
	VPSRLW $4, Y1, q \
	VPAND  Y8, q, q \
	VPAND  Y9, Y3, t \
	VPOR   t, q, q

#define Q6KUNPACK3(q, t) \
	VPSRLW $4, Y2, q \
	VPAND  Y8, q, q \
	VPSRLW $2, Y3, t \
	VPAND  Y9, t, t \
	VPOR   t, q, q

// Q6KLOAD loads half h's ql (at ql(BX)) and qh (at qh(BX)) into Y1, Y2, Y3.
#define Q6KLOAD(ql, qh) \
	VMOVDQU ql(BX), Y1 \
	VMOVDQU (ql+32)(BX), Y2 \
	VMOVDQU qh(BX), Y3

// Q6KHALF accumulates half h of the super-block at BX, activation blocks 4h..4h+3 at
// x offset xo, scale offset do, shuffle offset so.
#define Q6KHALF(ql, qh, xo, do, so) \
	Q6KLOAD(ql, qh) \
	Q6KUNPACK0(Y4, Y5) \
	Q6KBLOCK(Y4, xo, do, so, Y5, Y6) \
	Q6KUNPACK1(Y4, Y5) \
	Q6KBLOCK(Y4, (xo+32), (do+4), (so+32), Y5, Y6) \
	Q6KUNPACK2(Y4, Y5) \
	Q6KBLOCK(Y4, (xo+64), (do+8), (so+64), Y5, Y6) \
	Q6KUNPACK3(Y4, Y5) \
	Q6KBLOCK(Y4, (xo+96), (do+12), (so+96), Y5, Y6)

// func q6kRowsAVX2(w *byte, rowBytes, rows int, xq *int8, xd *float32, nb int, y *float32)
TEXT ·q6kRowsAVX2(SB), NOSPLIT, $0-56
	MOVQ w+0(FP), SI
	MOVQ rowBytes+8(FP), R8
	MOVQ rows+16(FP), CX
	MOVQ xq+24(FP), R9
	MOVQ xd+32(FP), R10
	MOVQ nb+40(FP), R12
	MOVQ y+48(FP), DI
	SHRQ $3, R12                // super-blocks
	LEAQ q6kConst<>(SB), AX
	VMOVDQU (AX), Y8            // 0x0f
	VMOVDQU 32(AX), Y9          // 0x30
	VMOVDQU 64(AX), Y13         // 32

q6krow:
	VXORPS Y0, Y0, Y0
	MOVQ   SI, BX
	XORQ   R13, R13
	MOVQ   R10, R14
	MOVQ   R12, DX

q6ksuper:
	VBROADCASTI128 192(BX), Y12
	VPBROADCASTW   208(BX), X15
	VCVTPH2PS      X15, Y15
	Q6KHALF(0, 128, 0, 0, 0)
	Q6KHALF(64, 160, 128, 16, 128)
	ADDQ $210, BX
	ADDQ $256, R13
	ADDQ $32, R14
	DECQ DX
	JNZ  q6ksuper

	Q6K_HSUM(Y0, X0)
	VMOVSS X0, (DI)
	ADDQ   $4, DI
	ADDQ   R8, SI
	DECQ   CX
	JNZ    q6krow
	VZEROUPPER
	RET
