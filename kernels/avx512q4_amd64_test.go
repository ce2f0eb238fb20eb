//go:build !purego

package kernels

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/edgerun/edgerun/int4"
)

// The AVX-512 Q4_0 and float kernels run under Bochs (bochs_amd64_test.go); each
// case's expected bytes are the AVX2 function's output run natively on the same
// inputs (the contract: bit for bit), and the harness checks the guards around every
// output.

// q4bF16 returns an fp16 scale: mostly ordinary, sometimes zero, a subnormal or the
// largest finite value, either sign; with special, one in 16 is infinite or a NaN (a
// corrupt file: the kernels keep the AVX2 operand order, so even NaN payloads come out
// the same). Only some cases have special values, since they spread to whole rows.
func q4bF16(r *rand.Rand, special bool) uint16 {
	var h uint16
	switch r.IntN(8) {
	case 0:
		h = 0
	case 1:
		h = uint16(1 + r.IntN(0x3ff)) // subnormal
	case 2:
		h = 0x7bff // 65504
	default:
		h = int4.F32ToF16(float32(r.NormFloat64()) * 0.02)
	}
	if special && r.IntN(16) == 0 {
		h = 0x7c00 // infinite
		if r.IntN(2) == 0 {
			h = 0x7e00 | uint16(r.IntN(0x200)) // NaN with a payload
		}
	}
	if r.IntN(2) == 0 {
		h |= 0x8000
	}
	return h
}

// q4bNibbles fills b with random nibbles, some runs all 0 or all 15.
func q4bNibbles(r *rand.Rand, b []byte) {
	switch r.IntN(6) {
	case 0:
		clear(b)
	case 1:
		for i := range b {
			b[i] = 0xff
		}
	default:
		for i := range b {
			b[i] = byte(r.Uint32())
		}
	}
}

// q4bAct returns nb random activation blocks (q, d, c as q8Act holds them), some
// blocks all ±127, some scales zero or subnormal.
func q4bAct(r *rand.Rand, nb int) (q []int8, d []float32, c []int32) {
	q, d, c = make([]int8, 32*nb), make([]float32, nb), make([]int32, 8*nb)
	for b := range nb {
		k := r.IntN(6)
		for e := range 32 {
			switch k {
			case 0:
				q[32*b+e] = 127
			case 1:
				q[32*b+e] = -127
			case 2:
				q[32*b+e] = int8(127 - 254*(e&1))
			default:
				q[32*b+e] = int8(r.IntN(255) - 127)
			}
		}
		switch r.IntN(8) {
		case 0:
			d[b] = 0
		case 1:
			d[b] = math.Float32frombits(uint32(1 + r.IntN(1<<23))) // subnormal
		default:
			d[b] = float32(r.ExpFloat64()) * 0.05
		}
	}
	q8LaneSums(q, c)
	return
}

// q4bNBs are the block counts of the Bochs cases: 1..9 and a long row.
var q4bNBs = []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 130}

