//go:build !purego

package kernels

// 8-row decode kernels for the K-quants (Q4_K, Q6_K) on arm64, generated into
// rows8_arm64.s by gen_rows8_arm64.py. As the other 8-row kernels (rows8_arm64.go), each
// row's block sums are reduced across rows with pairwise adds, so each row sits in a
// vector lane of its own and the per-block scale and float work is done for 4 rows per
// instruction; a row's result never depends on the rows beside it, so tail rows run
// through the same kernel with a zero row stride (rows8Go).
//
// Q4_K, per sub-block j of 32 (activation block b) and row r, with S = Σ n_e·q_e and
// Σq = Σ q_e both exact:
//
//	acc_r = fma(acc_r, d_r·xd_b, float32(sc_rj·S))            (sc·S < 2^24: exact)
//	acc_r = fma(acc_r, -(dmin_r·(float32(Σq)·xd_b)), float32(m_rj))
//
// Q6_K, per block b of 32 (scales 2b for elements 0..15 and 2b+1 for 16..31) and row r,
// with q_e the unsigned 6-bit values and S_g = Σ_g q_e·x_e, X_g = Σ_g x_e exact:
//
//	s = sc_2b·(S_0 - 32·X_0) + sc_2b+1·(S_1 - 32·X_1)   (exact int32, = the spec's s_b)
//	acc_r = fma(acc_r, d_r·xd_b, float32(s))
//
// The 6-bit scales and mins of Q4_K are unpacked for 4 rows at once (one LD4 lane load a
// row transposes the super-block headers of 4 rows) and gathered per sub-block with TBL;
// Q6_K's int8 scales likewise (LD4) and sign-extended with shifts.
//
// Without the dot product (neon: Cortex-A53/A72 class) the block sums are widening
// multiplies (SMULL/SMLAL into int16 lanes) reduced with pairwise adds in int16 as far
// as they cannot overflow (Q4_K: 16 terms of |15·128|; Q6_K: 4 terms of |63·128|) and
// then widened (SADDLP). With it (neon-dotprod) they are SDOTs.
//
// The 8×4 prefill kernels (q4kRows8x4NEON etc.) unpack the scales once per super-block
// and decode each block's weights once for 4 tokens (into a 768-byte scratch buffer),
// then run the decode kernel's steps per token.
//
// A64 instructions in the super-block loop (256 columns), counted in the assembled
// code, per row (decode) and per row and token (8×4):
//
//	              NEON (no dot product)     SDOT                before (SDOT / no dot product)
//	Q4_K decode   764/8 = 95.5              684/8 = 85.5        one-row SDOT 151 / float path ≈2070 (int4 dotQ4_K)
//	Q4_K 8×4      2493/32 = 77.9            2173/32 = 67.9      4-token SDOT 138.5 / float path
//	Q6_K decode   1116/8 = 139.5            1052/8 = 131.5      one-row SDOT 192 / float path ≈2900 (int4 dotQ6_K)
//	Q6_K 8×4      3220/32 = 100.6           2964/32 = 92.6      4-token SDOT 130 / float path

// q4kRows8NEON computes groups·8 rows of Q4_K × q8 (row 8g+r at w[(8g+r)·rowBytes:],
// nb/8 super-blocks of 144 bytes; xq, xd, xc: the activation row, xc its lane sums times
// 8) into y[0:8·groups] as described above. groups ≥ 1, nb ≥ 8 and a multiple of 8.
//
//go:noescape
func q4kRows8NEON(w *byte, rowBytes, groups int, xq *int8, xd *float32, xc *int32, nb int, y *float32)

// q4kRows8SDOT is q4kRows8NEON with SDOT for the block sums (bit for bit the same
// results: the integer sums are exact either way).
//
//go:noescape
func q4kRows8SDOT(w *byte, rowBytes, groups int, xq *int8, xd *float32, xc *int32, nb int, y *float32)

// q6kRows8NEON computes groups·8 rows of Q6_K × q8 (nb/8 super-blocks of 210 bytes)
// into y[0:8·groups] as described above. groups ≥ 1, nb ≥ 8 and a multiple of 8.
//
//go:noescape
func q6kRows8NEON(w *byte, rowBytes, groups int, xq *int8, xd *float32, xc *int32, nb int, y *float32)

// q6kRows8SDOT is q6kRows8NEON with SDOT for the block sums (bit for bit the same).
//
//go:noescape
func q6kRows8SDOT(w *byte, rowBytes, groups int, xq *int8, xd *float32, xc *int32, nb int, y *float32)

// q4kRowsNEON8Go is the neon implementation's Q4_K rowsKernel (the float path before):
// groups of 8 rows, each remaining row through the same kernel with a zero row stride.
func q4kRowsNEON8Go(w []byte, rowBytes int, q []int8, d []float32, c []int32, y []float32) {
	rows8Go(q4kNEON8, nil, nil, w, rowBytes, q, d, c, y)
}

// q6kRowsNEON8Go is the neon implementation's Q6_K rowsKernel (see q4kRowsNEON8Go).
func q6kRowsNEON8Go(w []byte, rowBytes int, q []int8, d []float32, c []int32, y []float32) {
	rows8Go(q6kNEON8, nil, nil, w, rowBytes, q, d, c, y)
}

