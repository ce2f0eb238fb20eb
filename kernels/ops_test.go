package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestExpF32Accuracy compares ExpF32 with math.Exp over its range (within 3 float32
// ulps) and checks the clamped ends.
func TestExpF32Accuracy(t *testing.T) {
	r := rand.New(rand.NewPCG(41, 42))
	worst := 0.0
	check := func(x float32) {
		want := math.Exp(float64(x))
		got := float64(ExpF32(x))
		rel := math.Abs(got-want) / want
		worst = max(worst, rel)
		if rel > 3*0x1p-23 {
			t.Fatalf("ExpF32(%v) = %v, math.Exp gives %v (relative error %.3g)", x, got, want, rel)
		}
	}
	for i := 0; i < 200000; i++ {
		check(float32(r.Float64()*175 - 87))
	}
	for i := 0; i < 20000; i++ {
		check(float32(r.NormFloat64()))
	}
	for _, x := range []float32{0, float32(math.Copysign(0, -1)), 1, -1, 0.5, -0.5, 0.34657359, -0.34657359, -87, 88, 1e-8, -1e-8} {
		check(x)
	}
	if ExpF32(0) != 1 {
		t.Errorf("ExpF32(0) = %v, want 1", ExpF32(0))
	}
	if got, want := ExpF32(-1000), ExpF32(-87); got != want || got <= 0 {
		t.Errorf("ExpF32(-1000) = %v, want ExpF32(-87) = %v > 0", got, want)
	}
	if got, want := ExpF32(1000), ExpF32(88); got != want || math.IsInf(float64(got), 0) {
		t.Errorf("ExpF32(1000) = %v, want ExpF32(88) = %v (finite)", got, want)
	}
	t.Logf("largest relative error %.3g (%.2f ulp)", worst, worst/0x1p-23)
}

// opsInputs returns n values: mostly normal, some large (clamped by ExpF32), some
// zeros of both signs.
func opsInputs(r *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		switch i % 11 {
		case 3:
			x[i] = float32(r.Float64()*400 - 200)
		case 7:
			x[i] = float32(math.Copysign(0, float64(i%2)-0.5))
		default:
			x[i] = float32(r.NormFloat64() * 4)
		}
	}
	return x
}

// TestOpsImplsMatchGeneric runs every element-wise implementation against the generic
// one, bit for bit, on lengths with odd tails, with guards around the outputs.
func TestOpsImplsMatchGeneric(t *testing.T) {
	r := rand.New(rand.NewPCG(43, 44))
	for _, im := range opsImpls[1:] {
		for _, n := range []int{1, 2, 7, 8, 9, 15, 16, 17, 31, 64, 100, 5632} {
			g := opsInputs(r, n)
			u := opsInputs(r, n)
			want := append([]float32(nil), g...)
			swigluGeneric(want, u)
			got, ok := guarded(n)
			copy(got, g)
			im.swiglu(got, u)
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("%s swiglu n=%d: [%d] (gate %v, up %v) = %v, generic %v", im.name, n, i, g[i], u[i], got[i], want[i])
				}
			}
			if !ok() {
				t.Fatalf("%s swiglu n=%d wrote outside its output", im.name, n)
			}

			m := float32(r.NormFloat64())
			want = append(want[:0], g...)
			expSubGeneric(want, m)
			got, ok = guarded(n)
			copy(got, g)
			im.expSub(got, m)
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("%s expSub n=%d m=%v: [%d] (x %v) = %v, generic %v", im.name, n, m, i, g[i], got[i], want[i])
				}
			}
			if !ok() {
				t.Fatalf("%s expSub n=%d wrote outside its output", im.name, n)
			}
		}
	}
}

