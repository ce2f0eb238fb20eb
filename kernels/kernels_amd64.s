//go:build !purego

#include "textflag.h"
#include "rows8_amd64.h"

// Horizontal sum of the 8 float32 lanes of Y0 into X0 (low lane); clobbers X1.
#define HSUM_Y0 \
	VEXTRACTF128 $1, Y0, X1 \
	VADDPS       X1, X0, X0 \
	VPERMILPS    $0x4e, X0, X1 \
	VADDPS       X1, X0, X0 \
	VPERMILPS    $0xb1, X0, X1 \
	VADDSS       X1, X0, X0

// Q4BLOCK accumulates one Q4_0 block into acc: qs at qoff(BX), fp16 scale at soff(BX),
// x at xoff(R9)(R13*1), lane offsets at xoff(R11)(R13*1), x scale at doff(R14).
// Y15 = 0x0f mask, Y14 = int16 ones; clobbers t1..t3.
#define Q4BLOCK(qoff, soff, xoff, doff, acc, t1, t2, t3, x1, x2, x3) \
	VMOVDQU      qoff(BX), x1 \
	VPSRLW       $4, x1, x2 \
	VINSERTI128  $1, x2, t1, t1 \
	VPAND        Y15, t1, t1 \
	VPMADDUBSW   xoff(R9)(R13*1), t1, t2 \
	VPMADDWD     Y14, t2, t2 \
	VPSUBD       xoff(R11)(R13*1), t2, t2 \
	VCVTDQ2PS    t2, t2 \
	VPBROADCASTW soff(BX), x3 \
	VCVTPH2PS    x3, x3 \
	VMULSS       doff(R14), x3, x3 \
	VBROADCASTSS x3, t3 \
	VFMADD231PS  t2, t3, acc

// Q8BLOCK is Q4BLOCK for a Q8_0 block (int8 weights at qoff(BX), no lane offsets).
#define Q8BLOCK(qoff, soff, xoff, doff, acc, t1, t2, t3, x3) \
	VMOVDQU      qoff(BX), t1 \
	VMOVDQU      xoff(R9)(R13*1), t2 \
	VPSIGNB      t1, t2, t2 \
	VPABSB       t1, t1 \
	VPMADDUBSW   t2, t1, t2 \
	VPMADDWD     Y14, t2, t2 \
	VCVTDQ2PS    t2, t2 \
	VPBROADCASTW soff(BX), x3 \
	VCVTPH2PS    x3, x3 \
	VMULSS       doff(R14), x3, x3 \
	VBROADCASTSS x3, t3 \
	VFMADD231PS  t2, t3, acc

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
	VXORPS Y0, Y0, Y0           // accumulator of even blocks
	VXORPS Y4, Y4, Y4           // accumulator of odd blocks
	MOVQ   SI, BX               // current block
	XORQ   R13, R13             // byte offset into xq and xc (32 per block)
	MOVQ   R10, R14             // current xd
	MOVQ   R12, DX
	SHRQ   $1, DX               // block pairs
	JZ     q4tail

q4pair:
	Q4BLOCK(2, 0, 0, 0, Y0, Y1, Y2, Y3, X1, X2, X3)
	Q4BLOCK(20, 18, 32, 4, Y4, Y5, Y6, Y7, X5, X6, X7)
	ADDQ $36, BX
	ADDQ $64, R13
	ADDQ $8, R14
	DECQ DX
	JNZ  q4pair

q4tail:
	TESTQ $1, R12
	JZ    q4sum
	Q4BLOCK(2, 0, 0, 0, Y0, Y1, Y2, Y3, X1, X2, X3)

q4sum:
	VADDPS Y4, Y0, Y0
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
	VXORPS Y4, Y4, Y4
	MOVQ   SI, BX
	XORQ   R13, R13
	MOVQ   R10, R14
	MOVQ   R12, DX
	SHRQ   $1, DX
	JZ     q8tail

q8pair:
	Q8BLOCK(2, 0, 0, 0, Y0, Y1, Y2, Y3, X3)
	Q8BLOCK(36, 34, 32, 4, Y4, Y5, Y6, Y7, X7)
	ADDQ $68, BX
	ADDQ $64, R13
	ADDQ $8, R14
	DECQ DX
	JNZ  q8pair

