package kernels

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/edgerun/edgerun/int4"
)

// Tests of the IQ4_NL, NF4, FP4, Q4_K and Q6_K kernels (shared harness).

var ktTypes = []int4.Type{int4.IQ4_NL, int4.NF4, int4.FP4, int4.Q4_K, int4.Q6_K, int4.NF4_64, int4.FP4_64}

// ktCols are the row lengths tested for t (the k-quants need multiples of 256).
func ktCols(t int4.Type) []int {
	if t == int4.Q4_K || t == int4.Q6_K {
		return []int{256, 512, 2304}
	}
	if t == int4.NF4_64 || t == int4.FP4_64 {
		return []int{64, 128, 192, 256, 2112}
	}
	return []int{32, 64, 96, 256, 288, 2048}
}

// randKTRows returns rows×cols weights of type t: valid quantized Gaussian rows, and
// every third row random bytes with finite random scales (every code, extreme 6-bit
// scales and mins for Q4_K).
func randKTRows(r *rand.Rand, t int4.Type, rows, cols int) []byte {
	rb, _ := int4.RowBytes(t, cols)
	data := make([]byte, rows*rb)
	for i := 0; i < rows; i++ {
		row := data[i*rb : (i+1)*rb]
		if i%3 != 2 {
			if err := int4.QuantizeRow(t, randVec(r, cols), row); err != nil {
				panic(err)
			}
			continue
		}
		for k := range row {
			row[k] = byte(r.Uint32())
		}
		f16 := func(b []byte, s float64) {
			h := int4.F32ToF16(float32(r.NormFloat64() * s))
			b[0], b[1] = byte(h), byte(h>>8)
		}
		for b := 0; b < len(row); b += t.BlockBytes() {
			switch t {
			case int4.IQ4_NL:
				f16(row[b:], 0.01)
			case int4.Q4_K:
				f16(row[b:], 0.001)
				f16(row[b+2:], 0.001)
			case int4.Q6_K:
				f16(row[b+208:], 0.001)
			default:
				binary.LittleEndian.PutUint32(row[b:], math.Float32bits(float32(math.Abs(r.NormFloat64()))))
			}
		}
	}
	return data
}

// ktBound returns Σ_e |w_e·x_e| for one row of dequantized weights and the
// 8-bit-rounded activations: the scale of float rounding differences. For Q4_K it is
// Σ_e (|d·sc·n_e| + |dmin·m|)·|x_e|, since the kernels sum the two parts separately.
func ktBound(t int4.Type, row []byte, q []int8, d []float32) float64 {
	if t == int4.Q4_K {
		var s float64
		for e := range q {
			sb := row[e/256*144:]
			sc, m := q4kScales(sb[4:16])
			j := e % 256 / 32
			n := sb[16+32*(j/2)+e%32] >> (4 * uint(j&1)) & 15
			dd := float64(int4.F16ToF32(uint16(sb[0]) | uint16(sb[1])<<8))
			dm := float64(int4.F16ToF32(uint16(sb[2]) | uint16(sb[3])<<8))
			s += (math.Abs(dd*float64(sc[j])*float64(n)) + math.Abs(dm*float64(m[j]))) * math.Abs(float64(q[e])*float64(d[e/qBlock]))
		}
		return s
	}
	w := make([]float32, len(q))
	if err := int4.DequantizeRow(t, row, w); err != nil {
		panic(err)
	}
	var s float64
	for e := range w {
		s += math.Abs(float64(w[e]) * float64(q[e]) * float64(d[e/qBlock]))
	}
	return s
}

