//go:build !purego

#include "textflag.h"

// IQ4_NL and NF4/FP4 × q8 four-lane kernels for arm64 with the dot-product extension
// (the rows after the last full group of 8 of rows8_arm64.s's SDOT kernels). Each
// writes four float32 lanes per row into acc; the Go wrappers (iq4nl_arm64.go) add them.

// SDOT Vd.4S, Vn.16B, Vm.16B, encoded by hand.
#define KSDOT(m, n, d) WORD $(0x4E809400 | (m<<16) | (n<<5) | d)
// SCVTF Vd.4S, Vn.4S.
#define KSCVTF(n, d) WORD $(0x4E21D800 | (n<<5) | d)

// func iq4nlRowsSDOT(w *byte, rowBytes, rows int, xq *int8, xd *float32, nb int, acc *float32, tab *int8)
TEXT ·iq4nlRowsSDOT(SB), NOSPLIT, $0-64
	MOVD w+0(FP), R0
	MOVD rowBytes+8(FP), R1
	MOVD rows+16(FP), R2
	MOVD xq+24(FP), R3
	MOVD xd+32(FP), R4
	MOVD nb+40(FP), R5
	MOVD acc+48(FP), R6
	MOVD tab+56(FP), R13
	VLD1 (R13), [V28.B16]
	VMOVI $15, V30.B16

iqrow:
	VEOR V16.B16, V16.B16, V16.B16
	MOVD R0, R7
	MOVD R3, R8
	MOVD R4, R9
	MOVD R5, R10

iqblock:
	ADD    $2, R7, R11
	VLD1   (R11), [V0.B16]
	VAND   V30.B16, V0.B16, V1.B16
	VUSHR  $4, V0.B16, V2.B16
	VTBL   V1.B16, [V28.B16], V1.B16
	VTBL   V2.B16, [V28.B16], V2.B16
	VLD1.P 32(R8), [V3.B16, V4.B16]
	VEOR   V5.B16, V5.B16, V5.B16
	KSDOT(3, 1, 5)
	KSDOT(4, 2, 5)
	KSCVTF(5, 5)
	MOVHU  (R7), R12
	FMOVS  R12, F6
	FCVTHS F6, F6
	FMOVS.P 4(R9), F7
	FMULS  F7, F6, F6
	VDUP   V6.S[0], V6.S4
	VFMLA  V5.S4, V6.S4, V16.S4
	ADD    $18, R7
	SUBS   $1, R10, R10
	BNE    iqblock

	VST1.P [V16.S4], 16(R6)
	ADD    R1, R0
	SUBS   $1, R2, R2
	BNE    iqrow
	RET

// func bnb4RowsSDOT(w *byte, rowBytes, rows int, xq *int8, xd *float32, nb int, acc *float32, tab *int8)
TEXT ·bnb4RowsSDOT(SB), NOSPLIT, $0-64
	MOVD w+0(FP), R0
	MOVD rowBytes+8(FP), R1
	MOVD rows+16(FP), R2
	MOVD xq+24(FP), R3
	MOVD xd+32(FP), R4
	MOVD nb+40(FP), R5
	MOVD acc+48(FP), R6
	MOVD tab+56(FP), R13
	VLD1 (R13), [V28.B16]        // hi halves
	ADD  $32, R13
	VLD1 (R13), [V29.B16]        // lo halves
	VMOVI $15, V30.B16

bnbrow:
	VEOR V16.B16, V16.B16, V16.B16
	MOVD R0, R7
	MOVD R3, R8
	MOVD R4, R9
	MOVD R5, R10

bnbblock:
	ADD    $4, R7, R11
	VLD1   (R11), [V0.B16]
	VAND   V30.B16, V0.B16, V1.B16   // low nibbles: odd elements
	VUSHR  $4, V0.B16, V2.B16        // high nibbles: even elements
	VZIP1  V1.B16, V2.B16, V3.B16    // elements 0..15
	VZIP2  V1.B16, V2.B16, V4.B16    // elements 16..31
	VTBL   V3.B16, [V28.B16], V5.B16
	VTBL   V4.B16, [V28.B16], V6.B16
	VTBL   V3.B16, [V29.B16], V3.B16
	VTBL   V4.B16, [V29.B16], V4.B16
	VLD1.P 32(R8), [V7.B16, V8.B16]
	VEOR   V18.B16, V18.B16, V18.B16
	VEOR   V19.B16, V19.B16, V19.B16
	KSDOT(7, 5, 18)
	KSDOT(8, 6, 18)
	KSDOT(7, 3, 19)
	KSDOT(8, 4, 19)
	VSHL   $7, V18.S4, V18.S4
	VADD   V19.S4, V18.S4, V18.S4
	KSCVTF(18, 18)
	FMOVS  (R7), F6
	FMOVS.P 4(R9), F7
	FMULS  F7, F6, F6
	VDUP   V6.S[0], V6.S4
	VFMLA  V18.S4, V6.S4, V16.S4
	ADD    $20, R7
	SUBS   $1, R10, R10
	BNE    bnbblock

	VST1.P [V16.S4], 16(R6)
	ADD    R1, R0
	SUBS   $1, R2, R2
	BNE    bnbrow
	RET