q8tail:
	TESTQ $1, R12
	JZ    q8sum
	Q8BLOCK(2, 0, 0, 0, Y0, Y1, Y2, Y3, X3)

q8sum:
	VADDPS Y4, Y0, Y0
	HSUM_Y0
	VMOVSS X0, (DI)
	ADDQ   $4, DI
	ADDQ   R8, SI
	DECQ   CX
	JNZ    q8row
	VZEROUPPER
	RET

DATA q8perm<>+0(SB)/4, $0
DATA q8perm<>+4(SB)/4, $4
DATA q8perm<>+8(SB)/4, $1
DATA q8perm<>+12(SB)/4, $5
DATA q8perm<>+16(SB)/4, $2
DATA q8perm<>+20(SB)/4, $6
DATA q8perm<>+24(SB)/4, $3
DATA q8perm<>+28(SB)/4, $7
GLOBL q8perm<>(SB), RODATA|NOPTR, $32

// Q8ROUND rounds the float32 lanes of y half away from zero to int32 (truncating
// conversion of y + copysign(0.5, y)); Y9 = sign mask, Y10 = 0.5; clobbers t.
#define Q8ROUND(y, t) \
	VANDPS     Y9, y, t \
	VORPS      Y10, t, t \
	VADDPS     t, y, y \
	VCVTTPS2DQ y, y

// func q8QuantAVX2(x *float32, q *int8, d *float32, c *int32, nb int)
TEXT ·q8QuantAVX2(SB), NOSPLIT, $0-40
	MOVQ x+0(FP), SI
	MOVQ q+8(FP), DI
	MOVQ d+16(FP), R8
	MOVQ c+24(FP), R9
	MOVQ nb+32(FP), CX

	MOVL         $0x7fffffff, AX
	MOVQ         AX, X8
	VPBROADCASTD X8, Y8          // |x| mask
	MOVL         $0x80000000, AX
	MOVQ         AX, X9
	VPBROADCASTD X9, Y9          // sign mask
	MOVL         $0x3f000000, AX // 0.5
	MOVQ         AX, X10
	VPBROADCASTD X10, Y10
	VMOVDQU      q8perm<>(SB), Y11
	MOVL         $0x01010101, AX
	MOVQ         AX, X12
	VPBROADCASTD X12, Y12        // uint8 ones
	MOVL         $0x00010001, AX
	MOVQ         AX, X13
	VPBROADCASTD X13, Y13        // int16 ones
	MOVL         $0x42fe0000, AX // 127
	MOVQ         AX, X14
	MOVL         $0x3f800000, AX // 1
	MOVQ         AX, X15
	MOVL         $0x7f7fffff, AX // MaxFloat32
	MOVQ         AX, X7

q8qblock:
	VMOVUPS      0(SI), Y0
	VMOVUPS      32(SI), Y1
	VMOVUPS      64(SI), Y2
	VMOVUPS      96(SI), Y3
	VANDPS       Y8, Y0, Y4
	VANDPS       Y8, Y1, Y5
	VMAXPS       Y5, Y4, Y4
	VANDPS       Y8, Y2, Y5
	VANDPS       Y8, Y3, Y6
	VMAXPS       Y6, Y5, Y5
	VMAXPS       Y5, Y4, Y4
	VEXTRACTF128 $1, Y4, X5
	VMAXPS       X5, X4, X4
	VPERMILPS    $0x4e, X4, X5
	VMAXPS       X5, X4, X4
	VPERMILPS    $0xb1, X4, X5
	VMAXSS       X5, X4, X4      // amax
	VDIVSS       X14, X4, X4     // d = amax/127
	VMOVSS       X4, (R8)
	VDIVSS       X4, X15, X5     // id = 1/d
	VCMPSS       $2, X7, X5, X6  // id <= MaxFloat32 (false for +Inf and NaN)
	VANDPS       X6, X5, X5
	VBROADCASTSS X5, Y5
	VMULPS       Y5, Y0, Y0
	VMULPS       Y5, Y1, Y1
	VMULPS       Y5, Y2, Y2
	VMULPS       Y5, Y3, Y3
	Q8ROUND(Y0, Y4)
	Q8ROUND(Y1, Y4)
	Q8ROUND(Y2, Y4)
	Q8ROUND(Y3, Y4)
	VPACKSSDW    Y1, Y0, Y0      // per 128-bit lane: x0..3 x8..11 | x4..7 x12..15
	VPACKSSDW    Y3, Y2, Y2
	VPACKSSWB    Y2, Y0, Y0      // dwords: 0-3 8-11 16-19 24-27 | 4-7 12-15 20-23 28-31
	VPERMD       Y0, Y11, Y0     // element order
	VMOVDQU      Y0, (DI)
	VPMADDUBSW   Y0, Y12, Y1     // pairs of q
	VPMADDWD     Y13, Y1, Y1     // sums of 4
	VPSLLD       $3, Y1, Y1
	VMOVDQU      Y1, (R9)
	ADDQ         $128, SI
	ADDQ         $32, DI
	ADDQ         $4, R8
	ADDQ         $32, R9
	DECQ         CX
	JNZ          q8qblock
	VZEROUPPER
	RET

