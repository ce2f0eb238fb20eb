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

// IQUNPACK loads the IQ4_NL block at BX (nibbles at qoff, scale at soff): int8 weights
// into Y8, |weights| into Y12, the scale into all lanes of Y9.
#define IQUNPACK(qoff, soff) \
	VMOVDQU      qoff(BX), X8 \
	VPSRLW       $4, X8, X9 \
	VINSERTI128  $1, X9, Y8, Y8 \
	VPAND        Y15, Y8, Y8 \
	VPSHUFB      Y8, Y13, Y8 \
	VPABSB       Y8, Y12 \
	VPBROADCASTW soff(BX), X9 \
	VCVTPH2PS    X9, Y9

// IQTOK accumulates one token of a 4-token group: x at qo(R13), x scale replicated at
// do(R13). Clobbers Y10, Y11.
#define IQTOK(qo, do, acc) \
	VMOVDQU     qo(R13), Y10 \
	VPSIGNB     Y8, Y10, Y10 \
	VPMADDUBSW  Y10, Y12, Y10 \
	VPMADDWD    Y14, Y10, Y10 \
	VCVTDQ2PS   Y10, Y10 \
	VMULPS      do(R13), Y9, Y11 \
	VFMADD231PS Y10, Y11, acc

// func iq4nlRows4AVX2(w *byte, rowBytes, rows int, xg *byte, nb int, y *float32, ystride int, tab *int8)
TEXT ·iq4nlRows4AVX2(SB), NOSPLIT, $0-64
	MOVQ w+0(FP), SI
	MOVQ rowBytes+8(FP), R8
	MOVQ rows+16(FP), CX
	MOVQ xg+24(FP), R9
	MOVQ nb+32(FP), R12
	MOVQ y+40(FP), DI
	MOVQ ystride+48(FP), R10
	MOVQ tab+56(FP), AX
	VMOVDQU (AX), Y13

	MOVL         $0x0f0f0f0f, AX
	MOVQ         AX, X15
	VPBROADCASTD X15, Y15
	MOVL         $0x00010001, AX
	MOVQ         AX, X14
	VPBROADCASTD X14, Y14

iq4row:
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	MOVQ   SI, BX
	MOVQ   R9, R13
	MOVQ   R12, DX
	SHRQ   $1, DX
	JZ     iq4tail

iq4pair:
	IQUNPACK(2, 0)
	IQTOK(0, 256, Y0)
	IQTOK(32, 288, Y1)
	IQTOK(64, 320, Y2)
	IQTOK(96, 352, Y3)
	IQUNPACK(20, 18)
	IQTOK(384, 640, Y4)
	IQTOK(416, 672, Y5)
	IQTOK(448, 704, Y6)
	IQTOK(480, 736, Y7)
	ADDQ $36, BX
	ADDQ $768, R13
	DECQ DX
	JNZ  iq4pair

iq4tail:
	TESTQ $1, R12
	JZ    iq4sum
	IQUNPACK(2, 0)
	IQTOK(0, 256, Y0)
	IQTOK(32, 288, Y1)
	IQTOK(64, 320, Y2)
	IQTOK(96, 352, Y3)

iq4sum:
	VADDPS Y4, Y0, Y0
	VADDPS Y5, Y1, Y1
	VADDPS Y6, Y2, Y2
	VADDPS Y7, Y3, Y3
	KV_HSUM(Y0, X0)
	KV_HSUM(Y1, X1)
	KV_HSUM(Y2, X2)
	KV_HSUM(Y3, X3)
	LEAQ   (DI)(R10*2), AX
	VMOVSS X0, (DI)
	VMOVSS X1, (DI)(R10*1)
	VMOVSS X2, (AX)
	VMOVSS X3, (AX)(R10*1)
	ADDQ   $4, DI
	ADDQ   R8, SI
	DECQ   CX
	JNZ    iq4row
	VZEROUPPER
	RET
