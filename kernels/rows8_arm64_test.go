//go:build !purego

package kernels

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"runtime"
	"testing"

	"github.com/edgerun/edgerun/int4"
	"golang.org/x/sys/cpu"
)

// rows8Shapes are the row counts and block counts the 8-row kernels are tested on: one
// and several full groups, with every tail length, and single-block rows.
var (
	rows8Rows = []int{1, 3, 5, 8, 9, 11, 15, 16, 17, 23, 24, 31, 40}
	rows8NB   = []int{1, 2, 3, 7, 64}
)

// TestRows8Registered checks that a CPU with the dot-product extension runs the 8-row
// kernels for Q4_0, Q8_0, IQ4_NL, NF4, FP4, NF4_64, FP4_64, Q4_K and Q6_K (decode and
// 4-token).
func TestRows8Registered(t *testing.T) {
	if !cpu.ARM64.HasASIMDDP || !cpu.ARM64.HasFPHP {
		t.Skip("no dot-product extension: the neon kernels run (see TestRows8NotOnPlainNEON)")
	}
	if Implementation() != "neon-dotprod" {
		t.Fatalf("implementation %q, want neon-dotprod", Implementation())
	}
	same := func(a, b any) bool { return funcName(a) == funcName(b) }
	if !same(active.q4_0, rowsKernel(q4_0RowsSDOT8Go)) || !same(active.q4_0x4, rows4Kernel(q4_0Rows4SDOT8Go)) {
		t.Fatalf("Q4_0 kernels are not the 8-row ones")
	}
	if !same(active.q8_0, rowsKernel(q8_0RowsSDOT8Go)) || !same(active.q8_0x4, rows4Kernel(q8_0Rows4SDOT8Go)) {
		t.Fatalf("Q8_0 kernels are not the 8-row ones")
	}
	for _, k := range []struct {
		t  int4.Type
		k  rowsKernel
		k4 rows4Kernel
	}{{int4.NF4, nf4RowsSDOT8Go, nf4Rows4SDOT8Go}, {int4.FP4, fp4RowsSDOT8Go, fp4Rows4SDOT8Go},
		{int4.NF4_64, nf4_64RowsSDOT8Go, nf4_64Rows4SDOT8Go}, {int4.FP4_64, fp4_64RowsSDOT8Go, fp4_64Rows4SDOT8Go}} {
		if !same(active.kt.rows(k.t), k.k) || !same(active.kt.rows4(k.t), k.k4) {
			t.Fatalf("%v kernels are not the 8-row ones", k.t)
		}
	}
	if !same(active.kt.rows(int4.IQ4_NL), rowsKernel(iq4nlRowsSDOT8Go)) || !same(active.kt.rows4(int4.IQ4_NL), rows4Kernel(iq4nlRows4SDOT8Go)) {
		t.Fatalf("IQ4_NL kernels are not the 8-row ones")
	}
	if !same(active.kt.rows(int4.Q4_K), rowsKernel(q4kRowsSDOT8Go)) || !same(active.kt.rows(int4.Q6_K), rowsKernel(q6kRowsSDOT8Go)) ||
		!same(active.kt.rows4(int4.Q4_K), rows4Kernel(q4kRows4SDOT8Go)) || !same(active.kt.rows4(int4.Q6_K), rows4Kernel(q6kRows4SDOT8Go)) {
		t.Fatalf("Q4_K/Q6_K kernels are not the 8-row SDOT ones")
	}
}

