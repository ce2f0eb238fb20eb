package int4

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

var allTypes = []Type{F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q4_K, Q6_K, IQ4_NL}

func gaussian(r *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	return x
}

func dequant(t *testing.T, typ Type, b []byte, n int) []float32 {
	t.Helper()
	y := make([]float32, n)
	if err := DequantizeRow(typ, b, y); err != nil {
		t.Fatal(err)
	}
	return y
}

func checkValues(t *testing.T, typ Type, got []float32, want map[int]float32) {
	t.Helper()
	for i, v := range got {
		w, ok := want[i]
		if !ok {
			w = 0
		}
		if v != w {
			t.Errorf("%v: y[%d] = %v, want %v", typ, i, v, w)
		}
	}
}

// Known-answer blocks built by hand from the layouts in docs/formats.md §4.3.
func TestDequantizeKnownBlocks(t *testing.T) {
	t.Run("Q8_0", func(t *testing.T) {
		b := make([]byte, 34)
		put16(b, 0x3800) // d = 0.5
		b[2], b[3], b[4], b[33] = 0x80, 0xff, 1, 127
		checkValues(t, Q8_0, dequant(t, Q8_0, b, 32), map[int]float32{0: -64, 1: -0.5, 2: 0.5, 31: 63.5})
	})
	t.Run("Q4_0", func(t *testing.T) {
		b := make([]byte, 18)
		put16(b, 0x4000) // d = 2
		for j := 2; j < 18; j++ {
			b[j] = 0x88 // level 0
		}
		b[2] = 0xf0  // y[0] = (0-8)*2, y[16] = (15-8)*2
		b[3] = 0x81  // y[1] = (1-8)*2, y[17] = 0
		b[17] = 0x9a // y[15] = (10-8)*2, y[31] = (9-8)*2
		checkValues(t, Q4_0, dequant(t, Q4_0, b, 32), map[int]float32{0: -16, 16: 14, 1: -14, 15: 4, 31: 2})
	})
	t.Run("Q4_1", func(t *testing.T) {
		b := make([]byte, 20)
		put16(b, 0x3400)     // d = 0.25
		put16(b[2:], 0xbc00) // m = -1
		for j := 4; j < 20; j++ {
			b[j] = 0x44 // 4*0.25 - 1 = 0
		}
		b[4] = 0x3c // y[0] = 12*0.25-1 = 2, y[16] = 3*0.25-1 = -0.25
		b[19] = 0xf0
		checkValues(t, Q4_1, dequant(t, Q4_1, b, 32), map[int]float32{0: 2, 16: -0.25, 15: -1, 31: 2.75})
	})
	t.Run("IQ4_NL", func(t *testing.T) {
		b := make([]byte, 18)
		put16(b, 0x3800) // d = 0.5
		b[2] = 0xf0      // y[0] = 0.5*-127, y[16] = 0.5*113
		b[3] = 0x78      // y[1] = 0.5*1, y[17] = 0.5*-10
		want := map[int]float32{0: -63.5, 16: 56.5, 1: 0.5, 17: -5}
		for j := 2; j < 16; j++ {
			want[j], want[j+16] = -63.5, -63.5 // nibble 0
		}
		checkValues(t, IQ4_NL, dequant(t, IQ4_NL, b, 32), want)
	})
	t.Run("Q4_K", func(t *testing.T) {
		b := make([]byte, 144)
		put16(b, 0x3c00)     // d = 1
		put16(b[2:], 0x3800) // dmin = 0.5
		s := b[4:16]
		s[0], s[4] = 3, 2           // sub-block 0: sc 3, m 2
		s[1], s[5] = 0x80|7, 0xc0|1 // sub-block 1: sc 7, m 1; top bits of sub-block 5
		s[9] = 0x25                 // sub-block 5: sc = 5|2<<4 = 37, m = 2|3<<4 = 50
		q := b[16:]
		q[0] = 0xa4  // y[0] = 3*4 - 0.5*2 = 11; y[32] = 7*10 - 0.5*1 = 69.5
		q[67] = 0xf0 // y[131] sub-block 4 (sc 0, m 0) = 0; y[163] = 37*15 - 0.5*50 = 530
		want := map[int]float32{0: 11, 32: 69.5, 163: 530}
		for l := 1; l < 32; l++ {
			want[l] = -1        // 3*0 - 1
			want[32+l] = -0.5   // 7*0 - 0.5
			want[160+l-0] = -25 // 37*0 - 25
		}
		want[160] = -25
		want[163] = 530
		checkValues(t, Q4_K, dequant(t, Q4_K, b, 256), want)
	})
	t.Run("Q6_K", func(t *testing.T) {
		b := make([]byte, 210)
		put16(b[208:], 0x3400) // d = 0.25, stored last
		sc := b[192:208]
		sc[0], sc[2], sc[4], sc[6] = 2, 0xfd, 4, 5 // 2, -3, 4, 5
		sc[9] = 0xf9                               // -7 (half 1, is = 1)
		b[0], b[32] = 0x21, 0x43                   // ql
		b[128] = 0xe4                              // qh[0]: bit pairs 0,1,2,3
		b[64+16] = 0x0f                            // half 1 ql[16]
		b[128+32+16] = 0x03                        // half 1 qh[16]
		// zero bits give q = -32: sub-blocks with a non-zero scale are non-zero there.
		want := map[int]float32{}
		for l := 0; l < 16; l++ {
			want[l], want[l+32], want[l+64], want[l+96] = 0.25*2*-32, 0.25*-3*-32, 0.25*4*-32, 0.25*5*-32
			want[128+16+l] = 0.25 * -7 * -32
		}
		want[0] = 0.25 * 2 * -31   // (1 | 0<<4) - 32
		want[32] = 0.25 * -3 * -13 // (3 | 1<<4) - 32
		want[64] = 0.25 * 4 * 2    // (2 | 2<<4) - 32
		want[96] = 0.25 * 5 * 20   // (4 | 3<<4) - 32
		want[144] = 0.25 * -7 * 31 // (15 | 3<<4) - 32
		checkValues(t, Q6_K, dequant(t, Q6_K, b, 256), want)
	})
	t.Run("floats", func(t *testing.T) {
		b := []byte{0x00, 0x00, 0x80, 0x3f} // 1.0
		checkValues(t, F32, dequant(t, F32, b, 1), map[int]float32{0: 1})
		b = []byte{0x00, 0x3c, 0x01, 0x00, 0x00, 0xc0} // 1, 2^-24, -2
		checkValues(t, F16, dequant(t, F16, b, 3), map[int]float32{0: 1, 1: 1.0 / (1 << 24), 2: -2})
		b = []byte{0x80, 0x3f, 0x49, 0x40} // 1, 3.140625
		checkValues(t, BF16, dequant(t, BF16, b, 2), map[int]float32{0: 1, 1: 3.140625})
	})
}