// TestSwiGLUSoftmaxAccuracy compares SwiGLU and Softmax with float64 math.
func TestSwiGLUSoftmaxAccuracy(t *testing.T) {
	r := rand.New(rand.NewPCG(45, 46))
	g, u := opsInputs(r, 1000), opsInputs(r, 1000)
	out := append([]float32(nil), g...)
	SwiGLU(out, u)
	for i := range g {
		z, w := float64(g[i]), float64(u[i])
		want := z / (1 + math.Exp(-z)) * w
		if z < -87 { // e^-z clamped to e^88: silu(z) is below 1e-35 either way
			if math.Abs(float64(out[i])) > 1e-35*math.Abs(w) {
				t.Fatalf("SwiGLU(%v, %v) = %v, want about 0", g[i], u[i], out[i])
			}
			continue
		}
		if d := math.Abs(float64(out[i]) - want); d > 1e-6*math.Abs(want)+1e-37 {
			t.Fatalf("SwiGLU(%v, %v) = %v, want %v", g[i], u[i], out[i], want)
		}
	}
	x := opsInputs(r, 300)
	ref := make([]float64, len(x))
	mx, sum := math.Inf(-1), 0.0
	for _, v := range x {
		mx = max(mx, float64(v))
	}
	for i, v := range x {
		ref[i] = math.Exp(float64(v) - mx)
		sum += ref[i]
	}
	Softmax(x)
	for i := range x {
		if d := math.Abs(float64(x[i]) - ref[i]/sum); d > 1e-6 {
			t.Fatalf("Softmax[%d] = %v, want %v", i, x[i], ref[i]/sum)
		}
	}
}

func BenchmarkSwiGLU(b *testing.B) {
	r := rand.New(rand.NewPCG(47, 48))
	g, u := opsInputs(r, 5632), opsInputs(r, 5632)
	for _, im := range opsImpls {
		b.Run(im.name, func(b *testing.B) {
			buf := make([]float32, len(g))
			b.SetBytes(int64(4 * len(g)))
			for b.Loop() {
				copy(buf, g)
				im.swiglu(buf, u)
			}
		})
	}
}

func BenchmarkSwiGLUMathExp(b *testing.B) {
	r := rand.New(rand.NewPCG(47, 48))
	g, u := opsInputs(r, 5632), opsInputs(r, 5632)
	buf := make([]float32, len(g))
	for b.Loop() {
		copy(buf, g)
		for i, v := range buf {
			buf[i] = v / (1 + float32(math.Exp(float64(-v)))) * u[i]
		}
	}
}

// TestMixF32 checks MixF32 against clearing o and one Axpy per row (bit for bit, with
// the active implementation), over head sizes with odd tails, strides and row counts,
// with guards around o (which starts as garbage); and every SIMD mix implementation
// against the axpy loop of the float32 implementation of the same name.
func TestMixF32(t *testing.T) {
	r := rand.New(rand.NewPCG(49, 50))
	for _, hd := range []int{1, 3, 8, 13, 32, 40, 64, 71, 128} {
		for _, nt := range []int{0, 1, 2, 5, 33, 97} {
			stride := hd + r.IntN(3)*8
			v := randVec(r, max(1, nt*stride))
			w := randVec(r, nt)
			want := make([]float32, hd)
			for t := range w {
				Axpy(want, w[t], v[t*stride:])
			}
			check := func(name string, mix func(o, w, v []float32, stride int), want []float32) {
				got, ok := guarded(hd)
				for i := range got {
					got[i] = 42
				}
				mix(got, w, v, stride)
				for i := range want {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("%s hd=%d nt=%d stride=%d: o[%d] = %v, axpy loop gives %v", name, hd, nt, stride, i, got[i], want[i])
					}
				}
				if !ok() {
					t.Fatalf("%s hd=%d nt=%d: wrote outside o", name, hd, nt)
				}
			}
			check("MixF32", MixF32, want)
			for _, im := range opsImpls[1:] { // the generic one is the axpy loop itself
				for _, f := range impls { // the float32 implementation the mix kernel matches
					if f.name == im.name {
						ref := make([]float32, hd)
						for t := range w {
							f.axpyF32(ref, w[t], v[t*stride:t*stride+hd])
						}
						check(im.name, im.mix, ref)
					}
				}
			}
		}
	}
}

