//go:build !purego

package kernels

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/edgerun/edgerun/int4"
)

// Tests of the AVX-512 codebook and Q8_0 kernels (nib_avx512_amd64.s). They run under
// Bochs (EDGERUN_BOCHS=1), one assembly call per case in one boot per kernel family;
// the expected bytes are the AVX2 kernel's, run natively on the same inputs, and the
// harness fails on a changed guard byte around the outputs.

// nibBochsShapes are the (groups of 8 rows, blocks) decode cases: groups 1..3 with
// 1..9 blocks, and a large one.
func nibBochsShapes() [][2]int {
	var s [][2]int
	for g := 1; g <= 3; g++ {
		for nb := 1; nb <= 9; nb++ {
			s = append(s, [2]int{g, nb})
		}
	}
	return append(s, [2]int{4, 67})
}

// randNibWeights returns rows rows of rowBytes bytes holding nb blocks of bsz bytes:
// random quant bytes (every nibble and int8 value, -128 included), every fifth row's
// quant bytes all 0xff and the next one's all 0x00 (the extreme codes), and finite
// random scales at the start of each block (fp16 when f16, else float32 absmax).
func randNibWeights(r *rand.Rand, rows, rowBytes, nb, bsz int, f16 bool) []byte {
	w := make([]byte, rows*rowBytes)
	for i := range w {
		w[i] = byte(r.Uint32())
	}
	for row := 0; row < rows; row++ {
		for b := 0; b < nb; b++ {
			blk := w[row*rowBytes+b*bsz : row*rowBytes+(b+1)*bsz]
			sh := 4
			if f16 {
				h := int4.F32ToF16(float32(r.NormFloat64() * 0.01))
				blk[0], blk[1] = byte(h), byte(h>>8)
				sh = 2
			} else {
				binary.LittleEndian.PutUint32(blk, math.Float32bits(float32(math.Abs(r.NormFloat64()))))
			}
			switch row % 5 {
			case 3:
				for i := sh; i < bsz; i++ {
					blk[i] = 0xff
				}
			case 4:
				for i := sh; i < bsz; i++ {
					blk[i] = 0
				}
			}
		}
	}
	return w
}

// randActBlocks returns nb quantized activation blocks with scales: random values in
// [-127, 127], every fourth block all 127 and the next all -127.
func randActBlocks(r *rand.Rand, nb int) ([]int8, []float32) {
	q := make([]int8, nb*qBlock)
	d := make([]float32, nb)
	for b := 0; b < nb; b++ {
		for j := 0; j < qBlock; j++ {
			switch b % 4 {
			case 2:
				q[b*qBlock+j] = 127
			case 3:
				q[b*qBlock+j] = -127
			default:
				q[b*qBlock+j] = int8(r.IntN(255) - 127)
			}
		}
		d[b] = float32(r.Float64() * 0.05)
	}
	return q, d
}

// TestPrepBiasMatchesSpec checks prepBiasAVX2 (natively) byte for byte against
// biasBlocks and permBiasBlocks, with a guard after the output.
func TestPrepBiasMatchesSpec(t *testing.T) {
	needAVX2(t)
	r := rand.New(rand.NewPCG(61, 62))
	for _, k := range []*actPrep{biasPrepAVX2, permBiasPrepAVX2} {
		for _, nb := range []int{1, 2, 3, 17, 64, 600} {
			q, _ := randActBlocks(r, nb)
			q[0], q[len(q)-1] = -127, 127
			want := make([]byte, nb*prepBlockBytes)
			k.spec(q, want)
			got := bytes.Repeat([]byte{0xa5}, nb*prepBlockBytes+64)
			k.fill(q, got[:nb*prepBlockBytes])
			if !bytes.Equal(got[:len(want)], want) {
				t.Fatalf("nb=%d: prepared blocks differ from the specification", nb)
			}
			if !bytes.Equal(got[len(want):], bytes.Repeat([]byte{0xa5}, 64)) {
				t.Fatalf("nb=%d: preparation wrote past its output", nb)
			}
		}
	}
	// The sum term: all 32 values -127 give 128·127·32.
	q := make([]int8, qBlock)
	for i := range q {
		q[i] = -127
	}
	dst := make([]byte, prepBlockBytes)
	biasPrepAVX2.fill(q, dst)
	if v := int32(binary.LittleEndian.Uint32(dst[32:])); v != 128*127*32 {
		t.Fatalf("bias of an all -127 block: %d, want %d", v, 128*127*32)
	}
}

