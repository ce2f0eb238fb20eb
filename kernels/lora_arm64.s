//go:build !purego

#include "textflag.h"

// FCVTL Vd.4S, Vn.4H and FCVTL2 Vd.4S, Vn.8H (halves to float32); FADD Vd.4S, Vn.4S,
// Vm.4S; FADDP Vd.4S, Vn.4S, Vm.4S; FADDP Sd, Vn.2S.
#define FCVTL(n, d) WORD $(0x0E217800 | (n<<5) | d)
#define FCVTL2(n, d) WORD $(0x4E217800 | (n<<5) | d)
#define FADD4S(m, n, d) WORD $(0x4E20D400 | (m<<16) | (n<<5) | d)
#define FADDP4S(m, n, d) WORD $(0x6E20D400 | (m<<16) | (n<<5) | d)
#define FADDPS(n, d) WORD $(0x7E30D800 | (n<<5) | d)

// func dotRowsF16NEON(w *uint16, stride, rows int, x *float32, n int, y *float32)
TEXT ·dotRowsF16NEON(SB), NOSPLIT, $0-48
	MOVD w+0(FP), R0
	MOVD stride+8(FP), R8
	LSL  $1, R8
	MOVD rows+16(FP), R9
	MOVD x+24(FP), R10
	MOVD n+32(FP), R11
	MOVD y+40(FP), R12

hrow:
	CBZ  R9, hdone
	MOVD R0, R1
	MOVD R10, R2
	MOVD R11, R3
	VEOR V0.B16, V0.B16, V0.B16
	VEOR V1.B16, V1.B16, V1.B16
	VEOR V2.B16, V2.B16, V2.B16
	VEOR V3.B16, V3.B16, V3.B16

h16:
	CMP    $16, R3
	BLT    h4
	VLD1.P 32(R1), [V4.H8, V5.H8]
	VLD1.P 64(R2), [V16.S4, V17.S4, V18.S4, V19.S4]
	FCVTL(4, 6)
	FCVTL2(4, 7)
	FCVTL(5, 20)
	FCVTL2(5, 21)
	VFMLA  V6.S4, V16.S4, V0.S4
	VFMLA  V7.S4, V17.S4, V1.S4
	VFMLA  V20.S4, V18.S4, V2.S4
	VFMLA  V21.S4, V19.S4, V3.S4
	SUB    $16, R3
	B      h16

h4:
	CMP    $4, R3
	BLT    hred
	VLD1.P 8(R1), [V4.H4]
	VLD1.P 16(R2), [V16.S4]
	FCVTL(4, 6)
	VFMLA  V6.S4, V16.S4, V0.S4
	SUB    $4, R3
	B      h4

hred:
	FADD4S(1, 0, 0)
	FADD4S(3, 2, 2)
	FADD4S(2, 0, 0)
	FADDP4S(0, 0, 0)
	FADDPS(0, 0)

htail:
	CBZ     R3, hstore
	MOVHU.P 2(R1), R4
	FMOVS   R4, F4
	FCVTHS  F4, F4
	FMOVS.P 4(R2), F5
	FMULS   F4, F5, F5
	FADDS   F5, F0, F0
	SUB     $1, R3
	B       htail

hstore:
	FMOVS.P F0, 4(R12)
	ADD     R8, R0
	SUB     $1, R9
	B       hrow

hdone:
	RET

// func axpyF16NEON(dst *float32, x *uint16, n int, a float32)
TEXT ·axpyF16NEON(SB), NOSPLIT, $0-28
	MOVD  dst+0(FP), R0
	MOVD  x+8(FP), R1
	MOVD  n+16(FP), R2
	FMOVS a+24(FP), F31
	VDUP  V31.S[0], V31.S4

