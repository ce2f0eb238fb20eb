//go:build !purego

#include "textflag.h"

// FCVTL Vd.4S, Vn.4H and FCVTL2 Vd.4S, Vn.8H (half to single precision).
#define HFCVTL(n, d) WORD $(0x0E217800 | (n<<5) | d)
#define HFCVTL2(n, d) WORD $(0x4E217800 | (n<<5) | d)
// FADD Vd.4S, Vn.4S, Vm.4S.
#define HFADD4(m, n, d) WORD $(0x4E20D400 | (m<<16) | (n<<5) | d)

// func f16RowsNEON(w *byte, rowBytes, rows int, x *float32, n int, acc *float32)
TEXT ·f16RowsNEON(SB), NOSPLIT, $0-48
	MOVD w+0(FP), R0
	MOVD rowBytes+8(FP), R1
	MOVD rows+16(FP), R2
	MOVD x+24(FP), R3
	MOVD n+32(FP), R4
	MOVD acc+40(FP), R5

h16row:
	VEOR V0.B16, V0.B16, V0.B16
	VEOR V1.B16, V1.B16, V1.B16
	VEOR V2.B16, V2.B16, V2.B16
	VEOR V3.B16, V3.B16, V3.B16
	MOVD R0, R6
	MOVD R3, R7
	MOVD R4, R8

h16x16:
	CMP    $16, R8
	BLT    h16x4
	VLD1.P 32(R6), [V4.H8, V5.H8]
	VLD1.P 64(R7), [V10.S4, V11.S4, V12.S4, V13.S4]
	HFCVTL(4, 6)
	HFCVTL2(4, 7)
	HFCVTL(5, 8)
	HFCVTL2(5, 9)
	VFMLA  V6.S4, V10.S4, V0.S4
	VFMLA  V7.S4, V11.S4, V1.S4
	VFMLA  V8.S4, V12.S4, V2.S4
	VFMLA  V9.S4, V13.S4, V3.S4
	SUB    $16, R8
	B      h16x16

h16x4:
	CMP    $4, R8
	BLT    h16done
	VLD1.P 8(R6), [V4.H4]
	VLD1.P 16(R7), [V10.S4]
	HFCVTL(4, 6)
	VFMLA  V6.S4, V10.S4, V0.S4
	SUB    $4, R8
	B      h16x4

h16done:
	HFADD4(1, 0, 0)
	HFADD4(3, 2, 2)
	HFADD4(2, 0, 0)
	VST1.P [V0.S4], 16(R5)
	ADD    R1, R0
	SUBS   $1, R2, R2
	BNE    h16row
	RET
