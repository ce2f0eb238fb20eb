package int4

import "math"

// Q8_0 block (34 bytes, 32 elements): d fp16 | qs int8[32]; y[j] = qs[j]*d.
const (
	blockQ8_0Elems = 32
	blockQ8_0Bytes = 34
)

func absf(f float32) float32 { return math.Float32frombits(math.Float32bits(f) &^ (1 << 31)) }

func dequantQ8_0(src []byte, dst []float32) {
	for ib := 0; ib < len(dst)/blockQ8_0Elems; ib++ {
		b := src[ib*blockQ8_0Bytes : (ib+1)*blockQ8_0Bytes : (ib+1)*blockQ8_0Bytes]
		y := dst[ib*blockQ8_0Elems : (ib+1)*blockQ8_0Elems : (ib+1)*blockQ8_0Elems]
		d := F16ToF32(le16(b))
		qs := b[2:34]
		for j := range y {
			y[j] = float32(int8(qs[j])) * d
		}
	}
}

// quantQ8_0 is ggml's quantize_row_q8_0_ref: d = amax/127, q = roundf(x/d) (half away
// from zero), computed as x * (1/d).
func quantQ8_0(src []float32, dst []byte) {
	for ib := 0; ib < len(src)/blockQ8_0Elems; ib++ {
		x := src[ib*blockQ8_0Elems : (ib+1)*blockQ8_0Elems : (ib+1)*blockQ8_0Elems]
		b := dst[ib*blockQ8_0Bytes : (ib+1)*blockQ8_0Bytes : (ib+1)*blockQ8_0Bytes]
		var amax float32
		for _, v := range x {
			if a := absf(v); !(amax > a) { // MAX(amax, fabsf(v))
				amax = a
			}
		}
		d := amax / 127
		var id float32
		if d != 0 {
			id = 1 / d
		}
		put16(b, F32ToF16(d))
		qs := b[2:34]
		for j, v := range x {
			qs[j] = byte(int8(int32(math.Round(float64(float32(v * id))))))
		}
	}
}

// dotQ8_0: per block, four partial sums over the quarter-blocks of 8 elements (s0:
// elements 0-7, s1: 8-15, s2: 16-23, s3: 24-31, each in element order), block value
// d*((s0+s1)+(s2+s3)).
func dotQ8_0(row []byte, x []float32) float32 {
	var sum float32
	for ib := 0; ib < len(x)/blockQ8_0Elems; ib++ {
		b := row[ib*blockQ8_0Bytes : (ib+1)*blockQ8_0Bytes : (ib+1)*blockQ8_0Bytes]
		xs := x[ib*blockQ8_0Elems : (ib+1)*blockQ8_0Elems : (ib+1)*blockQ8_0Elems]
		d := F16ToF32(le16(b))
		q0, q1, q2, q3 := b[2:10:10], b[10:18:18], b[18:26:26], b[26:34:34]
		x0, x1, x2, x3 := xs[0:8:8], xs[8:16:16], xs[16:24:24], xs[24:32:32]
		var s0, s1, s2, s3 float32
		for j := 0; j < 8; j++ {
			s0 += float32(int8(q0[j])) * x0[j]
			s1 += float32(int8(q1[j])) * x1[j]
			s2 += float32(int8(q2[j])) * x2[j]
			s3 += float32(int8(q3[j])) * x3[j]
		}
		sum += d * ((s0 + s1) + (s2 + s3))
	}
	return sum
}
