package kernels

import (
	"math"
	"unsafe"
)

// f32View reinterprets little-endian float32 bytes as []float32 without copying.
// edgerun only targets little-endian machines; b must be 4-byte aligned (mmap views
// of GGUF tensors are 32-byte aligned).
func f32View(b []byte) []float32 {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(&b[0])), len(b)/4)
}

// F32View reinterprets little-endian float32 bytes as []float32 without copying.
func F32View(b []byte) []float32 { return f32View(b) }

// DotF32 returns Σ a[i]·b[i] over len(a) elements (b must be at least as long), with
// the active implementation's summation order (see dotF32Generic, the specification).
func DotF32(a, b []float32) float32 { return active.dotF32(a, b) }

// RMSNorm writes dst[i] = x[i] / sqrt(mean(x²) + eps) * w[i]. dst may alias x. The sum
// of squares is taken in float64 (see sumSqGeneric for its order); then
// dst[i] = (x[i]·scale)·w[i] in float32 with scale = float32(1/sqrt(ss/n + eps)).
func RMSNorm(dst, x, w []float32, eps float32) {
	ss := ops.sumSq(x)
	scale := float32(1 / math.Sqrt(ss/float64(len(x))+float64(eps)))
	ops.scaleMul(dst[:len(x)], x, w[:len(x)], scale)
}

// sumSqGeneric returns Σ x[i]² in float64, the specification of opsImpl.sumSq: eight
// lanes (element i of the first len(x) - len(x)%8 into lane i%8), combined as
// ((a0+a4) + (a2+a6)) + ((a1+a5) + (a3+a7)), then the remaining elements added in
// order. Each square of a float32 is exact in float64, so fused and separate
// multiply-adds agree.
func sumSqGeneric(x []float32) float64 {
	var a [8]float64
	i := 0
	for ; i+8 <= len(x); i += 8 {
		for l := range a {
			v := float64(x[i+l])
			a[l] += v * v
		}
	}
	s := ((a[0] + a[4]) + (a[2] + a[6])) + ((a[1] + a[5]) + (a[3] + a[7]))
	for ; i < len(x); i++ {
		v := float64(x[i])
		s += v * v
	}
	return s
}

// scaleMulGeneric writes dst[i] = (x[i]·s)·w[i], the specification of opsImpl.scaleMul.
func scaleMulGeneric(dst, x, w []float32, s float32) {
	x, w = x[:len(dst)], w[:len(dst)]
	for i, v := range x {
		dst[i] = v * s * w[i]
	}
}

// Softmax replaces x by exp(x - max) / Σ exp(x - max), with the exponential of ExpF32
// (computed eight at a time where the CPU allows, with the same results) and the sum
// taken in index order.
func Softmax(x []float32) {
	if len(x) == 0 {
		return
	}
	m := x[0]
	for _, v := range x[1:] {
		if v > m {
			m = v
		}
	}
	ops.expSub(x, m)
	var sum float32
	for _, e := range x {
		sum += e
	}
	inv := 1 / sum
	for i := range x {
		x[i] *= inv
	}
}

// SwiGLU writes gate[i] = silu(gate[i]) * up[i], with silu(z) = z / (1 + e^-z) and e^-z
// from ExpF32: gate[i] = gate[i] / (1 + ExpF32(-gate[i])) * up[i] in float32, computed
// eight at a time where the CPU allows, with the same results.
func SwiGLU(gate, up []float32) { ops.swiglu(gate, up[:len(gate)]) }

// The constants of ExpF32: inputs are clamped to [expLo, expHi] so that 2^n stays a
// normal float32 (n in [-126, 127]); ln 2 is split in a part with few significant bits
// (n·expLn2Hi is exact) and the rest; expP0..expP5 are the coefficients of the
// polynomial for e^r on |r| <= ln(2)/2 (Cephes' expf).
const (
	expLo    float32 = -87
	expHi    float32 = 88
	expLog2e float32 = 1.44269504088896341
	expLn2Hi float32 = 0.693359375
	expLn2Lo float32 = -2.12194440e-4
	expP0    float32 = 1.9875691500e-4
	expP1    float32 = 1.3981999507e-3
	expP2    float32 = 8.3334519073e-3
	expP3    float32 = 4.1665795894e-2
	expP4    float32 = 1.6666665459e-1
	expP5    float32 = 5.0000001201e-1
	expRound float32 = 0x1.8p23 // adding and subtracting it rounds |t| < 2^22 to an integer
)

