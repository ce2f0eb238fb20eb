//go:build !purego

#include "textflag.h"

// Constants of ExpF32 (ops.go), as float32 bits.
DATA expc<>+0(SB)/4, $0xc2ae0000  // expLo = -87
DATA expc<>+4(SB)/4, $0x42b00000  // expHi = 88
DATA expc<>+8(SB)/4, $0x3fb8aa3b  // expLog2e
DATA expc<>+12(SB)/4, $0x3f318000 // expLn2Hi
DATA expc<>+16(SB)/4, $0xb95e8083 // expLn2Lo
DATA expc<>+20(SB)/4, $0x39506967 // expP0
DATA expc<>+24(SB)/4, $0x3ab743ce // expP1
DATA expc<>+28(SB)/4, $0x3c088908 // expP2
DATA expc<>+32(SB)/4, $0x3d2aa9c1 // expP3
DATA expc<>+36(SB)/4, $0x3e2aaaaa // expP4
DATA expc<>+40(SB)/4, $0x3f000000 // expP5
DATA expc<>+44(SB)/4, $0x3f800000 // 1
DATA expc<>+48(SB)/4, $127        // exponent bias
DATA expc<>+52(SB)/4, $0x80000000 // sign bit
GLOBL expc<>(SB), RODATA|NOPTR, $56

// EXPCONSTS loads the constants that stay in registers: Y4 = lo, Y5 = hi, Y6 = 1,
// Y7 = p5, Y8 = p4, Y9 = p3, Y10 = p2, Y11 = p1, Y12 = p0, Y13 = ln2Lo, Y14 = ln2Hi,
// Y15 = log2e.
#define EXPCONSTS \
	VBROADCASTSS expc<>+0(SB), Y4   \
	VBROADCASTSS expc<>+4(SB), Y5   \
	VBROADCASTSS expc<>+44(SB), Y6  \
	VBROADCASTSS expc<>+40(SB), Y7  \
	VBROADCASTSS expc<>+36(SB), Y8  \
	VBROADCASTSS expc<>+32(SB), Y9  \
	VBROADCASTSS expc<>+28(SB), Y10 \
	VBROADCASTSS expc<>+24(SB), Y11 \
	VBROADCASTSS expc<>+20(SB), Y12 \
	VBROADCASTSS expc<>+16(SB), Y13 \
	VBROADCASTSS expc<>+12(SB), Y14 \
	VBROADCASTSS expc<>+8(SB), Y15

// EXP8 sets Y3 = ExpF32(Y1) lane by lane (the steps of ExpF32 in the same order);
// clobbers Y0, Y1 and Y2.
#define EXP8 \
	VMAXPS Y4, Y1, Y1                \ // x = max(x, lo)
	VMINPS Y5, Y1, Y1                \ // x = min(x, hi)
	VMULPS Y15, Y1, Y2               \
	VROUNDPS $0, Y2, Y2              \ // n = roundToEven(x·log2e)
	VMULPS Y14, Y2, Y3               \
	VSUBPS Y3, Y1, Y1                \ // r = x - n·ln2Hi
	VMULPS Y13, Y2, Y3               \
	VSUBPS Y3, Y1, Y1                \ // r -= n·ln2Lo
	VCVTPS2DQ Y2, Y2                 \
	VPBROADCASTD expc<>+48(SB), Y3   \
	VPADDD Y3, Y2, Y2                \
	VPSLLD $23, Y2, Y2               \ // Y2 = 2^n
	VMULPS Y12, Y1, Y3               \
	VADDPS Y11, Y3, Y3               \ // p = p0·r + p1
	VMULPS Y1, Y3, Y3                \
	VADDPS Y10, Y3, Y3               \
	VMULPS Y1, Y3, Y3                \
	VADDPS Y9, Y3, Y3                \
	VMULPS Y1, Y3, Y3                \
	VADDPS Y8, Y3, Y3                \
	VMULPS Y1, Y3, Y3                \
	VADDPS Y7, Y3, Y3                \ // p
	VMULPS Y1, Y1, Y0                \ // r·r
	VMULPS Y0, Y3, Y3                \
	VADDPS Y1, Y3, Y3                \
	VADDPS Y6, Y3, Y3                \
	VMULPS Y2, Y3, Y3                // e^x

// func swigluAVX2(gate, up *float32, n int)
TEXT ·swigluAVX2(SB), NOSPLIT, $0-24
	MOVQ gate+0(FP), DI
	MOVQ up+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $3, CX
	JZ   swdone
	EXPCONSTS

swloop:
	VBROADCASTSS expc<>+52(SB), Y1
	VXORPS (DI), Y1, Y1 // x = -g
	EXP8
	VADDPS Y6, Y3, Y3   // 1 + e^-g
	VMOVUPS (DI), Y0
	VDIVPS Y3, Y0, Y0   // g / (1 + e^-g)
	VMULPS (SI), Y0, Y0 // · up
	VMOVUPS Y0, (DI)
	ADDQ $32, DI
	ADDQ $32, SI
	DECQ CX
	JNZ  swloop

