package kernels

import (
	"encoding/binary"
	"math"

	"github.com/edgerun/edgerun/int4"
)

// Q6_K super-blocks (210 bytes, 256 elements): ql[128] low 4 bits, qh[64] high 2 bits,
// 16 int8 scales (one per 16 elements), fp16 d last; element e decodes to
// d·sc[e/16]·(q_e - 32) with q_e the 6-bit value (see int4/q6_k.go for the bit layout).
// Activation block b (32 elements) of a super-block covers scales 2b and 2b+1, so
//
//	s_b = Σ_{e<32} sc[2b + e/16]·(q_e - 32)·xq_e   (exact int32)
//	y  += (d·xd_b)·float32(s_b)
//
// and the only error against the float product is the activation rounding (llama.cpp's
// q6_K·q8_K computes the same integer sums with one activation scale per 256).

// q6kQuants returns the 6-bit values of activation block j (0..7) of the super-block sb
// in element order.
func q6kQuants(sb []byte, j int) (q [32]uint8) {
	h, k := j/4, j%4 // half, quarter of the half
	ql := sb[64*h+32*(k&1) : 64*h+32*(k&1)+32]
	qh := sb[128+32*h : 128+32*h+32]
	for l := 0; l < 32; l++ {
		q[l] = ql[l]>>(4*uint(k>>1))&15 | (qh[l]>>(2*uint(k))&3)<<4
	}
	return
}

// q6kRowsGeneric is the specification of the Q6_K × q8 kernel (see above): per
// activation block in order, sum += (d·d[b])·float32(s_b); y[r] = sum.
func q6kRowsGeneric(w []byte, rowBytes int, q []int8, d []float32, _ []int32, y []float32) {
	nb := len(d)
	for r := range y {
		row := w[r*rowBytes : (r+1)*rowBytes]
		var sum float32
		for k := 0; k < nb/8; k++ {
			sb := row[k*210 : k*210+210 : k*210+210]
			dd := int4.F16ToF32(uint16(sb[208]) | uint16(sb[209])<<8)
			for j := 0; j < 8; j++ {
				b := 8*k + j
				xq := q[b*qBlock : (b+1)*qBlock : (b+1)*qBlock]
				qs := q6kQuants(sb, j)
				var s int32
				for g := 0; g < 2; g++ {
					var sg int32
					for e := 16 * g; e < 16*g+16; e++ {
						sg += (int32(qs[e]) - 32) * int32(xq[e])
					}
					s += int32(int8(sb[192+2*j+g])) * sg
				}
				sum += dd * d[b] * float32(s)
			}
		}
		y[r] = sum
	}
}

// q6kTileBlockBytes is one block column (32 elements) of a decoded 8-row Q6_K tile for
// the GEMM: the 8 rows' super-block scales d as float32 (32 bytes), then per row the
// block's two int8 sub-block scales as int16 pairs (sc[2j], sc[2j]) for elements 0..15
// (32 bytes) and (sc[2j+1], sc[2j+1]) for elements 16..31 (32 bytes), then for k < 4
// four 32-byte vectors holding, for row 0, row 1, …, row 7, 4 bytes each: |w| of
// elements 4k..4k+3, w of the same, |w| of elements 16+4k..16+4k+3, w of the same,
// where w = q - 32 is the signed 6-bit weight (the nibTileBlockBytes layout after the
// 64 scale bytes). A 32-element block's dot product for a row is then
// sc[2j]·Σ_{e<16} w_e·x_e + sc[2j+1]·Σ_{e≥16} w_e·x_e, the spec's exact s_b.
const q6kTileBlockBytes = 608

// q6kTile8 writes the decoded tile (q6kTileBlockBytes layout) of Q6_K weight rows 0..7
// of w (rows ≥ 1 valid rows of rowBytes; missing rows repeat the last valid one) for nb
// activation blocks (nb a multiple of 8) into dst (nb·q6kTileBlockBytes bytes).
func q6kTile8(w []byte, rowBytes, rows, nb int, dst []byte) {
	dst = dst[:nb*q6kTileBlockBytes]
	abs := func(v int8) byte {
		if v < 0 {
			return byte(-v)
		}
		return byte(v)
	}
	for r := 0; r < 8; r++ {
		src := w[min(r, rows-1)*rowBytes:][: nb/8*210 : nb/8*210]
		for b := 0; b < nb; b++ {
			sb := src[b/8*210 : b/8*210+210 : b/8*210+210]
			j := b % 8
			o := dst[b*q6kTileBlockBytes : (b+1)*q6kTileBlockBytes : (b+1)*q6kTileBlockBytes]
			dd := int4.F16ToF32(uint16(sb[208]) | uint16(sb[209])<<8)
			binary.LittleEndian.PutUint32(o[4*r:], math.Float32bits(dd))
			for g := 0; g < 2; g++ {
				sc := uint16(int16(int8(sb[192+2*j+g])))
				binary.LittleEndian.PutUint16(o[32+32*g+4*r:], sc)
				binary.LittleEndian.PutUint16(o[32+32*g+4*r+2:], sc)
			}
			qs := q6kQuants(sb, j)
			for k := 0; k < 4; k++ {
				v := o[96+128*k : 96+128*(k+1) : 96+128*(k+1)]
				for i := 0; i < 4; i++ {
					lo, hi := int8(qs[4*k+i])-32, int8(qs[16+4*k+i])-32
					v[4*r+i], v[32+4*r+i] = abs(lo), byte(lo)
					v[64+4*r+i], v[96+4*r+i] = abs(hi), byte(hi)
				}
			}
		}
	}
}
