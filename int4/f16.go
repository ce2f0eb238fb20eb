package int4

import (
	"math"
	"sync"
)

// F16ToF32 converts an IEEE 754 binary16 value (given as its bits) to float32.
// The conversion is exact. A NaN keeps its payload and is made quiet (float32 bit 22
// set), as hardware conversions (F16C, ARM FCVT) and ggml's fp16 table do; x448/float16
// keeps signalling NaNs signalling, the only difference from it.
func F16ToF32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	man := uint32(h & 0x3ff)
	switch {
	case exp == 0x1f && man == 0: // Inf
		return math.Float32frombits(sign | 0x7f800000)
	case exp == 0x1f: // NaN, made quiet
		return math.Float32frombits(sign | 0x7fc00000 | man<<13)
	case exp != 0: // normal: rebias 15 -> 127
		return math.Float32frombits(sign | (exp+112)<<23 | man<<13)
	case man == 0: // signed zero
		return math.Float32frombits(sign)
	default: // subnormal: man * 2^-24, exact in float32
		return math.Float32frombits(sign | math.Float32bits(float32(man)*(1.0/(1<<24))))
	}
}

// F32ToF16 converts f to IEEE 754 binary16 bits, rounding to nearest with ties to even.
// Values beyond the half range become ±Inf; NaN becomes the quiet NaN sign|0x7E00, as
// ggml's portable GGML_FP32_TO_FP16 does (hardware F16C would keep the payload).
func F32ToF16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	abs := b & 0x7fffffff
	switch {
	case abs > 0x7f800000: // NaN
		return sign | 0x7e00
	case abs >= 0x477ff000: // >= 65520 rounds (ties to even) to Inf; also Inf itself
		return sign | 0x7c00
	case abs >= 0x38800000: // result is a normal half (>= 2^-14)
		r := abs + 0xfff + (abs>>13)&1 // round to nearest even on the 13 dropped bits
		return sign | uint16((r-0x38000000)>>13)
	default: // subnormal half or zero: round(|f| * 2^24) to an integer, ties to even
		m := math.RoundToEven(float64(math.Float32frombits(abs)) * (1 << 24))
		return sign | uint16(m) // m == 1024 encodes the smallest normal, correctly
	}
}

// BF16ToF32 converts a bfloat16 value (given as its bits) to float32: the bits are the
// upper half of the float32.
func BF16ToF32(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// F32ToBF16 converts f to bfloat16 bits exactly as ggml's GGML_FP32_TO_BF16: round to
// nearest with ties to even, NaN made quiet by setting bit 6 (payload's top bits kept),
// subnormals not flushed.
func F32ToBF16(f float32) uint16 {
	u := math.Float32bits(f)
	if u&0x7fffffff > 0x7f800000 {
		return uint16(u>>16) | 64
	}
	return uint16((u + 0x7fff + (u>>16)&1) >> 16)
}

// f16Table maps every half bit pattern to its float32 value (256 KiB, built on first use).
var f16Table = sync.OnceValue(func() *[1 << 16]float32 {
	t := new([1 << 16]float32)
	for i := range t {
		t[i] = F16ToF32(uint16(i))
	}
	return t
})

// le16 reads a little-endian uint16 from b[0:2].
func le16(b []byte) uint16 { _ = b[1]; return uint16(b[0]) | uint16(b[1])<<8 }

// put16 writes v little-endian into b[0:2].
func put16(b []byte, v uint16) { _ = b[1]; b[0] = byte(v); b[1] = byte(v >> 8) }
