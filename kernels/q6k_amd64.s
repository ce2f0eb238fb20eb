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
DATA q6kConst<>+96(SB)/8, $0x0000000000000000  // scale shuffle of block 0: byte 0, then byte 1
DATA q6kConst<>+104(SB)/8, $0x0000000000000000
DATA q6kConst<>+112(SB)/8, $0x0101010101010101
DATA q6kConst<>+120(SB)/8, $0x0101010101010101
DATA q6kConst<>+128(SB)/8, $0x0202020202020202 // 2: the next block's shuffle
DATA q6kConst<>+136(SB)/8, $0x0202020202020202
DATA q6kConst<>+144(SB)/8, $0x0202020202020202
DATA q6kConst<>+152(SB)/8, $0x0202020202020202
GLOBL q6kConst<>(SB), RODATA|NOPTR, $160

// Q6K_HSUM sums the 8 lanes of y into the low lane of x (x is y's low half); clobbers X10.
#define Q6K_HSUM(y, x) \
	VEXTRACTF128 $1, y, X10 \
	VADDPS       X10, x, x \
	VPERMILPS    $0x4e, x, X10 \
	VADDPS       X10, x, x \
	VPERMILPS    $0xb1, x, X10 \
	VADDSS       X10, x, x

// Q6KBLOCK accumulates one activation block whose 6-bit values are in q into acc: x at
// xoff(R9)(R13*1), x scale at doff(R14); Y11 = the block's scale shuffle (advanced by
// 2), Y12 = scales in both lanes, Y13 = 32s, Y14 = 2s, Y15 = d in all lanes. Clobbers
// q, t1, t2.
#define Q6KBLOCK(q, xoff, doff, acc, t1, t2) \
	VMOVDQU      xoff(R9)(R13*1), t1 \
	VPMADDUBSW   t1, q, q \
	VPMADDUBSW   t1, Y13, t1 \
	VPSUBW       t1, q, q \
	VPSHUFB      Y11, Y12, t1 \
	VPSRAW       $8, t1, t1 \
	VPADDB       Y14, Y11, Y11 \
	VPMADDWD     t1, q, q \
	VCVTDQ2PS    q, q \
	VBROADCASTSS doff(R14), t2 \
	VMULPS       Y15, t2, t2 \
	VFMADD231PS  q, t2, acc

// Q6KHALF accumulates half h of the super-block at BX (ql at ql(BX), qh at qh(BX)),
// activation blocks 4h..4h+3 at x offset xo and scale offset do.
#define Q6KHALF(ql, qh, xo, do) \
	VMOVDQU ql(BX), Y1 \
	VMOVDQU (ql+32)(BX), Y2 \
	VMOVDQU qh(BX), Y3 \
	VPAND   Y8, Y1, Y4 \
	VPSLLW  $4, Y3, Y5 \
	VPAND   Y9, Y5, Y5 \
	VPOR    Y5, Y4, Y4 \
	Q6KBLOCK(Y4, xo, do, Y0, Y5, Y6) \
	VPAND   Y8, Y2, Y4 \
	VPSLLW  $2, Y3, Y5 \
	VPAND   Y9, Y5, Y5 \
	VPOR    Y5, Y4, Y4 \
	Q6KBLOCK(Y4, (xo+32), (do+4), Y7, Y5, Y6) \
	VPSRLW  $4, Y1, Y4 \
	VPAND   Y8, Y4, Y4 \
	VPAND   Y9, Y3, Y5 \
	VPOR    Y5, Y4, Y4 \
	Q6KBLOCK(Y4, (xo+64), (do+8), Y0, Y5, Y6) \
	VPSRLW  $4, Y2, Y4 \
	VPAND   Y8, Y4, Y4 \
	VPSRLW  $2, Y3, Y5 \
	VPAND   Y9, Y5, Y5 \
	VPOR    Y5, Y4, Y4 \
	Q6KBLOCK(Y4, (xo+96), (do+12), Y7, Y5, Y6)

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
	VMOVDQU 128(AX), Y14        // 2

q6krow:
	VXORPS Y0, Y0, Y0           // blocks 0, 2, 4, 6
	VXORPS Y7, Y7, Y7           // blocks 1, 3, 5, 7
	MOVQ   SI, BX
	XORQ   R13, R13
	MOVQ   R10, R14
	MOVQ   R12, DX

q6ksuper:
	VBROADCASTI128 192(BX), Y12
	VMOVDQU        q6kConst<>+96(SB), Y11
	VPBROADCASTW   208(BX), X15
	VCVTPH2PS      X15, Y15
	Q6KHALF(0, 128, 0, 0)
	Q6KHALF(64, 160, 128, 16)
	ADDQ $210, BX
	ADDQ $256, R13
	ADDQ $32, R14
	DECQ DX
	JNZ  q6ksuper

	VADDPS Y7, Y0, Y0
	Q6K_HSUM(Y0, X0)
	VMOVSS X0, (DI)
	ADDQ   $4, DI
	ADDQ   R8, SI
	DECQ   CX
	JNZ    q6krow
	VZEROUPPER
	RET
