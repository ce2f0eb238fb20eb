package int4

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

func TestBnb4TablesBits(t *testing.T) {
	nf4 := [16]uint32{0xBF800000, 0xBF3239B1, 0xBF066B30, 0xBECA32A0, 0xBE91A24D, 0xBE3D353F, 0xBDBA7871, 0,
		0x3DA2FAFF, 0x3E24CAE3, 0x3E7C04DD, 0x3EAD033A, 0x3EE1A4B8, 0x3F1007AB, 0x3F3913B3, 0x3F800000}
	fp4 := [16]uint32{0, 0x3BAAAAAB, 0x3F2AAAAB, 0x3F800000, 0x3EAAAAAB, 0x3F000000, 0x3E2AAAAB, 0x3E800000,
		0x80000000, 0xBBAAAAAB, 0xBF2AAAAB, 0xBF800000, 0xBEAAAAAB, 0xBF000000, 0xBE2AAAAB, 0xBE800000}
	for i := range nf4 {
		if got := math.Float32bits(NF4Table[i]); got != nf4[i] {
			t.Errorf("NF4[%d] bits %#x, want %#x", i, got, nf4[i])
		}
		if got := math.Float32bits(FP4Table[i]); got != fp4[i] {
			t.Errorf("FP4[%d] bits %#x, want %#x", i, got, fp4[i])
		}
	}
	// FP4 is {0, .0625, 8, 12, 4, 6, 2, 3} / 12 with a sign bit.
	raw := [8]float32{0, 0.0625, 8, 12, 4, 6, 2, 3}
	for i, r := range raw {
		if FP4Table[i] != r/12 || FP4Table[i+8] != -r/12 {
			t.Errorf("FP4[%d] = %v, want ±%v", i, FP4Table[i], r/12)
		}
	}
}

func TestDynamicMap(t *testing.T) {
	m := DynamicMap()
	for i := 1; i < 256; i++ {
		if !(m[i-1] < m[i]) {
			t.Fatalf("map not strictly ascending at %d: %v %v", i, m[i-1], m[i])
		}
	}
	if m[127] != 0 || m[255] != 1 {
		t.Fatalf("map[127] = %v, map[255] = %v, want 0 and 1", m[127], m[255])
	}
	// i = 0 gives ±1e-6 * (0.1+1)/2; i = 6 gives ±(0.1+0.9*63/64 + 1)/2 at the ends.
	if m[128] != float32(1e-6)*0.55 || m[126] != -m[128] {
		t.Errorf("smallest magnitudes %v %v", m[126], m[128])
	}
	if d := math.Abs(float64(m[254]) - (1+(0.1+0.9*63.0/64))/2); d > 1e-6 {
		t.Errorf("largest code below 1 = %v", m[254])
	}
	for i := 0; i < 127; i++ {
		if m[i] != -m[253-i+1] {
			t.Fatalf("map not symmetric at %d: %v vs %v", i, m[i], m[254-i])
		}
	}
}

// thresholdNF4 is bitsandbytes' CUDA dQuantizeNF4: the code is the number of decision
// boundaries strictly below x (formats.md §1.2). It is an independent implementation of
// the nearest-code rule used to check nearestCode4.
func thresholdNF4(x float32) byte {
	b := []float32{-0.8480964004993439, -0.6106329262256622, -0.4599952697753906, -0.33967943489551544, -0.23460740596055984,
		-0.13791173323988914, -0.045525018125772476, 0.03979014977812767, 0.1202552504837513, 0.2035212516784668,
		0.2920137718319893, 0.3893125355243683, 0.5016634166240692, 0.6427869200706482, 0.8614784181118011}
	var c byte
	for _, v := range b {
		if x > v {
			c++
		}
	}
	return c
}

// thresholdFP4 is bitsandbytes' CUDA dQuantizeFP4.
func thresholdFP4(x float32) byte {
	var sign byte
	if x < 0 {
		sign = 8
		x = -x
	}
	th := []float32{0.00260417, 0.0859375, 0.20833333, 0.29166667, 0.4166667, 0.583333, 0.8333333}
	codes := []byte{0, 1, 6, 7, 4, 5, 2, 3}
	k := 0
	for _, v := range th {
		if x > v {
			k++
		}
	}
	return sign | codes[k]
}

