//go:build !purego

#include "textflag.h"

// IQ4_NL, NF4/FP4 and Q4_K × q8 kernels for arm64 with the dot-product extension. Each
// writes four float32 lanes per row into acc; the Go wrappers (iq4nl_arm64.go) add them.

// SDOT Vd.4S, Vn.16B, Vm.16B, encoded by hand.
#define KSDOT(m, n, d) WORD $(0x4E809400 | (m<<16) | (n<<5) | d)
// SCVTF / UCVTF Vd.4S, Vn.4S.
#define KSCVTF(n, d) WORD $(0x4E21D800 | (n<<5) | d)
#define KUCVTF(n, d) WORD $(0x6E21D800 | (n<<5) | d)
// FMUL Vd.4S, Vn.4S, Vm.4S.
#define KFMUL(m, n, d) WORD $(0x6E20DC00 | (m<<16) | (n<<5) | d)
// FMUL / FMLA / FMLS Vd.4S, Vn.4S, Vm.S[i] (by element).
#define KFMULE(m, i, n, d) WORD $(0x4F809000 | ((i&1)<<21) | (m<<16) | ((i>>1)<<11) | (n<<5) | d)
#define KFMLAE(m, i, n, d) WORD $(0x4F801000 | ((i&1)<<21) | (m<<16) | ((i>>1)<<11) | (n<<5) | d)
#define KFMLSE(m, i, n, d) WORD $(0x4F805000 | ((i&1)<<21) | (m<<16) | ((i>>1)<<11) | (n<<5) | d)

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

// Q4KSUB accumulates one Q4_K sub-block (nibbles in Vn0, Vn1: elements 0..15, 16..31)
// into V16: x from R9, lane offsets from R11 (both post-incremented), A_j in Va.S[i],
// B_j/8 in Vb.S[i].
#define Q4KSUB(n0, n1, a, b, i) \
	VLD1.P 32(R9), [V6.B16, V7.B16] \
	VEOR   V8.B16, V8.B16, V8.B16 \
	KSDOT(6, n0, 8) \
	KSDOT(7, n1, 8) \
	KSCVTF(8, 8) \
	KFMLAE(a, i, 8, 16) \
	VLD1.P 32(R11), [V9.S4, V10.S4] \
	VADD   V10.S4, V9.S4, V9.S4 \
	KSCVTF(9, 9) \
	KFMLSE(b, i, 9, 16)

// Q4KCHUNK accumulates the two sub-blocks of the next 64-element chunk (qs from R13).
#define Q4KCHUNK(a, b, i, i2) \
	VLD1.P 32(R13), [V0.B16, V1.B16] \
	VAND   V30.B16, V0.B16, V2.B16 \
	VAND   V30.B16, V1.B16, V3.B16 \
	VUSHR  $4, V0.B16, V4.B16 \
	VUSHR  $4, V1.B16, V5.B16 \
	Q4KSUB(2, 3, a, b, i) \
	Q4KSUB(4, 5, a, b, i2)

// func q4kRowsSDOT(w *byte, rowBytes, rows int, xq *int8, xd *float32, xc *int32, nb int, acc *float32)
TEXT ·q4kRowsSDOT(SB), NOSPLIT, $0-64
	MOVD w+0(FP), R0
	MOVD rowBytes+8(FP), R1
	MOVD rows+16(FP), R2
	MOVD xq+24(FP), R3
	MOVD xd+32(FP), R4
	MOVD xc+40(FP), R5
	MOVD nb+48(FP), R6
	MOVD acc+56(FP), R7
	VMOVI $15, V30.B16
	FMOVS $(0.125), F31

q4krow:
	VEOR V16.B16, V16.B16, V16.B16
	MOVD R0, R8
	MOVD R3, R9
	MOVD R4, R10
	MOVD R5, R11
	LSR  $3, R6, R12

