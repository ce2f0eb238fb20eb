package int4

import (
	"encoding/binary"
	"math"
)

// bitsandbytes 4-bit codes in edgerun's kernel row layout.
//
// NF4 and FP4 rows are blocks of 32 elements, 20 bytes each: the block's absmax as a
// little-endian float32, then 16 bytes of packed 4-bit codes exactly as bitsandbytes
// packs them (element 2i in the HIGH nibble of byte i, element 2i+1 in the LOW nibble).
// Element j of a block decodes to Table[code_j] * absmax, one float32 multiply, which is
// bitsandbytes' dequantization in float32.
//
// A bitsandbytes tensor whose row length and blocksize are both multiples of 32 repacks
// into this layout losslessly (RepackBnb4): every 32-element block lies inside one
// bitsandbytes block and one row, takes that block's (de-nested) absmax and keeps its
// code bytes unchanged.
const (
	// NF4 is bitsandbytes' 4-bit NormalFloat in the row layout above. Its id (like all
	// edgerun-only ids) is >= 1000 so it never collides with a ggml type id.
	NF4 Type = 1000
	// FP4 is bitsandbytes' 4-bit float (1 sign + 3 magnitude bits) in the row layout above.
	FP4 Type = 1001
)

const (
	blockBnb4Elems = 32
	blockBnb4Bytes = 20
)

func init() {
	types[NF4] = typeInfo{"NF4", blockBnb4Elems, blockBnb4Bytes}
	types[FP4] = typeInfo{"FP4", blockBnb4Elems, blockBnb4Bytes}
}

// NF4Table is bitsandbytes' NF4 code table (get_4bit_type("nf4")), indexed by the
// 4-bit code; the values are the exact float32 constants bitsandbytes hard-codes.
var NF4Table = [16]float32{
	-1.0,
	-0.6961928009986877,
	-0.5250730514526367,
	-0.39491748809814453,
	-0.28444138169288635,
	-0.18477343022823334,
	-0.09105003625154495,
	0.0,
	0.07958029955625534,
	0.16093020141124725,
	0.24611230194568634,
	0.33791524171829224,
	0.44070982933044434,
	0.5626170039176941,
	0.7229568362236023,
	1.0,
}

// FP4Table is bitsandbytes' FP4 code table (get_4bit_type("fp4")): bit 3 is the sign,
// the low 3 bits select a magnitude from {0, 0.0625, 8, 12, 4, 6, 2, 3}, and the table is
// divided by its absolute maximum 12. It is not sorted by code.
var FP4Table = [16]float32{
	0, 0.0052083334885537624, 0.6666666865348816, 1.0, 0.3333333432674408, 0.5, 0.1666666716337204, 0.25,
	float32(math.Copysign(0, -1)), -0.0052083334885537624, -0.6666666865348816, -1.0, -0.3333333432674408, -0.5, -0.1666666716337204, -0.25,
}

// Bnb4Table returns the code table of NF4 or FP4 (nil for any other type).
func Bnb4Table(t Type) *[16]float32 {
	switch t {
	case NF4:
		return &NF4Table
	case FP4:
		return &FP4Table
	}
	return nil
}

func dequantBnb4(tab *[16]float32, src []byte, dst []float32) {
	for ib := 0; ib < len(dst)/blockBnb4Elems; ib++ {
		b := src[ib*blockBnb4Bytes : (ib+1)*blockBnb4Bytes : (ib+1)*blockBnb4Bytes]
		y := dst[ib*blockBnb4Elems : (ib+1)*blockBnb4Elems : (ib+1)*blockBnb4Elems]
		a := math.Float32frombits(binary.LittleEndian.Uint32(b))
		qs := b[4:20:20]
		for j, q := range qs {
			y[2*j] = tab[q>>4] * a
			y[2*j+1] = tab[q&15] * a
		}
	}
}

// dotBnb4 accumulates table[code]*x over each block into four float32 partial sums (by
// element index mod 4), combines them as (s0+s1)+(s2+s3), scales by the block's absmax
// and adds the block results in order.
func dotBnb4(tab *[16]float32, row []byte, x []float32) float32 {
	t := *tab
	var sum float32
	for ib := 0; ib < len(x)/blockBnb4Elems; ib++ {
		b := row[ib*blockBnb4Bytes : (ib+1)*blockBnb4Bytes : (ib+1)*blockBnb4Bytes]
		xs := x[ib*blockBnb4Elems : (ib+1)*blockBnb4Elems : (ib+1)*blockBnb4Elems]
		a := math.Float32frombits(binary.LittleEndian.Uint32(b))
		qs := b[4:20:20]
		var s0, s1, s2, s3 float32
		for j := 0; j < 16; j += 2 {
			q0, q1 := qs[j], qs[j+1]
			xx := xs[2*j : 2*j+4 : 2*j+4]
			s0 += t[q0>>4] * xx[0]
			s1 += t[q0&15] * xx[1]
			s2 += t[q1>>4] * xx[2]
			s3 += t[q1&15] * xx[3]
		}
		sum += float32(float32(s0+s1)+float32(s2+s3)) * a
	}
	return sum
}

// quantBnb4 encodes each 32-element block with bitsandbytes' blockwise algorithm
// (QuantizeBnb4 with blocksize 32).
func quantBnb4(tab *[16]float32, src []float32, dst []byte) {
	for ib := 0; ib < len(src)/blockBnb4Elems; ib++ {
		x := src[ib*blockBnb4Elems : (ib+1)*blockBnb4Elems : (ib+1)*blockBnb4Elems]
		b := dst[ib*blockBnb4Bytes : (ib+1)*blockBnb4Bytes : (ib+1)*blockBnb4Bytes]
		a := absMax(x)
		binary.LittleEndian.PutUint32(b, math.Float32bits(a))
		inv := float32(1) / a
		qs := b[4:20:20]
		for j := range qs {
			qs[j] = nearestCode4(tab, x[2*j]*inv)<<4 | nearestCode4(tab, x[2*j+1]*inv)
		}
	}
}