// TestQ4_0AVX512Bochs checks q4_0Rows8AVX512 (groups 1..5: one and two 16-row
// passes, odd last groups; padded rows) and q4_0Gemm8x4AVX512 (tiles from
// q4_0Interleave8AVX2 and random ones; groups of 4 tokens, some with only token 0
// set) against their AVX2 versions, bit for bit.
func TestQ4_0AVX512Bochs(t *testing.T) {
	needAVX2(t)
	vm := newBochsVM(t)
	r := rand.New(rand.NewPCG(4, 0))
	for _, groups := range []int{1, 2, 3, 4, 5} {
		for _, nb := range q4bNBs {
			if groups > 3 && nb > 9 {
				continue
			}
			rowBytes := 18*nb + r.IntN(3)*7
			w := make([]byte, 8*groups*rowBytes)
			for row := range 8 * groups {
				for b := range nb {
					blk := w[row*rowBytes+18*b:]
					h := q4bF16(r, groups == 2)
					blk[0], blk[1] = byte(h), byte(h>>8)
					q4bNibbles(r, blk[2:18])
				}
			}
			q, d, c := q4bAct(r, nb)
			want := make([]float32, 8*groups)
			q4_0Rows8AVX2(&w[0], rowBytes, groups, &q[0], &d[0], &c[0], nb, &want[0])
			y := vm.Out(4 * len(want))
			vm.Call("q4_0Rows8AVX512", bochsIn(vm, w), rowBytes, groups, bochsIn(vm, q), bochsIn(vm, d), bochsIn(vm, c), nb, y)
			vm.Expect(fmt.Sprintf("q4_0Rows8AVX512 groups=%d nb=%d rowBytes=%d", groups, nb, rowBytes), y, f32Bytes(want))
		}
	}
	for _, nb := range q4bNBs {
		for _, one := range []bool{false, true} {
			rowBytes := 18 * nb
			w := make([]byte, 8*rowBytes)
			for row := range 8 {
				for b := range nb {
					blk := w[row*rowBytes+18*b:]
					h := q4bF16(r, one)
					blk[0], blk[1] = byte(h), byte(h>>8)
					q4bNibbles(r, blk[2:18])
				}
			}
			tile := make([]byte, nb*q4x8BlockBytes)
			q4_0Interleave8AVX2(&w[0], rowBytes, nb, &tile[0])
			g := make([]byte, nb*gqBlockBytes)
			for tok := range 4 {
				if one && tok > 0 {
					break // a group with one token (the rest zero)
				}
				q, d, c := q4bAct(r, nb)
				for b := range nb {
					blk := g[b*gqBlockBytes:]
					for k := range 32 {
						blk[32*tok+k] = byte(q[32*b+k])
					}
					var s int32
					for _, v := range c[8*b : 8*b+8] {
						s += v
					}
					binary.LittleEndian.PutUint32(blk[128+4*tok:], uint32(s))
					binary.LittleEndian.PutUint32(blk[144+4*tok:], math.Float32bits(d[b]))
				}
			}
			var want [32]float32
			q4_0Gemm8x4AVX2(&tile[0], nb, &g[0], &want[0])
			out := vm.Out(4 * 32)
			vm.Call("q4_0Gemm8x4AVX512", bochsIn(vm, tile), nb, bochsIn(vm, g), out)
			vm.Expect(fmt.Sprintf("q4_0Gemm8x4AVX512 nb=%d one=%v", nb, one), out, f32Bytes(want[:]))
		}
	}
	vm.Run()
}

// q4bF32 fills s with random floats: mostly normal of either sign and various
// magnitudes, some zeros, subnormals and large values.
func q4bF32(r *rand.Rand, s []float32) {
	for i := range s {
		switch r.IntN(16) {
		case 0:
			s[i] = 0
		case 1:
			s[i] = math.Float32frombits(uint32(1+r.IntN(1<<23)) | uint32(r.IntN(2))<<31)
		case 2:
			s[i] = float32(r.NormFloat64()) * 1e30
		default:
			s[i] = float32(r.NormFloat64() * math.Exp(r.NormFloat64()*3))
		}
	}
}

// q4bFloatNs are the vector lengths of the float kernels' Bochs cases: every tail
// of the blocks of 32, 16 and 8 and a long one.
var q4bFloatNs = []int{1, 2, 7, 8, 9, 15, 16, 17, 24, 31, 32, 33, 40, 47, 48, 63, 64, 65, 95, 100, 1029}