swdone:
	VZEROUPPER
	RET

// func expSubAVX2(x *float32, n int, m float32)
TEXT ·expSubAVX2(SB), NOSPLIT, $0-20
	MOVQ x+0(FP), DI
	MOVQ n+8(FP), CX
	SHRQ $3, CX
	JZ   esdone
	EXPCONSTS

esloop:
	VMOVUPS (DI), Y1
	VBROADCASTSS m+16(FP), Y0
	VSUBPS Y0, Y1, Y1 // x - m
	EXP8
	VMOVUPS Y3, (DI)
	ADDQ $32, DI
	DECQ CX
	JNZ  esloop

esdone:
	VZEROUPPER
	RET

// func mixAVX2(o, w, v *float32, hd, nt, stride int)
TEXT ·mixAVX2(SB), NOSPLIT, $0-48
	MOVQ o+0(FP), DI
	MOVQ w+8(FP), SI
	MOVQ v+16(FP), DX
	MOVQ hd+24(FP), CX
	MOVQ nt+32(FP), R8
	MOVQ stride+40(FP), R9
	SHLQ $2, R9

mix32:
	CMPQ CX, $32
	JLT  mix8
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	MOVQ SI, R10
	MOVQ DX, R11
	MOVQ R8, R12

mix32t:
	VBROADCASTSS (R10), Y4
	VFMADD231PS (R11), Y4, Y0
	VFMADD231PS 32(R11), Y4, Y1
	VFMADD231PS 64(R11), Y4, Y2
	VFMADD231PS 96(R11), Y4, Y3
	ADDQ $4, R10
	ADDQ R9, R11
	DECQ R12
	JNZ  mix32t
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	ADDQ $128, DI
	ADDQ $128, DX
	SUBQ $32, CX
	JMP  mix32

mix8:
	CMPQ CX, $8
	JLT  mix1
	VXORPS Y0, Y0, Y0
	MOVQ SI, R10
	MOVQ DX, R11
	MOVQ R8, R12

mix8t:
	VBROADCASTSS (R10), Y4
	VFMADD231PS (R11), Y4, Y0
	ADDQ $4, R10
	ADDQ R9, R11
	DECQ R12
	JNZ  mix8t
	VMOVUPS Y0, (DI)
	ADDQ $32, DI
	ADDQ $32, DX
	SUBQ $8, CX
	JMP  mix8

mix1:
	TESTQ CX, CX
	JZ    mixdone
	VXORPS X0, X0, X0
	MOVQ SI, R10
	MOVQ DX, R11
	MOVQ R8, R12

mix1t:
	VMOVSS (R10), X4
	VFMADD231SS (R11), X4, X0
	ADDQ $4, R10
	ADDQ R9, R11
	DECQ R12
	JNZ  mix1t
	VMOVSS X0, (DI)
	ADDQ $4, DI
	ADDQ $4, DX
	DECQ CX
	JMP  mix1

mixdone:
	VZEROUPPER
	RET

// func sumSqAVX2(x *float32, n int) float64
TEXT ·sumSqAVX2(SB), NOSPLIT, $0-24
	MOVQ   x+0(FP), SI
	MOVQ   n+8(FP), CX
	VXORPD Y0, Y0, Y0
	VXORPD Y1, Y1, Y1
	SHRQ   $3, CX
	JZ     ssred

ssloop:
	VCVTPS2PD   (SI), Y2
	VCVTPS2PD   16(SI), Y3
	VFMADD231PD Y2, Y2, Y0 // lanes 0-3
	VFMADD231PD Y3, Y3, Y1 // lanes 4-7
	ADDQ        $32, SI
	DECQ        CX
	JNZ         ssloop

ssred:
	VADDPD       Y1, Y0, Y0 // a[l] + a[l+4]
	VEXTRACTF128 $1, Y0, X1
	VADDPD       X1, X0, X0 // (a0+a4)+(a2+a6), (a1+a5)+(a3+a7)
	VUNPCKHPD    X0, X0, X1
	VADDSD       X1, X0, X0
	VZEROUPPER
	MOVSD        X0, ret+16(FP)
	RET

// func scaleMulAVX2(dst, x, w *float32, n int, s float32)
TEXT ·scaleMulAVX2(SB), NOSPLIT, $0-36
	MOVQ         dst+0(FP), DI
	MOVQ         x+8(FP), SI
	MOVQ         w+16(FP), DX
	MOVQ         n+24(FP), CX
	VBROADCASTSS s+32(FP), Y3
	SHRQ         $3, CX
	JZ           smdone

smloop:
	VMULPS  (SI), Y3, Y0
	VMULPS  (DX), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DX
	ADDQ    $32, DI
	DECQ    CX
	JNZ     smloop

smdone:
	VZEROUPPER
	RET

// func addAVX2(dst, x *float32, n int)
TEXT ·addAVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $3, CX
	JZ   adddone

addloop:
	VMOVUPS (DI), Y0
	VADDPS  (SI), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	DECQ    CX
	JNZ     addloop

adddone:
	VZEROUPPER
	RET
