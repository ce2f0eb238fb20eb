package int4

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/x448/float16"
)

func TestF16ToF32Exhaustive(t *testing.T) {
	for i := 0; i < 1<<16; i++ {
		h := uint16(i)
		got := F16ToF32(h)
		want := float16.Frombits(h).Float32()
		gb, wb := math.Float32bits(got), math.Float32bits(want)
		if want != want { // NaN: same payload, made quiet
			if got == got || gb != wb|0x00400000 {
				t.Fatalf("F16ToF32(%#04x) = %#08x, want quiet NaN %#08x", h, gb, wb|0x00400000)
			}
			continue
		}
		if gb != wb {
			t.Fatalf("F16ToF32(%#04x) = %#08x, want %#08x", h, gb, wb)
		}
		if back := F32ToF16(got); back != h {
			t.Fatalf("F32ToF16(F16ToF32(%#04x)) = %#04x", h, back)
		}
		if tab := f16Table()[h]; math.Float32bits(tab) != gb {
			t.Fatalf("f16Table[%#04x] = %#08x, want %#08x", h, math.Float32bits(tab), gb)
		}
	}
}

func checkF32ToF16(t *testing.T, f float32) {
	t.Helper()
	got := F32ToF16(f)
	if f != f {
		if want := uint16(math.Float32bits(f)>>16)&0x8000 | 0x7e00; got != want {
			t.Fatalf("F32ToF16(NaN %#08x) = %#04x, want %#04x", math.Float32bits(f), got, want)
		}
		return
	}
	if want := float16.Fromfloat32(f).Bits(); got != want {
		t.Fatalf("F32ToF16(%g = %#08x) = %#04x, want %#04x", f, math.Float32bits(f), got, want)
	}
}

// TestF32ToF16 compares with x448/float16 on every half value, every midpoint between
// consecutive halves (the ties) and their float32 neighbours, and random bit patterns.
func TestF32ToF16(t *testing.T) {
	for i := 0; i < 1<<16; i++ {
		f := F16ToF32(uint16(i))
		checkF32ToF16(t, f)
		if f != f || math.IsInf(float64(f), 0) {
			continue
		}
		next := float64(F16ToF32(uint16(i + 1)))
		if i&0x7fff == 0x7bff { // max finite: the next value would be 65536
			next = math.Copysign(65536, float64(f))
		}
		if i&0x7fff < 0x7c00 {
			mid := float32((float64(f) + next) / 2) // exact in float32
			checkF32ToF16(t, mid)
			checkF32ToF16(t, math.Nextafter32(mid, float32(math.Inf(1))))
			checkF32ToF16(t, math.Nextafter32(mid, float32(math.Inf(-1))))
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 1<<20; i++ {
		checkF32ToF16(t, math.Float32frombits(r.Uint32()))
	}
	for _, f := range []float32{0, float32(math.Copysign(0, -1)), 65504, 65519.996, 65520, -65520, 1e-8, 2.98e-8, 5.96e-8, 6.1e-5, float32(math.Inf(1))} {
		checkF32ToF16(t, f)
	}
}

// bf16Ref rounds a finite f below 0x7f7f0000 in magnitude to bfloat16 by comparing
// distances in float64 (ties to even).
func bf16Ref(f float32) uint16 {
	u := math.Float32bits(f)
	lo := uint16(u >> 16) // truncation toward zero
	hi := lo + 1          // next bfloat16 away from zero
	dl := math.Abs(float64(f) - float64(BF16ToF32(lo)))
	dh := math.Abs(float64(BF16ToF32(hi)) - float64(f))
	switch {
	case dl < dh:
		return lo
	case dh < dl:
		return hi
	case lo&1 == 0:
		return lo
	}
	return hi
}

func TestBF16(t *testing.T) {
	for i := 0; i < 1<<16; i++ {
		h := uint16(i)
		if got := math.Float32bits(BF16ToF32(h)); got != uint32(h)<<16 {
			t.Fatalf("BF16ToF32(%#04x) = %#08x", h, got)
		}
		if f := BF16ToF32(h); f == f && F32ToBF16(f) != h {
			t.Fatalf("F32ToBF16(BF16ToF32(%#04x)) = %#04x", h, F32ToBF16(f))
		}
	}
	r := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 1<<20; i++ {
		u := r.Uint32()
		f := math.Float32frombits(u)
		got := F32ToBF16(f)
		if f != f {
			if want := uint16(u>>16) | 0x40; got != want {
				t.Fatalf("F32ToBF16(NaN %#08x) = %#04x, want %#04x", u, got, want)
			}
			continue
		}
		if u&0x7fffffff >= 0x7f7f0000 { // top binade and Inf: explicit cases below
			continue
		}
		if want := bf16Ref(f); got != want {
			t.Fatalf("F32ToBF16(%#08x) = %#04x, want %#04x", u, got, want)
		}
	}
	// Ties: 1 + 2^-8 lies halfway between bf16 1 (even) and its successor.
	for _, c := range []struct {
		u    uint32
		want uint16
	}{{0x3f808000, 0x3f80}, {0x3f818000, 0x3f82}, {0x3f808001, 0x3f81}, {0x7fa00000, 0x7fe0}, {0xff800001, 0xffc0}, {0x00008000, 0x0000}, {0x00018000, 0x0002},
		{0x7f7f7fff, 0x7f7f}, {0x7f7f8000, 0x7f80}, {0xff7fffff, 0xff80}, {0x7f800000, 0x7f80}} {
		if got := F32ToBF16(math.Float32frombits(c.u)); got != c.want {
			t.Errorf("F32ToBF16(%#08x) = %#04x, want %#04x", c.u, got, c.want)
		}
	}
}
