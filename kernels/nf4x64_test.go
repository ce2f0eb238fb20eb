package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/edgerun/edgerun/int4"
)

// Tests of the NF4_64/FP4_64 kernels: every implementation's result on a 64-element row
// equals, bit for bit, the result on the same row in the 32-element layout (NF4/FP4)
// with each absmax repeated for both halves.

// bnb64Pairs are the 64-element types and their 32-element layouts.
var bnb64Pairs = [][2]int4.Type{{int4.NF4_64, int4.NF4}, {int4.FP4_64, int4.FP4}}

// bnb64To32 converts rows of 36-byte blocks to rows of 20-byte blocks (absmax repeated).
func bnb64To32(data []byte) []byte {
	out := make([]byte, 0, len(data)/36*40)
	for b := 0; b+36 <= len(data); b += 36 {
		blk := data[b : b+36]
		out = append(out, blk[0:4]...)
		out = append(out, blk[4:20]...)
		out = append(out, blk[0:4]...)
		out = append(out, blk[20:36]...)
	}
	return out
}

// randBnb64Rows returns rows×cols weights of t (NF4_64/FP4_64) as randKTRows does.
func randBnb64Rows(r *rand.Rand, t int4.Type, rows, cols int) []byte {
	return randKTRows(r, t, rows, cols)
}

var bnb64Cols = []int{64, 128, 192, 2048, 2112}

// TestBnb64RowsMatch32 checks the one-row kernels of every implementation (and the
// specification) on 64-element rows against the same implementation's NF4/FP4 kernel
// on the converted rows, bit for bit, with guards around y.
func TestBnb64RowsMatch32(t *testing.T) {
	r := rand.New(rand.NewPCG(64, 32))
	all := append([]*impl{{name: "spec", kt: ktSpec}}, impls...)
	for _, im := range all {
		for _, pr := range bnb64Pairs {
			k64, k32 := im.kt.rows(pr[0]), im.kt.rows(pr[1])
			if k64 == nil {
				continue
			}
			if k32 == nil {
				t.Fatalf("%s: %v has a kernel, %v none", im.name, pr[0], pr[1])
			}
			for _, rows := range []int{1, 2, 7, 8, 9, 16, 17, 33} {
				for _, cols := range bnb64Cols {
					data := randBnb64Rows(r, pr[0], rows, cols)
					d32 := bnb64To32(data)
					rb64, _ := int4.RowBytes(pr[0], cols)
					rb32, _ := int4.RowBytes(pr[1], cols)
					var a q8Act
					a.quantize(randActs(r, 1, cols), 1, cols)
					q, d, c := a.row(0)
					want := make([]float32, rows)
					k32(d32, rb32, q, d, c, want)
					const g = 5
					got := make([]float32, rows+2*g)
					for i := range got {
						got[i] = float32(math.NaN())
					}
					guard := math.Float32bits(got[0])
					k64(data, rb64, q, d, c, got[g:g+rows])
					for i := 0; i < g; i++ {
						if math.Float32bits(got[i]) != guard || math.Float32bits(got[g+rows+i]) != guard {
							t.Fatalf("%s %v %dx%d: wrote outside y", im.name, pr[0], rows, cols)
						}
					}
					for i := 0; i < rows; i++ {
						if math.Float32bits(got[g+i]) != math.Float32bits(want[i]) {
							t.Fatalf("%s %v %dx%d row %d: %g, %v layout %g", im.name, pr[0], rows, cols, i, got[g+i], pr[1], want[i])
						}
					}
				}
			}
		}
	}
}

// TestBnb64MatMulMatch32 checks MatVec and MatMul (decode, prefill GEMM and per-token
// rest, fused Q/K/V) of every implementation on NF4_64/FP4_64 matrices against the
// same calls on the converted NF4/FP4 matrices, bit for bit: where the implementation
// has kernels for both the results agree exactly, where it has none for the 64 type
// (the float path) the float path on the 32 type is exact too.
func TestBnb64MatMulMatch32(t *testing.T) {
	r := rand.New(rand.NewPCG(64, 33))
	p := NewPool(2)
	defer p.Close()
	for _, im := range impls {
		withImpl(im, func() {
			for _, pr := range bnb64Pairs {
				if (kernelFor(pr[0]) == nil) != (kernelFor(pr[1]) == nil) {
					if im.name == "avx2" || im.name == "neon" || im.name == "neon-dotprod" {
						t.Fatalf("%s: kernelFor(%v) and kernelFor(%v) differ in presence", im.name, pr[0], pr[1])
					}
					continue // SIMD kernels for the 64 types not there yet: the paths differ
				}
				for _, shape := range [][3]int{{1, 64, 1}, {1, 128, 2}, {5, 192, 5}, {8, 64, 4}, {16, 512, 4}, {37, 2112, 9}, {24, 2048, 7}, {70, 256, 17}} {
					rows, cols, n := shape[0], shape[1], shape[2]
					data := randBnb64Rows(r, pr[0], rows, cols)
					m64, err := NewMatrix(pr[0], rows, cols, data)
					if err != nil {
						t.Fatal(err)
					}
					m32, err := NewMatrix(pr[1], rows, cols, bnb64To32(data))
					if err != nil {
						t.Fatal(err)
					}
					x := randActs(r, n, cols)
					y64 := make([]float32, n*rows+1)
					y64[n*rows] = 42
					y32 := make([]float32, n*rows)
					p.MatMul(m64, x, n, y64[:n*rows])
					p.MatMul(m32, x, n, y32)
					if y64[n*rows] != 42 {
						t.Fatalf("%s %v: MatMul wrote past y", im.name, pr[0])
					}
					for i := range y32 {
						if math.Float32bits(y64[i]) != math.Float32bits(y32[i]) {
							t.Fatalf("%s %v %dx%d n=%d: MatMul[%d] = %g, %v %g", im.name, pr[0], rows, cols, n, i, y64[i], pr[1], y32[i])
						}
					}
					v64, v32 := make([]float32, rows), make([]float32, rows)
					p.MatVec(m64, x[:cols], v64)
					p.MatVec(m32, x[:cols], v32)
					for i := range v32 {
						if math.Float32bits(v64[i]) != math.Float32bits(v32[i]) {
							t.Fatalf("%s %v %dx%d: MatVec[%d] = %g, %v %g", im.name, pr[0], rows, cols, i, v64[i], pr[1], v32[i])
						}
					}
				}
			}
		})
	}
}

