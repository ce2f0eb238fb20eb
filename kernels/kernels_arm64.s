//go:build !purego

#include "textflag.h"

// SDOT Vd.4S, Vn.16B, Vm.16B (dot product extension), encoded by hand.
#define SDOT(m, n, d) WORD $(0x4E809400 | (m<<16) | (n<<5) | d)
// SCVTF Vd.4S, Vn.4S.
#define SCVTF4S(n, d) WORD $(0x4E21D800 | (n<<5) | d)

// func q4_0RowsSDOT(w *byte, rowBytes, rows int, xq *int8, xd *float32, nb int, acc *float32)
TEXT ·q4_0RowsSDOT(SB), NOSPLIT, $0-56
	MOVD w+0(FP), R0
	MOVD rowBytes+8(FP), R1
	MOVD rows+16(FP), R2
	MOVD xq+24(FP), R3
	MOVD xd+32(FP), R4
	MOVD nb+40(FP), R5
	MOVD acc+48(FP), R6
	VMOVI $15, V30.B16
	VMOVI $8, V29.B16

q4row:
	VEOR V16.B16, V16.B16, V16.B16
	MOVD R0, R7  // block
	MOVD R3, R8  // xq
	MOVD R4, R9  // xd
	MOVD R5, R10 // count

q4block:
	ADD    $2, R7, R11
	VLD1   (R11), [V0.B16]
	VAND   V30.B16, V0.B16, V1.B16
	VUSHR  $4, V0.B16, V2.B16
	VSUB   V29.B16, V1.B16, V1.B16
	VSUB   V29.B16, V2.B16, V2.B16
	VLD1.P 32(R8), [V3.B16, V4.B16]
	VEOR   V5.B16, V5.B16, V5.B16
	SDOT(3, 1, 5)
	SDOT(4, 2, 5)
	SCVTF4S(5, 5)
	MOVHU  (R7), R12
	FMOVS  R12, F6
	FCVTHS F6, F6
	FMOVS.P 4(R9), F7
	FMULS  F7, F6, F6
	VDUP   V6.S[0], V6.S4
	VFMLA  V5.S4, V6.S4, V16.S4
	ADD    $18, R7
	SUBS   $1, R10, R10
	BNE    q4block

	VST1.P [V16.S4], 16(R6)
	ADD    R1, R0
	SUBS   $1, R2, R2
	BNE    q4row
	RET
