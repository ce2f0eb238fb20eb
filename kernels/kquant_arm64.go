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
// A64 instructions in the super-block loop (256 columns × 8 rows; per row in brackets),
// counted in the assembled code:
//
//	                 NEON (no dot product)   SDOT          before
//	Q4_K             764 (95.5)              684 (85.5)    SDOT one-row 151 a row, 4-token 138.5 a row and token;
//	                                                       without the dot product the float path (int4 dotQ4_K: ≈2070)
//	Q6_K             1116 (139.5)            1052 (131.5)  SDOT one-row 192 a row, 4-token 130 a row and token;
//	                                                       without the dot product the float path (dotQ6_K: ≈2900)

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
