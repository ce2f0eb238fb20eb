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

// RMSNorm writes dst[i] = x[i] / sqrt(mean(x²) + eps) * w[i]. dst may alias x.
func RMSNorm(dst, x, w []float32, eps float32) {
	var ss float64
	for _, v := range x {
		ss += float64(v) * float64(v)
	}
	scale := float32(1 / math.Sqrt(ss/float64(len(x))+float64(eps)))
	w = w[:len(x)]
	dst = dst[:len(x)]
	for i, v := range x {
		dst[i] = v * scale * w[i]
	}
}

// Softmax replaces x by exp(x - max) / Σ exp(x - max).
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
	var sum float32
	for i, v := range x {
		e := float32(math.Exp(float64(v - m)))
		x[i] = e
		sum += e
	}
	inv := 1 / sum
	for i := range x {
		x[i] *= inv
	}
}

// SwiGLU writes gate[i] = silu(gate[i]) * up[i], with silu(z) = z / (1 + e^-z).
func SwiGLU(gate, up []float32) {
	up = up[:len(gate)]
	for i, g := range gate {
		gate[i] = g / (1 + float32(math.Exp(float64(-g)))) * up[i]
	}
}

// Add writes dst[i] += x[i].
func Add(dst, x []float32) {
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
func (t *RopeTable) Apply(x []float32, nHeads, headDim, pos int) {
	half := t.Dims / 2
	p := float32(pos) * t.Scale
	for i := 0; i < half; i++ {
		theta := float64(p * t.Freq[i])
		sin, cos := math.Sincos(theta)
		c, s := float32(cos), float32(sin)
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
}