// func q4_0Gemm8x4AVX2(w *byte, nb int, xg *byte, out *float32)
//
// Per block column: the 8 rows' scales (VCVTPH2PS), then for each of the 4 32-byte quant
// vectors its low and high nibbles, each multiplied (VPMADDUBSW, unsigned × signed) with
// every token's broadcast 4-byte activation group and summed in int16 (at most
// 8·2·15·127 = 30480 per lane, no overflow); per token one VPMADDWD gives the 8 rows'
// exact nibble dot products, minus 8·Σx, converted and accumulated with the rows'
// scale × the token's scale.
TEXT ·q4_0Gemm8x4AVX2(SB), NOSPLIT, $0-32
	MOVQ w+0(FP), SI
	MOVQ nb+8(FP), CX
	MOVQ xg+16(FP), DX
	MOVQ out+24(FP), DI
	MOVL         $0x0f0f0f0f, AX
	VMOVD        AX, X15
	VPBROADCASTD X15, Y15
	MOVL         $0x00010001, AX
	VMOVD        AX, X14
	VPBROADCASTD X14, Y14
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
gq4blk:
	VCVTPH2PS (SI), Y13          // scales of the 8 rows
	VMOVDQU   16(SI), Y12
	VPSRLW    $4, Y12, Y11
	VPAND     Y15, Y12, Y12         // elements 4k..4k+3 of each row
	VPAND     Y15, Y11, Y11         // elements 16+4k..16+4k+3
	VPBROADCASTD 0(DX), Y8
	VPMADDUBSW   Y8, Y12, Y0
	VPBROADCASTD 32(DX), Y9
	VPMADDUBSW   Y9, Y12, Y1
	VPBROADCASTD 64(DX), Y10
	VPMADDUBSW   Y10, Y12, Y2
	VPBROADCASTD 96(DX), Y8
	VPMADDUBSW   Y8, Y12, Y3
	VPBROADCASTD 16(DX), Y8
	VPMADDUBSW   Y8, Y11, Y8
	VPADDW       Y8, Y0, Y0
	VPBROADCASTD 48(DX), Y9
	VPMADDUBSW   Y9, Y11, Y9
	VPADDW       Y9, Y1, Y1
	VPBROADCASTD 80(DX), Y10
	VPMADDUBSW   Y10, Y11, Y10
	VPADDW       Y10, Y2, Y2
	VPBROADCASTD 112(DX), Y8
	VPMADDUBSW   Y8, Y11, Y8
	VPADDW       Y8, Y3, Y3
	VMOVDQU   48(SI), Y12
	VPSRLW    $4, Y12, Y11
	VPAND     Y15, Y12, Y12
	VPAND     Y15, Y11, Y11
	VPBROADCASTD 4(DX), Y8
	VPMADDUBSW   Y8, Y12, Y8
	VPADDW       Y8, Y0, Y0
	VPBROADCASTD 36(DX), Y9
	VPMADDUBSW   Y9, Y12, Y9
	VPADDW       Y9, Y1, Y1
	VPBROADCASTD 68(DX), Y10
	VPMADDUBSW   Y10, Y12, Y10
	VPADDW       Y10, Y2, Y2
	VPBROADCASTD 100(DX), Y8
	VPMADDUBSW   Y8, Y12, Y8
	VPADDW       Y8, Y3, Y3
	VPBROADCASTD 20(DX), Y8
	VPMADDUBSW   Y8, Y11, Y8
	VPADDW       Y8, Y0, Y0
	VPBROADCASTD 52(DX), Y9
	VPMADDUBSW   Y9, Y11, Y9
	VPADDW       Y9, Y1, Y1
	VPBROADCASTD 84(DX), Y10
	VPMADDUBSW   Y10, Y11, Y10
	VPADDW       Y10, Y2, Y2
	VPBROADCASTD 116(DX), Y8
	VPMADDUBSW   Y8, Y11, Y8
	VPADDW       Y8, Y3, Y3
	VMOVDQU   80(SI), Y12
	VPSRLW    $4, Y12, Y11
	VPAND     Y15, Y12, Y12
	VPAND     Y15, Y11, Y11
	VPBROADCASTD 8(DX), Y8
	VPMADDUBSW   Y8, Y12, Y8
	VPADDW       Y8, Y0, Y0
	VPBROADCASTD 40(DX), Y9
	VPMADDUBSW   Y9, Y12, Y9
	VPADDW       Y9, Y1, Y1
	VPBROADCASTD 72(DX), Y10
	VPMADDUBSW   Y10, Y12, Y10
	VPADDW       Y10, Y2, Y2
	VPBROADCASTD 104(DX), Y8
	VPMADDUBSW   Y8, Y12, Y8
	VPADDW       Y8, Y3, Y3
	VPBROADCASTD 24(DX), Y8
	VPMADDUBSW   Y8, Y11, Y8
	VPADDW       Y8, Y0, Y0
	VPBROADCASTD 56(DX), Y9
	VPMADDUBSW   Y9, Y11, Y9
	VPADDW       Y9, Y1, Y1
	VPBROADCASTD 88(DX), Y10
	VPMADDUBSW   Y10, Y11, Y10
	VPADDW       Y10, Y2, Y2
	VPBROADCASTD 120(DX), Y8
	VPMADDUBSW   Y8, Y11, Y8
	VPADDW       Y8, Y3, Y3
	VMOVDQU   112(SI), Y12
	VPSRLW    $4, Y12, Y11
	VPAND     Y15, Y12, Y12
	VPAND     Y15, Y11, Y11
	VPBROADCASTD 12(DX), Y8
	VPMADDUBSW   Y8, Y12, Y8
	VPADDW       Y8, Y0, Y0
	VPBROADCASTD 44(DX), Y9
	VPMADDUBSW   Y9, Y12, Y9
	VPADDW       Y9, Y1, Y1
	VPBROADCASTD 76(DX), Y10
	VPMADDUBSW   Y10, Y12, Y10
	VPADDW       Y10, Y2, Y2
	VPBROADCASTD 108(DX), Y8
	VPMADDUBSW   Y8, Y12, Y8
	VPADDW       Y8, Y3, Y3
	VPBROADCASTD 28(DX), Y8
	VPMADDUBSW   Y8, Y11, Y8
	VPADDW       Y8, Y0, Y0
	VPBROADCASTD 60(DX), Y9
	VPMADDUBSW   Y9, Y11, Y9
	VPADDW       Y9, Y1, Y1
	VPBROADCASTD 92(DX), Y10
	VPMADDUBSW   Y10, Y11, Y10
	VPADDW       Y10, Y2, Y2
	VPBROADCASTD 124(DX), Y8
	VPMADDUBSW   Y8, Y11, Y8
	VPADDW       Y8, Y3, Y3
	VPMADDWD     Y14, Y0, Y0
	VPBROADCASTD 128(DX), Y8
	VPSUBD       Y8, Y0, Y0
	VCVTDQ2PS    Y0, Y0
	VBROADCASTSS 144(DX), Y9
	VMULPS       Y13, Y9, Y9
	VFMADD231PS  Y0, Y9, Y4
	VPMADDWD     Y14, Y1, Y1
	VPBROADCASTD 132(DX), Y8
	VPSUBD       Y8, Y1, Y1
	VCVTDQ2PS    Y1, Y1
	VBROADCASTSS 148(DX), Y9
	VMULPS       Y13, Y9, Y9
	VFMADD231PS  Y1, Y9, Y5
	VPMADDWD     Y14, Y2, Y2
	VPBROADCASTD 136(DX), Y8
	VPSUBD       Y8, Y2, Y2
	VCVTDQ2PS    Y2, Y2
	VBROADCASTSS 152(DX), Y9
	VMULPS       Y13, Y9, Y9
	VFMADD231PS  Y2, Y9, Y6
	VPMADDWD     Y14, Y3, Y3
	VPBROADCASTD 140(DX), Y8
	VPSUBD       Y8, Y3, Y3
	VCVTDQ2PS    Y3, Y3
	VBROADCASTSS 156(DX), Y9
	VMULPS       Y13, Y9, Y9
	VFMADD231PS  Y3, Y9, Y7
	ADDQ $144, SI
	ADDQ $160, DX
	DECQ CX
	JNZ  gq4blk
	VMOVUPS Y4, 0(DI)
	VMOVUPS Y5, 32(DI)
	VMOVUPS Y6, 64(DI)
	VMOVUPS Y7, 96(DI)
	VZEROUPPER
	RET