// TestFloatAVX512Bochs checks f32RowsAVX512, f16RowsAVX512 and axpyF32AVX512 against
// their AVX2 versions, bit for bit (dotF32AVX512, f32RowsAVX512's loop on one row
// with the result returned, is checked by TestDotF32AVX512Bochs).
func TestFloatAVX512Bochs(t *testing.T) {
	needAVX2(t)
	vm := newBochsVM(t)
	r := rand.New(rand.NewPCG(4, 1))
	for _, n := range q4bFloatNs {
		rows := 1 + r.IntN(3)
		stride := n + r.IntN(3)
		x := make([]float32, n)
		q4bF32(r, x)
		xa := bochsIn(vm, x)

		w := make([]float32, (rows-1)*stride+n)
		q4bF32(r, w)
		want := make([]float32, rows)
		f32RowsAVX2(&w[0], stride, rows, &x[0], n, &want[0])
		y := vm.Out(4 * rows)
		vm.Call("f32RowsAVX512", bochsIn(vm, w), stride, rows, xa, n, y)
		vm.Expect(fmt.Sprintf("f32RowsAVX512 n=%d rows=%d stride=%d", n, rows, stride), y, f32Bytes(want))

		h := make([]byte, 2*((rows-1)*stride+n))
		for i := 0; i < len(h); i += 2 {
			v := q4bF16(r, n <= 33)
			if r.IntN(8) == 0 {
				v = uint16(r.Uint32()) &^ 0x7c00 // any mantissa, subnormal or zero
			} else if r.IntN(8) == 0 {
				v = uint16(r.Uint32())
				if v&0x7c00 == 0x7c00 {
					v &^= 0x4000 // finite
				}
			}
			h[i], h[i+1] = byte(v), byte(v>>8)
		}
		want = make([]float32, rows)
		f16RowsAVX2(&h[0], 2*stride, rows, &x[0], n, &want[0])
		y = vm.Out(4 * rows)
		vm.Call("f16RowsAVX512", bochsIn(vm, h), 2*stride, rows, xa, n, y)
		vm.Expect(fmt.Sprintf("f16RowsAVX512 n=%d rows=%d stride=%d", n, rows, stride), y, f32Bytes(want))

		// axpy twice on an output region (its 0xA5 fill is the first dst): a = 1 puts
		// x0 (nearly) into it, then a random a and x.
		x0 := make([]float32, n)
		q4bF32(r, x0)
		a := float32(r.NormFloat64())
		if r.IntN(4) == 0 {
			a = math.Float32frombits(uint32(1 + r.IntN(1<<23)))
		}
		dst := make([]float32, n)
		for i := range dst {
			dst[i] = math.Float32frombits(0xa5a5a5a5)
		}
		axpyF32AVX2(&dst[0], &x0[0], n, 1)
		axpyF32AVX2(&dst[0], &x[0], n, a)
		y = vm.Out(4 * n)
		vm.Call("axpyF32AVX512", y, bochsIn(vm, x0), n, float32(1))
		vm.Call("axpyF32AVX512", y, xa, n, a)
		vm.Expect(fmt.Sprintf("axpyF32AVX512 n=%d", n), y, f32Bytes(dst))
	}
	vm.Run()
}

// TestAVX512Q4Wiring checks natively what avx512Q4 sets on the avx512 implementation
// (whose kernels cannot run here): the Q4_0 decode and GEMM, the float32 and F16
// kernels, with the AVX-512 entry points behind the shared wrappers, and the Q4_0
// tile builder inherited from avx2 (the GEMM reads the AVX2 tile layout).
func TestAVX512Q4Wiring(t *testing.T) {
	var avx2 *impl
	for _, im := range impls {
		if im.name == "avx2" {
			avx2 = im
		}
	}
	if avx2 == nil {
		t.Skip("no avx2 implementation")
	}
	im := avx512Impl(avx2)
	if im.q4_0 == nil || im.q4_0x8x4 == nil || im.dotF32 == nil || im.axpyF32 == nil || im.f32Rows == nil || im.kt.f16 == nil {
		t.Fatal("avx512: a Q4_0 or float kernel is not set")
	}
	fp := func(f any) uintptr { return reflect.ValueOf(f).Pointer() }
	if fp(im.q4_0x8il) != fp(avx2.q4_0x8il) {
		t.Error("avx512: the Q4_0 tile builder is not the avx2 one")
	}
	if fp(q4_0AVX512.rows8) != fp(q4_0Rows8AVX512) || fp(q4_0AVX512.gemm) != fp(q4_0Gemm8x4AVX512) {
		t.Error("q4_0AVX512 does not hold the AVX-512 entry points")
	}
	if fp(q4_0AVX2.rows8) != fp(q4_0Rows8AVX2) || fp(q4_0AVX2.gemm) != fp(q4_0Gemm8x4AVX2) {
		t.Error("q4_0AVX2 does not hold the AVX2 entry points")
	}
	for _, f := range []struct {
		name       string
		avx2, v512 any
	}{{"dot", avx2.dotF32, im.dotF32}, {"axpy", avx2.axpyF32, im.axpyF32}, {"f32 rows", avx2.f32Rows, im.f32Rows}, {"f16 rows", avx2.kt.f16, im.kt.f16}} {
		if fp(f.avx2) == fp(f.v512) {
			t.Errorf("avx512: the %s kernel is avx2's", f.name)
		}
	}
}
