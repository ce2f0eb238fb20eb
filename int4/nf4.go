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
// into this layout losslessly (Bnb4.Repack): every 32-element block lies inside one
// bitsandbytes block and one row, takes that block's (de-nested) absmax and keeps its
// code bytes unchanged. When both are multiples of 64 the tensor repacks into the
// 64-element types NF4_64/FP4_64 (36 bytes a block) the same way.
const (
	// NF4 is bitsandbytes' 4-bit NormalFloat in the row layout above. Its id (like all
	// edgerun-only ids) is >= 1000 so it never collides with a ggml type id.
	NF4 Type = 1000
	// FP4 is bitsandbytes' 4-bit float (1 sign + 3 magnitude bits) in the row layout above.
	FP4 Type = 1001
	// NF4_64 is NF4 in blocks of 64 elements, 36 bytes each: the block's absmax as a
	// little-endian float32, then the 32 code bytes exactly as bitsandbytes packs them
	// (4.5 bits a weight instead of NF4's 5). It is the layout of bitsandbytes' default
	// blocksize 64; every block decodes as the two NF4 blocks of its halves with the
	// absmax repeated, and every kernel gives bit for bit the results of that NF4 row.
	NF4_64 Type = 1002
	// FP4_64 is FP4 in the 64-element block layout of NF4_64.
	FP4_64 Type = 1003
)

const (
	blockBnb4Elems   = 32
	blockBnb4Bytes   = 20
	blockBnb4_64Elem = 64
	blockBnb4_64Byte = 36
)

func init() {
	types[NF4] = typeInfo{"NF4", blockBnb4Elems, blockBnb4Bytes}
	types[FP4] = typeInfo{"FP4", blockBnb4Elems, blockBnb4Bytes}
	types[NF4_64] = typeInfo{"NF4_64", blockBnb4_64Elem, blockBnb4_64Byte}
	types[FP4_64] = typeInfo{"FP4_64", blockBnb4_64Elem, blockBnb4_64Byte}
}

// IsBnb4 reports whether t is one of the bitsandbytes row types NF4, FP4, NF4_64, FP4_64.
func IsBnb4(t Type) bool { return Bnb4Table(t) != nil }

// Bnb4Base returns the code family of a bitsandbytes row type: NF4 for NF4 and NF4_64,
// FP4 for FP4 and FP4_64, and t itself for any other type.
func Bnb4Base(t Type) Type {
	switch t {
	case NF4_64:
		return NF4
	case FP4_64:
		return FP4
	}
	return t
}

// Bnb4RowType returns the row type of code family base (NF4 or FP4, or a 64 variant)
// with blocks of blockElems (32 or 64) elements, or 0 and false for anything else.
func Bnb4RowType(base Type, blockElems int) (Type, bool) {
	base = Bnb4Base(base)
	if base != NF4 && base != FP4 {
		return 0, false
	}
	switch blockElems {
	case blockBnb4Elems:
		return base, true
	case blockBnb4_64Elem:
		return base + (NF4_64 - NF4), true
	}
	return 0, false
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

// Bnb4Table returns the code table of NF4 or NF4_64 (NF4Table), FP4 or FP4_64
// (FP4Table), or nil for any other type.
func Bnb4Table(t Type) *[16]float32 {
	switch t {
	case NF4, NF4_64:
		return &NF4Table
	case FP4, FP4_64:
		return &FP4Table
	}
	return nil
}

// bnb4Shape returns the block size in elements and bytes of a bitsandbytes row type.
func bnb4Shape(t Type) (elems, bytes int) {
	if t == NF4_64 || t == FP4_64 {
		return blockBnb4_64Elem, blockBnb4_64Byte
	}
	return blockBnb4Elems, blockBnb4Bytes
}

func dequantBnb4(tab *[16]float32, be, bb int, src []byte, dst []float32) {
	for ib := 0; ib < len(dst)/be; ib++ {
		b := src[ib*bb : (ib+1)*bb : (ib+1)*bb]
		y := dst[ib*be : (ib+1)*be : (ib+1)*be]
		a := math.Float32frombits(binary.LittleEndian.Uint32(b))
		qs := b[4:bb:bb]
		for j, q := range qs {
			y[2*j] = tab[q>>4] * a
			y[2*j+1] = tab[q&15] * a
		}
	}
}

// dotBnb4 accumulates table[code]*x over each 32-element half-block (the whole block of
// NF4/FP4, each half of a NF4_64/FP4_64 block) into four float32 partial sums (by
// element index mod 4), combines them as (s0+s1)+(s2+s3), scales by the block's absmax
// and adds the half-block results in order: a 64-element row gives bit for bit the
// result of the same row in the 32-element layout with the absmax repeated.
func dotBnb4(tab *[16]float32, be, bb int, row []byte, x []float32) float32 {
	t := *tab
	var sum float32
	for ib := 0; ib < len(x)/be; ib++ {
		b := row[ib*bb : (ib+1)*bb : (ib+1)*bb]
		a := math.Float32frombits(binary.LittleEndian.Uint32(b))
		for h := 0; h < be/blockBnb4Elems; h++ {
			xs := x[ib*be+h*32 : ib*be+h*32+32 : ib*be+h*32+32]
			qs := b[4+16*h : 20+16*h : 20+16*h]
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
	}
	return sum
}

// quantBnb4 encodes each block (32 or 64 elements) with bitsandbytes' blockwise
// algorithm (QuantizeBnb4 with that blocksize).
func quantBnb4(tab *[16]float32, be, bb int, src []float32, dst []byte) {
	for ib := 0; ib < len(src)/be; ib++ {
		x := src[ib*be : (ib+1)*be : (ib+1)*be]
		b := dst[ib*bb : (ib+1)*bb : (ib+1)*bb]
		a := absMax(x)
		binary.LittleEndian.PutUint32(b, math.Float32bits(a))
		inv := float32(1) / a
		qs := b[4:bb:bb]
		for j := range qs {
			qs[j] = nearestCode4(tab, x[2*j]*inv)<<4 | nearestCode4(tab, x[2*j+1]*inv)
		}
	}
}