// TestKTGenericMatchesFloat checks each generic kernel against the float64 product of
// the dequantized weights (int4.DequantizeRow; for NF4/FP4 with the kernels' int8 code
// table W/s, bnb4.go) with the 8-bit-rounded activations: equal up to float32 rounding.
func TestKTGenericMatchesFloat(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	for _, typ := range ktTypes {
		for _, cols := range ktCols(typ) {
			const rows = 9
			data := randKTRows(r, typ, rows, cols)
			rb, _ := int4.RowBytes(typ, cols)
			var a q8Act
			a.quantize(randActs(r, 1, cols), 1, cols)
			q, d, c := a.row(0)
			y := make([]float32, rows)
			ktSpec.rows(typ)(data, rb, q, d, c, y)
			w := make([]float32, cols)
			for i := 0; i < rows; i++ {
				row := data[i*rb : (i+1)*rb]
				_ = int4.DequantizeRow(typ, row, w)
				if tab := bnb4TableOf(typ); tab != nil {
					be, bb := typ.BlockElems(), typ.BlockBytes()
					for e := range w {
						code := row[e/be*bb+4+e%be/2] >> (4 * uint(1-e%2)) & 15
						w[e] = f32At(row[e/be*bb:]) * float32(float64(tab.w[code])/bnb4S(typ))
					}
				}
				var want float64
				for e := range w {
					want += float64(w[e]) * float64(q[e]) * float64(d[e/qBlock])
				}
				tol := 4e-7*float64(cols/qBlock+16)*ktBound(typ, row, q, d) + 1e-30
				if diff := math.Abs(float64(y[i]) - want); !(diff <= tol) {
					t.Fatalf("%v %d cols row %d: generic %g, float %g (tol %g)", typ, cols, i, y[i], want, tol)
				}
			}
		}
	}
}

// bnb4TableOf returns the int8 code table of NF4/FP4, nil for other types.
func bnb4TableOf(t int4.Type) *bnb4Table {
	switch t {
	case int4.NF4, int4.NF4_64:
		return nf4Tab
	case int4.FP4, int4.FP4_64:
		return fp4Tab
	}
	return nil
}

// bnb4S returns the table scale s of NF4/FP4 (bnb4.go).
func bnb4S(t int4.Type) float64 {
	if t == int4.NF4 || t == int4.NF4_64 {
		return 112.03
	}
	return 120
}

// TestBnb4Table checks the NF4/FP4 int8 tables: W = round(T·s), the stated RMS and
// largest table rounding, and that no s ≤ 127 (in steps of 0.01) does better.
func TestBnb4Table(t *testing.T) {
	for _, typ := range []int4.Type{int4.NF4, int4.FP4} {
		T := &int4.NF4Table
		if typ == int4.FP4 {
			T = &int4.FP4Table
		}
		rms := func(s float64) (float64, float64) {
			var e, mx float64
			for _, v := range T {
				d := math.RoundToEven(float64(v)*s)/s - float64(v)
				e += d * d
				mx = max(mx, math.Abs(d))
			}
			return math.Sqrt(e / 16), mx
		}
		tab, s := bnb4TableOf(typ), bnb4S(typ)
		for c, v := range T {
			if w := int8(math.RoundToEven(float64(v) * s)); tab.w[c] != w || tab.w[16+c] != w {
				t.Fatalf("%v: W[%d] = %d, want %d", typ, c, tab.w[c], w)
			}
		}
		got, mx := rms(s)
		t.Logf("%v: s = %g, table rounding RMS %.5f, max %.5f of absmax", typ, s, got, mx)
		if typ == int4.NF4 && (got > 0.0018 || mx > 0.0039) || typ == int4.FP4 && (got > 0.0012 || mx > 0.0032) {
			t.Errorf("%v: table rounding RMS %g max %g above the documented bound", typ, got, mx)
		}
		for s2 := 64.0; s2 <= 127; s2 += 0.01 {
			if e, _ := rms(s2); e < got*0.999 {
				t.Errorf("%v: s = %g gives RMS %g < %g", typ, s2, e, got)
				break
			}
		}
	}
}

