//go:build !purego

#include "textflag.h"

// Q4_K × q8 kernel (AVX2); see q4k.go. Per super-block the eight 6-bit scales and mins
// are unpacked with integer shifts and masks (ggml's get_scale_min_k4 for all eight at
// once), converted and multiplied by d (dmin) and by the eight activation scales into
// the frame: A_j at 16+4j(SP), B_j/8 at 48+4j(SP). The 4-token kernel keeps d·sc_j and
// dmin·m_j/8 there and multiplies them by each token's scale.

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

// Q4K4TOK accumulates sub-block j (nibbles in Y8, d·sc_j in all lanes of Y9, dmin·m_j/8
// in Y10) for token t of the group at R13 into acc. Clobbers Y11..Y13.
#define Q4K4TOK(xo, co, do, acc) \
	VPMADDUBSW   xo(R13), Y8, Y11 \
	VPMADDWD     Y14, Y11, Y11 \
	VCVTDQ2PS    Y11, Y11 \
	VMOVUPS      do(R13), Y12 \
	VMULPS       Y9, Y12, Y13 \
	VFMADD231PS  Y11, Y13, acc \
	VCVTDQ2PS    co(R13), Y11 \
	VMULPS       Y10, Y12, Y13 \
	VFNMADD231PS Y11, Y13, acc

// Q4K4SUB accumulates sub-block j (block offset bo = 384j in the group) for the four
// tokens into acc0..acc3.
#define Q4K4SUB(bo, so, acc0, acc1, acc2, acc3) \
	VBROADCASTSS (16+so)(SP), Y9 \
	VBROADCASTSS (48+so)(SP), Y10 \
	Q4K4TOK(bo, bo+128, bo+256, acc0) \
	Q4K4TOK(bo+32, bo+160, bo+288, acc1) \
	Q4K4TOK(bo+64, bo+192, bo+320, acc2) \
	Q4K4TOK(bo+96, bo+224, bo+352, acc3)

// Q4K4CHUNK accumulates the two sub-blocks of chunk c (qs at qoff(BX); sub-block 2c at
// block offset bo, 2c+1 at bo+384).
#define Q4K4CHUNK(qoff, bo, so) \
	VPAND  qoff(BX), Y15, Y8 \
	Q4K4SUB(bo, so, Y0, Y1, Y2, Y3) \
	VMOVDQU qoff(BX), Y8 \
	VPSRLW $4, Y8, Y8 \
	VPAND  Y15, Y8, Y8 \
	Q4K4SUB(bo+384, so+4, Y4, Y5, Y6, Y7)

// func q4kRows4AVX2(w *byte, rowBytes, rows int, xg *byte, nb int, y *float32, ystride int)
TEXT ·q4kRows4AVX2(SB), NOSPLIT, $80-56
	MOVQ w+0(FP), SI
	MOVQ rowBytes+8(FP), R8
	MOVQ rows+16(FP), CX
	MOVQ y+40(FP), DI

	MOVL         $0x0f0f0f0f, AX
	MOVQ         AX, X15
	VPBROADCASTD X15, Y15
	MOVL         $0x00010001, AX
	MOVQ         AX, X14
	VPBROADCASTD X14, Y14

q4k4row:
	VXORPS Y0, Y0, Y0           // tokens 0..3, even sub-blocks
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4           // tokens 0..3, odd sub-blocks
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	MOVQ   SI, BX
	MOVQ   xg+24(FP), R13
	MOVQ   nb+32(FP), DX
	SHRQ   $3, DX

q4k4super:
	Q4KSCALES
	VPMOVZXBD    0(SP), Y8
	VCVTDQ2PS    Y8, Y8
	VPBROADCASTW 0(BX), X9
	VCVTPH2PS    X9, Y9
	VMULPS       Y9, Y8, Y8     // d·sc_j
	VMOVUPS      Y8, 16(SP)
	VPMOVZXBD    8(SP), Y8
	VCVTDQ2PS    Y8, Y8
	VPBROADCASTW 2(BX), X9
	VCVTPH2PS    X9, Y9
	VMULPS       Y9, Y8, Y8
	VMULPS       q4kEighth<>(SB), Y8, Y8 // dmin·m_j/8
	VMOVUPS      Y8, 48(SP)

	Q4K4CHUNK(16, 0, 0)
	Q4K4CHUNK(48, 768, 8)
	Q4K4CHUNK(80, 1536, 16)
	Q4K4CHUNK(112, 2304, 24)

	ADDQ $144, BX
	ADDQ $3072, R13
	DECQ DX
	JNZ  q4k4super

	VADDPS Y4, Y0, Y0
	VADDPS Y5, Y1, Y1
	VADDPS Y6, Y2, Y2
	VADDPS Y7, Y3, Y3
	Q4K_HSUM(Y0, X0)
	Q4K_HSUM(Y1, X1)
	Q4K_HSUM(Y2, X2)
	Q4K_HSUM(Y3, X3)
	MOVQ   ystride+48(FP), R10
	LEAQ   (DI)(R10*2), AX
	VMOVSS X0, (DI)
	VMOVSS X1, (DI)(R10*1)
	VMOVSS X2, (AX)
	VMOVSS X3, (AX)(R10*1)
	ADDQ   $4, DI
	ADDQ   R8, SI
	DECQ   CX
	JNZ    q4k4row
	VZEROUPPER
	RET