// ExpF32 returns e^x within a few float32 ulps for x in [-87, 88]; below -87 it returns
// e^-87 (~1.6e-38) and above 88 e^88 (~1.7e38). x must not be NaN. Every step is one
// rounded float32 operation (no fused multiply-adds), so the SIMD versions, which do the
// same operations lane by lane, give the same bits:
//
//	x = min(max(x, -87), 88)
//	n = roundToEven(x·log2e) (as (x·log2e + 1.5·2^23) - 1.5·2^23)
//	r = (x - n·ln2Hi) - n·ln2Lo
//	p = ((((p0·r + p1)·r + p2)·r + p3)·r + p4)·r + p5
//	e^x = ((p·(r·r) + r) + 1) · 2^n
func ExpF32(x float32) float32 {
	x = min(max(x, expLo), expHi)
	n := float32(float32(x*expLog2e)+expRound) - expRound // round to nearest, ties to even
	r := x - float32(n*expLn2Hi)
	r -= float32(n * expLn2Lo)
	p := float32(expP0*r) + expP1
	p = float32(p*r) + expP2
	p = float32(p*r) + expP3
	p = float32(p*r) + expP4
	p = float32(p*r) + expP5
	y := float32(p*float32(r*r)) + r
	y++
	return y * math.Float32frombits(uint32(int32(n)+127)<<23)
}

// expSubGeneric sets x[i] = ExpF32(x[i] - m); the specification of opsImpl.expSub.
func expSubGeneric(x []float32, m float32) {
	for i, v := range x {
		x[i] = ExpF32(v - m)
	}
}

// swigluGeneric is the specification of opsImpl.swiglu (len(up) >= len(gate)).
func swigluGeneric(gate, up []float32) {
	up = up[:len(gate)]
	for i, g := range gate {
		gate[i] = g / (1 + ExpF32(-g)) * up[i]
	}
}

// MixF32 sets o[j] = Σ_t w[t]·v[t·stride + j] for j < len(o) and t < len(w): attention's
// weighted sum of value rows. The result is what clearing o and calling Axpy(o, w[t],
// v[t·stride:]) for t = 0, 1, ... gives, bit for bit; SIMD versions keep o in registers
// across the rows instead of re-reading and re-writing it per row.
func MixF32(o, w, v []float32, stride int) {
	if len(w) > 0 && len(o) > 0 {
		_ = v[(len(w)-1)*stride+len(o)-1]
	}
	ops.mix(o, w, v, stride)
}

// mixAxpy is the specification of opsImpl.mix: the active implementation's Axpy per row.
func mixAxpy(o, w, v []float32, stride int) {
	clear(o)
	for t, a := range w {
		active.axpyF32(o, a, v[t*stride:t*stride+len(o)])
	}
}

// opsImpl is one implementation of the element-wise kernels of the forward pass.
type opsImpl struct {
	name   string
	expSub func(x []float32, m float32)        // x[i] = ExpF32(x[i] - m)
	swiglu func(gate, up []float32)            // gate[i] = gate[i] / (1 + ExpF32(-gate[i])) * up[i]
	mix    func(o, w, v []float32, stride int) // MixF32 (nil: mixAxpy)

	sumSq    func(x []float32) float64            // sumSqGeneric
	scaleMul func(dst, x, w []float32, s float32) // scaleMulGeneric
	add      func(dst, x []float32)               // dst[i] += x[i]
}

// vecOps are an architecture's assembly element-wise kernels, each over the first n
// elements (n a multiple of 8; mix over whole rows); opsOf wraps them.
type vecOps struct {
	expSub   func(x *float32, n int, m float32)
	swiglu   func(gate, up *float32, n int)
	mix      func(o, w, v *float32, hd, nt, stride int)
	sumSq    func(x *float32, n int) float64
	scaleMul func(dst, x, w *float32, n int, s float32)
	add      func(dst, x *float32, n int)
}

// opsOf returns the opsImpl that runs k on the multiple-of-8 part of each slice and the
// generic code on the rest (sumSq: on all of a slice shorter than 8).
func opsOf(name string, k vecOps) *opsImpl {
	return &opsImpl{name: name,
		expSub: func(x []float32, m float32) {
			n := len(x) &^ 7
			if n > 0 {
				k.expSub(&x[0], n, m)
			}
			expSubGeneric(x[n:], m)
		},
		swiglu: func(gate, up []float32) {
			n := len(gate) &^ 7
			if n > 0 {
				up = up[:len(gate)]
				k.swiglu(&gate[0], &up[0], n)
			}
			swigluGeneric(gate[n:], up[n:])
		},
		mix: func(o, w, v []float32, stride int) {
			if len(o) == 0 {
				return
			}
			if len(w) == 0 {
				clear(o)
				return
			}
			_ = v[(len(w)-1)*stride+len(o)-1]
			k.mix(&o[0], &w[0], &v[0], len(o), len(w), stride)
		},
		sumSq: func(x []float32) float64 {
			n := len(x) &^ 7
			if n == 0 {
				return sumSqGeneric(x)
			}
			s := k.sumSq(&x[0], n)
			for _, v := range x[n:] {
				f := float64(v)
				s += f * f
			}
			return s
		},
		scaleMul: func(dst, x, w []float32, s float32) {
			n := len(dst) &^ 7
			if n > 0 {
				x, w = x[:len(dst)], w[:len(dst)]
				k.scaleMul(&dst[0], &x[0], &w[0], n, s)
			}
			scaleMulGeneric(dst[n:], x[n:], w[n:], s)
		},
		add: func(dst, x []float32) {
			n := len(dst) &^ 7
			if n > 0 {
				x = x[:len(dst)]
				k.add(&dst[0], &x[0], n)
			}
			addGeneric(dst[n:], x[n:])
		},
	}
}