// TestBnb4ActError measures the whole error of the NF4/FP4 kernels (the active
// implementation, and the generic specification) against the float product of the
// dequantized weights (exact bitsandbytes table) with the unquantized activations, on
// Gaussian data: activation rounding plus the int8 table rounding. It is reported next
// to Q4_0's (activation rounding only) and bounded by 1% relative RMS.
func TestBnb4ActError(t *testing.T) {
	r := rand.New(rand.NewPCG(43, 44))
	p := NewPool(2)
	defer p.Close()
	const rows, cols = 256, 2048
	for _, typ := range []int4.Type{int4.Q4_0, int4.NF4, int4.FP4} {
		rb, _ := int4.RowBytes(typ, cols)
		data := make([]byte, rows*rb)
		for i := 0; i < rows; i++ {
			_ = int4.QuantizeRow(typ, randVec(r, cols), data[i*rb:(i+1)*rb])
		}
		m, _ := NewMatrix(typ, rows, cols, data)
		x := randVec(r, cols)
		var a q8Act
		a.quantize(x, 1, cols)
		q, d, c := a.row(0)
		ys := make([]float32, rows)
		if typ == int4.Q4_0 {
			q4_0RowsGeneric(data, rb, q, d, c, ys)
		} else {
			ktSpec.rows(typ)(data, rb, q, d, c, ys)
		}
		y := make([]float32, rows)
		p.MatVec(m, x, y)
		w := make([]float32, cols)
		var se, ses, sr float64
		for i := 0; i < rows; i++ {
			m.DequantizeRow(i, w)
			var want float64
			for k := range w {
				want += float64(w[k]) * float64(x[k])
			}
			se += (float64(y[i]) - want) * (float64(y[i]) - want)
			ses += (float64(ys[i]) - want) * (float64(ys[i]) - want)
			sr += want * want
		}
		rel, rels := math.Sqrt(se/sr), math.Sqrt(ses/sr)
		t.Logf("%v %dx%d: relative RMS error vs float reference %.3g%% (%s), %.3g%% (generic)", typ, rows, cols, 100*rel, Implementation(), 100*rels)
		if rel > 0.01 || rels > 0.01 {
			t.Errorf("%v: relative RMS error %g (generic %g) > 1%%", typ, rel, rels)
		}
	}
}

// TestKTGemmMatchesGeneric runs every IQ4_NL/NF4/FP4/Q4_K GEMM kernel on a tile built by the
// generic builder (fewer than 8 valid rows repeat the last one) against the generic
// one-row kernel per token, within float summation-order rounding, and checks the
// implementation's tile builder byte for byte against the generic one (with a guard).
func TestKTGemmMatchesGeneric(t *testing.T) {
	r := rand.New(rand.NewPCG(45, 46))
	for _, im := range impls {
		for _, typ := range ktTypes {
			g := im.kt.q[typ].gemm
			if g.kern == nil {
				continue
			}
			il := map[int4.Type]tileBuilder{int4.IQ4_NL: decodeTileIQ4NL, int4.NF4: decodeTileNF4, int4.FP4: decodeTileFP4, int4.Q4_K: q4kTile8, int4.Q6_K: q6kTile8,
				int4.NF4_64: func(w []byte, rowBytes, rows, nb int, dst []byte) {
					decodeTileBnb64(w, rowBytes, rows, nb, dst, &nf4Tab.w)
				},
				int4.FP4_64: func(w []byte, rowBytes, rows, nb int, dst []byte) {
					decodeTileBnb64(w, rowBytes, rows, nb, dst, &fp4Tab.w)
				}}[typ]
			colList := []int{32, 64, 96, 2048, 5632}
			if typ == int4.Q4_K || typ == int4.Q6_K {
				colList = []int{256, 512, 2304, 5632}
			}
			if typ == int4.NF4_64 || typ == int4.FP4_64 {
				colList = []int{64, 128, 2048, 5632}
			}
			for _, rows := range []int{1, 3, 8} {
				for _, cols := range colList {
					nb := cols / qBlock
					data := randKTRows(r, typ, rows, cols)
					rb, _ := int4.RowBytes(typ, cols)
					tile := make([]byte, nb*g.blkSize)
					il(data, rb, rows, nb, tile)
					got := make([]byte, nb*g.blkSize+16)
					for i := range got {
						got[i] = 0xa5
					}
					g.il(data, rb, rows, nb, got[:nb*g.blkSize])
					for i := range tile {
						if got[i] != tile[i] {
							t.Fatalf("%s %v rows=%d nb=%d: tile byte %d = %#x, generic %#x", im.name, typ, rows, nb, i, got[i], tile[i])
						}
					}
					for i := nb * g.blkSize; i < len(got); i++ {
						if got[i] != 0xa5 {
							t.Fatalf("%s %v rows=%d nb=%d: tile builder wrote past the tile", im.name, typ, rows, nb)
						}
					}
					var a q8Act
					a.quantize(randActs(r, 4, cols), 4, cols)
					a.packGQ(1, g.perm)
					var out [32]float32
					g.kern(tile, nb, a.groupQ(0), &out)
					want := make([]float32, rows)
					for tok := 0; tok < 4; tok++ {
						q, d, c := a.row(tok)
						ktSpec.rows(typ)(data, rb, q, d, c, want)
						for k := 0; k < 8; k++ {
							rr := min(k, rows-1)
							tol := 4e-7*float64(nb+16)*ktBound(typ, data[rr*rb:(rr+1)*rb], q, d) + 1e-30
							if diff := math.Abs(float64(out[8*tok+k]) - float64(want[rr])); !(diff <= tol) {
								t.Fatalf("%s %v %dx%d token %d tile row %d: gemm %g, generic %g (tol %g)", im.name, typ, rows, cols, tok, k, out[8*tok+k], want[rr], tol)
							}
						}
					}
				}
			}
		}
	}
}