a16:
	CMP    $16, R2
	BLT    a4
	VLD1   (R0), [V0.S4, V1.S4, V2.S4, V3.S4]
	VLD1.P 32(R1), [V4.H8, V5.H8]
	FCVTL(4, 6)
	FCVTL2(4, 7)
	FCVTL(5, 16)
	FCVTL2(5, 17)
	VFMLA  V6.S4, V31.S4, V0.S4
	VFMLA  V7.S4, V31.S4, V1.S4
	VFMLA  V16.S4, V31.S4, V2.S4
	VFMLA  V17.S4, V31.S4, V3.S4
	VST1.P [V0.S4, V1.S4, V2.S4, V3.S4], 64(R0)
	SUB    $16, R2
	B      a16

a4:
	CMP    $4, R2
	BLT    atail
	VLD1   (R0), [V0.S4]
	VLD1.P 8(R1), [V4.H4]
	FCVTL(4, 6)
	VFMLA  V6.S4, V31.S4, V0.S4
	VST1.P [V0.S4], 16(R0)
	SUB    $4, R2
	B      a4

atail:
	CBZ     R2, adone
	FMOVS   (R0), F0
	MOVHU.P 2(R1), R4
	FMOVS   R4, F4
	FCVTHS  F4, F4
	FMULS   F31, F4, F4
	FADDS   F4, F0, F0
	FMOVS.P F0, 4(R0)
	SUB     $1, R2
	B       atail

adone:
	RET

// func panelsF16NEON(p *uint16, rank, panels int, u, y *float32)
TEXT ·panelsF16NEON(SB), NOSPLIT, $0-40
	MOVD p+0(FP), R0
	MOVD rank+8(FP), R1
	MOVD panels+16(FP), R2
	MOVD u+24(FP), R3
	MOVD y+32(FP), R4
	LSL  $4, R1, R5 // bytes per panel: 8 halves per rank

p2:
	CMP  $2, R2
	BLT  p1
	VEOR V0.B16, V0.B16, V0.B16
	VEOR V1.B16, V1.B16, V1.B16
	VEOR V2.B16, V2.B16, V2.B16
	VEOR V3.B16, V3.B16, V3.B16
	MOVD R0, R6
	ADD  R5, R0, R7
	MOVD R3, R8
	MOVD R1, R9

p2k:
	VLD1R.P 4(R8), [V31.S4]
	VLD1.P  16(R6), [V4.H8]
	VLD1.P  16(R7), [V5.H8]
	FCVTL(4, 6)
	FCVTL2(4, 7)
	FCVTL(5, 16)
	FCVTL2(5, 17)
	VFMLA   V6.S4, V31.S4, V0.S4
	VFMLA   V7.S4, V31.S4, V1.S4
	VFMLA   V16.S4, V31.S4, V2.S4
	VFMLA   V17.S4, V31.S4, V3.S4
	SUBS    $1, R9, R9
	BNE     p2k
	VLD1    (R4), [V20.S4, V21.S4, V22.S4, V23.S4]
	FADD4S(20, 0, 0)
	FADD4S(21, 1, 1)
	FADD4S(22, 2, 2)
	FADD4S(23, 3, 3)
	VST1.P  [V0.S4, V1.S4, V2.S4, V3.S4], 64(R4)
	ADD     R5, R0
	ADD     R5, R0
	SUB     $2, R2
	B       p2

p1:
	CBZ  R2, pdone
	VEOR V0.B16, V0.B16, V0.B16
	VEOR V1.B16, V1.B16, V1.B16
	MOVD R0, R6
	MOVD R3, R8
	MOVD R1, R9

p1k:
	VLD1R.P 4(R8), [V31.S4]
	VLD1.P  16(R6), [V4.H8]
	FCVTL(4, 6)
	FCVTL2(4, 7)
	VFMLA   V6.S4, V31.S4, V0.S4
	VFMLA   V7.S4, V31.S4, V1.S4
	SUBS    $1, R9, R9
	BNE     p1k
	VLD1    (R4), [V20.S4, V21.S4]
	FADD4S(20, 0, 0)
	FADD4S(21, 1, 1)
	VST1.P  [V0.S4, V1.S4], 32(R4)
	ADD     R5, R0
	SUB     $1, R2
	B       p1

pdone:
	RET
