//go:build !purego

package kernels

// bnb4Rows8AVX2 computes groups·8 rows of NF4/FP4 blocks (20 bytes) with tab a
// bnb4Table's 32 entries (see nib8_amd64.s): row r of each group of 8 as
// nibGemm8x4AVX2 does for a tile row and a token, bit for bit, i.e.
//
//	y[r] = (Σ_b fma in block order of (absmax(r,b)·xd[b])·float32(s(r,b))) · post
//
// with s(r,b) the exact integer block sum of bnb4RowsGeneric. groups ≥ 1, nb ≥ 1.
//
//go:noescape
func bnb4Rows8AVX2(w *byte, rowBytes, groups int, xq *int8, xd *float32, nb int, y *float32, tab *int8, post float32)

// bnb4PermAVX2 writes, per activation block b < nb of xq, the permuted block xp
// (xp[j] = x[2j+1], xp[16+j] = x[2j]) and its magnitudes |xp|, 64 bytes, at dst+64·b.
//
//go:noescape
func bnb4PermAVX2(xq *int8, nb int, dst *byte)

// bnb4Rows8PAVX2 is bnb4Rows8AVX2 reading the activation blocks as bnb4PermAVX2 wrote
// them (xp) instead of permuting each block once per group of 8 rows.
//
//go:noescape
func bnb4Rows8PAVX2(w *byte, rowBytes, groups int, xp *byte, xd *float32, nb int, y *float32, tab *int8, post float32)

// bnbPermMaxBlocks is the most activation blocks (16384 columns) bnb4RowsAVX2Go
// permutes once per call, in a buffer on its stack; longer rows use bnb4Rows8AVX2.
const bnbPermMaxBlocks = 512

// bnb4Tile8AVX2 is decodeTile8 for 8 valid NF4/FP4 rows and nb ≥ 1 blocks, tab the
// type's bnb4Table.w.
//
//go:noescape
func bnb4Tile8AVX2(w *byte, rowBytes, nb int, dst *byte, tab *int8)

func nf4RowsAVX2Go(w []byte, rowBytes int, q []int8, d []float32, _ []int32, y []float32) {
	bnb4RowsAVX2Go(nf4Tab, w, rowBytes, q, d, y)
}

func fp4RowsAVX2Go(w []byte, rowBytes int, q []int8, d []float32, _ []int32, y []float32) {
	bnb4RowsAVX2Go(fp4Tab, w, rowBytes, q, d, y)
}

// bnb4RowsAVX2Go runs the 8-row kernel on the aligned groups of 8 rows and the
// specification (Go) on the rest: weight matrices have a multiple of 8 rows in
// practice, so the tail only serves odd shapes.
func bnb4RowsAVX2Go(tab *bnb4Table, w []byte, rowBytes int, q []int8, d []float32, y []float32) {
	nb := len(d)
	if len(y) == 0 || nb == 0 {
		clear(y)
		return
	}
	_ = w[(len(y)-1)*rowBytes+nb*20-1]
	_ = q[nb*qBlock-1]
	g := len(y) / 8
	if g > 1 && nb <= 64 { // up to 2048 columns: a smaller buffer to zero
		var xp [64 * 64]byte
		bnb4PermAVX2(&q[0], nb, &xp[0])
		bnb4Rows8PAVX2(&w[0], rowBytes, g, &xp[0], &d[0], nb, &y[0], &tab.w[0], tab.post)
	} else if g > 1 && nb <= bnbPermMaxBlocks {
		var xp [bnbPermMaxBlocks * 64]byte
		bnb4PermAVX2(&q[0], nb, &xp[0])
		bnb4Rows8PAVX2(&w[0], rowBytes, g, &xp[0], &d[0], nb, &y[0], &tab.w[0], tab.post)
	} else if g > 0 {
		bnb4Rows8AVX2(&w[0], rowBytes, g, &q[0], &d[0], nb, &y[0], &tab.w[0], tab.post)
	}
	if rest := len(y) - 8*g; rest > 0 {
		bnb4RowsGeneric(tab, w[8*g*rowBytes:], rowBytes, q, d, y[8*g:])
	}
}

func nf4Gemm8x4AVX2Go(w []byte, nb int, g []byte, out *[32]float32) {
	nibGemm8x4AVX2Go(w, nb, g, out, nf4Tab.post)
}

func fp4Gemm8x4AVX2Go(w []byte, nb int, g []byte, out *[32]float32) {
	nibGemm8x4AVX2Go(w, nb, g, out, fp4Tab.post)
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
