//go:build !purego

#include "textflag.h"

// The element-wise kernels of ops.go on NEON, each the Go specification's float32 (or
// float64) operations lane by lane, so the results are the same bits. Vector
// instructions the Go assembler lacks are encoded below (register numbers m, n, d;
// d = n op m).
#define FADD4S(m, n, d) WORD $(0x4E20D400 | (m<<16) | (n<<5) | d)
#define FSUB4S(m, n, d) WORD $(0x4EA0D400 | (m<<16) | (n<<5) | d)
#define FMUL4S(m, n, d) WORD $(0x6E20DC00 | (m<<16) | (n<<5) | d)
#define FDIV4S(m, n, d) WORD $(0x6E20FC00 | (m<<16) | (n<<5) | d)
#define FMAX4S(m, n, d) WORD $(0x4E20F400 | (m<<16) | (n<<5) | d)
#define FMIN4S(m, n, d) WORD $(0x4EA0F400 | (m<<16) | (n<<5) | d)
#define ADD4S(m, n, d) WORD $(0x4EA08400 | (m<<16) | (n<<5) | d)
#define FRINTN4S(n, d) WORD $(0x4E218800 | (n<<5) | d)
#define FCVTZS4S(n, d) WORD $(0x4EA1B800 | (n<<5) | d)
#define FNEG4S(n, d) WORD $(0x6EA0F800 | (n<<5) | d)
#define SHL4S23(n, d) WORD $(0x4F375400 | (n<<5) | d)
// FMUL / FMLA Vd.4S, Vn.4S, Vm.S[0]
#define FMULE4S(m, n, d) WORD $(0x4F809000 | (m<<16) | (n<<5) | d)
#define FMLAE4S(m, n, d) WORD $(0x4F801000 | (m<<16) | (n<<5) | d)
// FCVTL Vd.2D, Vn.2S; FCVTL2 Vd.2D, Vn.4S; FMLA, FADD Vd.2D; FADDP Dd, Vn.2D
#define FCVTL2D(n, d) WORD $(0x0E617800 | (n<<5) | d)
#define FCVTL22D(n, d) WORD $(0x4E617800 | (n<<5) | d)
#define FMLA2D(m, n, d) WORD $(0x4E60CC00 | (m<<16) | (n<<5) | d)
#define FADD2D(m, n, d) WORD $(0x4E60D400 | (m<<16) | (n<<5) | d)
#define FADDPD(n, d) WORD $(0x7E70D800 | (n<<5) | d)

// Constants of ExpF32 (ops.go), as float32 bits, each in four lanes.
DATA expc<>+0(SB)/8, $0xc2ae0000c2ae0000 // V16 = expLo = -87
DATA expc<>+8(SB)/8, $0xc2ae0000c2ae0000
DATA expc<>+16(SB)/8, $0x42b0000042b00000 // V17 = expHi = 88
DATA expc<>+24(SB)/8, $0x42b0000042b00000
DATA expc<>+32(SB)/8, $0x3fb8aa3b3fb8aa3b // V18 = expLog2e
DATA expc<>+40(SB)/8, $0x3fb8aa3b3fb8aa3b
DATA expc<>+48(SB)/8, $0x3f3180003f318000 // V19 = expLn2Hi
DATA expc<>+56(SB)/8, $0x3f3180003f318000
DATA expc<>+64(SB)/8, $0xb95e8083b95e8083 // V20 = expLn2Lo
DATA expc<>+72(SB)/8, $0xb95e8083b95e8083
DATA expc<>+80(SB)/8, $0x3950696739506967 // V21 = expP0
DATA expc<>+88(SB)/8, $0x3950696739506967
DATA expc<>+96(SB)/8, $0x3ab743ce3ab743ce // V22 = expP1
DATA expc<>+104(SB)/8, $0x3ab743ce3ab743ce
DATA expc<>+112(SB)/8, $0x3c0889083c088908 // V23 = expP2
DATA expc<>+120(SB)/8, $0x3c0889083c088908
DATA expc<>+128(SB)/8, $0x3d2aa9c13d2aa9c1 // V24 = expP3
DATA expc<>+136(SB)/8, $0x3d2aa9c13d2aa9c1
DATA expc<>+144(SB)/8, $0x3e2aaaaa3e2aaaaa // V25 = expP4
DATA expc<>+152(SB)/8, $0x3e2aaaaa3e2aaaaa
DATA expc<>+160(SB)/8, $0x3f0000003f000000 // V26 = expP5
DATA expc<>+168(SB)/8, $0x3f0000003f000000
DATA expc<>+176(SB)/8, $0x3f8000003f800000 // V27 = 1
DATA expc<>+184(SB)/8, $0x3f8000003f800000
DATA expc<>+192(SB)/8, $0x0000007f0000007f // V28 = exponent bias 127 (int32)
DATA expc<>+200(SB)/8, $0x0000007f0000007f
GLOBL expc<>(SB), RODATA|NOPTR, $208

