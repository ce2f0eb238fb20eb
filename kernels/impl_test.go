package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/edgerun/edgerun/int4"
)

// withImpl runs f with the quantized-activation kernels of im active.
func withImpl(im *impl, f func()) {
	old := active
	active = im
	defer func() { active = old }()
	f()
}

// randQuantRows returns rows×cols weights of type t: valid quantized Gaussian rows, and
// every third row raw random bytes with a finite random fp16 scale (extreme nibbles / int8 values).
func randQuantRows(r *rand.Rand, t int4.Type, rows, cols int) []byte {
	rb, _ := int4.RowBytes(t, cols)
	bs := 18
	if t == int4.Q8_0 {
		bs = 34
	}
	data := make([]byte, rows*rb)
	for i := 0; i < rows; i++ {
		row := data[i*rb : (i+1)*rb]
		if i%3 == 2 {
			for k := range row {
				row[k] = byte(r.Uint32())
			}
			for b := 0; b < len(row); b += bs {
				h := int4.F32ToF16(float32(r.NormFloat64()) * 0.01)
				row[b], row[b+1] = byte(h), byte(h>>8)
			}
			continue
		}
		if err := int4.QuantizeRow(t, randVec(r, cols), row); err != nil {
			panic(err)
		}
	}
	return data
}

// randActs returns n·cols activations with some blocks zero, some with one outlier.
func randActs(r *rand.Rand, n, cols int) []float32 {
	x := randVec(r, n*cols)
	for b := 0; b < len(x)/qBlock; b++ {
		switch r.IntN(8) {
		case 0:
			clear(x[b*qBlock : (b+1)*qBlock])
		case 1:
			x[b*qBlock+r.IntN(qBlock)] *= 100
		}
	}
	return x
}

// TestImplsMatchGeneric runs every registered implementation of the quantized-activation
// kernels against the generic one: integer block sums are exact, so results may differ
// only by float32 summation order; outputs outside y stay untouched.
func TestImplsMatchGeneric(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	t.Logf("implementations: %d, active %q", len(impls), Implementation())
	for _, im := range impls {
		for _, typ := range []int4.Type{int4.Q4_0, int4.Q8_0} {
			for _, rows := range []int{1, 2, 3, 7, 16, 17, 33} {
				for _, cols := range []int{32, 64, 96, 256, 288, 2048} {
					data := randQuantRows(r, typ, rows, cols)
					rb, _ := int4.RowBytes(typ, cols)
					x := randActs(r, 1, cols)
					var a q8Act
					a.quantize(x, 1, cols)
					q, d, c := a.row(0)
					want := make([]float32, rows)
					ref := kernelOf(genericImpl, typ)
					ref(data, rb, q, d, c, want)
					const g = 5
					got := make([]float32, rows+2*g)
					for i := range got {
						got[i] = float32(math.NaN())
					}
					guard := math.Float32bits(got[0])
					kernelOf(im, typ)(data, rb, q, d, c, got[g:g+rows])
					for i := 0; i < g; i++ {
						if math.Float32bits(got[i]) != guard || math.Float32bits(got[g+rows+i]) != guard {
							t.Fatalf("%s %v %dx%d: wrote outside y", im.name, typ, rows, cols)
						}
					}
					for i := 0; i < rows; i++ {
						bound := absTerms(typ, data[i*rb:(i+1)*rb], q, d)
						tol := 4e-7*float64(cols/qBlock+16)*bound + 1e-30
						if diff := math.Abs(float64(got[g+i]) - float64(want[i])); !(diff <= tol) {
							t.Fatalf("%s %v %dx%d row %d: got %g, generic %g (tol %g)", im.name, typ, rows, cols, i, got[g+i], want[i], tol)
						}
					}
				}
			}
		}
	}
}

func kernelOf(im *impl, t int4.Type) rowsKernel {
	if t == int4.Q4_0 {
		return im.q4_0
	}
	return im.q8_0
}

