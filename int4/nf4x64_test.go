package int4

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

// bnb64To32 converts a row of NF4_64/FP4_64 blocks to the 32-element layout: each
// 36-byte block becomes two 20-byte blocks with its absmax repeated.
func bnb64To32(row []byte) []byte {
	out := make([]byte, 0, len(row)/36*40)
	for b := 0; b+36 <= len(row); b += 36 {
		blk := row[b : b+36]
		out = append(out, blk[0:4]...)
		out = append(out, blk[4:20]...)
		out = append(out, blk[0:4]...)
		out = append(out, blk[20:36]...)
	}
	return out
}

func TestBnb4_64TypeInfo(t *testing.T) {
	for i, typ := range []Type{NF4_64, FP4_64} {
		if typ.String() != [...]string{"NF4_64", "FP4_64"}[i] || typ.BlockElems() != 64 || typ.BlockBytes() != 36 || !typ.Quantized() {
			t.Fatalf("type info of %v: %d elems %d bytes", typ, typ.BlockElems(), typ.BlockBytes())
		}
		if pt, err := ParseType(typ.String()); err != nil || pt != typ {
			t.Fatalf("ParseType(%v) = %v, %v", typ, pt, err)
		}
		base := [...]Type{NF4, FP4}[i]
		if Bnb4Base(typ) != base || Bnb4Table(typ) != Bnb4Table(base) || !IsBnb4(typ) {
			t.Fatalf("%v: base %v table %p", typ, Bnb4Base(typ), Bnb4Table(typ))
		}
		if r, ok := Bnb4RowType(base, 64); !ok || r != typ {
			t.Fatalf("Bnb4RowType(%v, 64) = %v, %v", base, r, ok)
		}
		if r, ok := Bnb4RowType(typ, 32); !ok || r != base {
			t.Fatalf("Bnb4RowType(%v, 32) = %v, %v", typ, r, ok)
		}
	}
	if _, ok := Bnb4RowType(Q4_0, 64); ok {
		t.Fatal("Bnb4RowType(Q4_0) accepted")
	}
	if _, ok := Bnb4RowType(NF4, 128); ok {
		t.Fatal("Bnb4RowType(NF4, 128) accepted")
	}
	if IsBnb4(Q4_0) || Bnb4Base(Q4_0) != Q4_0 {
		t.Fatal("Q4_0 taken for a bitsandbytes type")
	}
	if n, err := RowBytes(NF4_64, 4096); err != nil || n != 4096/64*36 {
		t.Fatalf("RowBytes(NF4_64, 4096) = %d, %v", n, err)
	}
	if _, err := RowBytes(NF4_64, 96); !errors.Is(err, ErrBadLength) {
		t.Fatalf("RowBytes(NF4_64, 96): %v", err)
	}
}

// TestBnb4_64MatchesLayout32 checks the contract of the 64-element types: QuantizeRow
// is bitsandbytes' blocksize-64 quantization, and Dequantize/DotRow of a row give bit
// for bit the results of the same row in the 32-element layout with the absmax repeated.
func TestBnb4_64MatchesLayout32(t *testing.T) {
	r := rand.New(rand.NewPCG(64, 1))
	for _, n := range []int{64, 128, 640, 4096} {
		x := gaussian(r, n)
		x[n/3] = 7 // an outlier in one block
		for _, typ := range []Type{NF4_64, FP4_64} {
			base := Bnb4Base(typ)
			row := make([]byte, n/64*36)
			if err := QuantizeRow(typ, x, row); err != nil {
				t.Fatal(err)
			}
			q, _ := QuantizeBnb4(base, x, 64, false)
			want, err := q.RepackAs(typ, 1, n)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(row, want) {
				t.Fatalf("%v n=%d: QuantizeRow differs from QuantizeBnb4(blocksize 64)", typ, n)
			}
			for b := 0; b < n/64; b++ { // code bytes are bitsandbytes' packed bytes
				if !bytes.Equal(row[b*36+4:b*36+36], q.Packed[b*32:b*32+32]) {
					t.Fatalf("%v block %d: code bytes differ from bitsandbytes' packing", typ, b)
				}
				if a := math.Float32frombits(binary.LittleEndian.Uint32(row[b*36:])); a != q.Absmax[b] {
					t.Fatalf("%v block %d: absmax %v, want %v", typ, b, a, q.Absmax[b])
				}
			}
			r32 := bnb64To32(row)
			if q32, _ := q.RepackAs(base, 1, n); !bytes.Equal(r32, q32) {
				t.Fatalf("%v: the 32-element repack is not the converted row", typ)
			}
			got, want32 := make([]float32, n), make([]float32, n)
			if err := DequantizeRow(typ, row, got); err != nil {
				t.Fatal(err)
			}
			if err := DequantizeRow(base, r32, want32); err != nil {
				t.Fatal(err)
			}
			ref := make([]float32, n)
			if err := q.Dequantize(ref); err != nil {
				t.Fatal(err)
			}
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(want32[i]) || math.Float32bits(got[i]) != math.Float32bits(ref[i]) {
					t.Fatalf("%v n=%d: element %d dequantizes to %v, 32 layout %v, bitsandbytes %v", typ, n, i, got[i], want32[i], ref[i])
				}
			}
			y := gaussian(r, n)
			if a, b := DotRow(typ, row, y), DotRow(base, r32, y); math.Float32bits(a) != math.Float32bits(b) {
				t.Fatalf("%v n=%d: DotRow %v, 32 layout %v", typ, n, a, b)
			}
			// Requantizing the dequantized row reproduces it (the codes are exact).
			again := make([]byte, len(row))
			if err := QuantizeRow(typ, got, again); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again, row) {
				t.Fatalf("%v n=%d: requantizing the dequantized row changes it", typ, n)
			}
		}
	}
}

