// Shared by the 8-row AVX2 kernels (kernels_amd64.s, nib8_amd64.s, q4k8_amd64.s,
// q6k8_amd64.s): loads from 8 weight rows, rows 0..3 at BX and rows 4..7 at R12, with the row stride in R8 and
// 3·R8 in R11.

// F16X4(base): AX = the fp16 values at (base), (base)(R8*1), (base)(R8*2) and
// (base)(R11*1) in its 16-bit lanes 0..3. Clobbers DX.
#define F16X4(base) \
	MOVWQZX (base), AX \
	MOVWQZX (base)(R8*1), DX \
	SHLQ    $16, DX \
	ORQ     DX, AX \
	MOVWQZX (base)(R8*2), DX \
	SHLQ    $32, DX \
	ORQ     DX, AX \
	MOVWQZX (base)(R11*1), DX \
	SHLQ    $48, DX \
	ORQ     DX, AX

// F16X8AT(off, y): y = the 8 rows' fp16 values at off as float32, inserted word by
// word from memory into X4 (every lane overwritten).
#define F16X8AT(off, y) \
	VPINSRW   $0, off(BX), X4, X4 \
	VPINSRW   $1, off(BX)(R8*1), X4, X4 \
	VPINSRW   $2, off(BX)(R8*2), X4, X4 \
	VPINSRW   $3, off(BX)(R11*1), X4, X4 \
	VPINSRW   $4, off(R12), X4, X4 \
	VPINSRW   $5, off(R12)(R8*1), X4, X4 \
	VPINSRW   $6, off(R12)(R8*2), X4, X4 \
	VPINSRW   $7, off(R12)(R11*1), X4, X4 \
	VCVTPH2PS X4, y

// F16X8_SCALES: Y4 = the 8 rows' fp16 scales (at the current blocks) as float32.
#define F16X8_SCALES F16X8AT(0, Y4)

// LOAD8T(qoff, x0..x3, d0..d3, t0..t3) loads the 16 bytes at qoff of the 8 rows and
// transposes them into d0..d3 (x0..x3: their low halves; dk: bytes 4k..4k+3 of rows
// 0..3 | rows 4..7). Clobbers t0..t3.
#define LOAD8T(qoff, x0, x1, x2, x3, d0, d1, d2, d3, t0, t1, t2, t3) \
	VMOVDQU     qoff(BX), x0 \
	VINSERTI128 $1, qoff(R12), d0, d0 \
	VMOVDQU     qoff(BX)(R8*1), x1 \
	VINSERTI128 $1, qoff(R12)(R8*1), d1, d1 \
	VMOVDQU     qoff(BX)(R8*2), x2 \
	VINSERTI128 $1, qoff(R12)(R8*2), d2, d2 \
	VMOVDQU     qoff(BX)(R11*1), x3 \
	VINSERTI128 $1, qoff(R12)(R11*1), d3, d3 \
	TRANSPOSE4D(d0, d1, d2, d3, t0, t1, t2, t3)

// TRANSPOSE4D(d0..d3, t0..t3) transposes the 4×4 dwords of each 128-bit lane of d0..d3
// (lane dword k of dj becomes lane dword j of dk). Clobbers t0..t3.
#define TRANSPOSE4D(d0, d1, d2, d3, t0, t1, t2, t3) \
	VPUNPCKLDQ  d1, d0, t0 \
	VPUNPCKHDQ  d1, d0, t1 \
	VPUNPCKLDQ  d3, d2, t2 \
	VPUNPCKHDQ  d3, d2, t3 \
	VPUNPCKLQDQ t2, t0, d0 \
	VPUNPCKHQDQ t2, t0, d1 \
	VPUNPCKLQDQ t3, t1, d2 \
	VPUNPCKHQDQ t3, t1, d3

// F32X4AT(base, x) loads the float32 at (base), (base)(R8*1), (base)(R8*2) and
// (base)(R11*1) (four rows' scales, rows R8 bytes apart) into x.
#define F32X4AT(base, x) \
	VMOVD   (base), x \
	VPINSRD $1, (base)(R8*1), x, x \
	VPINSRD $2, (base)(R8*2), x, x \
	VPINSRD $3, (base)(R11*1), x, x

