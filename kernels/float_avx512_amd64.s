//go:build !purego

#include "textflag.h"

// AVX-512 versions of the float32 and F16 kernels of f32_amd64.s and f16_amd64.s, bit
// for bit: each ZMM accumulator holds two of the AVX2 kernels' YMM accumulators
// (acc[0]|acc[1] elements 32j..32j+15, acc[2]|acc[3] elements 32j+16..32j+31), so every
// lane sees the same fused multiply-adds in the same order; before the blocks of 8 they
// are split back into Y0..Y3 and the rest (blocks of 8 into acc[0], the reduction, the
// one-by-one tail) is the AVX2 code (DOTEND).

// Per 32 elements (loop control included): f16 rows and dot/rows 10 instructions
// against 14 (two VCVTPH2PS or loads and two FMAs on ZMM instead of four each), axpy 12
// against 18. The dot products keep the AVX2 kernels' 32 accumulator lanes, so their
// FMA chains (4-cycle latency, one FMA per lane per 32 elements) bound both versions
// alike when the data is in cache: the AVX-512 ones issue fewer µops (VCVTPH2PS is 2
// µops per 8 or 16 halves), not more independent work. axpy has no chain: half the
// loads, FMAs and stores, and no scalar tail.

// DOTEND finishes a dot product as the AVX2 kernels do: Z0 = acc[0]|acc[1], Z2 =
// acc[2]|acc[3] after the blocks of 32, CX elements left at SI (a) and DI (b); the
// result is in X0. ld8 loads 8 elements of a at (SI) as float32 into Y4; ld1 one into
// X1; sa is a's element size. Clobbers Y1..Y4.
#define DOTEND(lbl8, lblred, lbltail, lbldone, ld8, ld1, sa) \
	VEXTRACTF64X4 $1, Z0, Y1 \
	VEXTRACTF64X4 $1, Z2, Y3 \
lbl8: \
	CMPQ        CX, $8 \
	JLT         lblred \
	ld8 \
	VFMADD231PS (DI), Y4, Y0 \
	ADDQ        $(8*sa), SI \
	ADDQ        $32, DI \
	SUBQ        $8, CX \
	JMP         lbl8 \
lblred: \
	VADDPS       Y1, Y0, Y0 \
	VADDPS       Y3, Y2, Y2 \
	VADDPS       Y2, Y0, Y0 \
	VEXTRACTF128 $1, Y0, X1 \
	VADDPS       X1, X0, X0 \
	VPERMILPS    $0x4e, X0, X1 \
	VADDPS       X1, X0, X0 \
	VPERMILPS    $0xb1, X0, X1 \
	VADDSS       X1, X0, X0 \
lbltail: \
	TESTQ       CX, CX \
	JZ          lbldone \
	ld1 \
	VFMADD231SS (DI), X1, X0 \
	ADDQ        $sa, SI \
	ADDQ        $4, DI \
	DECQ        CX \
	JMP         lbltail \
lbldone:

#define LD8F32 VMOVUPS (SI), Y4
#define LD1F32 VMOVSS (SI), X1
#define LD8F16 VCVTPH2PS (SI), Y4
#define LD1F16 MOVWLZX (SI), AX; VMOVD AX, X1; VCVTPH2PS X1, X1

// func dotF32AVX512(a, b *float32, n int) float32
TEXT ·dotF32AVX512(SB), NOSPLIT, $0-28
	MOVQ   a+0(FP), SI
	MOVQ   b+8(FP), DI
	MOVQ   n+16(FP), CX
	VPXORD Z0, Z0, Z0
	VPXORD Z2, Z2, Z2

dot32:
	CMPQ        CX, $32
	JLT         dotend
	VMOVUPS     (SI), Z4
	VMOVUPS     64(SI), Z6
	VFMADD231PS (DI), Z4, Z0
	VFMADD231PS 64(DI), Z6, Z2
	ADDQ        $128, SI
	ADDQ        $128, DI
	SUBQ        $32, CX
	JMP         dot32

dotend:
	DOTEND(dot8, dotred, dottail, dotdone, LD8F32, LD1F32, 4)
	VZEROUPPER
	MOVSS X0, ret+24(FP)
	RET

