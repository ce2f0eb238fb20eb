// Shared by the 8-row AVX2 kernels (kernels_amd64.s, nib8_amd64.s): the fp16 scales of
// 8 weight rows, rows 0..3 at BX and rows 4..7 at R12, with the row stride in R8 and
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

// F16X8_SCALES: Y4 = the 8 rows' fp16 scales as float32. Clobbers AX, DX.
#define F16X8_SCALES \
	F16X4(BX) \
	VMOVQ     AX, X4 \
	F16X4(R12) \
	VPINSRQ   $1, AX, X4, X4 \
	VCVTPH2PS X4, Y4