func TestBnb4NearestMatchesThresholds(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 200000; i++ {
		x := float32(r.Float64()*2 - 1)
		if got, want := nearestCode4(&NF4Table, x), thresholdNF4(x); got != want {
			t.Fatalf("NF4 code of %v = %d, thresholds give %d", x, got, want)
		}
		got, want := nearestCode4(&FP4Table, x), thresholdFP4(x)
		if got != want && !(got&7 == 0 && want&7 == 0) { // ±0 are one value
			t.Fatalf("FP4 code of %v = %d, thresholds give %d", x, got, want)
		}
	}
}

func TestQuantizeBnb4KnownValues(t *testing.T) {
	// One block of 8: absmax 2, scaled values 1, -1, 0, 0.5, -0.25, 0.08, 0.7, -0.7.
	x := []float32{2, -2, 0, 1, -0.5, 0.16, 1.4, -1.4}
	q, err := QuantizeBnb4(NF4, x, 64, false)
	if err != nil {
		t.Fatal(err)
	}
	// codes: 15, 0, 7, 12 (0.4407 vs 0.5627: 0.5 is nearer 0.4407? |0.5-0.4407|=0.0593,
	// |0.5627-0.5|=0.0626 -> 12), 4 (-0.2844), 8 (0.0796), 14 (0.7230), 1 (-0.6962).
	want := []byte{0xF0, 0x7C, 0x48, 0xE1}
	for i := range want {
		if q.Packed[i] != want[i] {
			t.Fatalf("packed = % x, want % x", q.Packed, want)
		}
	}
	if len(q.Absmax) != 1 || q.Absmax[0] != 2 {
		t.Fatalf("absmax = %v", q.Absmax)
	}
	// Odd count: the padding 0.0 goes to the last low nibble (NF4 code 7, FP4 code 0).
	q, _ = QuantizeBnb4(NF4, []float32{1, -1, 1}, 64, false)
	if q.Packed[1] != 0xF7 || len(q.Packed) != 2 {
		t.Fatalf("odd NF4 packed % x", q.Packed)
	}
	q, _ = QuantizeBnb4(FP4, []float32{1, -1, 1}, 64, false)
	if q.Packed[0] != 0x3B || q.Packed[1] != 0x30 {
		t.Fatalf("odd FP4 packed % x", q.Packed)
	}
	// An all-zero block: NaN scaled values give code 0 and dequantize to (±)0.
	q, _ = QuantizeBnb4(NF4, make([]float32, 4), 64, false)
	y := make([]float32, 4)
	if err := q.Dequantize(y); err != nil || q.Packed[0] != 0 || y[0] != 0 {
		t.Fatalf("zero block: % x %v %v", q.Packed, y, err)
	}
}

func TestBnb4RoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, typ := range []Type{NF4, FP4} {
		for _, bs := range []int{32, 64, 128, 4096} {
			for _, n := range []int{1, 63, 64, 65, 1001, 8192 + 37} {
				for _, dq := range []bool{false, true} {
					x := gaussian(r, n)
					q, err := QuantizeBnb4(typ, x, bs, dq)
					if err != nil {
						t.Fatal(err)
					}
					if err := q.Validate(); err != nil {
						t.Fatal(err)
					}
					y := make([]float32, n)
					if err := q.Dequantize(y); err != nil {
						t.Fatal(err)
					}
					am := q.BlockAbsmax()
					for e := range x {
						// The largest gap between neighbouring codes is 1/3 (FP4: 2/3..1), so
						// the error is at most half of it times the block's scale, plus the
						// double-quantization error of the scale.
						tol := float64(am[e/bs])*0.17 + 0.02*math.Abs(float64(x[e]))
						if d := math.Abs(float64(x[e] - y[e])); d > tol+1e-6 {
							t.Fatalf("%v bs %d n %d dq %v: x[%d]=%v y=%v", typ, bs, n, dq, e, x[e], y[e])
						}
					}
					if dq {
						// The de-nested scales are close to the exact ones.
						exact, _ := QuantizeBnb4(typ, x, bs, false)
						for b, a := range exact.Absmax {
							if d := math.Abs(float64(a - am[b])); d > 0.02*float64(a)+1e-3 {
								t.Fatalf("nested absmax[%d] = %v, exact %v", b, am[b], a)
							}
						}
						var s float64
						for _, a := range exact.Absmax {
							s += float64(a)
						}
						if q.Offset != float32(s/float64(len(exact.Absmax))) {
							t.Fatalf("offset %v is not the mean", q.Offset)
						}
					}
				}
			}
		}
	}
}