// IQ4TOK4 accumulates token t of a 4-token group (x at xo(R8), its scale at do(R8)) for
// the IQ4_NL block decoded into V1, V2 with scale F6 into acc.
#define IQ4TOK4(xo, do, acc) \
	ADD     $xo, R8, R11 \
	VLD1    (R11), [V3.B16, V4.B16] \
	VEOR    V5.B16, V5.B16, V5.B16 \
	KSDOT(3, 1, 5) \
	KSDOT(4, 2, 5) \
	KSCVTF(5, 5) \
	FMOVS   do(R8), F7 \
	FMULS   F7, F6, F8 \
	VDUP    V8.S[0], V8.S4 \
	VFMLA   V5.S4, V8.S4, acc.S4

// func iq4nlRows4SDOT(w *byte, rowBytes, rows int, xg *byte, nb int, acc *float32, tab *int8)
TEXT ·iq4nlRows4SDOT(SB), NOSPLIT, $0-56
	MOVD w+0(FP), R0
	MOVD rowBytes+8(FP), R1
	MOVD rows+16(FP), R2
	MOVD xg+24(FP), R3
	MOVD nb+32(FP), R5
	MOVD acc+40(FP), R6
	MOVD tab+48(FP), R13
	VLD1 (R13), [V28.B16]
	VMOVI $15, V30.B16

iq4row4:
	VEOR V16.B16, V16.B16, V16.B16
	VEOR V17.B16, V17.B16, V17.B16
	VEOR V18.B16, V18.B16, V18.B16
	VEOR V19.B16, V19.B16, V19.B16
	MOVD R0, R7
	MOVD R3, R8
	MOVD R5, R10

iq4block4:
	ADD    $2, R7, R11
	VLD1   (R11), [V0.B16]
	VAND   V30.B16, V0.B16, V1.B16
	VUSHR  $4, V0.B16, V2.B16
	VTBL   V1.B16, [V28.B16], V1.B16
	VTBL   V2.B16, [V28.B16], V2.B16
	MOVHU  (R7), R12
	FMOVS  R12, F6
	FCVTHS F6, F6
	IQ4TOK4(0, 256, V16)
	IQ4TOK4(32, 288, V17)
	IQ4TOK4(64, 320, V18)
	IQ4TOK4(96, 352, V19)
	ADD    $18, R7
	ADD    $384, R8
	SUBS   $1, R10, R10
	BNE    iq4block4

	VST1.P [V16.S4, V17.S4, V18.S4, V19.S4], 64(R6)
	ADD    R1, R0
	SUBS   $1, R2, R2
	BNE    iq4row4
	RET

// BNBTOK4 is IQ4TOK4 for an NF4/FP4 block decoded into hi halves V5, V6 and lo halves
// V3, V4 with absmax in F9.
#define BNBTOK4(xo, do, acc) \
	ADD     $xo, R8, R11 \
	VLD1    (R11), [V7.B16, V8.B16] \
	VEOR    V10.B16, V10.B16, V10.B16 \
	VEOR    V11.B16, V11.B16, V11.B16 \
	KSDOT(7, 5, 10) \
	KSDOT(8, 6, 10) \
	KSDOT(7, 3, 11) \
	KSDOT(8, 4, 11) \
	VSHL    $7, V10.S4, V10.S4 \
	VADD    V11.S4, V10.S4, V10.S4 \
	KSCVTF(10, 10) \
	FMOVS   do(R8), F12 \
	FMULS   F12, F9, F12 \
	VDUP    V12.S[0], V12.S4 \
	VFMLA   V10.S4, V12.S4, acc.S4

// func bnb4Rows4SDOT(w *byte, rowBytes, rows int, xg *byte, nb int, acc *float32, tab *int8)
TEXT ·bnb4Rows4SDOT(SB), NOSPLIT, $0-56
	MOVD w+0(FP), R0
	MOVD rowBytes+8(FP), R1
	MOVD rows+16(FP), R2
	MOVD xg+24(FP), R3
	MOVD nb+32(FP), R5
	MOVD acc+40(FP), R6
	MOVD tab+48(FP), R13
	VLD1 (R13), [V28.B16]
	ADD  $32, R13
	VLD1 (R13), [V29.B16]
	VMOVI $15, V30.B16

bnbrow4:
	VEOR V16.B16, V16.B16, V16.B16
	VEOR V17.B16, V17.B16, V17.B16
	VEOR V18.B16, V18.B16, V18.B16
	VEOR V19.B16, V19.B16, V19.B16
	MOVD R0, R7
	MOVD R3, R8
	MOVD R5, R10

bnbblock4:
	ADD    $4, R7, R11
	VLD1   (R11), [V0.B16]
	VAND   V30.B16, V0.B16, V1.B16
	VUSHR  $4, V0.B16, V2.B16
	VZIP1  V1.B16, V2.B16, V3.B16
	VZIP2  V1.B16, V2.B16, V4.B16
	VTBL   V3.B16, [V28.B16], V5.B16
	VTBL   V4.B16, [V28.B16], V6.B16
	VTBL   V3.B16, [V29.B16], V3.B16
	VTBL   V4.B16, [V29.B16], V4.B16
	FMOVS  (R7), F9
	BNBTOK4(0, 256, V16)
	BNBTOK4(32, 288, V17)
	BNBTOK4(64, 320, V18)
	BNBTOK4(96, 352, V19)
	ADD    $20, R7
	ADD    $384, R8
	SUBS   $1, R10, R10
	BNE    bnbblock4

	VST1.P [V16.S4, V17.S4, V18.S4, V19.S4], 64(R6)
	ADD    R1, R0
	SUBS   $1, R2, R2
	BNE    bnbrow4
	RET