// TestRows8NotOnPlainNEON checks the other side: without the dot-product extension
// (e.g. qemu -cpu cortex-a53 or cortex-a72) no SDOT kernel is registered, and the NEON
// 8-row kernels run Q4_0, IQ4_NL, NF4, FP4, NF4_64, FP4_64, Q8_0, Q4_K and Q6_K.
func TestRows8NotOnPlainNEON(t *testing.T) {
	if cpu.ARM64.HasASIMDDP {
		t.Skip("the CPU has the dot-product extension")
	}
	for _, im := range impls {
		if im.name == "neon-dotprod" {
			t.Fatalf("neon-dotprod registered on a CPU without the dot-product extension")
		}
	}
	if Implementation() != "neon" {
		t.Fatalf("implementation %q, want neon", Implementation())
	}
	if funcName(kernelFor(int4.Q4_0)) != funcName(q4_0RowsNEON8Go) || funcName(kernelFor(int4.IQ4_NL)) != funcName(iq4nlRowsNEON8Go) ||
		funcName(kernelFor(int4.NF4)) != funcName(nf4RowsNEON8Go) || funcName(kernelFor(int4.FP4)) != funcName(fp4RowsNEON8Go) ||
		funcName(kernelFor(int4.Q8_0)) != funcName(q8_0RowsNEON8Go) || funcName(kernel4For(int4.Q8_0)) != funcName(q8_0Rows4NEON4Go) {
		t.Fatalf("Q4_0/IQ4_NL/NF4/FP4/Q8_0 kernels are not the NEON 8-row ones")
	}
	if funcName(kernel4For(int4.Q4_0)) != funcName(q4_0Rows4NEON4Go) || funcName(kernel4For(int4.IQ4_NL)) != funcName(iq4nlRows4NEON4Go) ||
		funcName(kernel4For(int4.NF4)) != funcName(nf4Rows4NEON4Go) || funcName(kernel4For(int4.FP4)) != funcName(fp4Rows4NEON4Go) {
		t.Fatalf("the 4-token kernels are not the NEON 4x4 ones")
	}
	if funcName(kernelFor(int4.Q4_K)) != funcName(q4kRowsNEON8Go) || funcName(kernelFor(int4.Q6_K)) != funcName(q6kRowsNEON8Go) ||
		funcName(kernel4For(int4.Q4_K)) != funcName(q4kRows4NEON8Go) || funcName(kernel4For(int4.Q6_K)) != funcName(q6kRows4NEON8Go) {
		t.Fatalf("Q4_K/Q6_K kernels are not the NEON 8-row ones (the float path?)")
	}
	if funcName(kernelFor(int4.NF4_64)) != funcName(nf4_64RowsNEON8Go) || funcName(kernelFor(int4.FP4_64)) != funcName(fp4_64RowsNEON8Go) ||
		funcName(kernel4For(int4.NF4_64)) != funcName(nf4_64Rows4NEON4Go) || funcName(kernel4For(int4.FP4_64)) != funcName(fp4_64Rows4NEON4Go) {
		t.Fatalf("NF4_64/FP4_64 kernels are not the NEON 8-row and 4x4 ones (the float path?)")
	}
}

