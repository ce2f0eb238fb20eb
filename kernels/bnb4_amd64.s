//go:build !purego

#include "textflag.h"

// NF4/FP4 × q8 kernels (AVX2); see bnb4.go for the integer scheme. A block's 16 code
// bytes become 32 codes in element order (VPMOVZXBW, then each word's low byte gets the
// high nibble and its high byte the low nibble), two VPSHUFB give the hi and lo halves
// of the scaled table, and two VPMADDUBSW multiply them with the activations.

DATA bnbC128<>+0(SB)/8, $0x0080008000800080
DATA bnbC128<>+8(SB)/8, $0x0080008000800080
DATA bnbC128<>+16(SB)/8, $0x0080008000800080
DATA bnbC128<>+24(SB)/8, $0x0080008000800080
GLOBL bnbC128<>(SB), RODATA|NOPTR, $32

// BNB_HSUM sums the 8 lanes of y into the low lane of x (x is y's low half); clobbers X10.
#define BNB_HSUM(y, x) \
	VEXTRACTF128 $1, y, X10 \
	VADDPS       X10, x, x \
	VPERMILPS    $0x4e, x, X10 \
	VADDPS       X10, x, x \
	VPERMILPS    $0xb1, x, X10 \
	VADDSS       X10, x, x

// BNBCODES loads the 16 code bytes at off(BX) as 32 codes in element order into t1;
// clobbers t2. Y15 = 0x0f mask.
#define BNBCODES(off, t1, t2) \
	VPMOVZXBW off(BX), t1 \
	VPSRLW    $4, t1, t2 \
	VPSLLW    $8, t1, t1 \
	VPOR      t2, t1, t1 \
	VPAND     Y15, t1, t1

// BNBBLOCK accumulates one block into Y0: codes at qoff(BX), float32 absmax at
// soff(BX), x at xoff(R9)(R13*1), x scale at doff(R14). Y12/Y13 = hi/lo tables, Y11 =
// int16 128, Y14 = int16 ones; clobbers t1..t4.
#define BNBBLOCK(qoff, soff, xoff, doff, t1, t2, t3, t4, x3) \
	BNBCODES(qoff, t1, t2) \
	VPSHUFB      t1, Y12, t2 \
	VPSHUFB      t1, Y13, t1 \
	VMOVDQU      xoff(R9)(R13*1), t3 \
	VPSIGNB      t2, t3, t4 \
	VPABSB       t2, t2 \
	VPMADDUBSW   t4, t2, t2 \
	VPSIGNB      t1, t3, t3 \
	VPABSB       t1, t1 \
	VPMADDUBSW   t3, t1, t1 \
	VPMADDWD     Y11, t2, t2 \
	VPMADDWD     Y14, t1, t1 \
	VPADDD       t1, t2, t2 \
	VCVTDQ2PS    t2, t2 \
	VMOVSS       soff(BX), x3 \
	VMULSS       doff(R14), x3, x3 \
	VBROADCASTSS x3, t3 \
	VFMADD231PS  t2, t3, Y0

// func bnb4RowsAVX2(w *byte, rowBytes, rows int, xq *int8, xd *float32, nb int, y *float32, tab *int8)
TEXT ·bnb4RowsAVX2(SB), NOSPLIT, $0-64
	MOVQ w+0(FP), SI
	MOVQ rowBytes+8(FP), R8
	MOVQ rows+16(FP), CX
	MOVQ xq+24(FP), R9
	MOVQ xd+32(FP), R10
	MOVQ nb+40(FP), R12
	MOVQ y+48(FP), DI
	MOVQ tab+56(FP), AX
	VMOVDQU (AX), Y12
	VMOVDQU 32(AX), Y13
	VMOVDQU bnbC128<>(SB), Y11

	MOVL         $0x0f0f0f0f, AX
	MOVQ         AX, X15
	VPBROADCASTD X15, Y15
	MOVL         $0x00010001, AX
	MOVQ         AX, X14
	VPBROADCASTD X14, Y14
	MOVL         $0x39000000, R11 // 2^-13 as float32

bnbrow:
	VXORPS Y0, Y0, Y0
	MOVQ   SI, BX
	XORQ   R13, R13
	MOVQ   R10, R14
	MOVQ   R12, DX
	SHRQ   $1, DX
	JZ     bnbtail

