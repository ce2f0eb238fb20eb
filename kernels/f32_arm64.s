//go:build !purego

#include "textflag.h"

// FADD Vd.4S, Vn.4S, Vm.4S; FADDP Vd.4S, Vn.4S, Vm.4S; FADDP Sd, Vn.2S.
#define FADD4S(m, n, d) WORD $(0x4E20D400 | (m<<16) | (n<<5) | d)
#define FADDP4S(m, n, d) WORD $(0x6E20D400 | (m<<16) | (n<<5) | d)
#define FADDPS(n, d) WORD $(0x7E30D800 | (n<<5) | d)

// func dotF32NEON(a, b *float32, n int) float32
TEXT ·dotF32NEON(SB), NOSPLIT, $0-28
	MOVD a+0(FP), R0
	MOVD b+8(FP), R1
	MOVD n+16(FP), R2
	VEOR V0.B16, V0.B16, V0.B16
	VEOR V1.B16, V1.B16, V1.B16
	VEOR V2.B16, V2.B16, V2.B16
	VEOR V3.B16, V3.B16, V3.B16

dot16:
	CMP    $16, R2
	BLT    dot4
	VLD1.P 64(R0), [V4.S4, V5.S4, V6.S4, V7.S4]
	VLD1.P 64(R1), [V8.S4, V9.S4, V10.S4, V11.S4]
	VFMLA  V4.S4, V8.S4, V0.S4
	VFMLA  V5.S4, V9.S4, V1.S4
	VFMLA  V6.S4, V10.S4, V2.S4
	VFMLA  V7.S4, V11.S4, V3.S4
	SUB    $16, R2
	B      dot16

dot4:
	CMP    $4, R2
	BLT    dotred
	VLD1.P 16(R0), [V4.S4]
	VLD1.P 16(R1), [V8.S4]
	VFMLA  V4.S4, V8.S4, V0.S4
	SUB    $4, R2
	B      dot4

dotred:
	FADD4S(1, 0, 0)
	FADD4S(3, 2, 2)
	FADD4S(2, 0, 0)
	FADDP4S(0, 0, 0)
	FADDPS(0, 0)

dottail:
	CBZ     R2, dotdone
	FMOVS.P 4(R0), F4
	FMOVS.P 4(R1), F5
	FMULS   F4, F5, F5
	FADDS   F5, F0, F0
	SUB     $1, R2
	B       dottail

dotdone:
	FMOVS F0, ret+24(FP)
	RET

// func axpyF32NEON(dst, x *float32, n int, a float32)
TEXT ·axpyF32NEON(SB), NOSPLIT, $0-28
	MOVD  dst+0(FP), R0
	MOVD  x+8(FP), R1
	MOVD  n+16(FP), R2
	FMOVS a+24(FP), F31
	VDUP  V31.S[0], V31.S4

axpy16:
	CMP    $16, R2
	BLT    axpy4
	VLD1   (R0), [V0.S4, V1.S4, V2.S4, V3.S4]
	VLD1.P 64(R1), [V4.S4, V5.S4, V6.S4, V7.S4]
	VFMLA  V4.S4, V31.S4, V0.S4
	VFMLA  V5.S4, V31.S4, V1.S4
	VFMLA  V6.S4, V31.S4, V2.S4
	VFMLA  V7.S4, V31.S4, V3.S4
	VST1.P [V0.S4, V1.S4, V2.S4, V3.S4], 64(R0)
	SUB    $16, R2
	B      axpy16

axpy4:
	CMP    $4, R2
	BLT    axpytail
	VLD1   (R0), [V0.S4]
	VLD1.P 16(R1), [V4.S4]
	VFMLA  V4.S4, V31.S4, V0.S4
	VST1.P [V0.S4], 16(R0)
	SUB    $4, R2
	B      axpy4

axpytail:
	CBZ     R2, axpydone
	FMOVS   (R0), F0
	FMOVS.P 4(R1), F4
	FMULS   F31, F4, F4
	FADDS   F4, F0, F0
	FMOVS.P F0, 4(R0)
	SUB     $1, R2
	B       axpytail

axpydone:
	RET
