package kernels

import "github.com/edgerun/edgerun/int4"

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
