//go:build !purego

#include "textflag.h"

// IQ4_NL × q8 kernels (AVX2). A block's 16 nibble bytes split into 32 indices in element
// order (low nibbles, then high nibbles), VPSHUFB maps them through the codebook (Y13)
// to int8 weights, and VPMADDUBSW multiplies |w| by sign(w)·x.

// KV_HSUM sums the 8 lanes of y into the low lane of x (x is y's low half); clobbers X10.
#define KV_HSUM(y, x) \
	VEXTRACTF128 $1, y, X10 \
	VADDPS       X10, x, x \
	VPERMILPS    $0x4e, x, X10 \
	VADDPS       X10, x, x \
	VPERMILPS    $0xb1, x, X10 \
	VADDSS       X10, x, x

// IQBLOCK accumulates one IQ4_NL block into acc: nibbles at qoff(BX), fp16 scale at
// soff(BX), x at xoff(R9)(R13*1), x scale at doff(R14). Y15 = 0x0f mask, Y14 = int16
// ones, Y13 = codebook in both lanes; clobbers t1..t3.
#define IQBLOCK(qoff, soff, xoff, doff, acc, t1, t2, t3, x1, x2, x3) \
	VMOVDQU      qoff(BX), x1 \
	VPSRLW       $4, x1, x2 \
	VINSERTI128  $1, x2, t1, t1 \
	VPAND        Y15, t1, t1 \
	VPSHUFB      t1, Y13, t1 \
	VMOVDQU      xoff(R9)(R13*1), t2 \
	VPSIGNB      t1, t2, t2 \
	VPABSB       t1, t1 \
	VPMADDUBSW   t2, t1, t2 \
	VPMADDWD     Y14, t2, t2 \
	VCVTDQ2PS    t2, t2 \
	VPBROADCASTW soff(BX), x3 \
	VCVTPH2PS    x3, x3 \
	VMULSS       doff(R14), x3, x3 \
	VBROADCASTSS x3, t3 \
	VFMADD231PS  t2, t3, acc

// func iq4nlRowsAVX2(w *byte, rowBytes, rows int, xq *int8, xd *float32, nb int, y *float32, tab *int8)
TEXT ·iq4nlRowsAVX2(SB), NOSPLIT, $0-64
	MOVQ w+0(FP), SI
	MOVQ rowBytes+8(FP), R8
	MOVQ rows+16(FP), CX
	MOVQ xq+24(FP), R9
	MOVQ xd+32(FP), R10
	MOVQ nb+40(FP), R12
	MOVQ y+48(FP), DI
	MOVQ tab+56(FP), AX
	VMOVDQU (AX), Y13

	MOVL         $0x0f0f0f0f, AX
	MOVQ         AX, X15
	VPBROADCASTD X15, Y15
	MOVL         $0x00010001, AX
	MOVQ         AX, X14
	VPBROADCASTD X14, Y14

iqrow:
	VXORPS Y0, Y0, Y0           // even blocks
	VXORPS Y4, Y4, Y4           // odd blocks
	MOVQ   SI, BX
	XORQ   R13, R13
	MOVQ   R10, R14
	MOVQ   R12, DX
	SHRQ   $1, DX
	JZ     iqtail

iqpair:
	IQBLOCK(2, 0, 0, 0, Y0, Y1, Y2, Y3, X1, X2, X3)
	IQBLOCK(20, 18, 32, 4, Y4, Y5, Y6, Y7, X5, X6, X7)
	ADDQ $36, BX
	ADDQ $64, R13
	ADDQ $8, R14
	DECQ DX
	JNZ  iqpair

iqtail:
	TESTQ $1, R12
	JZ    iqsum
	IQBLOCK(2, 0, 0, 0, Y0, Y1, Y2, Y3, X1, X2, X3)

iqsum:
	VADDPS Y4, Y0, Y0
	KV_HSUM(Y0, X0)
	VMOVSS X0, (DI)
	ADDQ   $4, DI
	ADDQ   R8, SI
	DECQ   CX
	JNZ    iqrow
	VZEROUPPER
	RET