// TestRows8MatchesGeneric runs the 8-row decode kernels, NEON and (when the CPU has it)
// SDOT, with their tails, against the generic spec on many shapes, with a row stride
// longer than the row and NaN guards around y; and each Q4_0 offset kernel against the
// table kernel with Q4_0's table, bit for bit (the same integer sums, the same float
// operations).
func TestRows8MatchesGeneric(t *testing.T) {
	r := rand.New(rand.NewPCG(81, 82))
	type kern struct {
		typ  int4.Type
		k    rowsKernel
		spec rowsKernel
		tab  func(w *byte, rowBytes, groups int, xq *int8, xd *float32, nb int, y *float32, tab *int8)
	}
	kerns := []kern{{int4.Q4_0, q4_0RowsNEON8Go, q4_0RowsGeneric, nibRows8NEON}, {int4.IQ4_NL, iq4nlRowsNEON8Go, iq4nlRowsGeneric, nil},
		{int4.NF4, nf4RowsNEON8Go, nf4RowsGeneric, nil}, {int4.FP4, fp4RowsNEON8Go, fp4RowsGeneric, nil}, {int4.Q8_0, q8_0RowsNEON8Go, q8_0RowsGeneric, nil}}
	if cpu.ARM64.HasASIMDDP && cpu.ARM64.HasFPHP {
		kerns = append(kerns, kern{int4.Q4_0, q4_0RowsSDOT8Go, q4_0RowsGeneric, nibRows8SDOT}, kern{int4.IQ4_NL, iq4nlRowsSDOT8Go, iq4nlRowsGeneric, nil},
			kern{int4.Q8_0, q8_0RowsSDOT8Go, q8_0RowsGeneric, nil},
			kern{int4.NF4, nf4RowsSDOT8Go, nf4RowsGeneric, nil}, kern{int4.FP4, fp4RowsSDOT8Go, fp4RowsGeneric, nil})
	}
	for _, kk := range kerns {
		for _, rows := range rows8Rows {
			for _, nb := range rows8NB {
				cols := nb * qBlock
				bs := kk.typ.BlockBytes()
				rb := nb*bs + bs*(rows%2) // padded stride on odd row counts
				data := paddedRows(r, kk.typ, rows, cols, rb)
				var a q8Act
				a.quantize(randActs(r, 1, cols), 1, cols)
				q, d, c := a.row(0)
				want := make([]float32, rows)
				kk.spec(data, rb, q, d, c, want)
				const g = 4
				got := nanGuarded(rows, g)
				kk.k(data, rb, q, d, c, got[g:g+rows])
				checkNaNGuards(t, got, g, rows, kk.typ.String())
				for i := 0; i < rows; i++ {
					bound := ktBound(kk.typ, data[i*rb:i*rb+nb*bs], q, d)
					tol := 4e-7*float64(nb+16)*bound + 1e-30
					if diff := math.Abs(float64(got[g+i]) - float64(want[i])); !(diff <= tol) {
						t.Fatalf("%s rows=%d nb=%d row %d: got %g, generic %g (tol %g)", funcName(kk.k), rows, nb, i, got[g+i], want[i], tol)
					}
				}
				if kk.tab != nil && rows >= 8 {
					tab := make([]float32, rows/8*8)
					kk.tab(&data[0], rb, rows/8, &q[0], &d[0], nb, &tab[0], &q4_0Values[0])
					for i := range tab {
						if math.Float32bits(tab[i]) != math.Float32bits(got[g+i]) {
							t.Fatalf("%s rows=%d nb=%d row %d: offset kernel %g, table kernel %g", funcName(kk.k), rows, nb, i, got[g+i], tab[i])
						}
					}
				}
			}
		}
	}
}

// TestRows8x4MatchesRows8 checks the 4-token kernels (SDOT 8×4 and NEON 4×4) against
// the decode kernels token by token, bit for bit, with guards around each token's
// outputs.
func TestRows8x4MatchesRows8(t *testing.T) {
	r := rand.New(rand.NewPCG(83, 84))
	type kern struct {
		typ int4.Type
		k   rowsKernel
		k4  rows4Kernel
	}
	kerns := []kern{{int4.Q4_0, q4_0RowsNEON8Go, q4_0Rows4NEON4Go}, {int4.IQ4_NL, iq4nlRowsNEON8Go, iq4nlRows4NEON4Go},
		{int4.NF4, nf4RowsNEON8Go, nf4Rows4NEON4Go}, {int4.FP4, fp4RowsNEON8Go, fp4Rows4NEON4Go}, {int4.Q8_0, q8_0RowsNEON8Go, q8_0Rows4NEON4Go}}
	if cpu.ARM64.HasASIMDDP && cpu.ARM64.HasFPHP {
		kerns = append(kerns, kern{int4.Q4_0, q4_0RowsSDOT8Go, q4_0Rows4SDOT8Go}, kern{int4.IQ4_NL, iq4nlRowsSDOT8Go, iq4nlRows4SDOT8Go},
			kern{int4.Q8_0, q8_0RowsSDOT8Go, q8_0Rows4SDOT8Go}, kern{int4.NF4, nf4RowsSDOT8Go, nf4Rows4SDOT8Go}, kern{int4.FP4, fp4RowsSDOT8Go, fp4Rows4SDOT8Go})
	}
	for _, kk := range kerns {
		for _, rows := range rows8Rows {
			for _, nb := range rows8NB {
				cols := nb * qBlock
				rb := nb*kk.typ.BlockBytes() + 36*(rows%3) // sometimes a longer stride
				data := paddedRows(r, kk.typ, rows, cols, rb)
				checkRows4MatchesRows(t, funcName(kk.k4), r, kk.k, kk.k4, data, rb, rows, cols)
			}
		}
	}
}