// absTerms returns Σ_b |dw·dx·s_b| for one row: the scale of float rounding differences.
func absTerms(t int4.Type, row []byte, q []int8, d []float32) float64 {
	var sum float64
	for b := range d {
		var s int64
		var dw float32
		if t == int4.Q4_0 {
			blk := row[b*18:]
			dw = int4.F16ToF32(uint16(blk[0]) | uint16(blk[1])<<8)
			for j := 0; j < 16; j++ {
				s += int64(int32(blk[2+j]&15)-8) * int64(q[b*32+j])
				s += int64(int32(blk[2+j]>>4)-8) * int64(q[b*32+16+j])
			}
		} else {
			blk := row[b*34:]
			dw = int4.F16ToF32(uint16(blk[0]) | uint16(blk[1])<<8)
			for j := 0; j < 32; j++ {
				s += int64(int8(blk[2+j])) * int64(q[b*32+j])
			}
		}
		sum += math.Abs(float64(dw) * float64(d[b]) * float64(s))
	}
	return sum
}

// TestMatMulRowsEqualMatVec checks, for every implementation, that the tiled prefill
// path (4-token kernels, or the 8×4 GEMM on full 8-row tiles, and the one-row kernel for
// the rest) gives exactly the decode result for each token, and the guard after y holds.
func TestMatMulRowsEqualMatVec(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	p := NewPool(2)
	defer p.Close()
	for _, im := range impls {
		withImpl(im, func() {
			for _, typ := range []int4.Type{int4.Q4_0, int4.Q8_0} {
				for _, shape := range [][3]int{{1, 32, 2}, {5, 64, 3}, {37, 96, 5}, {70, 256, 17}, {8, 64, 4}, {9, 2048, 8}, {131, 288, 11}} {
					rows, cols, n := shape[0], shape[1], shape[2]
					m, _ := NewMatrix(typ, rows, cols, randQuantRows(r, typ, rows, cols))
					x := randActs(r, n, cols)
					y := make([]float32, n*rows+1)
					y[n*rows] = 42
					p.MatMul(m, x, n, y[:n*rows])
					if y[n*rows] != 42 {
						t.Fatalf("%s %v: MatMul wrote past y", im.name, typ)
					}
					yv := make([]float32, rows)
					for i := 0; i < n; i++ {
						p.MatVec(m, x[i*cols:(i+1)*cols], yv)
						for k := range yv {
							if math.Float32bits(yv[k]) != math.Float32bits(y[i*rows+k]) {
								t.Fatalf("%s %v %dx%d n=%d: MatMul[%d,%d] = %g, MatVec %g", im.name, typ, rows, cols, n, i, k, y[i*rows+k], yv[k])
							}
						}
					}
				}
			}
		})
	}
}

// TestGemmMatchesGeneric runs every GEMM kernel on a hand-interleaved tile (fewer
// than 8 valid rows repeat the last one) against the generic one-row kernel per token,
// within float summation-order rounding.
func TestGemmMatchesGeneric(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 24))
	for _, im := range impls {
		if im.q4_0x8x4 == nil {
			continue
		}
		for _, rows := range []int{1, 3, 8} {
			for _, cols := range []int{32, 64, 96, 2048, 5632} {
				nb := cols / qBlock
				data := randQuantRows(r, int4.Q4_0, rows, cols)
				rb, _ := int4.RowBytes(int4.Q4_0, cols)
				tile := make([]byte, nb*q4x8BlockBytes)
				interleaveQ4_0x8(data, rb, rows, nb, tile)
				var a q8Act
				a.quantize(randActs(r, 4, cols), 4, cols)
				a.packGQ(1, false)
				var out [32]float32
				im.q4_0x8x4(tile, nb, a.groupQ(0), &out)
				want := make([]float32, rows)
				for tok := 0; tok < 4; tok++ {
					q, d, c := a.row(tok)
					q4_0RowsGeneric(data, rb, q, d, c, want)
					for k := 0; k < 8; k++ {
						rr := min(k, rows-1)
						tol := 4e-7*float64(nb+16)*absTerms(int4.Q4_0, data[rr*rb:(rr+1)*rb], q, d) + 1e-30
						if diff := math.Abs(float64(out[8*tok+k]) - float64(want[rr])); !(diff <= tol) {
							t.Fatalf("%s %dx%d token %d tile row %d: gemm %g, generic %g (tol %g)", im.name, rows, cols, tok, k, out[8*tok+k], want[rr], tol)
						}
					}
				}
			}
		}
	}
}

