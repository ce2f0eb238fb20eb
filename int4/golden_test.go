package int4

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"math"
	"os"
	"strings"
	"testing"
)

// The golden digests in testdata/ggml_golden.txt were produced by running ggml itself
// (libggml-base.so of llama.cpp release v0.5.0 via node-llama-cpp 3.22.1, x86-64) with
// testdata/gen_ggml_golden.py; see that script for the exact inputs and calls.

const goldenRows, goldenN = 16, 512

// lcg is the 64-bit linear congruential generator shared with gen_ggml_golden.py.
type lcg uint64

func (g *lcg) next() uint64 {
	*g = *g*6364136223846793005 + 1442695040888963407
	return uint64(*g)
}

// goldenInput rebuilds the generator script's input rows (integer arithmetic, exact).
func goldenInput() []float32 {
	g := lcg(1)
	exps := []int{0, -20, 8, -3, -12, 4, -1, 2}
	x := make([]float32, 0, goldenRows*goldenN)
	for r := 0; r < goldenRows; r++ {
		e := exps[r%len(exps)]
		for i := 0; i < goldenN; i++ {
			var u int64
			for k := 0; k < 4; k++ {
				u += int64(g.next()>>48) - 32768
			}
			if r%4 == 1 && g.next()>>59 == 0 {
				u *= 64
			}
			if r%4 == 2 && i < 80 {
				u = 0
			}
			if r%8 == 7 {
				u = (int64(g.next()>>61) - 4) << 15
			}
			x = append(x, float32(float64(u)*math.Ldexp(1, e-17)))
		}
	}
	return x
}

func sha(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

func f32Bytes(f []float32) []byte {
	b := make([]byte, 4*len(f))
	for i, v := range f {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return b
}

// TestGGMLGolden checks QuantizeRow and DequantizeRow bit for bit against digests of
// ggml's own output (quantize_row_*_ref / quantize_iq4_nl, dequantize_row_*, fp16/bf16
// row conversions), on gaussian-like, outlier, zero-block, tiny, huge and tie-heavy rows,
// and on random bytes (every fp16 scale pattern, including Inf/NaN/subnormal).
func TestGGMLGolden(t *testing.T) {
	f, err := os.Open("testdata/ggml_golden.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	x := goldenInput()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) != 4 {
			continue
		}
		typ, err := ParseType(fields[0])
		if err != nil {
			t.Fatal(err)
		}
		n++
		rb, _ := RowBytes(typ, goldenN)
		q := make([]byte, goldenRows*rb)
		for r := 0; r < goldenRows; r++ {
			if err := QuantizeRow(typ, x[r*goldenN:(r+1)*goldenN], q[r*rb:(r+1)*rb]); err != nil {
				t.Fatal(err)
			}
		}
		if got := sha(q); got != fields[1] {
			t.Errorf("%v: QuantizeRow differs from ggml (sha256 %s, want %s)", typ, got, fields[1])
		}
		y := make([]float32, goldenRows*goldenN)
		if err := DequantizeRow(typ, q, y); err != nil {
			t.Fatal(err)
		}
		if got := sha(f32Bytes(y)); got != fields[2] {
			t.Errorf("%v: DequantizeRow(QuantizeRow(x)) differs from ggml", typ)
		}
		g := lcg(uint64(typ))
		for i := range q {
			q[i] = byte(g.next() >> 56)
		}
		if err := DequantizeRow(typ, q, y); err != nil {
			t.Fatal(err)
		}
		for i, v := range y { // NaN payloads and signs differ between CPU families
			if v != v {
				y[i] = math.Float32frombits(0x7FC00000)
			}
		}
		if got := sha(f32Bytes(y)); got != fields[3] {
			t.Errorf("%v: DequantizeRow(random bytes) differs from ggml", typ)
		}
	}
	if n != 8 {
		t.Fatalf("read %d golden lines, want 8", n)
	}
}
