//go:build !purego

#include "textflag.h"
#include "rows8_amd64.h"

// AVX-512 (F, BW, VL, VNNI) versions of the Q4_0 and float32/F16 kernels. Each gives
// bit for bit the result of the AVX2 function it replaces: the integer block sums are
// exact whatever the instructions, and every float operation (conversion, product,
// fused multiply-add, their order per output lane, the final reduction) is the AVX2
// one. They call nothing and use no stack (they are tested under Bochs one call at a
// time, see avx512q4_amd64_test.go).

// Instructions per block column, loop control included (counted with objdump):
//
//	decode  q4_0Rows8AVX2    84 per 8 rows   q4_0Rows8AVX512   91 per 16 rows (45.5 per 8), 70 for an odd last 8
//	GEMM    q4_0Gemm8x4AVX2 141 per 8×4      q4_0Gemm8x4AVX512 85 per 8×4 (8 of them zeroing idioms)
//
// The decode saves the int16 multiply-add tree (VPMADDUBSW, VPADDW, VPMADDWD: 44
// instructions per 8 rows become 8 VPDPBUSD per 16 rows with embedded-broadcast
// activations) and runs the transpose, the 8·Σx sum and the float steps once per 16
// rows; the fp16 scales are still inserted word by word (16 VPINSRW per 16 rows).
// Estimated for Ice Lake-class cores (512-bit µops on ports 0 and 5 only): about 66
// such µops, 33 cycles, per 16 rows and block, against about 62 µops on ports 0, 1 and
// 5, 21 cycles, per 8 rows for the AVX2 kernel: about 1.3× when the weights are in
// cache, nothing where DRAM bandwidth bounds decode.
// The GEMM keeps YMM (its tile has 8 rows, and a ZMM would need a different
// activation dword in each half, i.e. a shuffle per broadcast): 32 VPDPBUSD with
// embedded broadcast replace 32 VPBROADCASTD, 32 VPMADDUBSW, 28 VPADDW and 4 VPMADDWD.

// func q4_0Rows8AVX512(w *byte, rowBytes, groups int, xq *int8, xd *float32, xc *int32, nb int, y *float32)
//
// q4_0Rows8AVX2 with 16 rows per pass (two groups of 8; an odd last group runs the
// same steps on 8 rows in YMM): per block column the rows' 16
// quant bytes are loaded into the four 128-bit lanes of Z0..Z3 (rows 0,4,8,12 in Z0
// ...) and transposed per lane as in LOAD8T, so lane r of a ZMM is row r; the unsigned
// nibbles meet each broadcast 4-byte activation group in VPDPBUSD (u8 × s8 summed into
// int32, replacing VPMADDUBSW, the int16 additions and VPMADDWD); 8·Σx comes off as in
// the AVX2 kernel, then per row the same conversion, product f16(scale)·xd and fused
// multiply-add in block order.
TEXT ·q4_0Rows8AVX512(SB), NOSPLIT, $0-64
	MOVQ         rowBytes+8(FP), R8
	LEAQ         (R8)(R8*2), R11         // 3·rowBytes
	MOVQ         w+0(FP), BX
	MOVQ         groups+16(FP), R14
	MOVQ         y+56(FP), DI
	MOVL         $0x0f0f0f0f, AX
	VMOVD        AX, X15
	VPBROADCASTD X15, Z15

r16pass:
	CMPQ R14, $2
	JLT  r8start
	LEAQ (BX)(R8*4), R12                 // row 4
	LEAQ (R12)(R8*4), R13                // row 8
	LEAQ (R13)(R8*4), AX                 // row 12
	LEAQ (AX)(R8*4), SI                  // the next pass, prefetched 288 bytes a block
	VPXORD Z13, Z13, Z13                 // accumulator: lane r = row r
	MOVQ   xq+24(FP), R9
	MOVQ   xd+32(FP), R10
	MOVQ   xc+40(FP), DX
	SUBQ   R9, DX                        // xc - xq: both advance 32 bytes a block
	MOVQ   nb+48(FP), CX