func TestBnb4Repack64(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 64))
	const rows, cols = 3, 256
	x := gaussian(r, rows*cols)
	for _, base := range []Type{NF4, FP4} {
		t64, _ := Bnb4RowType(base, 64)
		for _, bs := range []int{32, 64, 128, 256, 4096} {
			for _, dq := range []bool{false, true} {
				q, _ := QuantizeBnb4(base, x, bs, dq)
				ok := q.CanRepackAs(t64, cols)
				if ok != (bs%64 == 0) {
					t.Fatalf("%v blocksize %d: CanRepackAs(%v) = %v", base, bs, t64, ok)
				}
				if !ok {
					if _, err := q.RepackAs(t64, rows, cols); !errors.Is(err, ErrBadLength) {
						t.Fatalf("%v blocksize %d: RepackAs(%v): %v", base, bs, t64, err)
					}
					if q.RowType(cols) != base {
						t.Fatalf("%v blocksize %d: RowType %v", base, bs, q.RowType(cols))
					}
					continue
				}
				if rt := q.RowType(cols); rt != base && rt != t64 {
					t.Fatalf("%v blocksize %d: RowType %v", base, bs, rt)
				}
				data, err := q.RepackAs(t64, rows, cols)
				if err != nil {
					t.Fatal(err)
				}
				if len(data) != rows*cols/64*36 {
					t.Fatalf("repacked %d bytes", len(data))
				}
				ref := make([]float32, rows*cols)
				if err := q.Dequantize(ref); err != nil {
					t.Fatal(err)
				}
				got := make([]float32, cols)
				for rr := 0; rr < rows; rr++ {
					if err := DequantizeRow(t64, data[rr*cols/64*36:(rr+1)*cols/64*36], got); err != nil {
						t.Fatal(err)
					}
					for i, v := range got {
						if math.Float32bits(v) != math.Float32bits(ref[rr*cols+i]) {
							t.Fatalf("%v blocksize %d dq %v: row %d element %d %v, want %v", base, bs, dq, rr, i, v, ref[rr*cols+i])
						}
					}
				}
				d32, _ := q.RepackAs(base, rows, cols)
				if !bytes.Equal(bnb64To32(data), d32) {
					t.Fatalf("%v blocksize %d: the 64 and 32 repacks differ", base, bs)
				}
			}
		}
		q, _ := QuantizeBnb4(base, x[:rows*96], 64, false)
		if q.CanRepackAs(t64, 96) || q.RowType(96) != base {
			t.Fatalf("%v: 96 columns repack as %v", base, t64)
		}
		other, _ := Bnb4RowType(Bnb4Base(base)^(NF4^FP4), 64)
		if q.CanRepackAs(other, 64) || q.CanRepackAs(Q4_0, 64) {
			t.Fatalf("%v: repacks as %v", base, other)
		}
	}
}