q4ksuper:
	MOVWU 4(R8), R13
	MOVWU 8(R8), R14
	MOVWU 12(R8), R15
	ANDW  $0x3f3f3f3f, R13, R19      // sc 0..3
	LSRW  $6, R13, R13
	ANDW  $0x03030303, R13, R13
	LSLW  $4, R13, R13
	ANDW  $0x0f0f0f0f, R15, R20
	ORRW  R20, R13, R13              // sc 4..7
	ORR   R13<<32, R19, R19
	ANDW  $0x3f3f3f3f, R14, R20      // m 0..3
	LSRW  $6, R14, R14
	ANDW  $0x03030303, R14, R14
	LSLW  $4, R14, R14
	LSRW  $4, R15, R15
	ANDW  $0x0f0f0f0f, R15, R15
	ORRW  R15, R14, R14              // m 4..7
	ORR   R14<<32, R20, R20
	FMOVD R19, F20
	FMOVD R20, F22
	VUXTL  V20.B8, V20.H8
	VUXTL2 V20.H8, V21.S4
	VUXTL  V20.H4, V20.S4
	VUXTL  V22.B8, V22.H8
	VUXTL2 V22.H8, V23.S4
	VUXTL  V22.H4, V22.S4
	KUCVTF(20, 20)
	KUCVTF(21, 21)
	KUCVTF(22, 22)
	KUCVTF(23, 23)
	MOVHU  (R8), R13
	FMOVS  R13, F24
	FCVTHS F24, F24                  // d
	MOVHU  2(R8), R13
	FMOVS  R13, F25
	FCVTHS F25, F25                  // dmin
	KFMULE(24, 0, 20, 20)
	KFMULE(24, 0, 21, 21)
	KFMULE(25, 0, 22, 22)
	KFMULE(25, 0, 23, 23)
	KFMULE(31, 0, 22, 22)            // dmin·m_j/8
	KFMULE(31, 0, 23, 23)
	VLD1.P 32(R10), [V26.S4, V27.S4]
	KFMUL(26, 20, 20)                // A_j = d·sc_j·xd_j
	KFMUL(27, 21, 21)
	KFMUL(26, 22, 22)                // B_j/8 = (dmin·m_j/8)·xd_j
	KFMUL(27, 23, 23)

	ADD $16, R8, R13
	Q4KCHUNK(20, 22, 0, 1)
	Q4KCHUNK(20, 22, 2, 3)
	Q4KCHUNK(21, 23, 0, 1)
	Q4KCHUNK(21, 23, 2, 3)

	ADD  $144, R8
	SUBS $1, R12, R12
	BNE  q4ksuper

	VST1.P [V16.S4], 16(R7)
	ADD    R1, R0
	SUBS   $1, R2, R2
	BNE    q4krow
	RET

// MUL / MLA Vd.4S, Vn.4S, Vm.S[i] (integer, by element).
#define KMULE(m, i, n, d) WORD $(0x4F808000 | ((i&1)<<21) | (m<<16) | ((i>>1)<<11) | (n<<5) | d)
// SXTL / SXTL2 (SSHLL #0): bytes to halfwords (B), halfwords to words (H).
#define KSXTLB(n, d) WORD $(0x0F08A400 | (n<<5) | d)
#define KSXTL2B(n, d) WORD $(0x4F08A400 | (n<<5) | d)
#define KSXTLH(n, d) WORD $(0x0F10A400 | (n<<5) | d)
#define KSXTL2H(n, d) WORD $(0x4F10A400 | (n<<5) | d)
#define KMLAE(m, i, n, d) WORD $(0x6F800000 | ((i&1)<<21) | (m<<16) | ((i>>1)<<11) | (n<<5) | d)

// Q6KDOT accumulates activation block j of a Q6_K super-block into V16: its q-32 values
// in V6 (elements 0..15) and V7 (16..31), its two scales in Vsc.S[i0] and Vsc.S[i1]
// (int32), d in F24; x from R8, x scale from R9 (both post-incremented).
#define Q6KDOT(sc, i0, i1) \
	VLD1.P  32(R8), [V8.B16, V9.B16] \
	VEOR    V10.B16, V10.B16, V10.B16 \
	VEOR    V11.B16, V11.B16, V11.B16 \
	KSDOT(8, 6, 10) \
	KSDOT(9, 7, 11) \
	KMULE(sc, i0, 10, 12) \
	KMLAE(sc, i1, 11, 12) \
	KSCVTF(12, 12) \
	FMOVS.P 4(R9), F13 \
	FMULS   F24, F13, F13 \
	VDUP    V13.S[0], V13.S4 \
	VFMLA   V12.S4, V13.S4, V16.S4

// Q6KQ builds 16 q-32 values into dst from the ql vector (low nibbles, or high ones when
// the instruction lo is VUSHR $4) and the qh vector shifted so its bit pair sits at
// bits 4-5. Uses V28 = 32s, V29 = 0x30s, V30 = 0x0fs; clobbers V14, V15.
#define Q6KLO(ql, qh, dst) \
	VAND  V30.B16, ql.B16, dst.B16 \
	VSHL  $4, qh.B16, V14.B16 \
	VAND  V29.B16, V14.B16, V14.B16 \
	VORR  V14.B16, dst.B16, dst.B16 \
	VSUB  V28.B16, dst.B16, dst.B16