func BenchmarkAttentionMix(b *testing.B) {
	r := rand.New(rand.NewPCG(51, 52))
	const hd, nt, stride = 64, 96, 256
	v, w, o := randVec(r, nt*stride), randVec(r, nt), make([]float32, hd)
	b.Run("axpy", func(b *testing.B) {
		for b.Loop() {
			mixAxpy(o, w, v, stride)
		}
	})
	b.Run("MixF32", func(b *testing.B) {
		for b.Loop() {
			MixF32(o, w, v, stride)
		}
	})
}

// TestRopeAngles checks that Angles + ApplyAngles give Apply's results bit for bit, for
// both pairings, a scaled position and llama3-style frequency factors.
func TestRopeAngles(t *testing.T) {
	r := rand.New(rand.NewPCG(53, 54))
	for _, tab := range []*RopeTable{
		NewRopeTable(64, 10000, false, 1, nil),
		NewRopeTable(64, 500000, true, 0.25, []float32{1, 2, 4, 8}),
		NewRopeTable(32, 10000, true, 1, nil), // partial rotation of 64-element heads
	} {
		for _, pos := range []int{0, 1, 95, 4097} {
			x := randVec(r, 4*64)
			want := append([]float32(nil), x...)
			tab.Apply(want, 4, 64, pos)
			cs := make([]float32, tab.Dims)
			tab.Angles(cs, pos)
			tab.ApplyAngles(x, 4, 64, cs)
			for i := range x {
				if math.Float32bits(x[i]) != math.Float32bits(want[i]) {
					t.Fatalf("dims %d neox %v pos %d: [%d] = %v, Apply gives %v", tab.Dims, tab.Neox, pos, i, x[i], want[i])
				}
			}
		}
	}
}

// TestNormAddImplsMatchGeneric runs every implementation's sum of squares, scaled
// product and add against the generic ones, bit for bit, on lengths with odd tails and
// with guards around the outputs; and checks RMSNorm against float64 math.
func TestNormAddImplsMatchGeneric(t *testing.T) {
	r := rand.New(rand.NewPCG(55, 56))
	for _, im := range opsImpls[1:] {
		for _, n := range []int{0, 1, 7, 8, 9, 15, 16, 17, 63, 2048, 5632} {
			x, w := opsInputs(r, n), opsInputs(r, n)
			if got, want := im.sumSq(x), sumSqGeneric(x); math.Float64bits(got) != math.Float64bits(want) {
				t.Fatalf("%s sumSq n=%d: %v, generic %v", im.name, n, got, want)
			}
			s := float32(r.NormFloat64())
			want := make([]float32, n)
			scaleMulGeneric(want, x, w, s)
			got, ok := guarded(n)
			im.scaleMul(got, x, w, s)
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("%s scaleMul n=%d: [%d] = %v, generic %v", im.name, n, i, got[i], want[i])
				}
			}
			if !ok() {
				t.Fatalf("%s scaleMul n=%d wrote outside dst", im.name, n)
			}
			copy(want, x)
			addGeneric(want, w)
			got, ok = guarded(n)
			copy(got, x)
			im.add(got, w)
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("%s add n=%d: [%d] = %v, generic %v", im.name, n, i, got[i], want[i])
				}
			}
			if !ok() {
				t.Fatalf("%s add n=%d wrote outside dst", im.name, n)
			}
		}
	}
	for _, n := range []int{1, 13, 2048} {
		x, w := randVec(r, n), randVec(r, n)
		var ss float64
		for _, v := range x {
			ss += float64(v) * float64(v)
		}
		scale := 1 / math.Sqrt(ss/float64(n)+1e-5)
		out := make([]float32, n)
		RMSNorm(out, x, w, 1e-5)
		for i := range x {
			want := float64(x[i]) * scale * float64(w[i])
			if d := math.Abs(float64(out[i]) - want); d > 1e-6*math.Abs(want)+1e-30 {
				t.Fatalf("RMSNorm n=%d: [%d] = %v, want %v", n, i, out[i], want)
			}
		}
		RMSNorm(x, x, w, 1e-5) // in place
		for i := range x {
			if x[i] != out[i] {
				t.Fatalf("RMSNorm in place n=%d: [%d] = %v, want %v", n, i, x[i], out[i])
			}
		}
	}
}
