//go:build !purego

package kernels

// bnb4Rows8AVX2 computes groups·8 rows of NF4/FP4 blocks (20 bytes) with tab a
// bnb4Table's 32 entries, from the activation blocks prepared by permBlocks (xp; see
// nib8_amd64.s): row r of each group of 8 as nibGemm8x4AVX2 does for a tile row and a
// token, bit for bit, i.e.
//
//	y[r] = (Σ_b fma in block order of (absmax(r,b)·xd[b])·float32(s(r,b))) · post
//
// with s(r,b) the exact integer block sum of bnb4RowsGeneric. groups ≥ 1, nb ≥ 1.
//
//go:noescape
func bnb4Rows8AVX2(w *byte, rowBytes, groups int, xp *byte, xd *float32, nb int, y *float32, tab *int8, post float32)

// prepBnb4 is prepBlocksAVX2's table for permBlocks: each lane's odd bytes, then its
// even ones, and the quadwords in the order 0, 2, 1, 3.
var prepBnb4 = prepTabAVX2([16]byte{1, 3, 5, 7, 9, 11, 13, 15, 0, 2, 4, 6, 8, 10, 12, 14}, [8]uint32{0, 1, 4, 5, 2, 3, 6, 7})

// permPrepAVX2 prepares the activation blocks of the NF4/FP4 kernels.
var permPrepAVX2 = &actPrep{spec: permBlocks, fill: func(q []int8, dst []byte) { prepBlocksAVX2Go(q, dst, &prepBnb4) }}

// bnb4Tile8AVX2 is decodeTile8 for 8 valid NF4/FP4 rows and nb ≥ 1 blocks, tab the
// type's bnb4Table.w.
//
//go:noescape
func bnb4Tile8AVX2(w *byte, rowBytes, nb int, dst *byte, tab *int8)

func (a *nibAsm) nf4Rows(w []byte, rowBytes int, q []int8, d []float32, _ []int32, xp []byte, y []float32) {
	a.bnb4Rows(nf4Tab, w, rowBytes, q, d, xp, y)
}

func (a *nibAsm) fp4Rows(w []byte, rowBytes int, q []int8, d []float32, _ []int32, xp []byte, y []float32) {
	a.bnb4Rows(fp4Tab, w, rowBytes, q, d, xp, y)
}

// bnb4Rows runs the 8-row kernel on the aligned groups of 8 rows (with the
// prepared blocks xp) and the specification (Go, with q) on the rest: weight matrices
// have a multiple of 8 rows in practice, so the tail only serves odd shapes.
func (a *nibAsm) bnb4Rows(tab *bnb4Table, w []byte, rowBytes int, q []int8, d []float32, xp []byte, y []float32) {
	nb := len(d)
	if len(y) == 0 || nb == 0 {
		clear(y)
		return
	}
	_ = w[(len(y)-1)*rowBytes+nb*20-1]
	_ = q[nb*qBlock-1]
	g := len(y) / 8
	if g > 0 {
		_ = xp[nb*prepBlockBytes-1]
		a.bnb4Rows8(&w[0], rowBytes, g, &xp[0], &d[0], nb, &y[0], &tab.w[0], tab.post)
	}
	if rest := len(y) - 8*g; rest > 0 {
		bnb4RowsGeneric(tab, 1, w[8*g*rowBytes:], rowBytes, q, d, y[8*g:])
	}
}

func (a *nibAsm) nf4Gemm8x4(w []byte, nb int, g []byte, out *[32]float32) {
	a.gemm8x4(w, nb, g, out, nf4Tab.post)
}

func (a *nibAsm) fp4Gemm8x4(w []byte, nb int, g []byte, out *[32]float32) {
	a.gemm8x4(w, nb, g, out, fp4Tab.post)
}

func nf4Tile8AVX2Go(w []byte, rowBytes, rows, nb int, dst []byte) {
	if rows < 8 || nb <= 0 {
		decodeTileNF4(w, rowBytes, rows, nb, dst)
		return
	}
	bnb4Tile8AVX2Go(nf4Tab, w, rowBytes, nb, dst)
}

