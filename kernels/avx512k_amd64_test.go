//go:build !purego

package kernels

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/edgerun/edgerun/int4"
)

// The AVX-512 Q4_K and Q6_K kernels (k_avx512_amd64.s) run under Bochs, one call at a
// time; the expected bytes are the AVX2 kernels' results on the same inputs, run
// natively (the contract: bit for bit). The harness checks the guards around outputs.

// k5Byte returns a random byte for mode 0, one of extremes for mode 1 and either for
// mode 2 (a case's value distribution: random, at the limits, mixed).
func k5Byte(r *rand.Rand, mode int, extremes []byte) byte {
	if mode == 1 || (mode == 2 && r.IntN(2) == 0) {
		return extremes[r.IntN(len(extremes))]
	}
	return byte(r.Uint32())
}

// k5Act returns n blocks of int8 activations (|x| ≤ 127, as q8Quant makes them), their
// scales and lane offsets xc (8·Σ of each 4 values).
func k5Act(r *rand.Rand, mode, nb int) ([]int8, []float32, []int32) {
	xq := make([]int8, 32*nb)
	xd := make([]float32, nb)
	xc := make([]int32, 8*nb)
	for i := range xq {
		switch {
		case mode == 1 || (mode == 2 && r.IntN(3) == 0):
			xq[i] = int8(127 - 254*r.IntN(2))
		default:
			xq[i] = int8(r.IntN(255) - 127)
		}
	}
	for b := range nb {
		xd[b] = float32(r.NormFloat64())
	}
	q8LaneSums(xq, xc)
	return xq, xd, xc
}

// k5Q4K returns rows Q4_K rows of nsb super-blocks, rowBytes apart.
func k5Q4K(r *rand.Rand, mode, rows, nsb, rowBytes int) []byte {
	w := make([]byte, rows*rowBytes)
	for i := range w {
		w[i] = k5Byte(r, mode, []byte{0x00, 0xff, 0x0f, 0xf0, 0x3f, 0xc0})
	}
	for row := range rows {
		for k := range nsb {
			o := row*rowBytes + 144*k
			binary.LittleEndian.PutUint16(w[o:], int4.F32ToF16(float32(r.NormFloat64())*0.01))
			binary.LittleEndian.PutUint16(w[o+2:], int4.F32ToF16(float32(r.NormFloat64())*0.01))
		}
	}
	return w
}

// k5Q6K returns rows Q6_K rows of nsb super-blocks, rowBytes apart.
func k5Q6K(r *rand.Rand, mode, rows, nsb, rowBytes int) []byte {
	w := make([]byte, rows*rowBytes)
	for i := range w {
		w[i] = k5Byte(r, mode, []byte{0x00, 0xff, 0x0f, 0xf0, 0x55, 0xaa})
	}
	for row := range rows {
		for k := range nsb {
			o := row*rowBytes + 210*k
			for s := range 16 { // int8 scales, extremes ±127/-128 too
				w[o+192+s] = k5Byte(r, mode, []byte{0x7f, 0x80, 0x81, 0x3f, 0x01})
			}
			binary.LittleEndian.PutUint16(w[o+208:], int4.F32ToF16(float32(r.NormFloat64())*0.01))
		}
	}
	return w
}

// k5Gq returns nb 4-token activation blocks (gqBlockBytes layout).
func k5Gq(r *rand.Rand, mode, nb int) []byte {
	g := make([]byte, nb*gqBlockBytes)
	for t := range 4 {
		xq, xd, xc := k5Act(r, mode, nb)
		for b := range nb {
			blk := g[b*gqBlockBytes:]
			var c int32
			for e := range 32 {
				blk[32*t+e] = byte(xq[32*b+e])
			}
			for l := range 8 {
				c += xc[8*b+l]
			}
			binary.LittleEndian.PutUint32(blk[128+4*t:], uint32(c))
			binary.LittleEndian.PutUint32(blk[144+4*t:], math.Float32bits(xd[b]))
		}
	}
	return g
}

// k5Shapes are the (groups, super-blocks) of the decode cases; the GEMM cases take
// the super-block counts as block columns too.
var k5Shapes = func() (s [][2]int) {
	for g := 1; g <= 4; g++ {
		for nsb := 1; nsb <= 5; nsb++ {
			s = append(s, [2]int{g, nsb})
		}
		s = append(s, [2]int{g, 11})
	}
	return s
}()

func TestQ4KRows8AVX512Bochs(t *testing.T) {
	needAVX2(t)
	vm := newBochsVM(t)
	r := rand.New(rand.NewPCG(5, 4))
	for _, s := range k5Shapes {
		for mode := range 3 {
			groups, nsb := s[0], s[1]
			rowBytes := nsb*144 + 16*r.IntN(3)
			w := k5Q4K(r, mode, 8*groups, nsb, rowBytes)
			xq, xd, xc := k5Act(r, mode, 8*nsb)
			want := make([]float32, 8*groups)
			q4kRows8AVX2(&w[0], rowBytes, groups, &xq[0], &xd[0], &xc[0], nsb, &want[0])
			y := vm.Out(4 * len(want))
			vm.Call("q4kRows8AVX512", bochsIn(vm, w), rowBytes, groups, bochsIn(vm, xq), bochsIn(vm, xd), bochsIn(vm, xc), nsb, y)
			vm.Expect("q4kRows8 "+k5Name(groups, nsb, mode), y, f32Bytes(want))
		}
	}
	vm.Run()
}