// TestKTActError measures the whole error of the quantized-activation kernels (active
// implementation) against the float product int4.DotRow of the weights with the
// unquantized activations, on Gaussian data, and bounds it by 1% relative RMS.
func TestKTActError(t *testing.T) {
	r := rand.New(rand.NewPCG(33, 34))
	p := NewPool(2)
	defer p.Close()
	const rows, cols = 256, 2048
	for _, typ := range ktTypes {
		rb, _ := int4.RowBytes(typ, cols)
		data := make([]byte, rows*rb)
		for i := 0; i < rows; i++ {
			_ = int4.QuantizeRow(typ, randVec(r, cols), data[i*rb:(i+1)*rb])
		}
		m, _ := NewMatrix(typ, rows, cols, data)
		x := randVec(r, cols)
		y := make([]float32, rows)
		p.MatVec(m, x, y)
		var se, sr float64
		for i := 0; i < rows; i++ {
			want := float64(int4.DotRow(typ, m.Row(i), x))
			se += (float64(y[i]) - want) * (float64(y[i]) - want)
			sr += want * want
		}
		rel := math.Sqrt(se / sr)
		t.Logf("%v %dx%d (%s): relative RMS error vs float DotRow %.3g%%", typ, rows, cols, Implementation(), 100*rel)
		if rel > 0.01 {
			t.Errorf("%v: relative RMS error %g > 1%%", typ, rel)
		}
	}
}

// TestKTImplsMatchGeneric runs every registered implementation's kernels against the
// generic ones on many shapes (N=1, odd rows), with guards around y.
func TestKTImplsMatchGeneric(t *testing.T) {
	r := rand.New(rand.NewPCG(35, 36))
	for _, im := range impls {
		for _, typ := range ktTypes {
			k := im.kt.rows(typ)
			if k == nil {
				continue // the float path (genericImpl, and what inherits from it)
			}
			for _, rows := range []int{1, 2, 3, 7, 16, 17, 33} {
				for _, cols := range ktCols(typ) {
					data := randKTRows(r, typ, rows, cols)
					rb, _ := int4.RowBytes(typ, cols)
					var a q8Act
					a.quantize(randActs(r, 1, cols), 1, cols)
					q, d, c := a.row(0)
					want := make([]float32, rows)
					ktSpec.rows(typ)(data, rb, q, d, c, want)
					const g = 5
					got := make([]float32, rows+2*g)
					for i := range got {
						got[i] = float32(math.NaN())
					}
					guard := math.Float32bits(got[0])
					k(data, rb, q, d, c, got[g:g+rows])
					for i := 0; i < g; i++ {
						if math.Float32bits(got[i]) != guard || math.Float32bits(got[g+rows+i]) != guard {
							t.Fatalf("%s %v %dx%d: wrote outside y", im.name, typ, rows, cols)
						}
					}
					for i := 0; i < rows; i++ {
						tol := 4e-7*float64(cols/qBlock+16)*ktBound(typ, data[i*rb:(i+1)*rb], q, d) + 1e-30
						if diff := math.Abs(float64(got[g+i]) - float64(want[i])); !(diff <= tol) {
							t.Fatalf("%s %v %dx%d row %d: got %g, generic %g (tol %g)", im.name, typ, rows, cols, i, got[g+i], want[i], tol)
						}
					}
				}
			}
		}
	}
}