// func q4_0Rows8AVX2(w *byte, rowBytes, groups int, xq *int8, xd *float32, xc *int32, nb int, y *float32)
//
// Decode over groups of 8 rows: per block column the 8 rows' 16 quant bytes are loaded
// and transposed in registers (4×4 dword transposes in each 128-bit half) into the
// layout of the GEMM tile (q4x8BlockBytes), so each broadcast 4-byte activation group
// feeds all 8 rows, the lanes of the accumulators are the rows, and the rows' fp16
// scales (inserted word by word, F16X8_SCALES) are one vector: per row r,
// y[r] = Σ_b fma in block order of (f16(scale r,b)·xd[b])·float32(s(r,b)),
// bit for bit what q4_0Gemm8x4AVX2 gives for the same row and token.
TEXT ·q4_0Rows8AVX2(SB), NOSPLIT, $0-64
	MOVQ rowBytes+8(FP), R8
	LEAQ (R8)(R8*2), R11              // 3·rowBytes
	MOVQ w+0(FP), SI
	MOVQ groups+16(FP), R14
	MOVQ y+56(FP), DI
	MOVL         $0x0f0f0f0f, AX
	VMOVD        AX, X15
	VPBROADCASTD X15, Y15
	MOVL         $0x00010001, AX
	VMOVD        AX, X14
	VPBROADCASTD X14, Y14