func TestQ4KGemmAVX512Bochs(t *testing.T) {
	needAVX2(t)
	vm := newBochsVM(t)
	r := rand.New(rand.NewPCG(5, 5))
	for _, s := range k5Shapes {
		for mode := range 3 {
			rows, nsb := 8-s[0]+1, s[1] // 6..8 valid rows
			rowBytes := nsb * 144
			w := k5Q4K(r, mode, rows, nsb, rowBytes)
			nb := 8 * nsb
			tile := make([]byte, nb*q4kTileBlockBytes)
			q4kTile8(w, rowBytes, rows, nb, tile)
			for _, cols := range []int{nb, s[1]} { // whole super-blocks and a part
				g := k5Gq(r, mode, cols)
				var want [32]float32
				q4kGemm8x4AVX2(&tile[0], cols, &g[0], &want[0])
				out := vm.Out(4 * 32)
				vm.Call("q4kGemm8x4AVX512", bochsIn(vm, tile), cols, bochsIn(vm, g), out)
				vm.Expect("q4kGemm8x4 "+k5Name(rows, cols, mode), out, f32Bytes(want[:]))
			}
		}
	}
	vm.Run()
}

func TestQ6KRows8AVX512Bochs(t *testing.T) {
	needAVX2(t)
	vm := newBochsVM(t)
	r := rand.New(rand.NewPCG(5, 6))
	for _, s := range k5Shapes {
		for mode := range 3 {
			groups, nsb := s[0], s[1]
			rowBytes := nsb*210 + 6*r.IntN(3)
			w := k5Q6K(r, mode, 8*groups, nsb, rowBytes)
			nb := 8 * nsb
			xq, xd, xc := k5Act(r, mode, nb)
			want := make([]float32, 8*groups)
			q6kRows8AVX2(&w[0], rowBytes, groups, &xq[0], &xd[0], &xc[0], nb, &want[0])
			y := vm.Out(4 * len(want))
			vm.Call("q6kRows8AVX512", bochsIn(vm, w), rowBytes, groups, bochsIn(vm, xq), bochsIn(vm, xd), bochsIn(vm, xc), nb, y)
			vm.Expect("q6kRows8 "+k5Name(groups, nsb, mode), y, f32Bytes(want))
		}
	}
	vm.Run()
}

func TestQ6KGemmAVX512Bochs(t *testing.T) {
	needAVX2(t)
	vm := newBochsVM(t)
	r := rand.New(rand.NewPCG(5, 7))
	for _, s := range k5Shapes {
		for mode := range 3 {
			rows, nsb := 8-s[0]+1, s[1]
			rowBytes := nsb * 210
			w := k5Q6K(r, mode, rows, nsb, rowBytes)
			nb := 8 * nsb
			tile := make([]byte, nb*q6kTileBlockBytes)
			q6kTile8(w, rowBytes, rows, nb, tile)
			for _, cols := range []int{nb, s[1]} {
				g := k5Gq(r, mode, cols)
				var want [32]float32
				q6kGemm8x4AVX2(&tile[0], cols, &g[0], &want[0])
				out := vm.Out(4 * 32)
				vm.Call("q6kGemm8x4AVX512", bochsIn(vm, tile), cols, bochsIn(vm, g), out)
				vm.Expect("q6kGemm8x4 "+k5Name(rows, cols, mode), out, f32Bytes(want[:]))
			}
		}
	}
	vm.Run()
}

func k5Name(a, b, mode int) string {
	return fmt.Sprintf("(%d, %d, mode %d)", a, b, mode)
}

func TestQ6KTileAVX512Bochs(t *testing.T) {
	needAVX2(t)
	vm := newBochsVM(t)
	r := rand.New(rand.NewPCG(5, 8))
	for _, s := range k5Shapes {
		if s[0] > 2 {
			continue
		}
		mode := (s[0] + s[1]) % 3
		nsb := s[1]
		rowBytes := nsb*210 + 6*r.IntN(3)
		w := k5Q6K(r, mode, 8, nsb, rowBytes)
		nb := 8 * nsb
		want := make([]byte, nb*q6kTileBlockBytes)
		q6kTile8AVX2(&w[0], rowBytes, nb, &want[0])
		out := vm.Out(len(want))
		vm.Call("q6kTile8AVX512", bochsIn(vm, w), rowBytes, nb, out)
		vm.Expect("q6kTile8 "+k5Name(8, nsb, mode), out, want)
	}
	vm.Run()
}