// EXPCONSTS loads the table above into V16-V28 (R3 clobbered).
#define EXPCONSTS \
	MOVD   $expc<>(SB), R3                         \
	VLD1.P 64(R3), [V16.S4, V17.S4, V18.S4, V19.S4] \
	VLD1.P 64(R3), [V20.S4, V21.S4, V22.S4, V23.S4] \
	VLD1.P 64(R3), [V24.S4, V25.S4, V26.S4, V27.S4] \
	VLD1   (R3), [V28.S4]

// EXP2 sets V4 = ExpF32(V0) and V5 = ExpF32(V1) lane by lane, the steps of ExpF32 in its
// order, the two vectors interleaved (26 instructions per four lanes); clobbers V0-V7.
// n = roundToEven(x·log2e) by FRINTN: it differs from the specification's
// (t + 1.5·2^23) - 1.5·2^23 only by giving -0 instead of +0 for t in (-0.5, -0], which
// changes no later result (x - n·ln2Hi is x unless x is ±0, and for x = -0 both give
// r = +0 after the second step).
#define EXP2 \
	FMAX4S(16, 0, 0)  \
	FMAX4S(16, 1, 1)  \
	FMIN4S(17, 0, 0)  \
	FMIN4S(17, 1, 1)  \
	FMUL4S(18, 0, 2)  \
	FMUL4S(18, 1, 3)  \
	FRINTN4S(2, 2)    \
	FRINTN4S(3, 3)    \
	FMUL4S(19, 2, 6)  \
	FMUL4S(19, 3, 7)  \
	FSUB4S(6, 0, 0)   \
	FSUB4S(7, 1, 1)   \
	FMUL4S(20, 2, 6)  \
	FMUL4S(20, 3, 7)  \
	FSUB4S(6, 0, 0)   \
	FSUB4S(7, 1, 1)   \
	FCVTZS4S(2, 2)    \
	FCVTZS4S(3, 3)    \
	ADD4S(28, 2, 2)   \
	ADD4S(28, 3, 3)   \
	SHL4S23(2, 2)     \
	SHL4S23(3, 3)     \
	FMUL4S(21, 0, 4)  \
	FMUL4S(21, 1, 5)  \
	FADD4S(22, 4, 4)  \
	FADD4S(22, 5, 5)  \
	FMUL4S(0, 4, 4)   \
	FMUL4S(1, 5, 5)   \
	FADD4S(23, 4, 4)  \
	FADD4S(23, 5, 5)  \
	FMUL4S(0, 4, 4)   \
	FMUL4S(1, 5, 5)   \
	FADD4S(24, 4, 4)  \
	FADD4S(24, 5, 5)  \
	FMUL4S(0, 4, 4)   \
	FMUL4S(1, 5, 5)   \
	FADD4S(25, 4, 4)  \
	FADD4S(25, 5, 5)  \
	FMUL4S(0, 4, 4)   \
	FMUL4S(1, 5, 5)   \
	FADD4S(26, 4, 4)  \
	FADD4S(26, 5, 5)  \
	FMUL4S(0, 0, 6)   \
	FMUL4S(1, 1, 7)   \
	FMUL4S(6, 4, 4)   \
	FMUL4S(7, 5, 5)   \
	FADD4S(0, 4, 4)   \
	FADD4S(1, 5, 5)   \
	FADD4S(27, 4, 4)  \
	FADD4S(27, 5, 5)  \
	FMUL4S(2, 4, 4)   \
	FMUL4S(3, 5, 5)