func fp4Tile8AVX2Go(w []byte, rowBytes, rows, nb int, dst []byte) {
	if rows < 8 || nb <= 0 {
		decodeTileFP4(w, rowBytes, rows, nb, dst)
		return
	}
	bnb4Tile8AVX2Go(fp4Tab, w, rowBytes, nb, dst)
}

func bnb4Tile8AVX2Go(tab *bnb4Table, w []byte, rowBytes, nb int, dst []byte) {
	_ = w[7*rowBytes+nb*20-1]
	_ = dst[nb*nibTileBlockBytes-1]
	bnb4Tile8AVX2(&w[0], rowBytes, nb, &dst[0], &tab.w[0])
}

// bnb4_64Rows8AVX2 is bnb4Rows8AVX2 for NF4_64/FP4_64 rows of nb 36-byte blocks (2·nb
// prepared activation blocks in xp and scales in xd): bit for bit bnb4Rows8AVX2 on the
// same rows in the 32-element layout. groups ≥ 1, nb ≥ 1.
//
//go:noescape
func bnb4_64Rows8AVX2(w *byte, rowBytes, groups int, xp *byte, xd *float32, nb int, y *float32, tab *int8, post float32)

// bnb4_64Tile8AVX2 is decodeTile8 for 8 valid NF4_64/FP4_64 rows and nb ≥ 1 blocks of
// 64 elements (2·nb tile block columns), tab the type's bnb4Table.w.
//
//go:noescape
func bnb4_64Tile8AVX2(w *byte, rowBytes, nb int, dst *byte, tab *int8)

func (a *nibAsm) nf4_64Rows(w []byte, rowBytes int, q []int8, d []float32, _ []int32, xp []byte, y []float32) {
	a.bnb4_64Rows(nf4Tab, w, rowBytes, q, d, xp, y)
}

func (a *nibAsm) fp4_64Rows(w []byte, rowBytes int, q []int8, d []float32, _ []int32, xp []byte, y []float32) {
	a.bnb4_64Rows(fp4Tab, w, rowBytes, q, d, xp, y)
}

// bnb4_64Rows is bnb4Rows for NF4_64/FP4_64 (len(d) is even: the row
// length is a multiple of 64).
func (a *nibAsm) bnb4_64Rows(tab *bnb4Table, w []byte, rowBytes int, q []int8, d []float32, xp []byte, y []float32) {
	nb := len(d) / 2
	if len(y) == 0 || nb == 0 {
		clear(y)
		return
	}
	_ = w[(len(y)-1)*rowBytes+nb*36-1]
	_ = q[2*nb*qBlock-1]
	g := len(y) / 8
	if g > 0 {
		_ = xp[2*nb*prepBlockBytes-1]
		a.bnb4_64Rows8(&w[0], rowBytes, g, &xp[0], &d[0], nb, &y[0], &tab.w[0], tab.post)
	}
	if rest := len(y) - 8*g; rest > 0 {
		bnb4RowsGeneric(tab, 2, w[8*g*rowBytes:], rowBytes, q, d, y[8*g:])
	}
}

func nf4_64Tile8AVX2Go(w []byte, rowBytes, rows, nb int, dst []byte) {
	if rows < 8 || nb <= 0 {
		decodeTileBnb64(w, rowBytes, rows, nb, dst, &nf4Tab.w)
		return
	}
	bnb4_64Tile8AVX2Go(nf4Tab, w, rowBytes, nb, dst)
}

func fp4_64Tile8AVX2Go(w []byte, rowBytes, rows, nb int, dst []byte) {
	if rows < 8 || nb <= 0 {
		decodeTileBnb64(w, rowBytes, rows, nb, dst, &fp4Tab.w)
		return
	}
	bnb4_64Tile8AVX2Go(fp4Tab, w, rowBytes, nb, dst)
}

// bnb4_64Tile8AVX2Go runs bnb4_64Tile8AVX2 on nb (even) tile block columns.
func bnb4_64Tile8AVX2Go(tab *bnb4Table, w []byte, rowBytes, nb int, dst []byte) {
	_ = w[7*rowBytes+nb/2*36-1]
	_ = dst[nb*nibTileBlockBytes-1]
	bnb4_64Tile8AVX2(&w[0], rowBytes, nb/2, &dst[0], &tab.w[0])
}