// TestAVX512NibPreps checks natively what avx512Nib registers around the kernels the
// Bochs tests run: per type, the avx512 decode reads the preparation its kernel is
// tested with there (IQ4_NL: biasPrepAVX2, the NF4/FP4 family: permBiasPrepAVX2; the
// avx2 one differs), the fill is its definition, the GEMM spec packs its groups as the
// avx2 one, and Q8_0 is set.
func TestAVX512NibPreps(t *testing.T) {
	needAVX2(t)
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
	r := rand.New(rand.NewPCG(71, 72))
	const nb = 9
	q, _ := randActBlocks(r, nb)
	for _, typ := range []int4.Type{int4.IQ4_NL, int4.NF4, int4.FP4, int4.NF4_64, int4.FP4_64} {
		p2, p5 := avx2.kt.q[typ], im.kt.q[typ]
		want := permBiasPrepAVX2
		if typ == int4.IQ4_NL {
			want = biasPrepAVX2
		}
		if p5.prep != want || p5.prep == p2.prep || p5.rowsP == nil || p5.gemm.kern == nil {
			t.Fatalf("%v: avx512 decode or GEMM not registered with its preparation", typ)
		}
		if p5.gemm.perm != p2.gemm.perm || p5.gemm.blkSize != p2.gemm.blkSize {
			t.Fatalf("%v: avx512 GEMM spec %+v, avx2 %+v", typ, p5.gemm, p2.gemm)
		}
		x5 := make([]byte, nb*prepBlockBytes)
		f5 := make([]byte, nb*prepBlockBytes)
		p5.prep.spec(q, x5)
		p5.prep.fill(q, f5)
		if !bytes.Equal(x5, f5) {
			t.Fatalf("%v: avx512 preparation differs from its definition", typ)
		}
	}
	if im.q8_0 == nil || im.q8_0gemm.kern == nil || im.q8_0gemm.perm || im.q8_0gemm.blkSize != nibTileBlockBytes {
		t.Fatalf("Q8_0: avx512 kernels not set as expected: %+v", im.q8_0gemm)
	}
}

// TestNibDecodeAVX512Bochs runs iq4nlRows8AVX512 and bnb4Rows8AVX512 (NF4, FP4) on
// blocks prepared by biasPrepAVX2 and compares them with iq4nlRows8AVX2 /
// bnb4Rows8AVX2 on blocks prepared by prepBlocksAVX2.
func TestNibDecodeAVX512Bochs(t *testing.T) {
	needAVX2(t)
	vm := newBochsVM(t)
	r := rand.New(rand.NewPCG(63, 64))
	for _, typ := range []int4.Type{int4.IQ4_NL, int4.NF4, int4.FP4} {
		for _, sh := range nibBochsShapes() {
			groups, nb := sh[0], sh[1]
			bsz := typ.BlockBytes()
			rowBytes := nb*bsz + r.IntN(3)*4
			w := randNibWeights(r, 8*groups, rowBytes, nb, bsz, typ == int4.IQ4_NL)
			q, d := randActBlocks(r, nb)
			xp2 := make([]byte, nb*prepBlockBytes)
			xp5 := make([]byte, nb*prepBlockBytes)
			want := make([]float32, 8*groups)
			y := vm.Out(4 * len(want))
			name := fmt.Sprintf("%v groups=%d nb=%d", typ, groups, nb)
			if typ == int4.IQ4_NL {
				absPrepAVX2.fill(q, xp2)
				biasPrepAVX2.fill(q, xp5)
				iq4nlRows8AVX2(&w[0], rowBytes, groups, &xp2[0], &d[0], nb, &want[0], &iq4nlTab[0])
				vm.Call("iq4nlRows8AVX512", vm.In(w), rowBytes, groups, vm.In(xp5), bochsIn(vm, d), nb, y, bochsIn(vm, iq4nlTab[:]))
			} else {
				tab := bnb4TableOf(typ)
				permPrepAVX2.fill(q, xp2)
				permBiasPrepAVX2.fill(q, xp5)
				bnb4Rows8AVX2(&w[0], rowBytes, groups, &xp2[0], &d[0], nb, &want[0], &tab.w[0], tab.post)
				vm.Call("bnb4Rows8AVX512", vm.In(w), rowBytes, groups, vm.In(xp5), bochsIn(vm, d), nb, y, bochsIn(vm, tab.w[:]), tab.post)
			}
			vm.Expect(name, y, f32Bytes(want))
		}
	}
	vm.Run()
}