// Known answers for the reference quantizers' rounding rules.
func TestQuantizeKnownBlocks(t *testing.T) {
	x := make([]float32, 32)
	for j := range x {
		x[j] = float32(j - 16) // max magnitude -16 (first), so d = -16/-8 = 2
	}
	b := make([]byte, 18)
	if err := QuantizeRow(Q4_0, x, b); err != nil {
		t.Fatal(err)
	}
	if d := le16(b); d != 0x4000 {
		t.Errorf("Q4_0 d = %#04x, want 0x4000 (2.0)", d)
	}
	// q = MIN(15, trunc((j-16)/2 + 8.5)) = MIN(15, (j+1)/2): ties round up.
	for j := 0; j < 16; j++ {
		lo, hi := uint8(min(15, (j+1)/2)), uint8(min(15, (j+17)/2))
		if b[2+j] != lo|hi<<4 {
			t.Errorf("Q4_0 qs[%d] = %#02x, want %#02x", j, b[2+j], lo|hi<<4)
		}
	}

	// Q8_0: amax 127 gives d = 1; roundf rounds halves away from zero.
	x = make([]float32, 32)
	copy(x, []float32{127, 2.5, -2.5, 0.5, 1.5, -0.5, -126.49, 3.5})
	b = make([]byte, 34)
	if err := QuantizeRow(Q8_0, x, b); err != nil {
		t.Fatal(err)
	}
	if d := le16(b); d != 0x3c00 {
		t.Errorf("Q8_0 d = %#04x, want 0x3c00 (1.0)", d)
	}
	for j, want := range []int8{127, 3, -3, 1, 2, -1, -126, 4, 0} {
		if got := int8(b[2+j]); got != want {
			t.Errorf("Q8_0 qs[%d] = %d, want %d", j, got, want)
		}
	}

	// Q4_1: min -1, max 14 gives d = 1, m = -1; (x-min)/d + 0.5 truncated.
	x = make([]float32, 32)
	for j := range x {
		x[j] = float32(j%16) - 1
	}
	x[5] = 2.5 // (2.5+1)+0.5 = 4 -> 4
	b = make([]byte, 20)
	if err := QuantizeRow(Q4_1, x, b); err != nil {
		t.Fatal(err)
	}
	if d, m := le16(b), le16(b[2:]); d != 0x3c00 || m != 0xbc00 {
		t.Errorf("Q4_1 d, m = %#04x, %#04x, want 0x3c00, 0xbc00", d, m)
	}
	if b[4+5] != 4|5<<4 || b[4+15] != 15|15<<4 {
		t.Errorf("Q4_1 qs = % x", b[4:])
	}

	// IQ4_NL: a block of exact table values times 0.5 is reproduced exactly.
	x = make([]float32, 32)
	for j := range x {
		x[j] = 0.5 * float32(kvaluesIQ4NL[(j*7)%16])
	}
	b = make([]byte, 18)
	if err := QuantizeRow(IQ4_NL, x, b); err != nil {
		t.Fatal(err)
	}
	if y := dequant(t, IQ4_NL, b, 32); fmt.Sprint(y) != fmt.Sprint(x) {
		t.Errorf("IQ4_NL table values: got %v, want %v", y, x)
	}

	// K-quants: a zero block encodes as zeros (Q6_K: all 210 bytes).
	b = make([]byte, 210)
	for i := range b {
		b[i] = 0xff
	}
	if err := QuantizeRow(Q6_K, make([]float32, 256), b); err != nil {
		t.Fatal(err)
	}
	for i, v := range b {
		if v != 0 {
			t.Fatalf("Q6_K zero block byte %d = %#x", i, v)
		}
	}
}