bnbpair:
	BNBBLOCK(4, 0, 0, 0, Y1, Y2, Y3, Y4, X3)
	BNBBLOCK(24, 20, 32, 4, Y5, Y6, Y7, Y8, X7)
	ADDQ $40, BX
	ADDQ $64, R13
	ADDQ $8, R14
	DECQ DX
	JNZ  bnbpair

bnbtail:
	TESTQ $1, R12
	JZ    bnbsum
	BNBBLOCK(4, 0, 0, 0, Y1, Y2, Y3, Y4, X3)

bnbsum:
	BNB_HSUM(Y0, X0)
	MOVQ   R11, X1
	VMULSS X1, X0, X0
	VMOVSS X0, (DI)
	ADDQ   $4, DI
	ADDQ   R8, SI
	DECQ   CX
	JNZ    bnbrow
	VZEROUPPER
	RET

// BNBUNPACK loads the block at BX: hi halves into Y5 and |hi| into Y4, lo halves into Y7
// and |lo| into Y6, absmax into all lanes of Y8. Clobbers Y9.
#define BNBUNPACK(qoff, soff) \
	BNBCODES(qoff, Y7, Y9) \
	VPSHUFB      Y7, Y12, Y5 \
	VPSHUFB      Y7, Y13, Y7 \
	VPABSB       Y5, Y4 \
	VPABSB       Y7, Y6 \
	VBROADCASTSS soff(BX), Y8

// BNBTOK accumulates one token of a 4-token group: x at qo(R13), x scale replicated
// at do(R13). Clobbers Y9..Y11.
#define BNBTOK(qo, do, acc) \
	VMOVDQU     qo(R13), Y9 \
	VPSIGNB     Y5, Y9, Y10 \
	VPMADDUBSW  Y10, Y4, Y10 \
	VPSIGNB     Y7, Y9, Y9 \
	VPMADDUBSW  Y9, Y6, Y9 \
	VPMADDWD    bnbC128<>(SB), Y10, Y10 \
	VPMADDWD    Y14, Y9, Y9 \
	VPADDD      Y9, Y10, Y10 \
	VCVTDQ2PS   Y10, Y10 \
	VMULPS      do(R13), Y8, Y11 \
	VFMADD231PS Y10, Y11, acc

// func bnb4Rows4AVX2(w *byte, rowBytes, rows int, xg *byte, nb int, y *float32, ystride int, tab *int8)
TEXT ·bnb4Rows4AVX2(SB), NOSPLIT, $0-64
	MOVQ w+0(FP), SI
	MOVQ rowBytes+8(FP), R8
	MOVQ rows+16(FP), CX
	MOVQ xg+24(FP), R9
	MOVQ nb+32(FP), R12
	MOVQ y+40(FP), DI
	MOVQ ystride+48(FP), R10
	MOVQ tab+56(FP), AX
	VMOVDQU (AX), Y12
	VMOVDQU 32(AX), Y13

	MOVL         $0x0f0f0f0f, AX
	MOVQ         AX, X15
	VPBROADCASTD X15, Y15
	MOVL         $0x00010001, AX
	MOVQ         AX, X14
	VPBROADCASTD X14, Y14
	MOVL         $0x39000000, R11

bnb4row:
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	MOVQ   SI, BX
	MOVQ   R9, R13
	MOVQ   R12, DX

bnb4block:
	BNBUNPACK(4, 0)
	BNBTOK(0, 256, Y0)
	BNBTOK(32, 288, Y1)
	BNBTOK(64, 320, Y2)
	BNBTOK(96, 352, Y3)
	ADDQ $20, BX
	ADDQ $384, R13
	DECQ DX
	JNZ  bnb4block

	BNB_HSUM(Y0, X0)
	BNB_HSUM(Y1, X1)
	BNB_HSUM(Y2, X2)
	BNB_HSUM(Y3, X3)
	MOVQ   R11, X4
	VMULSS X4, X0, X0
	VMULSS X4, X1, X1
	VMULSS X4, X2, X2
	VMULSS X4, X3, X3
	LEAQ   (DI)(R10*2), AX
	VMOVSS X0, (DI)
	VMOVSS X1, (DI)(R10*1)
	VMOVSS X2, (AX)
	VMOVSS X3, (AX)(R10*1)
	ADDQ   $4, DI
	ADDQ   R8, SI
	DECQ   CX
	JNZ    bnb4row
	VZEROUPPER
	RET
