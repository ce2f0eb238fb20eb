//go:build !purego

#include "textflag.h"

// Q4_K × q8 kernel (AVX2); see q4k.go. Per super-block the eight 6-bit scales and mins
// are unpacked with integer shifts and masks (ggml's get_scale_min_k4 for all eight at
// once), converted and multiplied by d (dmin) and by the eight activation scales into
// the frame: A_j at 16+4j(SP), B_j/8 at 48+4j(SP).

DATA q4kEighth<>+0(SB)/8, $0x3e0000003e000000
DATA q4kEighth<>+8(SB)/8, $0x3e0000003e000000
DATA q4kEighth<>+16(SB)/8, $0x3e0000003e000000
DATA q4kEighth<>+24(SB)/8, $0x3e0000003e000000
GLOBL q4kEighth<>(SB), RODATA|NOPTR, $32

// Q4KSCALES unpacks the scales and mins of the super-block at BX into 0(SP) (8 sc
// bytes) and 8(SP) (8 m bytes); clobbers AX, R10, R12.
#define Q4KSCALES \
	MOVL  4(BX), AX \
	MOVL  12(BX), R12 \
	MOVL  AX, R10 \
	ANDL  $0x3f3f3f3f, R10 \
	MOVL  R10, 0(SP) \
	SHRL  $6, AX \
	ANDL  $0x03030303, AX \
	SHLL  $4, AX \
	MOVL  R12, R10 \
	ANDL  $0x0f0f0f0f, R10 \
	ORL   R10, AX \
	MOVL  AX, 4(SP) \
	MOVL  8(BX), AX \
	MOVL  AX, R10 \
	ANDL  $0x3f3f3f3f, R10 \
	MOVL  R10, 8(SP) \
	SHRL  $6, AX \
	ANDL  $0x03030303, AX \
	SHLL  $4, AX \
	SHRL  $4, R12 \
	ANDL  $0x0f0f0f0f, R12 \
	ORL   R12, AX \
	MOVL  AX, 12(SP)

// Q4K_HSUM sums the 8 lanes of y into the low lane of x (x is y's low half); clobbers X10.
#define Q4K_HSUM(y, x) \
	VEXTRACTF128 $1, y, X10 \
	VADDPS       X10, x, x \
	VPERMILPS    $0x4e, x, X10 \
	VADDPS       X10, x, x \
	VPERMILPS    $0xb1, x, X10 \
	VADDSS       X10, x, x

// Q4KSUB accumulates sub-block j (nibbles in n) into acc: x at xoff(R9)(R13*1), lane
// offsets at xoff(R11)(R13*1), A_j at aoff(SP), B_j/8 at boff(SP). Clobbers t1, t2.
#define Q4KSUB(n, xoff, aoff, boff, acc, t1, t2) \
	VPMADDUBSW   xoff(R9)(R13*1), n, t1 \
	VPMADDWD     Y14, t1, t1 \
	VCVTDQ2PS    t1, t1 \
	VBROADCASTSS aoff(SP), t2 \
	VFMADD231PS  t1, t2, acc \
	VCVTDQ2PS    xoff(R11)(R13*1), t1 \
	VBROADCASTSS boff(SP), t2 \
	VFNMADD231PS t1, t2, acc

// Q4KCHUNK accumulates the two sub-blocks of 64-element chunk c (qs at 16+32c(BX)).
#define Q4KCHUNK(qoff, xoff, xoff2, aoff, aoff2, boff, boff2) \
	VMOVDQU qoff(BX), Y1 \
	VPSRLW  $4, Y1, Y2 \
	VPAND   Y15, Y1, Y1 \
	VPAND   Y15, Y2, Y2 \
	Q4KSUB(Y1, xoff, aoff, boff, Y0, Y3, Y5) \
	Q4KSUB(Y2, xoff2, aoff2, boff2, Y4, Y6, Y7)

// func q4kRowsAVX2(w *byte, rowBytes, rows int, xq *int8, xd *float32, xc *int32, nb int, y *float32)
TEXT ·q4kRowsAVX2(SB), NOSPLIT, $80-64
	MOVQ w+0(FP), SI
	MOVQ rowBytes+8(FP), R8
	MOVQ rows+16(FP), CX
	MOVQ xq+24(FP), R9
	MOVQ xc+40(FP), R11
	MOVQ y+56(FP), DI

	MOVL         $0x0f0f0f0f, AX
	MOVQ         AX, X15
	VPBROADCASTD X15, Y15
	MOVL         $0x00010001, AX
	MOVQ         AX, X14
	VPBROADCASTD X14, Y14

q4krow:
	VXORPS Y0, Y0, Y0           // sub-blocks 0, 2, 4, 6
	VXORPS Y4, Y4, Y4           // sub-blocks 1, 3, 5, 7
	MOVQ   SI, BX
	XORQ   R13, R13
	MOVQ   xd+32(FP), R14
	MOVQ   nb+48(FP), DX
	SHRQ   $3, DX               // super-blocks

q4ksuper:
	Q4KSCALES

	VPMOVZXBD    0(SP), Y8
	VCVTDQ2PS    Y8, Y8
	VPBROADCASTW 0(BX), X9
	VCVTPH2PS    X9, Y9
	VMULPS       Y9, Y8, Y8
	VMULPS       (R14), Y8, Y8  // A_j = d·sc_j·xd_j
	VMOVUPS      Y8, 16(SP)
	VPMOVZXBD    8(SP), Y8
	VCVTDQ2PS    Y8, Y8
	VPBROADCASTW 2(BX), X9
	VCVTPH2PS    X9, Y9
	VMULPS       Y9, Y8, Y8
	VMULPS       q4kEighth<>(SB), Y8, Y8 // dmin·m_j/8 (the lane offsets are 8·Σq)
	VMULPS       (R14), Y8, Y8  // B_j/8 = (dmin·m_j/8)·xd_j
	VMOVUPS      Y8, 48(SP)

	Q4KCHUNK(16, 0, 32, 16, 20, 48, 52)
	Q4KCHUNK(48, 64, 96, 24, 28, 56, 60)
	Q4KCHUNK(80, 128, 160, 32, 36, 64, 68)
	Q4KCHUNK(112, 192, 224, 40, 44, 72, 76)

	ADDQ $144, BX
	ADDQ $256, R13
	ADDQ $32, R14
	DECQ DX
	JNZ  q4ksuper

	VADDPS Y4, Y0, Y0
	Q4K_HSUM(Y0, X0)
	VMOVSS X0, (DI)
	ADDQ   $4, DI
	ADDQ   R8, SI
	DECQ   CX
	JNZ    q4krow
	VZEROUPPER
	RET
