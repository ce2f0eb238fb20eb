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

// F16X8_SCALES: Y4 = the 8 rows' fp16 scales as float32, inserted word by word from
// memory (every lane of X4 is overwritten).
#define F16X8_SCALES \
	VPINSRW   $0, (BX), X4, X4 \
	VPINSRW   $1, (BX)(R8*1), X4, X4 \
	VPINSRW   $2, (BX)(R8*2), X4, X4 \
	VPINSRW   $3, (BX)(R11*1), X4, X4 \
	VPINSRW   $4, (R12), X4, X4 \
	VPINSRW   $5, (R12)(R8*1), X4, X4 \
	VPINSRW   $6, (R12)(R8*2), X4, X4 \
	VPINSRW   $7, (R12)(R11*1), X4, X4 \
	VCVTPH2PS X4, Y4
