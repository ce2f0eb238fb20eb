package kernels

import (
	"encoding/binary"
	"math"

	"github.com/edgerun/edgerun/int4"
)

// Q4_K super-blocks (144 bytes, 256 elements): fp16 d, fp16 dmin, 12 bytes of packed
// 6-bit scales sc_j and mins m_j of the eight sub-blocks of 32, then 128 bytes of
// nibbles (bytes 32c..32c+31: sub-block 2c in the low nibbles, 2c+1 in the high ones);
// element e of sub-block j decodes to d·sc_j·n_e - dmin·m_j.
//
// Each sub-block is one activation block of 32, so per sub-block j (activation block b)
//
//	Σ_e w_e·x_e ≈ d_b·(d·sc_j·Σ_e n_e·q_e - dmin·m_j·Σ_e q_e)
//
// with both integer sums exact (llama.cpp's q4_K·q8_K computes the same sums, with one
// activation scale per 256 elements instead of per 32); Σ_e q_e is the sum of the
// block's lane offsets c divided by 8. The error against the float product is only the
// activation rounding, as for Q4_0.

// q4kScales decodes the eight 6-bit scales and mins of a super-block (ggml's
// get_scale_min_k4 for j = 0..7).
func q4kScales(s []byte) (sc, m [8]uint8) {
	s = s[:12:12]
	for j := 0; j < 4; j++ {
		sc[j], m[j] = s[j]&63, s[j+4]&63
		sc[j+4] = s[j+8]&15 | (s[j]>>6)<<4
		m[j+4] = s[j+8]>>4 | (s[j+4]>>6)<<4
	}
	return
}

// q4kRowsGeneric is the specification of the Q4_K × q8 kernel: per sub-block j of
// super-block k (activation block b = 8k+j), with A = d·float32(sc_j)·d[b] and
// B = dmin·float32(m_j)·d[b] (float32, in that order),
// sum += A·float32(Σ n_e·q_e) - B·float32(Σ q_e) in block order; y[r] = sum.
func q4kRowsGeneric(w []byte, rowBytes int, q []int8, d []float32, _ []int32, y []float32) {
	nb := len(d)
	for r := range y {
		row := w[r*rowBytes : (r+1)*rowBytes]
		var sum float32
		for k := 0; k < nb/8; k++ {
			blk := row[k*144 : k*144+144 : k*144+144]
			dd := int4.F16ToF32(uint16(blk[0]) | uint16(blk[1])<<8)
			dm := int4.F16ToF32(uint16(blk[2]) | uint16(blk[3])<<8)
			sc, m := q4kScales(blk[4:16])
			for j := 0; j < 8; j++ {
				b := 8*k + j
				xq := q[b*qBlock : (b+1)*qBlock : (b+1)*qBlock]
				qs := blk[16+32*(j/2) : 16+32*(j/2)+32 : 16+32*(j/2)+32]
				shift := 4 * uint(j&1)
				var s, sq int32
				for e := 0; e < 32; e++ {
					s += int32(qs[e]>>shift&15) * int32(xq[e])
					sq += int32(xq[e])
				}
				a := dd * float32(sc[j]) * d[b]
				bm := dm * float32(m[j]) * d[b]
				sum += a*float32(s) - bm*float32(sq)
			}
		}
		y[r] = sum
	}
}

// Q4_K GEMM tiles (gemm.go). The 8-row decode kernel and the 8×4 GEMM compute, for row
// r and token t, over the sub-blocks b in order (activation block b = super-block b/8,
// sub-block j = b%8), with one float32 accumulator:
//
//	A = d·float32(sc_j), B = (dmin·0.125)·float32(m_j)       (per row and sub-block)
//	s = Σ_e n_e·q_e (exact int32), c = 8·Σ_e q_e (exact; the activation lane offsets)
//	u := A·float32(s)
//	u -= B·float32(c)                                        (fused multiply-add)
//	acc += xd_b·u                                            (fused)
//
// (y[r] = acc), which differs from q4kRowsGeneric only in float rounding; both kernels
// do exactly these operations, so decode and prefill agree bit for bit on aligned groups
// of 8 rows.

// q4kTileBlockBytes is one 32-element column (one sub-block of every row) of a decoded
// 8-row Q4_K tile: the 8 rows' A (float32, 32 bytes), their B (32 bytes), then for
// k < 8 a 32-byte vector holding, for row 0, row 1, …, row 7, the nibbles of elements
// 4k..4k+3 of the sub-block as bytes 0..15. The 6-bit scales and the nibbles are
// decoded once per tile and reused by every token group.
const q4kTileBlockBytes = 320

// q4kTile8 writes the decoded tile (q4kTileBlockBytes layout) of Q4_K weight rows 0..7 of
// w (rows ≥ 1 valid rows of rowBytes; missing rows repeat the last valid one) for nb
// activation blocks (nb/8 super-blocks) into dst (nb·q4kTileBlockBytes bytes).
func q4kTile8(w []byte, rowBytes, rows, nb int, dst []byte) {
	dst = dst[:nb*q4kTileBlockBytes]
	for r := 0; r < 8; r++ {
		src := w[min(r, rows-1)*rowBytes:][: nb/8*144 : nb/8*144]
		for k := 0; k < nb/8; k++ {
			blk := src[k*144 : k*144+144 : k*144+144]
			dd := int4.F16ToF32(binary.LittleEndian.Uint16(blk[0:]))
			dm8 := int4.F16ToF32(binary.LittleEndian.Uint16(blk[2:])) * 0.125
			sc, m := q4kScales(blk[4:16])
			for j := 0; j < 8; j++ {
				o := dst[(8*k+j)*q4kTileBlockBytes : (8*k+j+1)*q4kTileBlockBytes : (8*k+j+1)*q4kTileBlockBytes]
				binary.LittleEndian.PutUint32(o[4*r:], math.Float32bits(dd*float32(sc[j])))
				binary.LittleEndian.PutUint32(o[32+4*r:], math.Float32bits(dm8*float32(m[j])))
				qs := blk[16+32*(j/2) : 16+32*(j/2)+32 : 16+32*(j/2)+32]
				shift := 4 * uint(j&1)
				for e := 0; e < 32; e++ {
					o[64+32*(e/4)+4*r+e%4] = qs[e] >> shift & 15
				}
			}
		}
	}
}