r8grp:
	VXORPS Y13, Y13, Y13              // accumulator: lane r = row r
	MOVQ   SI, BX                     // block of row 0
	LEAQ   (SI)(R8*4), R12            // block of row 4
	MOVQ   xq+24(FP), R9
	MOVQ   xd+32(FP), R10
	MOVQ   xc+40(FP), DX
	SUBQ   R9, DX                     // xc - xq: both advance 32 bytes a block
	LEAQ   (SI)(R8*8), R13            // the next tile, prefetched 144 bytes a block
	MOVQ   nb+48(FP), CX
r8blk:
	PREFETCHT0  (R13)
	PREFETCHT0  64(R13)
	PREFETCHT0  128(R13)
	ADDQ        $144, R13
	LOAD8T(2, X0, X1, X2, X3, Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7) // Yk: bytes 4k..4k+3 of rows 0..3 | rows 4..7
	VPSRLW       $4, Y0, Y8
	VPAND        Y15, Y0, Y0
	VPAND        Y15, Y8, Y8
	VPBROADCASTD 0(R9), Y4
	VPMADDUBSW   Y4, Y0, Y0
	VPBROADCASTD 16(R9), Y4
	VPMADDUBSW   Y4, Y8, Y8
	VPADDW       Y8, Y0, Y0
	VPSRLW       $4, Y1, Y9
	VPAND        Y15, Y1, Y1
	VPAND        Y15, Y9, Y9
	VPBROADCASTD 4(R9), Y5
	VPMADDUBSW   Y5, Y1, Y1
	VPBROADCASTD 20(R9), Y5
	VPMADDUBSW   Y5, Y9, Y9
	VPADDW       Y9, Y1, Y1
	VPSRLW       $4, Y2, Y10
	VPAND        Y15, Y2, Y2
	VPAND        Y15, Y10, Y10
	VPBROADCASTD 8(R9), Y6
	VPMADDUBSW   Y6, Y2, Y2
	VPBROADCASTD 24(R9), Y6
	VPMADDUBSW   Y6, Y10, Y10
	VPADDW       Y10, Y2, Y2
	VPSRLW       $4, Y3, Y11
	VPAND        Y15, Y3, Y3
	VPAND        Y15, Y11, Y11
	VPBROADCASTD 12(R9), Y7
	VPMADDUBSW   Y7, Y3, Y3
	VPBROADCASTD 28(R9), Y7
	VPMADDUBSW   Y7, Y11, Y11
	VPADDW       Y11, Y3, Y3
	VPADDW       Y1, Y0, Y0
	VPADDW       Y3, Y2, Y2
	VPADDW       Y2, Y0, Y0
	VPMADDWD     Y14, Y0, Y0          // nibble dot products of the 8 rows
	VMOVDQU      (R9)(DX*1), Y1
	VEXTRACTI128 $1, Y1, X2
	VPADDD       X2, X1, X1
	VPSHUFD      $0x4e, X1, X2
	VPADDD       X2, X1, X1
	VPSHUFD      $0xb1, X1, X2
	VPADDD       X2, X1, X1
	VPBROADCASTD X1, Y1               // 8·Σx of the block
	VPSUBD       Y1, Y0, Y0
	VCVTDQ2PS    Y0, Y0
	F16X8_SCALES               // scales of the 8 rows
	VBROADCASTSS (R10), Y5
	VMULPS       Y4, Y5, Y5
	VFMADD231PS  Y0, Y5, Y13
	ADDQ         $18, BX
	ADDQ         $18, R12
	ADDQ         $32, R9
	ADDQ         $4, R10
	DECQ         CX
	JNZ          r8blk
	VMOVUPS      Y13, (DI)
	ADDQ         $32, DI
	LEAQ         (SI)(R8*8), SI
	DECQ         R14
	JNZ          r8grp
	VZEROUPPER
	RET

