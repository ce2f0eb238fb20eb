//go:build !purego

#include "textflag.h"

// Horizontal sum of the 8 float32 lanes of Y0 into X0 (low lane); clobbers X1.
#define HSUM_Y0 \
	VEXTRACTF128 $1, Y0, X1 \
	VADDPS       X1, X0, X0 \
	VPERMILPS    $0x4e, X0, X1 \
	VADDPS       X1, X0, X0 \
	VPERMILPS    $0xb1, X0, X1 \
	VADDSS       X1, X0, X0

// func q4_0RowsAVX2(w *byte, rowBytes, rows int, xq *int8, xd *float32, xc *int32, nb int, y *float32)
TEXT ·q4_0RowsAVX2(SB), NOSPLIT, $0-64
	MOVQ w+0(FP), SI
	MOVQ rowBytes+8(FP), R8
	MOVQ rows+16(FP), CX
	MOVQ xq+24(FP), R9
	MOVQ xd+32(FP), R10
	MOVQ xc+40(FP), R11
	MOVQ nb+48(FP), R12
	MOVQ y+56(FP), DI

	MOVL         $0x0f0f0f0f, AX
	MOVQ         AX, X15
	VPBROADCASTD X15, Y15       // low-nibble mask
	MOVL         $0x00010001, AX
	MOVQ         AX, X14
	VPBROADCASTD X14, Y14       // int16 ones

q4row:
	VXORPS Y0, Y0, Y0
	MOVQ   SI, BX               // current block
	XORQ   R13, R13             // byte offset into xq (32 per block) and xc (32 per block)
	MOVQ   R10, R14             // current xd
	MOVQ   R12, DX

q4block:
	VMOVDQU      2(BX), X1
	VPSRLW       $4, X1, X2
	VINSERTI128  $1, X2, Y1, Y1
	VPAND        Y15, Y1, Y1             // nibbles 0..15: elements 0..31 in order
	VPMADDUBSW   (R9)(R13*1), Y1, Y2     // u8 nibble × s8 x, pairs summed to int16
	VPMADDWD     Y14, Y2, Y2             // 8 × int32 lane sums
	VPSUBD       (R11)(R13*1), Y2, Y2    // minus 8·Σx per lane
	VCVTDQ2PS    Y2, Y2
	VPBROADCASTW (BX), X3
	VCVTPH2PS    X3, Y3
	VMULSS       (R14), X3, X3
	VBROADCASTSS X3, Y3
	VFMADD231PS  Y2, Y3, Y0
	ADDQ         $18, BX
	ADDQ         $32, R13
	ADDQ         $4, R14
	DECQ         DX
	JNZ          q4block

	HSUM_Y0
	VMOVSS X0, (DI)
	ADDQ   $4, DI
	ADDQ   R8, SI
	DECQ   CX
	JNZ    q4row
	VZEROUPPER
	RET

// func q8_0RowsAVX2(w *byte, rowBytes, rows int, xq *int8, xd *float32, nb int, y *float32)
TEXT ·q8_0RowsAVX2(SB), NOSPLIT, $0-56
	MOVQ w+0(FP), SI
	MOVQ rowBytes+8(FP), R8
	MOVQ rows+16(FP), CX
	MOVQ xq+24(FP), R9
	MOVQ xd+32(FP), R10
	MOVQ nb+40(FP), R12
	MOVQ y+48(FP), DI

	MOVL         $0x00010001, AX
	MOVQ         AX, X14
	VPBROADCASTD X14, Y14       // int16 ones

q8row:
	VXORPS Y0, Y0, Y0
	MOVQ   SI, BX
	MOVQ   R9, R13
	MOVQ   R10, R14
	MOVQ   R12, DX

q8block:
	VMOVDQU      2(BX), Y1               // w: 32 × int8
	VMOVDQU      (R13), Y2               // x: 32 × int8
	VPSIGNB      Y1, Y2, Y2              // x·sign(w)
	VPABSB       Y1, Y1                  // |w|
	VPMADDUBSW   Y2, Y1, Y2
	VPMADDWD     Y14, Y2, Y2
	VCVTDQ2PS    Y2, Y2
	VPBROADCASTW (BX), X3
	VCVTPH2PS    X3, Y3
	VMULSS       (R14), X3, X3
	VBROADCASTSS X3, Y3
	VFMADD231PS  Y2, Y3, Y0
	ADDQ         $34, BX
	ADDQ         $32, R13
	ADDQ         $4, R14
	DECQ         DX
	JNZ          q8block

	HSUM_Y0
	VMOVSS X0, (DI)
	ADDQ   $4, DI
	ADDQ   R8, SI
	DECQ   CX
	JNZ    q8row
	VZEROUPPER
	RET
