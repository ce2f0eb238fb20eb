package onnx

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/edgerun/edgerun/int4"
)

// quantRows quantizes a row-major [n, k] weight to rows of type t.
func quantRows(t testing.TB, typ int4.Type, w []float32, n, k int) []byte {
	t.Helper()
	rb, err := int4.RowBytes(typ, k)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]byte, n*rb)
	for r := 0; r < n; r++ {
		if err := int4.QuantizeRow(typ, w[r*k:(r+1)*k], out[r*rb:(r+1)*rb]); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func dequantRows(t testing.TB, typ int4.Type, data []byte, n, k int) []float32 {
	t.Helper()
	out := make([]float32, n*k)
	if err := int4.DequantizeRow(typ, data, out); err != nil {
		t.Fatal(err)
	}
	return out
}

func bitsEqual(t *testing.T, what string, got, want []float32) {
	t.Helper()
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) && !(got[i] == 0 && want[i] == 0) {
			t.Fatalf("%s: element %d: got %v, want %v", what, i, got[i], want[i])
		}
	}
}

func TestNBitsFromQ4_0Exact(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, shape := range [][2]int{{1, 32}, {3, 64}, {7, 96}, {16, 256}} {
		n, k := shape[0], shape[1]
		w := randWeights(r, n*k, 0.1)
		w[0] = 0 // an all-small block edge case is covered by the random data; add a zero
		data := quantRows(t, int4.Q4_0, w, n, k)
		q, err := NBitsFromQ4_0(data, n, k)
		if err != nil {
			t.Fatal(err)
		}
		if q.BlockSize != 32 || q.ZeroPoints != nil || len(q.B) != n*k/2 || len(q.Scales) != n*k/32 {
			t.Fatalf("%dx%d: layout %+v", n, k, q)
		}
		got := make([]float32, n*k)
		if err := q.Dequantize(got); err != nil {
			t.Fatal(err)
		}
		bitsEqual(t, "Q4_0 -> MatMulNBits", got, dequantRows(t, int4.Q4_0, data, n, k))
	}
	if _, err := NBitsFromQ4_0(make([]byte, 17), 1, 32); err == nil {
		t.Fatal("short Q4_0 data accepted")
	}
}

// TestNBitsNibbleOrder pins the ONNX order: element 2j in the low nibble of byte j.
func TestNBitsNibbleOrder(t *testing.T) {
	blk := make([]byte, 18)
	blk[0], blk[1] = 0x00, 0x3c // f16 1.0
	blk[2] = 0x09 | 0x0a<<4     // element 0 = 9, element 16 = 10
	blk[3] = 0x0b               // element 1 = 11
	q, err := NBitsFromQ4_0(blk, 1, 32)
	if err != nil {
		t.Fatal(err)
	}
	if q.B[0] != 0x09|0x0b<<4 || q.B[8] != 0x0a {
		t.Fatalf("B = % x", q.B)
	}
}

func TestBnb4FromRowsExact(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, typ := range []int4.Type{int4.NF4, int4.FP4} {
		for _, bs := range []int{32, 64, 128} {
			for _, shape := range [][2]int{{2, 64}, {5, 128}, {8, 256}} {
				n, k := shape[0], shape[1]
				w := randWeights(r, n*k, 0.05)
				st, err := int4.QuantizeBnb4(typ, w, bs, true)
				if err != nil {
					t.Fatal(err)
				}
				rows, err := st.Repack(n, k)
				if err != nil {
					t.Fatal(err)
				}
				q, err := Bnb4FromRows(typ, rows, n, k)
				if err != nil {
					t.Fatal(err)
				}
				if q.BlockSize < bs && n*k%bs == 0 {
					t.Errorf("%v bs %d: folded to block %d only", typ, bs, q.BlockSize)
				}
				got := make([]float32, n*k)
				if err := q.Dequantize(got); err != nil {
					t.Fatal(err)
				}
				bitsEqual(t, typ.String()+" rows -> MatMulBnb4", got, dequantRows(t, typ, rows, n, k))
				// From the bitsandbytes state directly: the same bytes.
				q2, err := Bnb4FromState(st, n, k)
				if err != nil {
					t.Fatal(err)
				}
				ref := make([]float32, n*k)
				if err := st.Dequantize(ref); err != nil {
					t.Fatal(err)
				}
				got2 := make([]float32, n*k)
				if err := q2.Dequantize(got2); err != nil {
					t.Fatal(err)
				}
				bitsEqual(t, typ.String()+" state -> MatMulBnb4", got2, ref)
			}
		}
	}
}