// paddedRows returns rows weight rows of type t (Q4_0, Q8_0 or IQ4_NL) and cols elements at a
// stride of rb ≥ the row size, the padding filled with bytes the kernels must not read
// into the result (random, including NaN-scale patterns).
func paddedRows(r *rand.Rand, t int4.Type, rows, cols, rb int) []byte {
	size, _ := int4.RowBytes(t, cols)
	var src []byte
	if t == int4.Q4_0 || t == int4.Q8_0 {
		src = randQuantRows(r, t, rows, cols)
	} else {
		src = randKTRows(r, t, rows, cols)
	}
	data := make([]byte, rows*rb)
	for i := range data {
		data[i] = 0xff
	}
	for i := 0; i < rows; i++ {
		copy(data[i*rb:i*rb+size], src[i*size:(i+1)*size])
	}
	return data
}

func nanGuarded(rows, g int) []float32 {
	y := make([]float32, rows+2*g)
	for i := range y {
		y[i] = float32(math.NaN())
	}
	return y
}

func checkNaNGuards(t *testing.T, y []float32, g, rows int, what string) {
	t.Helper()
	guard := math.Float32bits(float32(math.NaN()))
	for i := 0; i < g; i++ {
		if math.Float32bits(y[i]) != guard || math.Float32bits(y[g+rows+i]) != guard {
			t.Fatalf("%s rows=%d: wrote outside y", what, rows)
		}
	}
}

// funcName returns the name of the function value f.
func funcName(f any) string {
	return runtime.FuncForPC(reflect.ValueOf(f).Pointer()).Name()
}

// TestRows8NEONTailMatchesGroup checks the IQ4_NL NEON tail (one row through the 8-row
// kernel with a zero stride) against the same rows computed inside full groups, bit for
// bit: lanes are independent, so where a row falls must not change its result.
func TestRows8NEONTailMatchesGroup(t *testing.T) {
	r := rand.New(rand.NewPCG(85, 86))
	for _, nb := range rows8NB {
		cols := nb * qBlock
		rb := nb * 18
		data := paddedRows(r, int4.IQ4_NL, 16, cols, rb)
		var a q8Act
		a.quantize(randActs(r, 1, cols), 1, cols)
		q, d, c := a.row(0)
		full := make([]float32, 16)
		iq4nlRowsNEON8Go(data, rb, q, d, c, full)
		for _, rows := range []int{1, 5, 7, 13} {
			off := 16 - rows // the last rows: a tail of rows%8 after rows/8 groups
			part := make([]float32, rows)
			iq4nlRowsNEON8Go(data[off*rb:], rb, q, d, c, part)
			for i := range part {
				if math.Float32bits(part[i]) != math.Float32bits(full[off+i]) {
					t.Fatalf("nb=%d rows=%d row %d: %g, in a full group %g", nb, rows, i, part[i], full[off+i])
				}
			}
		}
	}
}

// testBnbTable is an int8 NF4 code table of the kind the bnb kernels take (round(T·s)
// and 1/s), independent of the one bnb4.go registers.
func testBnbTable() (tab [16]int8, post float32) {
	const s = 112.03
	for c, v := range int4.NF4Table {
		tab[c] = int8(math.RoundToEven(float64(v) * s))
	}
	return tab, float32(1 / s)
}