#define Q6KLO2(ql, qh, dst) \
	VAND  V30.B16, ql.B16, dst.B16 \
	VSHL  $2, qh.B16, V14.B16 \
	VAND  V29.B16, V14.B16, V14.B16 \
	VORR  V14.B16, dst.B16, dst.B16 \
	VSUB  V28.B16, dst.B16, dst.B16

#define Q6KHI(ql, qh, dst) \
	VUSHR $4, ql.B16, dst.B16 \
	VAND  V29.B16, qh.B16, V14.B16 \
	VORR  V14.B16, dst.B16, dst.B16 \
	VSUB  V28.B16, dst.B16, dst.B16

#define Q6KHI2(ql, qh, dst) \
	VUSHR $4, ql.B16, dst.B16 \
	VUSHR $2, qh.B16, V14.B16 \
	VAND  V29.B16, V14.B16, V14.B16 \
	VORR  V14.B16, dst.B16, dst.B16 \
	VSUB  V28.B16, dst.B16, dst.B16

// Q6KHALFN accumulates one super-block half (ql from R11, qh from R12, both
// post-incremented) with scales sc (blocks 4h, 4h+1) and sc2 (4h+2, 4h+3).
#define Q6KHALFN(sc, sc2) \
	VLD1.P 64(R11), [V0.B16, V1.B16, V2.B16, V3.B16] \
	VLD1.P 32(R12), [V4.B16, V5.B16] \
	Q6KLO(V0, V4, V6) \
	Q6KLO(V1, V5, V7) \
	Q6KDOT(sc, 0, 1) \
	Q6KLO2(V2, V4, V6) \
	Q6KLO2(V3, V5, V7) \
	Q6KDOT(sc, 2, 3) \
	Q6KHI(V0, V4, V6) \
	Q6KHI(V1, V5, V7) \
	Q6KDOT(sc2, 0, 1) \
	Q6KHI2(V2, V4, V6) \
	Q6KHI2(V3, V5, V7) \
	Q6KDOT(sc2, 2, 3)

// func q6kRowsSDOT(w *byte, rowBytes, rows int, xq *int8, xd *float32, nb int, acc *float32)
TEXT ·q6kRowsSDOT(SB), NOSPLIT, $0-56
	MOVD w+0(FP), R0
	MOVD rowBytes+8(FP), R1
	MOVD rows+16(FP), R2
	MOVD xq+24(FP), R3
	MOVD xd+32(FP), R4
	MOVD nb+40(FP), R5
	MOVD acc+48(FP), R6
	VMOVI $15, V30.B16
	VMOVI $48, V29.B16
	VMOVI $32, V28.B16

q6krow:
	VEOR V16.B16, V16.B16, V16.B16
	MOVD R0, R7
	MOVD R3, R8
	MOVD R4, R9
	LSR  $3, R5, R10

q6ksuper:
	ADD    $192, R7, R13
	VLD1   (R13), [V20.B16]
	KSXTLB(20, 22)
	KSXTL2B(20, 23)
	KSXTLH(22, 18)
	KSXTL2H(22, 19)
	KSXTLH(23, 20)
	KSXTL2H(23, 21)
	MOVHU  208(R7), R13
	FMOVS  R13, F24
	FCVTHS F24, F24
	MOVD   R7, R11
	ADD    $128, R7, R12
	Q6KHALFN(18, 19)
	Q6KHALFN(20, 21)
	ADD    $210, R7
	SUBS   $1, R10, R10
	BNE    q6ksuper

	VST1.P [V16.S4], 16(R6)
	ADD    R1, R0
	SUBS   $1, R2, R2
	BNE    q6krow
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

// Q6KTOK4 accumulates token t of a 4-token group (x at xo(R8), scale at do(R8)) for the
// Q6_K activation block whose q-32 values are in V6, V7, scales Vsc.S[i0], Vsc.S[i1],
// into acc, with the arithmetic of Q6KDOT.
#define Q6KTOK4(xo, do, sc, i0, i1, acc) \
	ADD     $xo, R8, R11 \
	VLD1    (R11), [V8.B16, V9.B16] \
	VEOR    V10.B16, V10.B16, V10.B16 \
	VEOR    V11.B16, V11.B16, V11.B16 \
	KSDOT(8, 6, 10) \
	KSDOT(9, 7, 11) \
	KMULE(sc, i0, 10, 12) \
	KMLAE(sc, i1, 11, 12) \
	KSCVTF(12, 12) \
	FMOVS   do(R8), F13 \
	FMULS   F24, F13, F13 \
	VDUP    V13.S[0], V13.S4 \
	VFMLA   V12.S4, V13.S4, acc.S4

