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

// dotQ8_0: per block, s0 = Σ_{j<16} q[j]*x[j], s1 = Σ_{j>=16} q[j]*x[j] (in j order),
// block value d*(s0+s1).
func dotQ8_0(row []byte, x []float32) float32 {
	var sum float32
	for ib := 0; ib < len(x)/blockQ8_0Elems; ib++ {
		b := row[ib*blockQ8_0Bytes : (ib+1)*blockQ8_0Bytes : (ib+1)*blockQ8_0Bytes]
		xs := x[ib*blockQ8_0Elems : (ib+1)*blockQ8_0Elems : (ib+1)*blockQ8_0Elems]
		d := F16ToF32(le16(b))
		lo := b[2:18:18]
		hi := b[18:34:34]
		xl := xs[:16:16]
		xh := xs[16:32:32]
		var s0, s1 float32
		for j := 0; j < 16; j++ {
			s0 += float32(int8(lo[j])) * xl[j]
			s1 += float32(int8(hi[j])) * xh[j]
		}
		sum += d * (s0 + s1)
	}
	return sum
}