// TestQ8GemmMatchesGeneric runs every Q8_0 GEMM on a tile built by q8_0Tile8 (fewer
// than 8 valid rows repeat the last one) against the generic one-row kernel per token,
// within float summation-order rounding, and checks the implementation's tile builder
// byte for byte against q8_0Tile8 (with a guard after the tile).
func TestQ8GemmMatchesGeneric(t *testing.T) {
	r := rand.New(rand.NewPCG(27, 28))
	for _, im := range impls {
		g := im.q8_0gemm
		if g.kern == nil {
			continue
		}
		for _, rows := range []int{1, 3, 8} {
			for _, cols := range []int{32, 64, 96, 2048, 5632} {
				nb := cols / qBlock
				data := randQuantRows(r, int4.Q8_0, rows, cols)
				rb, _ := int4.RowBytes(int4.Q8_0, cols)
				tile := make([]byte, nb*g.blkSize)
				q8_0Tile8(data, rb, rows, nb, tile)
				got := make([]byte, nb*g.blkSize+16)
				for i := range got {
					got[i] = 0xa5
				}
				g.il(data, rb, rows, nb, got[:nb*g.blkSize])
				for i := range tile {
					if got[i] != tile[i] {
						t.Fatalf("%s rows=%d nb=%d: tile byte %d = %#x, generic %#x", im.name, rows, nb, i, got[i], tile[i])
					}
				}
				for i := nb * g.blkSize; i < len(got); i++ {
					if got[i] != 0xa5 {
						t.Fatalf("%s rows=%d nb=%d: tile builder wrote past the tile", im.name, rows, nb)
					}
				}
				var a q8Act
				a.quantize(randActs(r, 4, cols), 4, cols)
				a.packGQ(1, false)
				var out [32]float32
				g.kern(tile, nb, a.groupQ(0), &out)
				want := make([]float32, rows)
				for tok := 0; tok < 4; tok++ {
					q, d, c := a.row(tok)
					q8_0RowsGeneric(data, rb, q, d, c, want)
					for k := 0; k < 8; k++ {
						rr := min(k, rows-1)
						tol := 4e-7*float64(nb+16)*absTerms(int4.Q8_0, data[rr*rb:(rr+1)*rb], q, d) + 1e-30
						if diff := math.Abs(float64(out[8*tok+k]) - float64(want[rr])); !(diff <= tol) {
							t.Fatalf("%s %dx%d token %d tile row %d: gemm %g, generic %g (tol %g)", im.name, rows, cols, tok, k, out[8*tok+k], want[rr], tol)
						}
					}
				}
			}
		}
	}
}

// TestQ8ActError measures the error the activation quantization adds against the float
// product of the dequantized weights with the unquantized x, and bounds it.
func TestQ8ActError(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	p := NewPool(2)
	defer p.Close()
	const rows, cols = 256, 2048
	for _, typ := range []int4.Type{int4.Q4_0, int4.Q8_0} {
		rb, _ := int4.RowBytes(typ, cols)
		data := make([]byte, rows*rb)
		for i := 0; i < rows; i++ {
			_ = int4.QuantizeRow(typ, randVec(r, cols), data[i*rb:(i+1)*rb])
		}
		m, _ := NewMatrix(typ, rows, cols, data)
		x := randVec(r, cols)
		y := make([]float32, rows)
		p.MatVec(m, x, y)
		w := make([]float32, cols)
		var se, sr float64
		for i := 0; i < rows; i++ {
			m.DequantizeRow(i, w)
			var want float64
			for k := range w {
				want += float64(w[k]) * float64(x[k])
			}
			se += (float64(y[i]) - want) * (float64(y[i]) - want)
			sr += want * want
		}
		rel := math.Sqrt(se / sr)
		t.Logf("%v %dx%d (%s): relative RMS error vs float reference %.3g%%", typ, rows, cols, Implementation(), 100*rel)
		if rel > 0.01 {
			t.Errorf("%v: relative RMS error %g > 1%%", typ, rel)
		}
	}
}