// bnbRowsRef is the NF4/FP4 specification for an int8 table: per block
// s = Σ_i tab[hi(b_i)]·q_{2i} + tab[lo(b_i)]·q_{2i+1}, sum += (absmax·d)·float32(s),
// y = sum·post; bound returns Σ|terms|·post per row.
func bnbRowsRef(tab *[16]int8, post float32, w []byte, rb int, q []int8, d []float32, y []float32) (bound []float64) {
	for r := range y {
		var sum float32
		var b64 float64
		for b := range d {
			blk := w[r*rb+20*b : r*rb+20*b+20]
			var s int32
			var abs int64
			for i := 0; i < 16; i++ {
				t0 := int32(tab[blk[4+i]>>4]) * int32(q[32*b+2*i])
				t1 := int32(tab[blk[4+i]&15]) * int32(q[32*b+2*i+1])
				s += t0 + t1
				abs += int64(max(t0, -t0)) + int64(max(t1, -t1))
			}
			sc := f32At(blk) * d[b]
			sum += sc * float32(s)
			b64 += math.Abs(float64(sc)) * float64(abs)
		}
		y[r] = sum * post
		bound = append(bound, b64*float64(post))
	}
	return bound
}

// randBnbRows returns rows random NF4/FP4 rows of nb blocks at stride rb (every code,
// absmax |N(0,1)|, padding 0xff).
func randBnbRows(r *rand.Rand, rows, nb, rb int) []byte {
	data := make([]byte, rows*rb)
	for i := range data {
		data[i] = 0xff
	}
	for i := 0; i < rows; i++ {
		for b := 0; b < nb; b++ {
			blk := data[i*rb+20*b : i*rb+20*b+20]
			binary.LittleEndian.PutUint32(blk, math.Float32bits(float32(math.Abs(r.NormFloat64()))))
			for k := 4; k < 20; k++ {
				blk[k] = byte(r.Uint32())
			}
		}
	}
	return data
}

// TestBnbRows8 checks the NF4/FP4 8-row kernels (SDOT decode and 8×4, NEON decode)
// against bnbRowsRef, and the 8×4 kernel against the SDOT decode kernel bit for bit.
func TestBnbRows8(t *testing.T) {
	r := rand.New(rand.NewPCG(87, 88))
	tab, post := testBnbTable()
	sdot := cpu.ARM64.HasASIMDDP && cpu.ARM64.HasFPHP
	for _, groups := range []int{1, 2, 3} {
		for _, nb := range rows8NB {
			rows := 8 * groups
			cols := nb * qBlock
			rb := nb*20 + 20*(groups%2)
			data := randBnbRows(r, rows, nb, rb)
			var a q8Act
			a.quantize(randActs(r, 4, cols), 4, cols)
			a.pack4(1)
			got := make([][]float32, 4)
			for tok := 0; tok < 4; tok++ {
				q, d, _ := a.row(tok)
				want := make([]float32, rows)
				bound := bnbRowsRef(&tab, post, data, rb, q, d, want)
				type k8 struct {
					name string
					f    func(w *byte, rowBytes, groups int, xq *int8, xd *float32, nb int, y *float32, tab *int8, post float32)
				}
				ks := []k8{{"neon", bnbRows8NEON}}
				if sdot {
					ks = append(ks, k8{"sdot", bnbRows8SDOT})
				}
				for _, k := range ks {
					y := nanGuarded(rows, 2)
					k.f(&data[0], rb, groups, &q[0], &d[0], nb, &y[2], &tab[0], post)
					checkNaNGuards(t, y, 2, rows, "bnb "+k.name)
					for i := 0; i < rows; i++ {
						tol := 4e-7*float64(nb+16)*bound[i] + 1e-30
						if diff := math.Abs(float64(y[2+i]) - float64(want[i])); !(diff <= tol) {
							t.Fatalf("bnb %s groups=%d nb=%d token %d row %d: got %g, ref %g (tol %g)", k.name, groups, nb, tok, i, y[2+i], want[i], tol)
						}
					}
					if k.name == "sdot" {
						got[tok] = y[2 : 2+rows]
					}
				}
			}
			if !sdot {
				continue
			}
			const g = 3
			stride := rows + 2*g
			y := make([]float32, 4*stride+g)
			for i := range y {
				y[i] = -7.5
			}
			bnbRows8x4SDOT(&data[0], rb, groups, &a.group(0)[0], nb, &y[g], 4*stride, &tab[0], post)
			for tok := 0; tok < 4; tok++ {
				for i := 0; i < rows; i++ {
					if math.Float32bits(y[g+tok*stride+i]) != math.Float32bits(got[tok][i]) {
						t.Fatalf("bnb groups=%d nb=%d token %d row %d: 8x4 %g, decode %g", groups, nb, tok, i, y[g+tok*stride+i], got[tok][i])
					}
				}
				for i := 0; i < g; i++ {
					if y[tok*stride+i] != -7.5 || y[g+tok*stride+rows+i] != -7.5 {
						t.Fatalf("bnb 8x4 groups=%d nb=%d token %d: wrote outside its outputs", groups, nb, tok)
					}
				}
			}
		}
	}
}