// func f32RowsAVX512(w *float32, stride, rows int, x *float32, n int, y *float32)
TEXT ·f32RowsAVX512(SB), NOSPLIT, $0-48
	MOVQ w+0(FP), R8
	MOVQ stride+8(FP), R12
	SHLQ $2, R12
	MOVQ rows+16(FP), R9
	MOVQ x+24(FP), DX
	MOVQ n+32(FP), R10
	MOVQ y+40(FP), R11

rowloop:
	TESTQ  R9, R9
	JZ     rowsdone
	MOVQ   R8, SI
	MOVQ   DX, DI
	MOVQ   R10, CX
	VPXORD Z0, Z0, Z0
	VPXORD Z2, Z2, Z2

r32:
	CMPQ        CX, $32
	JLT         rend
	VMOVUPS     (SI), Z4
	VMOVUPS     64(SI), Z6
	VFMADD231PS (DI), Z4, Z0
	VFMADD231PS 64(DI), Z6, Z2
	ADDQ        $128, SI
	ADDQ        $128, DI
	SUBQ        $32, CX
	JMP         r32

rend:
	DOTEND(r8, rred, rtail, rstore, LD8F32, LD1F32, 4)
	VMOVSS X0, (R11)
	ADDQ   $4, R11
	ADDQ   R12, R8
	DECQ   R9
	JMP    rowloop

rowsdone:
	VZEROUPPER
	RET

// func f16RowsAVX512(w *byte, rowBytes, rows int, x *float32, n int, y *float32)
TEXT ·f16RowsAVX512(SB), NOSPLIT, $0-48
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
	VPXORD Z0, Z0, Z0
	VPXORD Z2, Z2, Z2

h16x32:
	CMPQ        CX, $32
	JLT         h16end
	VCVTPH2PS   (SI), Z4
	VCVTPH2PS   32(SI), Z6
	VFMADD231PS (DI), Z4, Z0
	VFMADD231PS 64(DI), Z6, Z2
	ADDQ        $64, SI
	ADDQ        $128, DI
	SUBQ        $32, CX
	JMP         h16x32

h16end:
	DOTEND(h16x8, h16red, h16tail, h16store, LD8F16, LD1F16, 2)
	VMOVSS X0, (R11)
	ADDQ   $4, R11
	ADDQ   R12, R8
	DECQ   R9
	JNZ    h16row
	VZEROUPPER
	RET

// func axpyF32AVX512(dst, x *float32, n int, a float32)
//
// Element-wise, so any grouping gives the AVX2 results: blocks of 32 in two ZMM, then
// one of 16, then the n%16 last ones under a mask (the masked-off elements are neither
// read nor written).
TEXT ·axpyF32AVX512(SB), NOSPLIT, $0-28
	MOVQ         dst+0(FP), DI
	MOVQ         x+8(FP), SI
	MOVQ         n+16(FP), CX
	VBROADCASTSS a+24(FP), Z15

axpy32:
	CMPQ        CX, $32
	JLT         axpy16
	VMOVUPS     (DI), Z0
	VMOVUPS     64(DI), Z1
	VFMADD231PS (SI), Z15, Z0
	VFMADD231PS 64(SI), Z15, Z1
	VMOVUPS     Z0, (DI)
	VMOVUPS     Z1, 64(DI)
	ADDQ        $128, SI
	ADDQ        $128, DI
	SUBQ        $32, CX
	JMP         axpy32

axpy16:
	CMPQ        CX, $16
	JLT         axpytail
	VMOVUPS     (DI), Z0
	VFMADD231PS (SI), Z15, Z0
	VMOVUPS     Z0, (DI)
	ADDQ        $64, SI
	ADDQ        $64, DI
	SUBQ        $16, CX

axpytail:
	TESTQ       CX, CX
	JZ          axpydone
	MOVL        $1, AX
	SHLL        CX, AX
	DECL        AX
	KMOVW       AX, K1
	VMOVUPS     (DI), K1, Z0
	VMOVUPS     (SI), K1, Z1
	VFMADD231PS Z1, Z15, K1, Z0
	VMOVUPS     Z0, K1, (DI)

axpydone:
	VZEROUPPER
	RET
