//go:build !purego

package kernels

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/edgerun/edgerun/int4"
)

// TestBochsHarness checks the Bochs call runner on AVX2 kernels, which run natively
// here too: two calls in one boot, with int, pointer and float32 arguments, must give
// the native bytes. It also shows the emulated tigerlake CPU runs the AVX2 code
// the avx512 implementation keeps.
func TestBochsHarness(t *testing.T) {
	needAVX2(t)
	vm := newBochsVM(t)
	r := rand.New(rand.NewPCG(5, 1))

	// q4_0Rows8AVX2: 2 groups of 8 rows, 5 blocks, rows padded to 100 bytes.
	const groups, nb, rowBytes = 2, 5, 100
	w := make([]byte, 8*groups*rowBytes)
	for i := range w {
		w[i] = byte(r.Uint32())
	}
	for row := range 8 * groups {
		for b := range nb {
			h := int4.F32ToF16(float32(r.NormFloat64()) * 0.01)
			w[row*rowBytes+18*b], w[row*rowBytes+18*b+1] = byte(h), byte(h>>8)
		}
	}
	xq := make([]int8, 32*nb)
	xd := make([]float32, nb)
	xc := make([]int32, 8*nb)
	for i := range xq {
		xq[i] = int8(r.IntN(255) - 127)
	}
	for b := range nb {
		xd[b] = float32(r.Float64())
	}
	q8LaneSums(xq, xc)
	want := make([]float32, 8*groups)
	q4_0Rows8AVX2(&w[0], rowBytes, groups, &xq[0], &xd[0], &xc[0], nb, &want[0])
	y := vm.Out(4 * len(want))
	vm.Call("q4_0Rows8AVX2", bochsIn(vm, w), rowBytes, groups, bochsIn(vm, xq), bochsIn(vm, xd), bochsIn(vm, xc), nb, y)

	// nibGemm8x4AVX2 reads a float32 argument after four 8-byte ones.
	tile := make([]byte, nb*nibTileBlockBytes)
	g := make([]byte, nb*gqBlockBytes)
	for i := range tile {
		tile[i] = byte(r.Uint32())
	}
	for i := range g {
		g[i] = byte(r.Uint32())
	}
	for b := range nb { // finite float32 scales in both layouts
		for k := range 8 {
			binary.LittleEndian.PutUint32(tile[b*nibTileBlockBytes+4*k:], math.Float32bits(float32(r.NormFloat64())))
		}
		for k := range 4 {
			binary.LittleEndian.PutUint32(g[b*gqBlockBytes+144+4*k:], math.Float32bits(float32(r.Float64())))
		}
	}
	var wantG [32]float32
	nibGemm8x4AVX2(&tile[0], nb, &g[0], &wantG[0], 0.75)
	out := vm.Out(4 * 32)
	vm.Call("nibGemm8x4AVX2", bochsIn(vm, tile), nb, bochsIn(vm, g), out, float32(0.75))

	// dotF32AVX2 returns its result (read back from the call's frame).
	a, b := make([]float32, 45), make([]float32, 45)
	for i := range a {
		a[i], b[i] = float32(r.NormFloat64()), float32(r.NormFloat64())
	}
	wantDot := dotF32AVX2(&a[0], &b[0], len(a))
	dot := vm.Call("dotF32AVX2", bochsIn(vm, a), bochsIn(vm, b), len(a))

	vm.Run()
	if got := bochsRead[float32](vm, dot, 1)[0]; math.Float32bits(got) != math.Float32bits(wantDot) {
		t.Errorf("dotF32AVX2 under Bochs: %v, native %v", got, wantDot)
	}
	if got := vm.Bytes(y, 4*len(want)); !bytes.Equal(got, f32Bytes(want)) {
		t.Errorf("q4_0Rows8AVX2 under Bochs: %v, native %v", bochsRead[float32](vm, y, len(want)), want)
	}
	if got := bochsRead[float32](vm, out, 32); !bytes.Equal(f32Bytes(got), f32Bytes(wantG[:])) {
		t.Errorf("nibGemm8x4AVX2 under Bochs: %v, native %v", got, wantG)
	}
}

// TestDotF32AVX512Bochs checks dotF32AVX512 against dotF32AVX2, bit for bit, on every
// tail of its blocks of 32 and 8.
func TestDotF32AVX512Bochs(t *testing.T) {
	needAVX2(t)
	vm := newBochsVM(t)
	r := rand.New(rand.NewPCG(5, 2))
	var ns []int
	var rets []uint64
	var wants []float32
	for n := 1; n <= 200; n += 1 + n/16 {
		a, b := make([]float32, n), make([]float32, n)
		for i := range a {
			a[i], b[i] = float32(r.NormFloat64()), float32(r.NormFloat64())
		}
		ns = append(ns, n)
		wants = append(wants, dotF32AVX2(&a[0], &b[0], n))
		rets = append(rets, vm.Call("dotF32AVX512", bochsIn(vm, a), bochsIn(vm, b), n))
	}
	vm.Run()
	for k, n := range ns {
		if got := bochsRead[float32](vm, rets[k], 1)[0]; math.Float32bits(got) != math.Float32bits(wants[k]) {
			t.Errorf("n=%d: dotF32AVX512 %v, dotF32AVX2 %v", n, got, wants[k])
		}
	}
}