// opsImpls lists the implementations usable on this CPU, generic first; ops is the one
// in use (the last registered, see ops_amd64.go and ops_arm64.go).
var (
	genericOps = &opsImpl{name: "generic", expSub: expSubGeneric, swiglu: swigluGeneric, mix: mixAxpy,
		sumSq: sumSqGeneric, scaleMul: scaleMulGeneric, add: addGeneric}
	opsImpls = []*opsImpl{genericOps}
	ops      = genericOps
)

func registerOps(o *opsImpl) {
	if o.mix == nil {
		o.mix = mixAxpy
	}
	opsImpls = append(opsImpls, o)
	ops = o
}

// Add writes dst[i] += x[i].
func Add(dst, x []float32) { ops.add(dst, x[:len(dst)]) }

func addGeneric(dst, x []float32) {
	x = x[:len(dst)]
	for i := range dst {
		dst[i] += x[i]
	}
}

// Axpy writes dst[i] += a * x[i] (x must be at least as long as dst); SIMD
// implementations fuse the multiply-add.
func Axpy(dst []float32, a float32, x []float32) { active.axpyF32(dst, a, x) }

// RopeTable holds the per-pair inverse frequencies of rotary position embeddings.
type RopeTable struct {
	Dims  int       // rotated dimensions per head (even)
	Neox  bool      // rotate-half pairing (x[i], x[i+Dims/2]) instead of (x[2i], x[2i+1])
	Freq  []float32 // inverse frequency per pair, len Dims/2
	Scale float32   // positions are multiplied by Scale (1/linear factor)
}

// NewRopeTable computes theta_i = base^(-2i/dims) for each pair i, divided by
// factors[i] when factors (llama3 rope_freqs) is given.
func NewRopeTable(dims int, base float32, neox bool, scale float32, factors []float32) *RopeTable {
	t := &RopeTable{Dims: dims, Neox: neox, Freq: make([]float32, dims/2), Scale: scale}
	if t.Scale == 0 {
		t.Scale = 1
	}
	for i := range t.Freq {
		f := float32(math.Pow(float64(base), -2*float64(i)/float64(dims)))
		if i < len(factors) && factors[i] != 0 {
			f /= factors[i]
		}
		t.Freq[i] = f
	}
	return t
}

// Apply rotates each of the nHeads heads (headDim elements each) of x for position pos.
// It is Angles followed by ApplyAngles, without the buffer.
func (t *RopeTable) Apply(x []float32, nHeads, headDim, pos int) {
	half := t.Dims / 2
	p := float32(pos) * t.Scale
	for i := 0; i < half; i++ {
		c, s := t.angle(p, i)
		t.rotate(x, nHeads, headDim, i, c, s)
	}
}

// Angles writes the cosines and sines of position pos's rotation angles into cs
// (len(cs) >= Dims): cs[2i], cs[2i+1] = cos, sin of pair i's angle. They depend on the
// position only, so a forward pass computes them once per token for all layers.
func (t *RopeTable) Angles(cs []float32, pos int) {
	p := float32(pos) * t.Scale
	cs = cs[:t.Dims]
	for i := 0; i < t.Dims/2; i++ {
		cs[2*i], cs[2*i+1] = t.angle(p, i)
	}
}

// ApplyAngles rotates each of the nHeads heads (headDim elements each) of x by the
// angles Angles wrote into cs, with the same results as Apply for that position.
func (t *RopeTable) ApplyAngles(x []float32, nHeads, headDim int, cs []float32) {
	cs = cs[:t.Dims]
	for i := 0; i < t.Dims/2; i++ {
		t.rotate(x, nHeads, headDim, i, cs[2*i], cs[2*i+1])
	}
}

// angle returns the cosine and sine of pair i's angle at the scaled position p.
func (t *RopeTable) angle(p float32, i int) (c, s float32) {
	sin, cos := math.Sincos(float64(p * t.Freq[i]))
	return float32(cos), float32(sin)
}

// rotate rotates pair i of every head of x by the angle of cosine c and sine s.
func (t *RopeTable) rotate(x []float32, nHeads, headDim, i int, c, s float32) {
	half := t.Dims / 2
	for h := 0; h < nHeads; h++ {
		base := h * headDim
		var a, b int
		if t.Neox {
			a, b = base+i, base+i+half
		} else {
			a, b = base+2*i, base+2*i+1
		}
		x0, x1 := x[a], x[b]
		x[a] = x0*c - x1*s
		x[b] = x0*s + x1*c
	}
}
