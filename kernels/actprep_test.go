package kernels

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// TestActPrepMatchesSpec checks every implementation's activation preparation (ktPair.prep)
// byte for byte against its Go definition, on block counts with odd tails and a guard
// after the output.
func TestActPrepMatchesSpec(t *testing.T) {
	r := rand.New(rand.NewPCG(51, 52))
	for _, im := range impls {
		for _, typ := range ktTypes {
			k := im.kt.q[typ].prep
			if k == nil {
				continue
			}
			for _, nb := range []int{1, 2, 3, 17, 64, 600} {
				q := make([]int8, nb*qBlock)
				for i := range q {
					q[i] = int8(r.IntN(255) - 127)
				}
				q[0], q[len(q)-1] = -127, 127
				want := make([]byte, nb*prepBlockBytes)
				k.spec(q, want)
				got := bytes.Repeat([]byte{0xa5}, nb*prepBlockBytes+64)
				k.fill(q, got[:nb*prepBlockBytes])
				if !bytes.Equal(got[:len(want)], want) {
					t.Fatalf("%s %v nb=%d: prepared blocks differ from the specification", im.name, typ, nb)
				}
				if !bytes.Equal(got[len(want):], bytes.Repeat([]byte{0xa5}, 64)) {
					t.Fatalf("%s %v nb=%d: preparation wrote past its output", im.name, typ, nb)
				}
			}
		}
	}
}

// TestQ8ActPrepare checks q8Act.prepare and prepped: only the asked rows, per layout,
// prepared again after a new quantization, and not when they already are.
func TestQ8ActPrepare(t *testing.T) {
	r := rand.New(rand.NewPCG(53, 54))
	const cols = 96
	var a q8Act
	abs, perm := &actPrep{spec: absBlocks, fill: absBlocks}, &actPrep{spec: permBlocks, fill: permBlocks}
	calls := 0
	counting := &actPrep{spec: absBlocks, fill: func(q []int8, dst []byte) { calls++; absBlocks(q, dst) }}
	for round := 0; round < 2; round++ {
		a.quantize(randActs(r, 3, cols), 3, cols)
		if a.prepped(abs, 1) != nil {
			t.Fatalf("round %d: rows prepared before prepare", round)
		}
		a.prepare(abs, 1, 3)
		a.prepare(perm, 0, 1)
		a.prepare(counting, 0, 1)
		a.prepare(counting, 0, 1)
		if calls != round+1 {
			t.Fatalf("round %d: the same rows were prepared %d times", round, calls-round)
		}
		if a.prepped(abs, 0) != nil || a.prepped(perm, 1) != nil {
			t.Fatalf("round %d: prepped returns rows that were not prepared", round)
		}
		for i, k := range map[int]*actPrep{1: abs, 2: abs, 0: perm} {
			q, _, _ := a.row(i)
			want := make([]byte, cols/qBlock*prepBlockBytes)
			k.spec(q, want)
			if !bytes.Equal(a.prepped(k, i), want) {
				t.Fatalf("round %d: row %d prepared wrong", round, i)
			}
		}
	}
}