// F32X4X2 loads the float32 scales of the 8 rows' current blocks (NF4/FP4: the absmax
// at the block's start; rows 0..3 at BX, rows 4..7 at R12) into X4 (rows 0..3) and X5
// (rows 4..7).
#define F32X4X2 \
	F32X4AT(BX, X4) \
	F32X4AT(R12, X5)

// F32X8_SCALES: Y4 = the 8 rows' float32 scales (NF4/FP4 absmax). Clobbers X5.
#define F32X8_SCALES \
	F32X4X2 \
	VINSERTI128 $1, X5, Y4, Y4

// LOAD16T(qoff, g1, g2, g3, x0..x3, d0..d3, t0..t3) (AVX-512) loads the 16 bytes at
// qoff of 16 rows (rows 0..3 at BX, BX+R8, BX+2·R8, BX+R11; rows 4..7, 8..11 and
// 12..15 the same from g1, g2 and g3) and transposes them into d0..d3 (dk: bytes
// 4k..4k+3 of rows 0..15, a dword each, 4 rows a 128-bit lane; x0..x3: the low 128 bits
// of d0..d3). Clobbers t0..t3.
#define LOAD16T(qoff, g1, g2, g3, x0, x1, x2, x3, d0, d1, d2, d3, t0, t1, t2, t3) \
	VMOVDQU      qoff(BX), x0 \
	VINSERTI32X4 $1, qoff(g1), d0, d0 \
	VINSERTI32X4 $2, qoff(g2), d0, d0 \
	VINSERTI32X4 $3, qoff(g3), d0, d0 \
	VMOVDQU      qoff(BX)(R8*1), x1 \
	VINSERTI32X4 $1, qoff(g1)(R8*1), d1, d1 \
	VINSERTI32X4 $2, qoff(g2)(R8*1), d1, d1 \
	VINSERTI32X4 $3, qoff(g3)(R8*1), d1, d1 \
	VMOVDQU      qoff(BX)(R8*2), x2 \
	VINSERTI32X4 $1, qoff(g1)(R8*2), d2, d2 \
	VINSERTI32X4 $2, qoff(g2)(R8*2), d2, d2 \
	VINSERTI32X4 $3, qoff(g3)(R8*2), d2, d2 \
	VMOVDQU      qoff(BX)(R11*1), x3 \
	VINSERTI32X4 $1, qoff(g1)(R11*1), d3, d3 \
	VINSERTI32X4 $2, qoff(g2)(R11*1), d3, d3 \
	VINSERTI32X4 $3, qoff(g3)(R11*1), d3, d3 \
	TRANSPOSE4D(d0, d1, d2, d3, t0, t1, t2, t3)

// F16X16_SCALES(g1, g2, g3) (AVX-512): Z4 = the fp16 scales at the current blocks of
// 16 rows (rows 0..3 at BX, BX+R8, BX+2·R8, BX+R11; rows 4..7, 8..11 and 12..15 the
// same from g1, g2 and g3) as float32. Clobbers X5.
#define F16X16_SCALES(g1, g2, g3) \
	VPINSRW     $0, (BX), X4, X4 \
	VPINSRW     $1, (BX)(R8*1), X4, X4 \
	VPINSRW     $2, (BX)(R8*2), X4, X4 \
	VPINSRW     $3, (BX)(R11*1), X4, X4 \
	VPINSRW     $4, (g1), X4, X4 \
	VPINSRW     $5, (g1)(R8*1), X4, X4 \
	VPINSRW     $6, (g1)(R8*2), X4, X4 \
	VPINSRW     $7, (g1)(R11*1), X4, X4 \
	VPINSRW     $0, (g2), X5, X5 \
	VPINSRW     $1, (g2)(R8*1), X5, X5 \
	VPINSRW     $2, (g2)(R8*2), X5, X5 \
	VPINSRW     $3, (g2)(R11*1), X5, X5 \
	VPINSRW     $4, (g3), X5, X5 \
	VPINSRW     $5, (g3)(R8*1), X5, X5 \
	VPINSRW     $6, (g3)(R8*2), X5, X5 \
	VPINSRW     $7, (g3)(R11*1), X5, X5 \
	VINSERTI128 $1, X5, Y4, Y4 \
	VCVTPH2PS   Y4, Z4