// q4kRowsSDOT8Go is neon-dotprod's Q4_K rowsKernel (see q4kRowsNEON8Go).
func q4kRowsSDOT8Go(w []byte, rowBytes int, q []int8, d []float32, c []int32, y []float32) {
	rows8Go(q4kSDOT8, nil, nil, w, rowBytes, q, d, c, y)
}

// q6kRowsSDOT8Go is neon-dotprod's Q6_K rowsKernel (see q4kRowsNEON8Go).
func q6kRowsSDOT8Go(w []byte, rowBytes int, q []int8, d []float32, c []int32, y []float32) {
	rows8Go(q6kSDOT8, nil, nil, w, rowBytes, q, d, c, y)
}

// q4kRows8x4NEON computes groups·8 rows of Q4_K for the 4 tokens of a q8Act.pack4
// group xg: y[t·ystride/4 + r] for t < 4 and r < 8·groups is what q4kRows8NEON gives for
// row r and token t, bit for bit (the same integer sums and float steps, in the same
// order). Per super-block the scales are unpacked once and per block the 8 rows'
// weights decoded once for the 4 tokens, into scratch (768 bytes). ystride in bytes;
// groups ≥ 1, nb ≥ 8 and a multiple of 8.
//
//go:noescape
func q4kRows8x4NEON(w *byte, rowBytes, groups int, xg *byte, nb int, y *float32, ystride int, scratch *byte)

// q4kRows8x4SDOT is q4kRows8x4NEON with SDOT (bit for bit with q4kRows8SDOT per token).
//
//go:noescape
func q4kRows8x4SDOT(w *byte, rowBytes, groups int, xg *byte, nb int, y *float32, ystride int, scratch *byte)

// q6kRows8x4NEON is q4kRows8x4NEON for Q6_K (bit for bit with q6kRows8NEON per token).
//
//go:noescape
func q6kRows8x4NEON(w *byte, rowBytes, groups int, xg *byte, nb int, y *float32, ystride int, scratch *byte)

// q6kRows8x4SDOT is q6kRows8x4NEON with SDOT (bit for bit with q6kRows8SDOT per token).
//
//go:noescape
func q6kRows8x4SDOT(w *byte, rowBytes, groups int, xg *byte, nb int, y *float32, ystride int, scratch *byte)

func q4kRows4NEON8Go(w []byte, rowBytes, rows int, g []byte, nb int, y []float32, ystride int) {
	kq8Rows4Go(q4kNEON8, w, rowBytes, rows, g, nb, y, ystride)
}

func q4kRows4SDOT8Go(w []byte, rowBytes, rows int, g []byte, nb int, y []float32, ystride int) {
	kq8Rows4Go(q4kSDOT8, w, rowBytes, rows, g, nb, y, ystride)
}

func q6kRows4NEON8Go(w []byte, rowBytes, rows int, g []byte, nb int, y []float32, ystride int) {
	kq8Rows4Go(q6kNEON8, w, rowBytes, rows, g, nb, y, ystride)
}

func q6kRows4SDOT8Go(w []byte, rowBytes, rows int, g []byte, nb int, y []float32, ystride int) {
	kq8Rows4Go(q6kSDOT8, w, rowBytes, rows, g, nb, y, ystride)
}

// kq8Rows4Go is the rows4Kernel around the 8×4 kernel of the decode kernel k: groups of
// 8 rows, and each remaining row through the same kernel with a zero row stride, as
// rows8Go does for decode, so it agrees with rows8Go(k) on every row.
func kq8Rows4Go(k rows8Kernel, w []byte, rowBytes, rows int, g []byte, nb int, y []float32, ystride int) {
	nb &^= 7
	if rows <= 0 || nb <= 0 {
		for t := 0; t < 4 && rows > 0; t++ {
			clear(y[t*ystride : t*ystride+rows])
		}
		return
	}
	used := nb / 8 * 144
	if k == q6kNEON8 || k == q6kSDOT8 {
		used = nb / 8 * 210
	}
	_ = w[(rows-1)*rowBytes+used-1]
	_ = g[nb*g4BlockBytes-1]
	_ = y[3*ystride+rows-1]
	var scratch [768]byte
	call := func(w *byte, rowBytes, groups int, y *float32, ystride int) {
		switch k {
		case q4kNEON8:
			q4kRows8x4NEON(w, rowBytes, groups, &g[0], nb, y, ystride, &scratch[0])
		case q4kSDOT8:
			q4kRows8x4SDOT(w, rowBytes, groups, &g[0], nb, y, ystride, &scratch[0])
		case q6kNEON8:
			q6kRows8x4NEON(w, rowBytes, groups, &g[0], nb, y, ystride, &scratch[0])
		case q6kSDOT8:
			q6kRows8x4SDOT(w, rowBytes, groups, &g[0], nb, y, ystride, &scratch[0])
		}
	}
	gr := rows / 8
	if gr > 0 {
		call(&w[0], rowBytes, gr, &y[0], 4*ystride)
	}
	for r := 8 * gr; r < rows; r++ {
		var one [32]float32
		call(&w[r*rowBytes], 0, 1, &one[0], 32)
		for t := 0; t < 4; t++ {
			y[t*ystride+r] = one[8*t]
		}
	}
}