// func swigluNEON(gate, up *float32, n int)
TEXT ·swigluNEON(SB), NOSPLIT, $0-24
	MOVD gate+0(FP), R0
	MOVD up+8(FP), R1
	MOVD n+16(FP), R2
	LSR  $3, R2, R2
	CBZ  R2, swdone
	EXPCONSTS

swloop:
	VLD1   (R0), [V8.S4, V9.S4]
	FNEG4S(8, 0)
	FNEG4S(9, 1)
	EXP2
	FADD4S(27, 4, 4) // 1 + e^-g
	FADD4S(27, 5, 5)
	FDIV4S(4, 8, 8)  // g / (1 + e^-g)
	FDIV4S(5, 9, 9)
	VLD1.P 32(R1), [V10.S4, V11.S4]
	FMUL4S(10, 8, 8) // · up
	FMUL4S(11, 9, 9)
	VST1.P [V8.S4, V9.S4], 32(R0)
	SUBS   $1, R2, R2
	BNE    swloop

swdone:
	RET

// func expSubNEON(x *float32, n int, m float32)
TEXT ·expSubNEON(SB), NOSPLIT, $0-20
	MOVD  x+0(FP), R0
	MOVD  n+8(FP), R2
	FMOVS m+16(FP), F29
	VDUP  V29.S[0], V29.S4
	LSR   $3, R2, R2
	CBZ   R2, esdone
	EXPCONSTS

esloop:
	VLD1   (R0), [V0.S4, V1.S4]
	FSUB4S(29, 0, 0) // x - m
	FSUB4S(29, 1, 1)
	EXP2
	VST1.P [V4.S4, V5.S4], 32(R0)
	SUBS   $1, R2, R2
	BNE    esloop

esdone:
	RET

// func mixNEON(o, w, v *float32, hd, nt, stride int)
TEXT ·mixNEON(SB), NOSPLIT, $0-48
	MOVD o+0(FP), R0
	MOVD w+8(FP), R1
	MOVD v+16(FP), R2
	MOVD hd+24(FP), R3
	MOVD nt+32(FP), R4
	MOVD stride+40(FP), R5
	LSL  $2, R5, R5

mix16:
	CMP  $16, R3
	BLT  mix4
	VEOR V0.B16, V0.B16, V0.B16
	VEOR V1.B16, V1.B16, V1.B16
	VEOR V2.B16, V2.B16, V2.B16
	VEOR V3.B16, V3.B16, V3.B16
	MOVD R1, R6
	MOVD R2, R7
	MOVD R4, R8

mix16t:
	FMOVS.P 4(R6), F16
	VLD1    (R7), [V4.S4, V5.S4, V6.S4, V7.S4]
	FMLAE4S(16, 4, 0)
	FMLAE4S(16, 5, 1)
	FMLAE4S(16, 6, 2)
	FMLAE4S(16, 7, 3)
	ADD     R5, R7, R7
	SUBS    $1, R8, R8
	BNE     mix16t
	VST1.P  [V0.S4, V1.S4, V2.S4, V3.S4], 64(R0)
	ADD     $64, R2, R2
	SUB     $16, R3, R3
	B       mix16

mix4:
	CMP  $4, R3
	BLT  mix1
	VEOR V0.B16, V0.B16, V0.B16
	MOVD R1, R6
	MOVD R2, R7
	MOVD R4, R8