func TestBnb4Repack(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, typ := range []Type{NF4, FP4} {
		for _, bs := range []int{32, 64, 256} {
			rows, cols := 5, 96
			x := gaussian(r, rows*cols)
			q, _ := QuantizeBnb4(typ, x, bs, true)
			want := make([]float32, len(x))
			if err := q.Dequantize(want); err != nil {
				t.Fatal(err)
			}
			packed, err := q.Repack(rows, cols)
			if err != nil {
				t.Fatal(err)
			}
			rb, _ := RowBytes(typ, cols)
			for i := 0; i < rows; i++ {
				got := make([]float32, cols)
				row := packed[i*rb : (i+1)*rb]
				if err := DequantizeRow(typ, row, got); err != nil {
					t.Fatal(err)
				}
				for j := range got {
					if math.Float32bits(got[j]) != math.Float32bits(want[i*cols+j]) {
						t.Fatalf("%v bs %d: row %d col %d: %v, want %v", typ, bs, i, j, got[j], want[i*cols+j])
					}
				}
				xs := gaussian(r, cols)
				var ref float64
				for j := range xs {
					ref += float64(got[j]) * float64(xs[j])
				}
				if d := DotRow(typ, row, xs); math.Abs(float64(d)-ref) > 1e-4*(1+math.Abs(ref)) {
					t.Fatalf("DotRow %v, want %v", d, ref)
				}
			}
		}
	}
	q, _ := QuantizeBnb4(NF4, make([]float32, 48), 16, false)
	if _, err := q.Repack(1, 48); !errors.Is(err, ErrBadLength) {
		t.Fatalf("repack of 48 columns: %v", err)
	}
}

func TestBnb4QuantizeRowMatchesBlocksize32(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	x := gaussian(r, 128)
	for _, typ := range []Type{NF4, FP4} {
		dst := make([]byte, 4*blockBnb4Bytes)
		if err := QuantizeRow(typ, x, dst); err != nil {
			t.Fatal(err)
		}
		q, _ := QuantizeBnb4(typ, x, 32, false)
		want, _ := q.Repack(1, 128)
		if string(dst) != string(want) {
			t.Fatalf("%v: QuantizeRow differs from QuantizeBnb4(blocksize 32)", typ)
		}
		if typ.String() != [...]string{"NF4", "FP4"}[typ-NF4] || typ.BlockElems() != 32 || typ.BlockBytes() != 20 || !typ.Quantized() {
			t.Fatalf("type info of %v", typ)
		}
		if pt, err := ParseType(typ.String()); err != nil || pt != typ {
			t.Fatalf("ParseType(%v) = %v, %v", typ, pt, err)
		}
	}
}

func TestBnb4ValidateErrors(t *testing.T) {
	good := func() *Bnb4 {
		q, _ := QuantizeBnb4(NF4, make([]float32, 300), 64, true)
		return q
	}
	cases := map[string]func(q *Bnb4){
		"packed":        func(q *Bnb4) { q.Packed = q.Packed[1:] },
		"absmaxq":       func(q *Bnb4) { q.AbsmaxQ = q.AbsmaxQ[1:] },
		"nested absmax": func(q *Bnb4) { q.NestedAbsmax = append(q.NestedAbsmax, 1) },
		"nested map":    func(q *Bnb4) { q.NestedMap = q.NestedMap[:255] },
		"nan nested":    func(q *Bnb4) { q.NestedAbsmax[0] = float32(math.NaN()) },
		"nan offset":    func(q *Bnb4) { q.Offset = float32(math.Inf(1)) },
		"blocksize":     func(q *Bnb4) { q.Blocksize = 0 },
		"type":          func(q *Bnb4) { q.Type = Q4_0 },
		"nan absmax": func(q *Bnb4) {
			q.Nested = false
			q.Absmax = make([]float32, q.Blocks())
			q.Absmax[2] = float32(math.NaN())
		},
	}
	for name, mod := range cases {
		q := good()
		mod(q)
		if err := q.Validate(); !errors.Is(err, ErrBnb) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// BenchmarkDotRowBnb4 measures the generic NF4/FP4 dot product beside Q4_0 and IQ4_NL
// on the same 4096-element row (compare the ratios of one run).
func BenchmarkDotRowBnb4(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	x := gaussian(r, 4096)
	for _, typ := range []Type{NF4, FP4, Q4_0, IQ4_NL} {
		b.Run(typ.String(), func(b *testing.B) {
			n, _ := RowBytes(typ, len(x))
			row := make([]byte, n)
			if err := QuantizeRow(typ, x, row); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(row)))
			for b.Loop() {
				DotRow(typ, row, x)
			}
		})
	}
}