// TestBnb64DecodeAVX512Bochs is TestNibDecodeAVX512Bochs for bnb4_64Rows8AVX512
// (NF4_64, FP4_64: 1..9 blocks of 64 elements and a large count).
func TestBnb64DecodeAVX512Bochs(t *testing.T) {
	needAVX2(t)
	vm := newBochsVM(t)
	r := rand.New(rand.NewPCG(65, 66))
	for _, typ := range []int4.Type{int4.NF4_64, int4.FP4_64} {
		tab := bnb4TableOf(typ)
		for _, sh := range nibBochsShapes() {
			groups, nb := sh[0], sh[1] // nb blocks of 64 elements, 2·nb activation blocks
			rowBytes := nb*36 + r.IntN(3)*4
			w := randNibWeights(r, 8*groups, rowBytes, nb, 36, false)
			q, d := randActBlocks(r, 2*nb)
			xp2 := make([]byte, 2*nb*prepBlockBytes)
			xp5 := make([]byte, 2*nb*prepBlockBytes)
			permPrepAVX2.fill(q, xp2)
			permBiasPrepAVX2.fill(q, xp5)
			want := make([]float32, 8*groups)
			bnb4_64Rows8AVX2(&w[0], rowBytes, groups, &xp2[0], &d[0], nb, &want[0], &tab.w[0], tab.post)
			y := vm.Out(4 * len(want))
			vm.Call("bnb4_64Rows8AVX512", vm.In(w), rowBytes, groups, vm.In(xp5), bochsIn(vm, d), nb, y, bochsIn(vm, tab.w[:]), tab.post)
			vm.Expect(fmt.Sprintf("%v groups=%d nb=%d", typ, groups, nb), y, f32Bytes(want))
		}
	}
	vm.Run()
}

// TestQ8_0DecodeAVX512Bochs compares q8_0Rows8AVX512 with q8_0Rows8AVX2 (weights of
// every int8 value, -128 included).
func TestQ8_0DecodeAVX512Bochs(t *testing.T) {
	needAVX2(t)
	vm := newBochsVM(t)
	r := rand.New(rand.NewPCG(67, 68))
	for _, sh := range nibBochsShapes() {
		groups, nb := sh[0], sh[1]
		rowBytes := nb*34 + r.IntN(3)*2
		w := randNibWeights(r, 8*groups, rowBytes, nb, 34, true)
		q, d := randActBlocks(r, nb)
		want := make([]float32, 8*groups)
		q8_0Rows8AVX2(&w[0], rowBytes, groups, &q[0], &d[0], nb, &want[0])
		y := vm.Out(4 * len(want))
		vm.Call("q8_0Rows8AVX512", vm.In(w), rowBytes, groups, bochsIn(vm, q), bochsIn(vm, d), nb, y)
		vm.Expect(fmt.Sprintf("Q8_0 groups=%d nb=%d", groups, nb), y, f32Bytes(want))
	}
	vm.Run()
}

// TestNibGemmAVX512Bochs compares nibGemm8x4AVX512 with nibGemm8x4AVX2 on tiles of
// IQ4_NL, NF4 (post ≠ 1) and Q8_0 rows (int8 weights, -128 included) built by the AVX2
// tile builders, and activation groups with their block sums (gqBlockBytes).
func TestNibGemmAVX512Bochs(t *testing.T) {
	needAVX2(t)
	vm := newBochsVM(t)
	r := rand.New(rand.NewPCG(69, 70))
	nbs := []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 40}
	for _, typ := range []int4.Type{int4.IQ4_NL, int4.NF4, int4.Q8_0} {
		for _, nb := range nbs {
			bsz := typ.BlockBytes()
			rowBytes := nb * bsz
			w := randNibWeights(r, 8, rowBytes, nb, bsz, typ != int4.NF4)
			tile := make([]byte, nb*nibTileBlockBytes)
			post := float32(1)
			switch typ {
			case int4.IQ4_NL:
				iq4nlTile8AVX2Go(w, rowBytes, 8, nb, tile)
			case int4.NF4:
				nf4Tile8AVX2Go(w, rowBytes, 8, nb, tile)
				post = nf4Tab.post
			default:
				q8_0Tile8AVX2Go(w, rowBytes, 8, nb, tile)
			}
			g := make([]byte, nb*gqBlockBytes)
			for tok := 0; tok < 4; tok++ {
				q, d := randActBlocks(r, nb)
				if tok == 3 {
					for i := range q {
						q[i] = -q[i]
					}
				}
				for b := 0; b < nb; b++ {
					blk := g[b*gqBlockBytes : (b+1)*gqBlockBytes]
					var s int32
					for j := 0; j < qBlock; j++ {
						blk[32*tok+j] = byte(q[b*qBlock+j])
						s += int32(q[b*qBlock+j])
					}
					binary.LittleEndian.PutUint32(blk[128+4*tok:], uint32(8*s))
					binary.LittleEndian.PutUint32(blk[144+4*tok:], math.Float32bits(d[b]))
				}
			}
			var want [32]float32
			nibGemm8x4AVX2(&tile[0], nb, &g[0], &want[0], post)
			out := vm.Out(4 * 32)
			vm.Call("nibGemm8x4AVX512", vm.In(tile), nb, vm.In(g), out, post)
			vm.Expect(fmt.Sprintf("%v nb=%d", typ, nb), out, f32Bytes(want[:]))
		}
	}
	vm.Run()
}