// TestMatVecNoAllocs checks that decode dispatch allocates nothing.
func TestMatVecNoAllocs(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	p := NewPool(2)
	defer p.Close()
	for _, typ := range []int4.Type{int4.F32, int4.Q8_0, int4.Q4_0, int4.Q4_K} {
		const rows, cols = 64, 256
		rb, _ := int4.RowBytes(typ, cols)
		data := make([]byte, rows*rb)
		for i := 0; i < rows; i++ {
			_ = int4.QuantizeRow(typ, randVec(r, cols), data[i*rb:(i+1)*rb])
		}
		m, _ := NewMatrix(typ, rows, cols, data)
		x := randVec(r, 4*cols)
		y := make([]float32, 4*rows)
		if a := testing.AllocsPerRun(50, func() { p.MatVec(m, x[:cols], y[:rows]) }); a != 0 {
			t.Errorf("%v: MatVec allocates %v times per call", typ, a)
		}
		if a := testing.AllocsPerRun(50, func() { p.MatMul(m, x, 4, y) }); a != 0 {
			t.Errorf("%v: MatMul allocates %v times per call", typ, a)
		}
	}
}

// TestRows4MatchesRows checks every 4-row (prefill) kernel against the same
// implementation's one-row kernel, bit for bit, with guards around each output run.
func TestRows4MatchesRows(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 20))
	for _, im := range impls {
		for _, typ := range []int4.Type{int4.Q4_0, int4.Q8_0} {
			k4 := im.q4_0x4
			if typ == int4.Q8_0 {
				k4 = im.q8_0x4
			}
			if k4 == nil {
				continue
			}
			for _, rows := range []int{1, 2, 3, 16, 17} {
				for _, cols := range []int{32, 64, 96, 2048} {
					data := randQuantRows(r, typ, rows, cols)
					rb, _ := int4.RowBytes(typ, cols)
					checkRows4MatchesRows(t, fmt.Sprintf("%s %v", im.name, typ), r, kernelOf(im, typ), k4, data, rb, rows, cols)
				}
			}
		}
	}
}

// TestQ8QuantMatchesGeneric checks every implementation's activation quantizer against
// the generic one bit for bit: Gaussian blocks, zero blocks, single outliers, huge and
// tiny (reciprocal overflowing) magnitudes, values at exact rounding ties, and an
// output guard.
func TestQ8QuantMatchesGeneric(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	for _, im := range impls {
		for _, nb := range []int{1, 2, 3, 7, 64, 176} {
			x := randActs(r, 1, nb*qBlock)
			for b := 0; b < nb; b++ {
				blk := x[b*qBlock : (b+1)*qBlock]
				switch b % 6 {
				case 1: // ties: amax 127 gives id 1, so k+0.5 rounds away from zero
					for j := range blk {
						blk[j] = float32(r.IntN(254)-127) + 0.5
					}
					blk[0] = 127
				case 2:
					for j := range blk {
						blk[j] *= 1e30
					}
				case 3:
					for j := range blk {
						blk[j] *= 1e-38 // reciprocal of d overflows
					}
				case 4:
					for j := range blk {
						blk[j] = float32(math.Copysign(0, float64(blk[j])))
					}
				}
			}
			want := q8Act{}
			want.q, want.d, want.c = make([]int8, nb*qBlock), make([]float32, nb), make([]int32, 8*nb)
			q8QuantGeneric(x, want.q, want.d, want.c)
			q := make([]int8, nb*qBlock+8)
			d := make([]float32, nb+1)
			c := make([]int32, 8*nb+8)
			for i := range q {
				q[i] = 99
			}
			d[nb], c[8*nb] = -3, -5
			im.q8Quant(x, q[:nb*qBlock], d[:nb], c[:8*nb])
			for i := 0; i < nb*qBlock; i++ {
				if q[i] != want.q[i] {
					t.Fatalf("%s nb=%d: q[%d] = %d, generic %d (x %g, d %g)", im.name, nb, i, q[i], want.q[i], x[i], want.d[i/qBlock])
				}
			}
			for b := 0; b < nb; b++ {
				if math.Float32bits(d[b]) != math.Float32bits(want.d[b]) {
					t.Fatalf("%s nb=%d: d[%d] = %g, generic %g", im.name, nb, b, d[b], want.d[b])
				}
			}
			for i := 0; i < 8*nb; i++ {
				if c[i] != want.c[i] {
					t.Fatalf("%s nb=%d: c[%d] = %d, generic %d", im.name, nb, i, c[i], want.c[i])
				}
			}
			if q[nb*qBlock] != 99 || d[nb] != -3 || c[8*nb] != -5 {
				t.Fatalf("%s nb=%d: wrote past the outputs", im.name, nb)
			}
		}
	}
}