r16blk:
	PREFETCHT0 (SI)
	PREFETCHT0 64(SI)
	PREFETCHT0 128(SI)
	PREFETCHT0 192(SI)
	PREFETCHT0 256(SI)
	ADDQ       $288, SI

	// Zk: bytes 2+4k..2+4k+3 of rows 0..3 | 4..7 | 8..11 | 12..15
	LOAD16T(2, R12, R13, AX, X0, X1, X2, X3, Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7)

	VPSRLW        $4, Z0, Z8
	VPANDD        Z15, Z0, Z0
	VPANDD        Z15, Z8, Z8
	VPXORD        Z16, Z16, Z16
	VPXORD        Z17, Z17, Z17
	VPDPBUSD.BCST 0(R9), Z0, Z16
	VPDPBUSD.BCST 16(R9), Z8, Z17
	VPSRLW        $4, Z1, Z9
	VPANDD        Z15, Z1, Z1
	VPANDD        Z15, Z9, Z9
	VPDPBUSD.BCST 4(R9), Z1, Z16
	VPDPBUSD.BCST 20(R9), Z9, Z17
	VPSRLW        $4, Z2, Z10
	VPANDD        Z15, Z2, Z2
	VPANDD        Z15, Z10, Z10
	VPDPBUSD.BCST 8(R9), Z2, Z16
	VPDPBUSD.BCST 24(R9), Z10, Z17
	VPSRLW        $4, Z3, Z11
	VPANDD        Z15, Z3, Z3
	VPANDD        Z15, Z11, Z11
	VPDPBUSD.BCST 12(R9), Z3, Z16
	VPDPBUSD.BCST 28(R9), Z11, Z17
	VPADDD        Z17, Z16, Z16          // nibble dot products of the 16 rows

	VMOVDQU      (R9)(DX*1), X1
	VPADDD       16(R9)(DX*1), X1, X1
	VPSHUFD      $0x4e, X1, X2
	VPADDD       X2, X1, X1
	VPSHUFD      $0xb1, X1, X2
	VPADDD       X2, X1, X1
	VPBROADCASTD X1, Z1                  // 8·Σx of the block
	VPSUBD       Z1, Z16, Z16
	VCVTDQ2PS    Z16, Z16

	F16X16_SCALES(R12, R13, AX)           // the 16 rows' fp16 scales
	VBROADCASTSS (R10), Z5
	VMULPS       Z4, Z5, Z5              // xd·scale, as the AVX2 kernel (operand order too)
	VFMADD231PS  Z16, Z5, Z13

	ADDQ $18, BX
	ADDQ $18, R12
	ADDQ $18, R13
	ADDQ $18, AX
	ADDQ $32, R9
	ADDQ $4, R10
	DECQ CX
	JNZ  r16blk

	VMOVUPS Z13, (DI)
	ADDQ    $64, DI
	MOVQ    nb+48(FP), CX
	IMUL3Q  $18, CX, CX
	LEAQ    (AX)(R8*4), BX               // row 16 of the pass, block nb
	SUBQ    CX, BX
	SUBQ    $2, R14
	JNZ     r16pass
	VZEROUPPER
	RET

	// An odd last group: the same steps on 8 rows in YMM (the AVX2 kernel's loads,
	// transpose and scales, VPDPBUSD for the products).
r8start:
	LEAQ   (BX)(R8*4), R12               // row 4
	LEAQ   (R12)(R8*4), SI               // past the matrix: prefetched as the AVX2 kernel does
	VPXORD Y13, Y13, Y13
	MOVQ   xq+24(FP), R9
	MOVQ   xd+32(FP), R10
	MOVQ   xc+40(FP), DX
	SUBQ   R9, DX
	MOVQ   nb+48(FP), CX

r8blk:
	PREFETCHT0    (SI)
	PREFETCHT0    64(SI)
	PREFETCHT0    128(SI)
	ADDQ          $144, SI
	LOAD8T(2, X0, X1, X2, X3, Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7)
	VPSRLW        $4, Y0, Y8
	VPAND         Y15, Y0, Y0
	VPAND         Y15, Y8, Y8
	VPXORD        Y16, Y16, Y16
	VPXORD        Y17, Y17, Y17
	VPDPBUSD.BCST 0(R9), Y0, Y16
	VPDPBUSD.BCST 16(R9), Y8, Y17
	VPSRLW        $4, Y1, Y9
	VPAND         Y15, Y1, Y1
	VPAND         Y15, Y9, Y9
	VPDPBUSD.BCST 4(R9), Y1, Y16
	VPDPBUSD.BCST 20(R9), Y9, Y17
	VPSRLW        $4, Y2, Y10
	VPAND         Y15, Y2, Y2
	VPAND         Y15, Y10, Y10
	VPDPBUSD.BCST 8(R9), Y2, Y16
	VPDPBUSD.BCST 24(R9), Y10, Y17
	VPSRLW        $4, Y3, Y11
	VPAND         Y15, Y3, Y3
	VPAND         Y15, Y11, Y11
	VPDPBUSD.BCST 12(R9), Y3, Y16
	VPDPBUSD.BCST 28(R9), Y11, Y17
	VPADDD        Y17, Y16, Y16
	VMOVDQU       (R9)(DX*1), X1
	VPADDD        16(R9)(DX*1), X1, X1
	VPSHUFD       $0x4e, X1, X2
	VPADDD        X2, X1, X1
	VPSHUFD       $0xb1, X1, X2
	VPADDD        X2, X1, X1
	VPBROADCASTD  X1, Y1
	VPSUBD        Y1, Y16, Y16
	VCVTDQ2PS     Y16, Y16
	F16X8_SCALES
	VBROADCASTSS  (R10), Y5
	VMULPS        Y4, Y5, Y5
	VFMADD231PS   Y16, Y5, Y13
	ADDQ          $18, BX
	ADDQ          $18, R12
	ADDQ          $32, R9
	ADDQ          $4, R10
	DECQ          CX
	JNZ           r8blk
	VMOVUPS       Y13, (DI)
	VZEROUPPER
	RET