// TestBnb64TileMatch32 checks the NF4_64/FP4_64 tile builders (the generic
// decodeTileBnb64 and every implementation's) byte for byte against the NF4/FP4 tile of
// the converted rows, with a guard after the tile, and that the implementation's GEMM
// is the NF4/FP4 one (same tile, same kernel).
func TestBnb64TileMatch32(t *testing.T) {
	r := rand.New(rand.NewPCG(64, 34))
	spec := map[int4.Type]tileBuilder{int4.NF4: decodeTileNF4, int4.FP4: decodeTileFP4}
	tab := map[int4.Type]*[32]int8{int4.NF4: &nf4Tab.w, int4.FP4: &fp4Tab.w}
	for _, pr := range bnb64Pairs {
		for _, rows := range []int{1, 3, 7, 8} {
			for _, cols := range []int{64, 128, 2048, 5632} {
				nb := cols / qBlock
				data := randBnb64Rows(r, pr[0], rows, cols)
				rb64, _ := int4.RowBytes(pr[0], cols)
				rb32, _ := int4.RowBytes(pr[1], cols)
				want := make([]byte, nb*nibTileBlockBytes)
				spec[pr[1]](bnb64To32(data), rb32, rows, nb, want)
				check := func(name string, il tileBuilder) {
					got := make([]byte, len(want)+16)
					for i := range got {
						got[i] = 0xa5
					}
					il(data, rb64, rows, nb, got[:len(want)])
					for i := range want {
						if got[i] != want[i] {
							t.Fatalf("%s %v rows=%d cols=%d: tile byte %d = %#x, %v tile %#x", name, pr[0], rows, cols, i, got[i], pr[1], want[i])
						}
					}
					for i := len(want); i < len(got); i++ {
						if got[i] != 0xa5 {
							t.Fatalf("%s %v rows=%d cols=%d: wrote past the tile", name, pr[0], rows, cols)
						}
					}
				}
				check("generic", func(w []byte, rowBytes, rows, nb int, dst []byte) {
					decodeTileBnb64(w, rowBytes, rows, nb, dst, tab[pr[1]])
				})
				for _, im := range impls {
					g := im.kt.q[pr[0]].gemm
					if g.kern == nil {
						continue
					}
					if g.blkSize != nibTileBlockBytes || !g.perm {
						t.Fatalf("%s %v: GEMM tile %d bytes, perm %v", im.name, pr[0], g.blkSize, g.perm)
					}
					check(im.name, g.il)
				}
			}
		}
	}
}

// BenchmarkBnb64AB times decode (MatVec, 2-thread pool, active implementation) of
// NF4_64 against NF4 on the same weights (the converted rows), interleaving the two in
// rounds of 20 calls so that machine noise hits both alike; it reports each one's
// ns/call and the ratio NF4_64/NF4 (below 1: the 64-element layout is faster).
func BenchmarkBnb64AB(b *testing.B) {
	r := rand.New(rand.NewPCG(64, 35))
	p := NewPool(2)
	defer p.Close()
	for _, sh := range [][2]int{{5632, 2048}, {2048, 5632}, {32000, 2048}} {
		rows, cols := sh[0], sh[1]
		data := randBnb64Rows(r, int4.NF4_64, rows, cols)
		m64, _ := NewMatrix(int4.NF4_64, rows, cols, data)
		m32, _ := NewMatrix(int4.NF4, rows, cols, bnb64To32(data))
		x := randVec(r, cols)
		y := make([]float32, rows)
		b.Run(fmt.Sprintf("%dx%d", rows, cols), func(b *testing.B) {
			var t64, t32 time.Duration
			const round = 20
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				for k := 0; k < round; k++ {
					p.MatVec(m32, x, y)
				}
				t1 := time.Now()
				for k := 0; k < round; k++ {
					p.MatVec(m64, x, y)
				}
				t2 := time.Now()
				t32 += t1.Sub(t0)
				t64 += t2.Sub(t1)
			}
			n := float64(b.N * round)
			b.ReportMetric(float64(t32.Nanoseconds())/n, "NF4-ns/call")
			b.ReportMetric(float64(t64.Nanoseconds())/n, "NF4_64-ns/call")
			b.ReportMetric(float64(t64)/float64(t32), "64/32")
		})
	}
}