// TestInterleaveMatchesGeneric checks every implementation's tile builder against
// interleaveQ4_0x8 byte for byte (full and partial tiles), with a guard after the tile.
func TestInterleaveMatchesGeneric(t *testing.T) {
	r := rand.New(rand.NewPCG(25, 26))
	for _, im := range impls {
		if im.q4_0x8il == nil {
			continue
		}
		for _, rows := range []int{8, 5, 1} {
			for _, nb := range []int{1, 2, 3, 64, 176} {
				rb := nb*18 + 18*(nb%2) // a row stride longer than the row, sometimes
				w := make([]byte, rows*rb)
				for i := range w {
					w[i] = byte(r.Uint32())
				}
				want := make([]byte, nb*q4x8BlockBytes)
				interleaveQ4_0x8(w, rb, rows, nb, want)
				got := make([]byte, nb*q4x8BlockBytes+16)
				for i := range got {
					got[i] = 0xa5
				}
				im.q4_0x8il(w, rb, rows, nb, got[:nb*q4x8BlockBytes])
				for i := range want {
					if got[i] != want[i] {
						t.Fatalf("%s rows=%d nb=%d: byte %d = %#x, generic %#x", im.name, rows, nb, i, got[i], want[i])
					}
				}
				for i := nb * q4x8BlockBytes; i < len(got); i++ {
					if got[i] != 0xa5 {
						t.Fatalf("%s rows=%d nb=%d: wrote past the tile", im.name, rows, nb)
					}
				}
			}
		}
	}
}

// checkRows4MatchesRows runs the 4-token kernel k4 (name in messages) on rows weight rows (data, stride rb)
// and 4 random activation rows of cols elements, and fails unless each token's outputs
// equal the decode kernel k's bit for bit and the guards around them are untouched.
func checkRows4MatchesRows(t *testing.T, name string, r *rand.Rand, k rowsKernel, k4 rows4Kernel, data []byte, rb, rows, cols int) {
	t.Helper()
	var a q8Act
	a.quantize(randActs(r, 4, cols), 4, cols)
	a.pack4(1)
	const g = 3
	stride := rows + 2*g
	y := make([]float32, 4*stride+g)
	for i := range y {
		y[i] = -7.5
	}
	k4(data, rb, rows, a.group(0), cols/qBlock, y[g:], stride)
	want := make([]float32, rows)
	for tok := 0; tok < 4; tok++ {
		q, d, c := a.row(tok)
		k(data, rb, q, d, c, want)
		for i := 0; i < rows; i++ {
			if math.Float32bits(y[g+tok*stride+i]) != math.Float32bits(want[i]) {
				t.Fatalf("%s rows=%d cols=%d token %d row %d: 4-token %g, decode %g", name, rows, cols, tok, i, y[g+tok*stride+i], want[i])
			}
		}
		for i := 0; i < g; i++ {
			if y[tok*stride+i] != -7.5 || y[g+tok*stride+rows+i] != -7.5 {
				t.Fatalf("%s rows=%d cols=%d token %d: wrote outside its outputs", name, rows, cols, tok)
			}
		}
	}
}