mix4t:
	FMOVS.P 4(R6), F16
	VLD1    (R7), [V4.S4]
	FMLAE4S(16, 4, 0)
	ADD     R5, R7, R7
	SUBS    $1, R8, R8
	BNE     mix4t
	VST1.P  [V0.S4], 16(R0)
	ADD     $16, R2, R2
	SUB     $4, R3, R3
	B       mix4

// the last hd%4 columns as axpyF32NEON's tail: the rounded product added.
mix1:
	CBZ  R3, mixdone
	FMOVS ZR, F0
	MOVD R1, R6
	MOVD R2, R7
	MOVD R4, R8

mix1t:
	FMOVS.P 4(R6), F16
	FMOVS   (R7), F4
	FMULS   F16, F4, F4
	FADDS   F4, F0, F0
	ADD     R5, R7, R7
	SUBS    $1, R8, R8
	BNE     mix1t
	FMOVS.P F0, 4(R0)
	ADD     $4, R2, R2
	SUB     $1, R3, R3
	B       mix1

mixdone:
	RET

// func sumSqNEON(x *float32, n int) float64
TEXT ·sumSqNEON(SB), NOSPLIT, $0-24
	MOVD x+0(FP), R0
	MOVD n+8(FP), R2
	VEOR V0.B16, V0.B16, V0.B16 // a0, a1
	VEOR V1.B16, V1.B16, V1.B16 // a2, a3
	VEOR V2.B16, V2.B16, V2.B16 // a4, a5
	VEOR V3.B16, V3.B16, V3.B16 // a6, a7
	LSR  $3, R2, R2
	CBZ  R2, ssred

ssloop:
	VLD1.P 32(R0), [V4.S4, V5.S4]
	FCVTL2D(4, 6)
	FCVTL22D(4, 7)
	FCVTL2D(5, 8)
	FCVTL22D(5, 9)
	FMLA2D(6, 6, 0)
	FMLA2D(7, 7, 1)
	FMLA2D(8, 8, 2)
	FMLA2D(9, 9, 3)
	SUBS   $1, R2, R2
	BNE    ssloop

ssred:
	FADD2D(2, 0, 0) // a0+a4, a1+a5
	FADD2D(3, 1, 1) // a2+a6, a3+a7
	FADD2D(1, 0, 0) // (a0+a4)+(a2+a6), (a1+a5)+(a3+a7)
	FADDPD(0, 0)
	FMOVD  F0, ret+16(FP)
	RET

// func scaleMulNEON(dst, x, w *float32, n int, s float32)
TEXT ·scaleMulNEON(SB), NOSPLIT, $0-36
	MOVD  dst+0(FP), R0
	MOVD  x+8(FP), R1
	MOVD  w+16(FP), R2
	MOVD  n+24(FP), R3
	FMOVS s+32(FP), F31
	LSR   $3, R3, R3
	CBZ   R3, smdone

smloop:
	VLD1.P 32(R1), [V0.S4, V1.S4]
	VLD1.P 32(R2), [V2.S4, V3.S4]
	FMULE4S(31, 0, 0) // x·s
	FMULE4S(31, 1, 1)
	FMUL4S(2, 0, 0)   // ·w
	FMUL4S(3, 1, 1)
	VST1.P [V0.S4, V1.S4], 32(R0)
	SUBS   $1, R3, R3
	BNE    smloop

smdone:
	RET

// func addNEON(dst, x *float32, n int)
TEXT ·addNEON(SB), NOSPLIT, $0-24
	MOVD dst+0(FP), R0
	MOVD x+8(FP), R1
	MOVD n+16(FP), R2
	LSR  $3, R2, R2
	CBZ  R2, adddone

addloop:
	VLD1   (R0), [V0.S4, V1.S4]
	VLD1.P 32(R1), [V2.S4, V3.S4]
	FADD4S(2, 0, 0)
	FADD4S(3, 1, 1)
	VST1.P [V0.S4, V1.S4], 32(R0)
	SUBS   $1, R2, R2
	BNE    addloop

adddone:
	RET
