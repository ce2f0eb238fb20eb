package kernels

import "github.com/edgerun/edgerun/int4"

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
