//go:build !purego

#include "textflag.h"

// NF4_64/FP4_64 × q8 four-lane kernels for arm64 with the dot-product extension: the
// rows after the last full group of 8 of bnb64Rows8SDOT/bnb64Rows8x4SDOT. They are
// bnb4RowsSDOT/bnb4Rows4SDOT (iq4nl_arm64.s) with the block loop running once per
// 64-element block of 36 bytes (float32 absmax, 32 code bytes) and doing, for each
// 32-element half, the steps those kernels do for one 20-byte block (codes at 4+16h,
// the same absmax for both halves), so a row gives bit for bit the four lanes the
// 32-element kernels give for the same row in NF4/FP4 layout.

// SDOT Vd.4S, Vn.16B, Vm.16B, encoded by hand.
#define KSDOT(m, n, d) WORD $(0x4E809400 | (m<<16) | (n<<5) | d)
// SCVTF Vd.4S, Vn.4S.
#define KSCVTF(n, d) WORD $(0x4E21D800 | (n<<5) | d)

// B64DECODE decodes the 16 code bytes at off(R7) into the split table values of elements
// 0..15 (hi V5, lo V3) and 16..31 (hi V6, lo V4).
#define B64DECODE(off) \
	ADD    $off, R7, R11 \
	VLD1   (R11), [V0.B16] \
	VAND   V30.B16, V0.B16, V1.B16 \
	VUSHR  $4, V0.B16, V2.B16 \
	VZIP1  V1.B16, V2.B16, V3.B16 \
	VZIP2  V1.B16, V2.B16, V4.B16 \
	VTBL   V3.B16, [V28.B16], V5.B16 \
	VTBL   V4.B16, [V28.B16], V6.B16 \
	VTBL   V3.B16, [V29.B16], V3.B16 \
	VTBL   V4.B16, [V29.B16], V4.B16

// B64HALF is one 32-element half of bnb64RowsSDOT (bnb4RowsSDOT's block step).
#define B64HALF(off) \
	B64DECODE(off) \
	VLD1.P 32(R8), [V7.B16, V8.B16] \
	VEOR   V18.B16, V18.B16, V18.B16 \
	VEOR   V19.B16, V19.B16, V19.B16 \
	KSDOT(7, 5, 18) \
	KSDOT(8, 6, 18) \
	KSDOT(7, 3, 19) \
	KSDOT(8, 4, 19) \
	VSHL   $7, V18.S4, V18.S4 \
	VADD   V19.S4, V18.S4, V18.S4 \
	KSCVTF(18, 18) \
	FMOVS  (R7), F6 \
	FMOVS.P 4(R9), F7 \
	FMULS  F7, F6, F6 \
	VDUP   V6.S[0], V6.S4 \
	VFMLA  V18.S4, V6.S4, V16.S4

// func bnb64RowsSDOT(w *byte, rowBytes, rows int, xq *int8, xd *float32, nb int, acc *float32, tab *int8)
TEXT ·bnb64RowsSDOT(SB), NOSPLIT, $0-64
	MOVD w+0(FP), R0
	MOVD rowBytes+8(FP), R1
	MOVD rows+16(FP), R2
	MOVD xq+24(FP), R3
	MOVD xd+32(FP), R4
	MOVD nb+40(FP), R5
	LSR  $1, R5, R5              // 64-element blocks
	MOVD acc+48(FP), R6
	MOVD tab+56(FP), R13
	VLD1 (R13), [V28.B16]        // hi halves
	ADD  $32, R13
	VLD1 (R13), [V29.B16]        // lo halves
	VMOVI $15, V30.B16

b64row:
	VEOR V16.B16, V16.B16, V16.B16
	MOVD R0, R7
	MOVD R3, R8
	MOVD R4, R9
	MOVD R5, R10

b64block:
	B64HALF(4)
	B64HALF(20)
	ADD    $36, R7
	SUBS   $1, R10, R10
	BNE    b64block

	VST1.P [V16.S4], 16(R6)
	ADD    R1, R0
	SUBS   $1, R2, R2
	BNE    b64row
	RET

// B64TOK4 is bnb4Rows4SDOT's step for one token (BNBTOK4 in iq4nl_arm64.s): x at
// xo(R8), its scale at do(R8), the absmax in F9.
#define B64TOK4(xo, do, acc) \
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

// B64HALF4 is one 32-element half of bnb64Rows4SDOT: the codes at off(R7) for the 4
// tokens of the pack4 block at R8, then R8 to the next pack4 block.
#define B64HALF4(off) \
	B64DECODE(off) \
	B64TOK4(0, 256, V16) \
	B64TOK4(32, 288, V17) \
	B64TOK4(64, 320, V18) \
	B64TOK4(96, 352, V19) \
	ADD    $384, R8

// func bnb64Rows4SDOT(w *byte, rowBytes, rows int, xg *byte, nb int, acc *float32, tab *int8)
TEXT ·bnb64Rows4SDOT(SB), NOSPLIT, $0-56
	MOVD w+0(FP), R0
	MOVD rowBytes+8(FP), R1
	MOVD rows+16(FP), R2
	MOVD xg+24(FP), R3
	MOVD nb+32(FP), R5
	LSR  $1, R5, R5              // 64-element blocks
	MOVD acc+40(FP), R6
	MOVD tab+48(FP), R13
	VLD1 (R13), [V28.B16]
	ADD  $32, R13
	VLD1 (R13), [V29.B16]
	VMOVI $15, V30.B16

b64row4:
	VEOR V16.B16, V16.B16, V16.B16
	VEOR V17.B16, V17.B16, V17.B16
	VEOR V18.B16, V18.B16, V18.B16
	VEOR V19.B16, V19.B16, V19.B16
	MOVD R0, R7
	MOVD R3, R8
	MOVD R5, R10

b64block4:
	FMOVS  (R7), F9
	B64HALF4(4)
	B64HALF4(20)
	ADD    $36, R7
	SUBS   $1, R10, R10
	BNE    b64block4

	VST1.P [V16.S4, V17.S4, V18.S4, V19.S4], 64(R6)
	ADD    R1, R0
	SUBS   $1, R2, R2
	BNE    b64row4
	RET