func TestQuantizeNBitsError(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	n, k := 8, 200 // K not a multiple of the block: padded last block
	w := randWeights(r, n*k, 1)
	for _, bs := range []int{16, 32, 128} {
		for _, zp := range []bool{false, true} {
			q, err := QuantizeNBits(w, n, k, bs, zp)
			if err != nil {
				t.Fatal(err)
			}
			got := make([]float32, n*k)
			if err := q.Dequantize(got); err != nil {
				t.Fatal(err)
			}
			// Each element is within one step of its block's scale (the clamped extreme of
			// the symmetric scheme, +8 steps, is the worst case).
			kb := q.KBlocks()
			for row := 0; row < n; row++ {
				for i := 0; i < k; i++ {
					s := float64(abs32(q.Scales[row*kb+i/bs]))
					if d := math.Abs(float64(got[row*k+i] - w[row*k+i])); d > s*1.0001+1e-7 {
						t.Fatalf("bs %d zp %v: element (%d,%d) error %g > one step %g", bs, zp, row, i, d, s)
					}
				}
			}
		}
	}
	if _, err := QuantizeNBits(w, n, k, 24, false); err == nil {
		t.Fatal("block size 24 accepted")
	}
}

// TestBnb4FromRows64 checks that NF4_64/FP4_64 rows export exactly as the same tensor
// in the 32-element layout does: the same code bytes, absmax and folded block size.
func TestBnb4FromRows64(t *testing.T) {
	r := rand.New(rand.NewPCG(64, 4))
	for _, base := range []int4.Type{int4.NF4, int4.FP4} {
		t64, _ := int4.Bnb4RowType(base, 64)
		for _, bs := range []int{64, 128, 256, 512} {
			for _, shape := range [][2]int{{2, 64}, {5, 128}, {8, 256}} {
				n, k := shape[0], shape[1]
				st, err := int4.QuantizeBnb4(base, randWeights(r, n*k, 0.05), bs, true)
				if err != nil {
					t.Fatal(err)
				}
				r64, err := st.RepackAs(t64, n, k)
				if err != nil {
					t.Fatal(err)
				}
				r32, err := st.RepackAs(base, n, k)
				if err != nil {
					t.Fatal(err)
				}
				q64, err := Bnb4FromRows(t64, r64, n, k)
				if err != nil {
					t.Fatal(err)
				}
				q32, err := Bnb4FromRows(base, r32, n, k)
				if err != nil {
					t.Fatal(err)
				}
				if q64.BlockSize != q32.BlockSize || q64.QuantType != q32.QuantType || string(q64.B) != string(q32.B) || len(q64.Absmax) != len(q32.Absmax) {
					t.Fatalf("%v bs %d %dx%d: block %d/%d, quant type %d/%d, %d/%d absmax", t64, bs, n, k, q64.BlockSize, q32.BlockSize, q64.QuantType, q32.QuantType, len(q64.Absmax), len(q32.Absmax))
				}
				bitsEqual(t, t64.String()+" absmax", q64.Absmax, q32.Absmax)
				if q64.BlockSize < min(bs, 256) && n*k%bs == 0 {
					t.Errorf("%v bs %d: folded to block %d only", t64, bs, q64.BlockSize)
				}
			}
		}
		if _, err := Bnb4FromRows(t64, make([]byte, 36), 1, 32); err == nil {
			t.Errorf("%v: 32 columns accepted", t64)
		}
	}
}