// Q6KBLK4 accumulates the current activation block (values in V6, V7) for the four
// tokens and moves R8 to the next block of the group.
#define Q6KBLK4(sc, i0, i1) \
	Q6KTOK4(0, 256, sc, i0, i1, V16) \
	Q6KTOK4(32, 288, sc, i0, i1, V17) \
	Q6KTOK4(64, 320, sc, i0, i1, V22) \
	Q6KTOK4(96, 352, sc, i0, i1, V23) \
	ADD     $384, R8

// Q6KHALF4 is Q6KHALFN for four tokens (ql from R14, qh from R15).
#define Q6KHALF4(sc, sc2) \
	VLD1.P 64(R14), [V0.B16, V1.B16, V2.B16, V3.B16] \
	VLD1.P 32(R15), [V4.B16, V5.B16] \
	Q6KLO(V0, V4, V6) \
	Q6KLO(V1, V5, V7) \
	Q6KBLK4(sc, 0, 1) \
	Q6KLO2(V2, V4, V6) \
	Q6KLO2(V3, V5, V7) \
	Q6KBLK4(sc, 2, 3) \
	Q6KHI(V0, V4, V6) \
	Q6KHI(V1, V5, V7) \
	Q6KBLK4(sc2, 0, 1) \
	Q6KHI2(V2, V4, V6) \
	Q6KHI2(V3, V5, V7) \
	Q6KBLK4(sc2, 2, 3)

// func q6kRows4SDOT(w *byte, rowBytes, rows int, xg *byte, nb int, acc *float32)
TEXT ·q6kRows4SDOT(SB), NOSPLIT, $0-48
	MOVD w+0(FP), R0
	MOVD rowBytes+8(FP), R1
	MOVD rows+16(FP), R2
	MOVD xg+24(FP), R3
	MOVD nb+32(FP), R5
	MOVD acc+40(FP), R6
	VMOVI $15, V30.B16
	VMOVI $48, V29.B16
	VMOVI $32, V28.B16

q6krow4:
	VEOR V16.B16, V16.B16, V16.B16
	VEOR V17.B16, V17.B16, V17.B16
	VEOR V22.B16, V22.B16, V22.B16
	VEOR V23.B16, V23.B16, V23.B16
	MOVD R0, R7
	MOVD R3, R8
	LSR  $3, R5, R10

q6ksuper4:
	ADD    $192, R7, R13
	VLD1   (R13), [V20.B16]
	KSXTLB(20, 8)
	KSXTL2B(20, 9)
	KSXTLH(8, 18)
	KSXTL2H(8, 19)
	KSXTLH(9, 20)
	KSXTL2H(9, 21)
	MOVHU  208(R7), R13
	FMOVS  R13, F24
	FCVTHS F24, F24
	MOVD   R7, R14
	ADD    $128, R7, R15
	Q6KHALF4(18, 19)
	Q6KHALF4(20, 21)
	ADD    $210, R7
	SUBS   $1, R10, R10
	BNE    q6ksuper4

	VST1.P [V16.S4, V17.S4], 32(R6)
	VST1.P [V22.S4, V23.S4], 32(R6)
	ADD    R1, R0
	SUBS   $1, R2, R2
	BNE    q6krow4
	RET

// FMUL Sd, Sn, Vm.S[i] (scalar by element).
#define KFMULSE(m, i, n, d) WORD $(0x5F809000 | ((i&1)<<21) | (m<<16) | ((i>>1)<<11) | (n<<5) | d)

// Q4KTOK4 accumulates token t of a 4-token group (x at xo(R8), lane offsets at co(R8),
// scale at do(R8)) for the Q4_K sub-block with nibbles n0, n1 into acc: A = xd·Va.S[i],
// B = xd·Vb.S[i] (Va = d·sc, Vb = dmin·m/8), the arithmetic of Q4KSUB.
#define Q4KTOK4(n0, n1, a, b, i, xo, co, do, acc) \
	ADD     $xo, R8, R11 \
	VLD1    (R11), [V6.B16, V7.B16] \
	VEOR    V8.B16, V8.B16, V8.B16 \
	KSDOT(6, n0, 8) \
	KSDOT(7, n1, 8) \
	KSCVTF(8, 8) \
	FMOVS   do(R8), F12 \
	KFMULSE(a, i, 12, 13) \
	KFMLAE(13, 0, 8, acc) \
	ADD     $co, R8, R11 \
	VLD1    (R11), [V9.S4, V10.S4] \
	VADD    V10.S4, V9.S4, V9.S4 \
	KSCVTF(9, 9) \
	KFMULSE(b, i, 12, 14) \
	KFMLSE(14, 0, 9, acc)