func rmse(a, b []float32) float64 {
	var s float64
	for i := range a {
		d := float64(a[i]) - float64(b[i])
		s += d * d
	}
	return math.Sqrt(s / float64(len(a)))
}

// TestRoundTripError quantizes N(0,1) data and bounds the RMSE per type.
func TestRoundTripError(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	const n = 256 * 64
	x := gaussian(r, n)
	limits := map[Type]float64{
		F32: 0, F16: 3e-4, BF16: 2.5e-3, Q8_0: 6e-3, Q6_K: 2.2e-2,
		Q4_K: 8e-2, Q4_1: 9e-2, IQ4_NL: 9e-2, Q4_0: 1.1e-1,
	}
	errs := map[Type]float64{}
	for _, typ := range allTypes {
		rb, _ := RowBytes(typ, n)
		b := make([]byte, rb)
		if err := QuantizeRow(typ, x, b); err != nil {
			t.Fatal(err)
		}
		e := rmse(x, dequant(t, typ, b, n))
		errs[typ] = e
		t.Logf("%-6v RMSE %.5f", typ, e)
		if e > limits[typ] {
			t.Errorf("%v: RMSE %.5f > %.5f", typ, e, limits[typ])
		}
	}
	order := []Type{Q8_0, Q6_K, Q4_K, Q4_0}
	for i := 1; i < len(order); i++ {
		if errs[order[i-1]] >= errs[order[i]] {
			t.Errorf("RMSE %v (%.5f) >= %v (%.5f)", order[i-1], errs[order[i-1]], order[i], errs[order[i]])
		}
	}
	if errs[IQ4_NL] >= errs[Q4_0] {
		t.Errorf("RMSE IQ4_NL %.5f >= Q4_0 %.5f", errs[IQ4_NL], errs[Q4_0])
	}
}

