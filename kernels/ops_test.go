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
