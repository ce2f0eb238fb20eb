package kernels

import (
	"math"

	"github.com/edgerun/edgerun/int4"
)

// NF4 and FP4 (bitsandbytes codes, int4's row layout: blocks of 32 elements, 20 bytes =
// float32 absmax + 16 code bytes, element 2i in the high nibble of byte i and 2i+1 in
// the low nibble).
//
// The code tables are not integers, so the kernels use the table scaled by bnb4Scale =
// 2^13 and rounded, W[c] = round(Table[c]·2^13), split into two int8 halves
// W[c] = 128·hi[c] + lo[c] (lo in [-64, 63], hi in [-64, 64]) so that each half is one
// byte-shuffle lookup and one 8-bit multiply-add, exactly like IQ4_NL's codebook:
//
//	s = 128·Σ_e hi[c_e]·q_e + Σ_e lo[c_e]·q_e   (exact int32)
//	y = 2^-13 · Σ_b (absmax_b·d_b)·float32(s_b)
//
// The table rounding is |W/2^13 - Table| <= 2^-14 ≈ 6e-5 of the block's absmax per
// weight, about 1/60 of the activation rounding (up to 1/254 of the activation block's
// maximum); TestBnb4ActError measures the whole error against the float product of the
// dequantized weights (≈0.5% relative RMS on Gaussian data, the same as Q4_0's, the error
// llama.cpp accepts for its quantized-activation kernels).

// bnb4Scale is the integer scale of the code tables.
const bnb4Scale = 1 << 13

// bnb4Split is a code table as two int8 byte-shuffle tables, each 16 entries repeated
// for both 128-bit lanes: hi at [0:32], lo at [32:64].
type bnb4Split [64]int8

// newBnb4Split splits round(tab·bnb4Scale) into 128·hi + lo.
func newBnb4Split(tab *[16]float32) *bnb4Split {
	var s bnb4Split
	for c, v := range tab {
		w := int32(math.RoundToEven(float64(v) * bnb4Scale))
		lo := (w+64)&127 - 64
		hi := (w - lo) / 128
		s[c], s[16+c] = int8(hi), int8(hi)
		s[32+c], s[48+c] = int8(lo), int8(lo)
	}
	return &s
}

// w returns the scaled integer value of code c.
func (s *bnb4Split) w(c byte) int32 { return 128*int32(s[c]) + int32(s[32+c]) }

var (
	nf4Split = newBnb4Split(&int4.NF4Table)
	fp4Split = newBnb4Split(&int4.FP4Table)
)

func nf4RowsGeneric(w []byte, rowBytes int, q []int8, d []float32, _ []int32, y []float32) {
	bnb4RowsGeneric(nf4Split, w, rowBytes, q, d, y)
}

func fp4RowsGeneric(w []byte, rowBytes int, q []int8, d []float32, _ []int32, y []float32) {
	bnb4RowsGeneric(fp4Split, w, rowBytes, q, d, y)
}

// bnb4RowsGeneric is the specification of the NF4/FP4 × q8 kernels: per block,
// s = Σ_{i<16} W[hi(w_i)]·q_{2i} + W[lo(w_i)]·q_{2i+1} exactly in int32,
// sum += (absmax·d[b])·float32(s) in block order, and y[r] = sum·2^-13.
func bnb4RowsGeneric(tab *bnb4Split, w []byte, rowBytes int, q []int8, d []float32, y []float32) {
	nb := len(d)
	for r := range y {
		row := w[r*rowBytes : (r+1)*rowBytes]
		var sum float32
		for b := 0; b < nb; b++ {
			blk := row[b*20 : b*20+20 : b*20+20]
			xq := q[b*qBlock : (b+1)*qBlock : (b+1)*qBlock]
			var s int32
			for i := 0; i < 16; i++ {
				s += tab.w(blk[4+i]>>4) * int32(xq[2*i])
				s += tab.w(blk[4+i]&15) * int32(xq[2*i+1])
			}
			sum += f32At(blk) * d[b] * float32(s)
		}
		y[r] = sum * (1.0 / bnb4Scale)
	}
}