// func q4_0Interleave8AVX2(w *byte, rowBytes, nb int, dst *byte)
//
// interleaveQ4_0x8 for a full tile of 8 rows: per block column the rows' quants are
// transposed in registers as in q4_0Rows8AVX2 and stored with the rows' scales.
TEXT ·q4_0Interleave8AVX2(SB), NOSPLIT, $0-32
	MOVQ w+0(FP), BX
	MOVQ BX, SI
	MOVQ rowBytes+8(FP), R8
	MOVQ nb+16(FP), CX
	MOVQ dst+24(FP), DI
	LEAQ (R8)(R8*2), R11
	LEAQ (BX)(R8*4), R12

il8blk:
	MOVQ        BX, AX              // prefetch the next tile, 144 bytes per block
	SUBQ        SI, AX
	LEAQ        (SI)(AX*8), AX
	LEAQ        (AX)(R8*8), AX
	PREFETCHT0  (AX)
	PREFETCHT0  64(AX)
	PREFETCHT0  128(AX)
	LOAD8T(2, X0, X1, X2, X3, Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7) // Yk: bytes 4k..4k+3 of rows 0..3 | rows 4..7
	VMOVDQU     Y0, 16(DI)
	VMOVDQU     Y1, 48(DI)
	VMOVDQU     Y2, 80(DI)
	VMOVDQU     Y3, 112(DI)
	F16X4(BX)
	MOVQ        AX, (DI)
	F16X4(R12)
	MOVQ        AX, 8(DI)
	ADDQ        $18, BX
	ADDQ        $18, R12
	ADDQ        $144, DI
	DECQ        CX
	JNZ         il8blk
	VZEROUPPER
	RET