// DPTOK(x0..x7, xc, xd, lo0, hi0, ..., lo3, hi3, a, b, f): one token of the group
// (its activation groups at xk(DX): elements 4k..4k+3 for k < 4, 16+4(k-4).. for
// k ≥ 4; its 8·Σx at xc(DX), its scale at xd(DX)) times the 8 rows' nibbles (lok: low
// nibbles of tile vector k, elements 4k..4k+3; hik: the high ones, 16+4k..16+4k+3),
// summed exactly in int32 in a and b, then accumulated into f as q4_0Gemm8x4AVX2 does
// (Y13: the rows' scales; clobbers Y0).
#define DPTOK(x0, x1, x2, x3, x4, x5, x6, x7, xc, xd, lo0, hi0, lo1, hi1, lo2, hi2, lo3, hi3, a, b, f) \
	VPXORD        a, a, a \
	VPXORD        b, b, b \
	VPDPBUSD.BCST x0(DX), lo0, a \
	VPDPBUSD.BCST x4(DX), hi0, b \
	VPDPBUSD.BCST x1(DX), lo1, a \
	VPDPBUSD.BCST x5(DX), hi1, b \
	VPDPBUSD.BCST x2(DX), lo2, a \
	VPDPBUSD.BCST x6(DX), hi2, b \
	VPDPBUSD.BCST x3(DX), lo3, a \
	VPDPBUSD.BCST x7(DX), hi3, b \
	VPADDD        b, a, a \
	VPSUBD.BCST   xc(DX), a, a \
	VCVTDQ2PS     a, a \
	VBROADCASTSS  xd(DX), Y0 \
	VMULPS        Y13, Y0, Y0 \
	VFMADD231PS   a, Y0, f

// NIBS(off, lo, hi): the low and high nibbles of the tile vector at off(SI).
#define NIBS(off, lo, hi) \
	VMOVDQU32 off(SI), lo \
	VPSRLW    $4, lo, hi \
	VPANDD    Y15, lo, lo \
	VPANDD    Y15, hi, hi

// func q4_0Gemm8x4AVX512(w *byte, nb int, xg *byte, out *float32)
//
// q4_0Gemm8x4AVX2 with VPDPBUSD: per block column the tile's 4 quant vectors give 8
// nibble vectors (Y16..Y23, lanes = rows), each multiplied with every token's 4-byte
// activation group broadcast from memory (embedded broadcast) and summed exactly in
// int32; per token the same subtraction of 8·Σx, conversion, product xd·scale and fused
// multiply-add in block order as the AVX2 kernel.
TEXT ·q4_0Gemm8x4AVX512(SB), NOSPLIT, $0-32
	MOVQ         w+0(FP), SI
	MOVQ         nb+8(FP), CX
	MOVQ         xg+16(FP), DX
	MOVQ         out+24(FP), DI
	MOVL         $0x0f0f0f0f, AX
	VMOVD        AX, X15
	VPBROADCASTD X15, Y15
	VXORPS       Y4, Y4, Y4
	VXORPS       Y5, Y5, Y5
	VXORPS       Y6, Y6, Y6
	VXORPS       Y7, Y7, Y7

g4blk:
	VCVTPH2PS (SI), Y13                  // scales of the 8 rows
	NIBS(16, Y16, Y17)
	NIBS(48, Y18, Y19)
	NIBS(80, Y20, Y21)
	NIBS(112, Y22, Y23)
	DPTOK(0, 4, 8, 12, 16, 20, 24, 28, 128, 144, Y16, Y17, Y18, Y19, Y20, Y21, Y22, Y23, Y24, Y25, Y4)
	DPTOK(32, 36, 40, 44, 48, 52, 56, 60, 132, 148, Y16, Y17, Y18, Y19, Y20, Y21, Y22, Y23, Y26, Y27, Y5)
	DPTOK(64, 68, 72, 76, 80, 84, 88, 92, 136, 152, Y16, Y17, Y18, Y19, Y20, Y21, Y22, Y23, Y28, Y29, Y6)
	DPTOK(96, 100, 104, 108, 112, 116, 120, 124, 140, 156, Y16, Y17, Y18, Y19, Y20, Y21, Y22, Y23, Y30, Y31, Y7)
	ADDQ $144, SI
	ADDQ $160, DX
	DECQ CX
	JNZ  g4blk
	VMOVUPS Y4, 0(DI)
	VMOVUPS Y5, 32(DI)
	VMOVUPS Y6, 64(DI)
	VMOVUPS Y7, 96(DI)
	VZEROUPPER
	RET
