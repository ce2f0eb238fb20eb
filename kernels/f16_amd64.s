//go:build !purego

#include "textflag.h"

// func f16RowsAVX2(w *byte, rowBytes, rows int, x *float32, n int, y *float32)
TEXT ·f16RowsAVX2(SB), NOSPLIT, $0-48
	MOVQ w+0(FP), R8
	MOVQ rowBytes+8(FP), R12
	MOVQ rows+16(FP), R9
	MOVQ x+24(FP), DX
	MOVQ n+32(FP), R10
	MOVQ y+40(FP), R11

h16row:
	MOVQ   R8, SI
	MOVQ   DX, DI
	MOVQ   R10, CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3

h16x32:
	CMPQ        CX, $32
	JLT         h16x8
	VCVTPH2PS   (SI), Y4
	VCVTPH2PS   16(SI), Y5
	VCVTPH2PS   32(SI), Y6
	VCVTPH2PS   48(SI), Y7
	VFMADD231PS (DI), Y4, Y0
	VFMADD231PS 32(DI), Y5, Y1
	VFMADD231PS 64(DI), Y6, Y2
	VFMADD231PS 96(DI), Y7, Y3
	ADDQ        $64, SI
	ADDQ        $128, DI
	SUBQ        $32, CX
	JMP         h16x32

h16x8:
	CMPQ        CX, $8
	JLT         h16red
	VCVTPH2PS   (SI), Y4
	VFMADD231PS (DI), Y4, Y0
	ADDQ        $16, SI
	ADDQ        $32, DI
	SUBQ        $8, CX
	JMP         h16x8

h16red:
	VADDPS       Y1, Y0, Y0
	VADDPS       Y3, Y2, Y2
	VADDPS       Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS       X1, X0, X0
	VPERMILPS    $0x4e, X0, X1
	VADDPS       X1, X0, X0
	VPERMILPS    $0xb1, X0, X1
	VADDSS       X1, X0, X0

h16tail:
	TESTQ       CX, CX
	JZ          h16store
	MOVWLZX     (SI), AX
	VMOVD       AX, X4
	VCVTPH2PS   X4, X4
	VFMADD231SS (DI), X4, X0
	ADDQ        $2, SI
	ADDQ        $4, DI
	DECQ        CX
	JMP         h16tail

h16store:
	VMOVSS X0, (R11)
	ADDQ   $4, R11
	ADDQ   R12, R8
	DECQ   R9
	JNZ    h16row
	VZEROUPPER
	RET