// Q4KSUB4 accumulates one sub-block (nibbles n0, n1) for the four tokens and moves R8
// to the next block of the group.
#define Q4KSUB4(n0, n1, a, b, i) \
	Q4KTOK4(n0, n1, a, b, i, 0, 128, 256, 16) \
	Q4KTOK4(n0, n1, a, b, i, 32, 160, 288, 17) \
	Q4KTOK4(n0, n1, a, b, i, 64, 192, 320, 18) \
	Q4KTOK4(n0, n1, a, b, i, 96, 224, 352, 19) \
	ADD     $384, R8

// Q4KCHUNK4 accumulates the two sub-blocks of the next 64-element chunk (qs from R13).
#define Q4KCHUNK4(a, b, i, i2) \
	VLD1.P 32(R13), [V0.B16, V1.B16] \
	VAND   V30.B16, V0.B16, V2.B16 \
	VAND   V30.B16, V1.B16, V3.B16 \
	VUSHR  $4, V0.B16, V4.B16 \
	VUSHR  $4, V1.B16, V5.B16 \
	Q4KSUB4(2, 3, a, b, i) \
	Q4KSUB4(4, 5, a, b, i2)

// func q4kRows4SDOT(w *byte, rowBytes, rows int, xg *byte, nb int, acc *float32)
TEXT ·q4kRows4SDOT(SB), NOSPLIT, $0-48
	MOVD w+0(FP), R0
	MOVD rowBytes+8(FP), R1
	MOVD rows+16(FP), R2
	MOVD xg+24(FP), R3
	MOVD nb+32(FP), R5
	MOVD acc+40(FP), R7
	VMOVI $15, V30.B16
	FMOVS $(0.125), F31

q4krow4:
	VEOR V16.B16, V16.B16, V16.B16
	VEOR V17.B16, V17.B16, V17.B16
	VEOR V18.B16, V18.B16, V18.B16
	VEOR V19.B16, V19.B16, V19.B16
	MOVD R0, R9
	MOVD R3, R8
	LSR  $3, R5, R12

q4ksuper4:
	MOVWU 4(R9), R13
	MOVWU 8(R9), R14
	MOVWU 12(R9), R15
	ANDW  $0x3f3f3f3f, R13, R19
	LSRW  $6, R13, R13
	ANDW  $0x03030303, R13, R13
	LSLW  $4, R13, R13
	ANDW  $0x0f0f0f0f, R15, R20
	ORRW  R20, R13, R13
	ORR   R13<<32, R19, R19
	ANDW  $0x3f3f3f3f, R14, R20
	LSRW  $6, R14, R14
	ANDW  $0x03030303, R14, R14
	LSLW  $4, R14, R14
	LSRW  $4, R15, R15
	ANDW  $0x0f0f0f0f, R15, R15
	ORRW  R15, R14, R14
	ORR   R14<<32, R20, R20
	FMOVD R19, F20
	FMOVD R20, F22
	VUXTL  V20.B8, V20.H8
	VUXTL2 V20.H8, V21.S4
	VUXTL  V20.H4, V20.S4
	VUXTL  V22.B8, V22.H8
	VUXTL2 V22.H8, V23.S4
	VUXTL  V22.H4, V22.S4
	KUCVTF(20, 20)
	KUCVTF(21, 21)
	KUCVTF(22, 22)
	KUCVTF(23, 23)
	MOVHU  (R9), R13
	FMOVS  R13, F24
	FCVTHS F24, F24
	MOVHU  2(R9), R13
	FMOVS  R13, F25
	FCVTHS F25, F25
	KFMULE(24, 0, 20, 20)            // d·sc_j
	KFMULE(24, 0, 21, 21)
	KFMULE(25, 0, 22, 22)            // dmin·m_j
	KFMULE(25, 0, 23, 23)
	KFMULE(31, 0, 22, 22)            // dmin·m_j/8
	KFMULE(31, 0, 23, 23)

	ADD $16, R9, R13
	Q4KCHUNK4(20, 22, 0, 1)
	Q4KCHUNK4(20, 22, 2, 3)
	Q4KCHUNK4(21, 23, 0, 1)
	Q4KCHUNK4(21, 23, 2, 3)

	ADD  $144, R9
	SUBS $1, R12, R12
	BNE  q4ksuper4

	VST1.P [V16.S4, V17.S4, V18.S4, V19.S4], 64(R7)
	ADD    R1, R0
	SUBS   $1, R2, R2
	BNE    q4krow4
	RET