// TestQuantizeEdgeInputs: constant, zero, tiny, huge and sparse rows encode without
// panicking and decode to finite values close to the input.
func TestQuantizeEdgeInputs(t *testing.T) {
	const n = 512
	inputs := map[string]func(i int) float32{
		"zero":     func(int) float32 { return 0 },
		"const":    func(int) float32 { return 3.25 },
		"negconst": func(int) float32 { return -0.75 },
		"tiny":     func(i int) float32 { return float32(i%7-3) * 1e-9 },
		"huge":     func(i int) float32 { return float32(i%5-2) * 1e4 },
		"spike":    func(i int) float32 { return float32(btoi(i == 77)) * 5 },
		"ramp":     func(i int) float32 { return float32(i) / n },
	}
	for name, gen := range inputs {
		x := make([]float32, n)
		var amax float32
		for i := range x {
			x[i] = gen(i)
			amax = max(amax, absf(x[i]))
		}
		for _, typ := range allTypes {
			rb, _ := RowBytes(typ, n)
			b := make([]byte, rb)
			if err := QuantizeRow(typ, x, b); err != nil {
				t.Fatal(err)
			}
			y := dequant(t, typ, b, n)
			for i, v := range y {
				if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
					t.Fatalf("%s/%v: y[%d] = %v", name, typ, i, v)
				}
				if d := absf(v - x[i]); d > amax*0.5+1e-6 {
					t.Fatalf("%s/%v: y[%d] = %v, x = %v", name, typ, i, v, x[i])
				}
			}
		}
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestDotRow compares the fused dot product with DequantizeRow followed by a float64
// dot, for random rows of 1, 2 and 7 blocks (and odd lengths for the float types).
func TestDotRow(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for _, typ := range allTypes {
		lengths := []int{1, 2, 7}
		if !typ.Quantized() {
			lengths = []int{1, 2, 3, 4, 5, 7, 8, 9, 31, 33, 256}
		}
		for _, nb := range lengths {
			n := nb * typ.BlockElems()
			for trial := 0; trial < 20; trial++ {
				w := gaussian(r, n)
				x := gaussian(r, n)
				if trial%4 == 1 {
					for i := range w {
						w[i] += 3 // offset rows exercise the Q4_1/Q4_K mins
					}
				}
				rb, _ := RowBytes(typ, n)
				b := make([]byte, rb)
				if trial%5 == 4 {
					for i := range b { // arbitrary bytes, finite scales
						b[i] = byte(r.Uint32())
					}
					fixScales(typ, b)
				} else if err := QuantizeRow(typ, w, b); err != nil {
					t.Fatal(err)
				}
				y := dequant(t, typ, b, n)
				var want, mag float64
				for i := range y {
					want += float64(y[i]) * float64(x[i])
					mag += math.Abs(float64(y[i]) * float64(x[i]))
				}
				got := DotRow(typ, b, x)
				if tol := 2e-6*mag + 1e-30; math.Abs(float64(got)-want) > tol {
					t.Errorf("%v n=%d trial %d: DotRow = %v, want %v (tol %g)", typ, n, trial, got, want, tol)
				}
			}
		}
	}
}

// fixScales overwrites the fp16 scales of random blocks with finite moderate values.
func fixScales(typ Type, b []byte) {
	bb := typ.BlockBytes()
	var offs []int
	switch typ {
	case Q8_0, Q4_0, IQ4_NL:
		offs = []int{0}
	case Q4_1, Q4_K:
		offs = []int{0, 2}
	case Q6_K:
		offs = []int{208}
	case F16:
		for i := 0; i < len(b); i += 2 {
			b[i+1] &= 0xbf // exponent < 16: finite
		}
		return
	case BF16:
		for i := 0; i < len(b); i += 2 {
			b[i+1] = b[i+1]&0x80 | 0x3f // |v| in [0.5, 2)
		}
		return
	case F32:
		for i := 0; i < len(b); i += 4 {
			b[i+3] = b[i+3]&0x80 | 0x3f
		}
		return
	}
	for blk := 0; blk < len(b); blk += bb {
		for _, o := range offs {
			b[blk+o+1] = b[blk+o+1]&0x83 | 0x30 // exponent 12..15: 2^-3 .. 2^0 scale
		}
	}
}

func TestBadInput(t *testing.T) {
	for _, typ := range allTypes {
		be := typ.BlockElems()
		bb := typ.BlockBytes()
		cases := []struct{ n, nbytes int }{{be * 2, bb*2 - 1}, {be * 2, bb*2 + 1}, {be, 0}}
		if be > 1 {
			cases = append(cases, struct{ n, nbytes int }{be + 1, bb * 2}, struct{ n, nbytes int }{1, bb})
		}
		for _, c := range cases {
			if err := DequantizeRow(typ, make([]byte, c.nbytes), make([]float32, c.n)); !errors.Is(err, ErrBadLength) {
				t.Errorf("%v DequantizeRow(%d bytes, %d elems) error = %v", typ, c.nbytes, c.n, err)
			}
			if err := QuantizeRow(typ, make([]float32, c.n), make([]byte, c.nbytes)); !errors.Is(err, ErrBadLength) {
				t.Errorf("%v QuantizeRow(%d elems, %d bytes) error = %v", typ, c.n, c.nbytes, err)
			}
			if v := DotRow(typ, make([]byte, c.nbytes), make([]float32, c.n)); !math.IsNaN(float64(v)) {
				t.Errorf("%v DotRow(%d bytes, %d elems) = %v, want NaN", typ, c.nbytes, c.n, v)
			}
		}
		// Empty rows are valid.
		if err := DequantizeRow(typ, nil, nil); err != nil {
			t.Errorf("%v empty: %v", typ, err)
		}
		if v := DotRow(typ, nil, nil); v != 0 {
			t.Errorf("%v DotRow(empty) = %v", typ, v)
		}
	}
	for _, typ := range []Type{6, 7, 13, 99, Type(1 << 31)} {
		if err := DequantizeRow(typ, make([]byte, 32), make([]float32, 32)); !errors.Is(err, ErrUnsupportedType) {
			t.Errorf("%v DequantizeRow error = %v", typ, err)
		}
		if err := QuantizeRow(typ, make([]float32, 32), make([]byte, 32)); !errors.Is(err, ErrUnsupportedType) {
			t.Errorf("%v QuantizeRow error = %v", typ, err)
		}
		if v := DotRow(typ, make([]byte, 32), make([]float32, 32)); !math.IsNaN(float64(v)) {
			t.Errorf("%v DotRow = %v, want NaN", typ, v)
		}
	}
}

// TestBlockShape keeps the switch-based fast path in sync with int4.go's table.
func TestBlockShape(t *testing.T) {
	for _, typ := range allTypes {
		be, bb, ok := blockShape(typ)
		if !ok || be != typ.BlockElems() || bb != typ.BlockBytes() {
			t.Errorf("%v: blockShape = %d, %d, %v; table says %d, %d", typ, be, bb, ok, typ.BlockElems(), typ.BlockBytes())
		}
	}
}

func BenchmarkDotRow(b *testing.B) {
	const n = 2048
	r := rand.New(rand.NewPCG(1, 1))
	w, x := gaussian(r, n), gaussian(r, n)
	for _, typ := range allTypes {
		rb, _ := RowBytes(typ, n)
		row := make([]byte, rb)
		if err := QuantizeRow(typ, w, row); err != nil {
			b.Fatal(err)
		}
		b.Run(typ.String(), func(b *testing.B) {
			b.SetBytes(int64(rb))
			var s float32
			for b.Loop() {
				s += DotRow(typ, row, x)
			}
			_ = s
		})
	}
}

func BenchmarkQuantizeRow(b *testing.B) {
	const n = 2048
	r := rand.New(rand.NewPCG(1, 1))
	w := gaussian(r, n)
	for _, typ := range allTypes {
		rb, _ := RowBytes(typ, n)
		row := make([]byte, rb)
		b.Run(typ.String(), func(b *testing.B) {
			b.SetBytes(4 * n)
			for b.Loop() {
				if err := QuantizeRow(typ, w, row); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDequantizeRow(b *testing.B) {
	const n = 2048
	r := rand.New(rand.NewPCG(1, 1))
	w := gaussian(r, n)
	y := make([]float32, n)
	for _, typ := range allTypes {
		rb, _ := RowBytes(typ, n)
		row := make([]byte, rb)
		if err := QuantizeRow(typ, w, row); err != nil {
			b.Fatal(err)
		}
		b.Run(typ.String(), func(b *testing.B) {
			b.SetBytes(int64(rb))
			for b.Loop() {
				if err := DequantizeRow(typ, row, y); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestQuantizeRowsEqualsRowByRow checks the parallel encoder against QuantizeRow for
// every type, on row counts that split unevenly over the workers, and its length checks.
func TestQuantizeRowsEqualsRowByRow(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	const cols = 256
	for _, typ := range []Type{F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q4_K, Q6_K, IQ4_NL, NF4, FP4, NF4_64, FP4_64} {
		for _, rows := range []int{1, 17, 65} {
			x := make([]float32, rows*cols)
			for i := range x {
				x[i] = float32(rng.NormFloat64())
			}
			rb, err := RowBytes(typ, cols)
			if err != nil {
				t.Fatal(err)
			}
			want := make([]byte, rows*rb)
			for r := range rows {
				if err := QuantizeRow(typ, x[r*cols:(r+1)*cols], want[r*rb:(r+1)*rb]); err != nil {
					t.Fatal(err)
				}
			}
			got := make([]byte, rows*rb)
			if err := QuantizeRows(typ, x, cols, got); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("%v, %d rows: QuantizeRows differs from QuantizeRow row by row", typ, rows)
			}
		}
	}
	if err := QuantizeRows(Q4_0, make([]float32, 64), 32, make([]byte, 17)); !errors.Is(err, ErrBadLength) {
		t.Errorf("short dst: %v, want ErrBadLength", err)
	}
	if err := QuantizeRows(Q4_0, make([]float32, 48), 32, make([]byte, 18)); !errors.Is(err, ErrBadLength) {
		t.Errorf("partial row: %v, want ErrBadLength", err)
	}
}