// TestKTRows4MatchesRows checks every 4-token kernel against the same implementation's
// one-row kernel, bit for bit, with guards around each output run.
func TestKTRows4MatchesRows(t *testing.T) {
	r := rand.New(rand.NewPCG(37, 38))
	for _, im := range impls {
		for _, typ := range ktTypes {
			k4 := im.kt.rows4(typ)
			if k4 == nil {
				continue
			}
			for _, rows := range []int{1, 2, 3, 16, 17} {
				for _, cols := range ktCols(typ) {
					data := randKTRows(r, typ, rows, cols)
					rb, _ := int4.RowBytes(typ, cols)
					checkRows4MatchesRows(t, fmt.Sprintf("%s %v", im.name, typ), r, im.kt.rows(typ), k4, data, rb, rows, cols)
				}
			}
		}
	}
}

// TestKTMatMulEqualsMatVec checks, for every implementation, that the tiled prefill
// path (4-token kernels and the per-token rest) gives exactly the decode result, that
// the dispatch uses the quantized-activation kernels, and that it allocates nothing.
func TestKTMatMulEqualsMatVec(t *testing.T) {
	r := rand.New(rand.NewPCG(39, 40))
	p := NewPool(2)
	defer p.Close()
	for _, im := range impls {
		withImpl(im, func() {
			for _, typ := range ktTypes {
				if kernelFor(typ) == nil {
					if im.name == "avx2" || im.name == "neon-dotprod" {
						t.Fatalf("%s: kernelFor(%v) is nil", im.name, typ)
					}
					continue // float path: MatMul and MatVec round differently
				}
				for _, shape := range [][3]int{{1, 256, 2}, {5, 256, 5}, {37, 512, 9}, {70, 256, 17}, {8, 256, 4}, {16, 512, 4}, {24, 2048, 7}, {128, 2560, 4}} {
					rows, cols, n := shape[0], shape[1], shape[2]
					m, _ := NewMatrix(typ, rows, cols, randKTRows(r, typ, rows, cols))
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
					if a := testing.AllocsPerRun(5, func() { p.MatMul(m, x, n, y[:n*rows]) }); a != 0 {
						t.Errorf("%s %v: MatMul allocates %v times per call", im.name, typ, a)
					}
				}
			}
		})
	}
}

// BenchmarkKTMatVec reports decode speed (MB/s of weights) of every implementation of
// the IQ4_NL, NF4, FP4, Q4_K and Q6_K kernels, their Go specification (spec) and the
// float path they replace (float: int4.DotRow, what genericImpl uses), on
// TinyLlama's 2048×2048 and 5632×2048 shapes with a 2-thread pool.
func BenchmarkKTMatVec(b *testing.B) {
	benchKT(b, 1)
}

// BenchmarkKTMatMulPrefill is BenchmarkKTMatVec for 64 tokens at once.
func BenchmarkKTMatMulPrefill(b *testing.B) {
	benchKT(b, 64)
}

func benchKT(b *testing.B, n int) {
	r := rand.New(rand.NewPCG(41, 42))
	p := NewPool(2)
	defer p.Close()
	floatPath := *active // without kt kernels kernelFor gives nil: MatMul takes the float path
	floatPath.name, floatPath.kt = "float", ktKernels{}
	for _, typ := range ktTypes {
		for _, sh := range [][2]int{{2048, 2048}, {5632, 2048}} {
			rows, cols := sh[0], sh[1]
			data := randKTRows(r, typ, rows, cols)
			m, _ := NewMatrix(typ, rows, cols, data)
			x := randVec(r, n*cols)
			y := make([]float32, n*rows)
			spec := *active
			spec.name, spec.kt = "spec", ktSpec
			list := []*impl{&floatPath, &spec}
			for _, im := range impls {
				if im.kt.rows(typ) != nil {
					list = append(list, im)
				}
			}
			if k := active.kt; n > 1 && k.rows4(typ) != nil {
				// the active implementation without its 4-token kernels: what they gain
				no4 := *active
				no4.name, no4.kt = active.name+"-no4", ktKernels{f16: k.f16}
				for t, p := range k.q {
					no4.kt.set(t, p.rows, nil)
				}
				list = append(list, &no4)
			}
			for _, im := range list {
				if (im == &spec || im == &floatPath) && (rows > 2048 || n > 1) && len(list) > 2 {
					continue
				}
				b.Run(fmt.Sprintf("%v/%dx%d/n%d/%s", typ, rows, cols, n, im.name), func(b *testing.B) {
					withImpl(im, func() {
						b.SetBytes(int64(len(data)))
						for b.Loop() {
							p.MatMul(m, x, n, y)
						}
					})
				})
			}
		}
	}
}