// randBnb64Padded returns rows random NF4_64/FP4_64 rows of nb/2 blocks of 36 bytes at
// stride rb (every code, absmax |N(0,1)|, one row in five with a zero absmax, padding
// 0xff), and the same rows in the 32-element layout (absmax repeated) at stride rb32.
func randBnb64Padded(r *rand.Rand, rows, nb, rb, rb32 int) (w64, w32 []byte) {
	w64, w32 = make([]byte, rows*rb), make([]byte, rows*rb32)
	for i := range w64 {
		w64[i] = 0xff
	}
	for i := range w32 {
		w32[i] = 0xff
	}
	for i := 0; i < rows; i++ {
		for b := 0; b < nb/2; b++ {
			blk := w64[i*rb+36*b : i*rb+36*b+36]
			amax := float32(math.Abs(r.NormFloat64()))
			if i%5 == 4 {
				amax = 0
			}
			binary.LittleEndian.PutUint32(blk, math.Float32bits(amax))
			for k := 4; k < 36; k++ {
				blk[k] = byte(r.Uint32())
			}
			copy(w32[i*rb32+40*b:], bnb64To32(blk))
		}
	}
	return w64, w32
}

// TestBnb64Rows8Match32 calls every NF4_64/FP4_64 arm64 kernel directly (NEON 8-row
// decode and 4×4; with the dot product also the SDOT 8-row decode and 8×4 and the
// four-lane one-row and 4-token tail kernels) on rows at a padded stride, with guards
// around every output, against the NF4/FP4 kernel it is derived from on the same rows in
// the 32-element layout: bit for bit, on 1..3 groups (1..5 rows for the four-lane
// kernels) and 2..128 activation blocks.
func TestBnb64Rows8Match32(t *testing.T) {
	r := rand.New(rand.NewPCG(64, 88))
	sdot := cpu.ARM64.HasASIMDDP && cpu.ARM64.HasFPHP
	tabs := []*bnb4Table{nf4Tab, fp4Tab}
	splits := []*bnb4Split{nf4Split, fp4Split}
	same := func(what string, got, want []float32, g int) {
		t.Helper()
		for i := range want {
			if math.Float32bits(got[g+i]) != math.Float32bits(want[i]) {
				t.Fatalf("%s: [%d] = %g, 32-element layout %g", what, i, got[g+i], want[i])
			}
		}
		for i := 0; i < g; i++ {
			if math.Float32bits(got[i]) != 0x7fc0dead || math.Float32bits(got[len(got)-1-i]) != 0x7fc0dead {
				t.Fatalf("%s: wrote outside its output", what)
			}
		}
	}
	guarded := func(n, g int) []float32 {
		y := make([]float32, n+2*g)
		for i := range y {
			y[i] = math.Float32frombits(0x7fc0dead)
		}
		return y
	}
	const g = 3
	for ti, tab := range tabs {
		for _, groups := range []int{1, 2, 3} {
			for _, nb := range []int{2, 4, 6, 14, 128} {
				rows, cols := 8*groups, nb*qBlock
				rb := nb/2*36 + 36*(groups%2) + 4*(groups/3) // padded strides, some not multiples of 36
				rb32 := nb * 20
				w64, w32 := randBnb64Padded(r, rows, nb, rb, rb32)
				var a q8Act
				a.quantize(randActs(r, 4, cols), 4, cols)
				a.pack4(1)
				what := func(k string) string {
					return fmt.Sprintf("%s %v groups=%d nb=%d", k, []int4.Type{int4.NF4_64, int4.FP4_64}[ti], groups, nb)
				}
				for tok := 0; tok < 4; tok++ {
					q, d, _ := a.row(tok)
					want, y := make([]float32, rows), guarded(rows, g)
					bnbRows8NEON(&w32[0], rb32, groups, &q[0], &d[0], nb, &want[0], &tab.w[0], tab.post)
					bnb64Rows8NEON(&w64[0], rb, groups, &q[0], &d[0], nb, &y[g], &tab.w[0], tab.post)
					same(what("bnb64Rows8NEON"), y, want, g)
					if !sdot {
						continue
					}
					y = guarded(rows, g)
					bnbRows8SDOT(&w32[0], rb32, groups, &q[0], &d[0], nb, &want[0], &tab.w[0], tab.post)
					bnb64Rows8SDOT(&w64[0], rb, groups, &q[0], &d[0], nb, &y[g], &tab.w[0], tab.post)
					same(what("bnb64Rows8SDOT"), y, want, g)
					n := min(rows, 5)
					acc32, acc := make([]float32, 4*n), guarded(4*n, g)
					bnb4RowsSDOT(&w32[0], rb32, n, &q[0], &d[0], nb, &acc32[0], &splits[ti][0])
					bnb64RowsSDOT(&w64[0], rb, n, &q[0], &d[0], nb, &acc[g], &splits[ti][0])
					same(what("bnb64RowsSDOT"), acc, acc32, g)
				}
				// 4 tokens: all outputs in one guarded buffer, token stride rows+g
				stride := rows + g
				want, y := make([]float32, 4*stride), guarded(4*stride, g)
				bnbRows4x4NEON(&w32[0], rb32, 2*groups, &a.group(0)[0], nb, &want[0], 4*stride, &tab.w[0], tab.post)
				bnb64Rows4x4NEON(&w64[0], rb, 2*groups, &a.group(0)[0], nb, &y[g], 4*stride, &tab.w[0], tab.post)
				for i := range want {
					if i%stride >= rows {
						want[i] = y[g+i] // the gaps between tokens: checked to be untouched below
					}
				}
				same(what("bnb64Rows4x4NEON"), y, want, g)
				for i := range y[g:] {
					if i%stride >= rows && math.Float32bits(y[g+i]) != 0x7fc0dead {
						t.Fatalf("%s: wrote between token outputs", what("bnb64Rows4x4NEON"))
					}
				}
				if !sdot {
					continue
				}
				want, y = make([]float32, 4*stride), guarded(4*stride, g)
				bnbRows8x4SDOT(&w32[0], rb32, groups, &a.group(0)[0], nb, &want[0], 4*stride, &tab.w[0], tab.post)
				bnb64Rows8x4SDOT(&w64[0], rb, groups, &a.group(0)[0], nb, &y[g], 4*stride, &tab.w[0], tab.post)
				for i := range want {
					if i%stride >= rows {
						want[i] = y[g+i]
						if math.Float32bits(y[g+i]) != 0x7fc0dead {
							t.Fatalf("%s: wrote between token outputs", what("bnb64Rows8x4SDOT"))
						}
					}
				}
				same(what("bnb64Rows8x4SDOT"), y, want, g)
				n := min(rows, 5)
				acc32, acc := make([]float32, 16*n), guarded(16*n, g)
				bnb4Rows4SDOT(&w32[0], rb32, n, &a.group(0)[0], nb, &acc32[0], &splits[ti][0])
				bnb64Rows4SDOT(&w64[0], rb, n, &a.group(0)[0], nb, &acc[g], &splits[ti][0])
				same(what("bnb64Rows4SDOT"), acc, acc32, g)
			}
		}
	}
}
