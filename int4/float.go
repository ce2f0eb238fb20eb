package int4

import (
	"encoding/binary"
	"math"
)

// F32, F16 and BF16 rows: one element per "block", little-endian.

func dequantF32(src []byte, dst []float32) {
	for i := range dst {
		dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
	}
}

func quantF32(src []float32, dst []byte) {
	for i, v := range src {
		binary.LittleEndian.PutUint32(dst[4*i:], math.Float32bits(v))
	}
}

func dequantF16(src []byte, dst []float32) {
	tab := f16Table()
	src = src[:2*len(dst)]
	for i := range dst {
		dst[i] = tab[le16(src[2*i:])]
	}
}

func quantF16(src []float32, dst []byte) {
	dst = dst[:2*len(src)]
	for i, v := range src {
		put16(dst[2*i:], F32ToF16(v))
	}
}

func dequantBF16(src []byte, dst []float32) {
	src = src[:2*len(dst)]
	for i := range dst {
		dst[i] = BF16ToF32(le16(src[2*i:]))
	}
}

func quantBF16(src []float32, dst []byte) {
	dst = dst[:2*len(src)]
	for i, v := range src {
		put16(dst[2*i:], F32ToBF16(v))
	}
}

// dotF32 accumulates x[i]*w[i] into four partial sums s[i%4], returned as (s0+s1)+(s2+s3).
func dotF32(row []byte, x []float32) float32 {
	var s0, s1, s2, s3 float32
	n := len(x)
	row = row[:4*n]
	i := 0
	for ; i+4 <= n; i += 4 {
		b := row[4*i : 4*i+16 : 4*i+16]
		xs := x[i : i+4 : i+4]
		s0 += math.Float32frombits(binary.LittleEndian.Uint32(b[0:])) * xs[0]
		s1 += math.Float32frombits(binary.LittleEndian.Uint32(b[4:])) * xs[1]
		s2 += math.Float32frombits(binary.LittleEndian.Uint32(b[8:])) * xs[2]
		s3 += math.Float32frombits(binary.LittleEndian.Uint32(b[12:])) * xs[3]
	}
	for k := 0; i < n; i, k = i+1, k+1 {
		v := math.Float32frombits(binary.LittleEndian.Uint32(row[4*i:])) * x[i]
		switch k {
		case 0:
			s0 += v
		case 1:
			s1 += v
		default:
			s2 += v
		}
	}
	return (s0 + s1) + (s2 + s3)
}

// dotF16 is dotF32 for half-precision weights (table lookup per element).
func dotF16(row []byte, x []float32) float32 {
	tab := f16Table()
	var s0, s1, s2, s3 float32
	n := len(x)
	row = row[:2*n]
	i := 0
	for ; i+4 <= n; i += 4 {
		b := row[2*i : 2*i+8 : 2*i+8]
		xs := x[i : i+4 : i+4]
		s0 += tab[uint16(b[0])|uint16(b[1])<<8] * xs[0]
		s1 += tab[uint16(b[2])|uint16(b[3])<<8] * xs[1]
		s2 += tab[uint16(b[4])|uint16(b[5])<<8] * xs[2]
		s3 += tab[uint16(b[6])|uint16(b[7])<<8] * xs[3]
	}
	for k := 0; i < n; i, k = i+1, k+1 {
		v := tab[le16(row[2*i:])] * x[i]
		switch k {
		case 0:
			s0 += v
		case 1:
			s1 += v
		default:
			s2 += v
		}
	}
	return (s0 + s1) + (s2 + s3)
}

// dotBF16 is dotF32 for bfloat16 weights.
func dotBF16(row []byte, x []float32) float32 {
	var s0, s1, s2, s3 float32
	n := len(x)
	row = row[:2*n]
	i := 0
	for ; i+4 <= n; i += 4 {
		b := row[2*i : 2*i+8 : 2*i+8]
		xs := x[i : i+4 : i+4]
		s0 += math.Float32frombits((uint32(b[0])<<16 | uint32(b[1])<<24)) * xs[0]
		s1 += math.Float32frombits((uint32(b[2])<<16 | uint32(b[3])<<24)) * xs[1]
		s2 += math.Float32frombits((uint32(b[4])<<16 | uint32(b[5])<<24)) * xs[2]
		s3 += math.Float32frombits((uint32(b[6])<<16 | uint32(b[7])<<24)) * xs[3]
	}
	for k := 0; i < n; i, k = i+1, k+1 {
		v := BF16ToF32(le16(row[2*i:])) * x[i]
		switch k {
		case 0:
			s0 += v
		case 1:
			s1 += v
		default:
			s2 += v
		}
	}
	return (s0 + s1) + (s2 + s3)
}
