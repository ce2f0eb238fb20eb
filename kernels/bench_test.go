package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/edgerun/edgerun/int4"
)

// tinyLlamaShapes are the rows×cols of TinyLlama-1.1B's matrices: wq/wo, wk/wv, w1/w3
// (gate, up), w2 (down), output.
var tinyLlamaShapes = [][2]int{{2048, 2048}, {256, 2048}, {5632, 2048}, {2048, 5632}, {32000, 2048}}

// randBlocks returns rows×cols weights of a block type as random bytes with small finite
// fp16 scales (the kernels' speed does not depend on the values).
func randBlocks(r *rand.Rand, t int4.Type, rows, cols int) []byte {
	rb, _ := int4.RowBytes(t, cols)
	data := make([]byte, rows*rb)
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	bs := map[int4.Type]int{int4.Q4_0: 18, int4.Q8_0: 34}[t]
	h := int4.F32ToF16(0.01)
	for b := 0; b < len(data); b += bs {
		data[b], data[b+1] = byte(h), byte(h>>8)
	}
	return data
}

// BenchmarkMatVecShapes reports decode speed (MB/s = weight bytes read per second) of
// every implementation on the TinyLlama-1.1B matrix shapes, on a 2-thread pool.
func BenchmarkMatVecShapes(b *testing.B) {
	r := rand.New(rand.NewPCG(15, 16))
	p := NewPool(2)
	defer p.Close()
	for _, typ := range []int4.Type{int4.Q4_0, int4.Q8_0} {
		for _, sh := range tinyLlamaShapes {
			rows, cols := sh[0], sh[1]
			data := randBlocks(r, typ, rows, cols)
			m, _ := NewMatrix(typ, rows, cols, data)
			x := randVec(r, cols)
			y := make([]float32, rows)
			for _, im := range impls {
				if im == genericImpl && rows*cols > 2048*2048 && len(impls) > 1 {
					continue // the generic kernel is ~30× slower; its figure on the small shapes suffices
				}
				b.Run(fmt.Sprintf("%v/%dx%d/%s", typ, rows, cols, im.name), func(b *testing.B) {
					withImpl(im, func() {
						b.SetBytes(int64(len(data)))
						for b.Loop() {
							p.MatVec(m, x, y)
						}
					})
				})
			}
		}
	}
}

// BenchmarkMatMulPrefill reports prefill speed (64 tokens) in weight MB/s per token
// batch on the 2048×2048 and 5632×2048 shapes.
func BenchmarkMatMulPrefill(b *testing.B) {
	r := rand.New(rand.NewPCG(17, 18))
	p := NewPool(2)
	defer p.Close()
	const n = 64
	for _, typ := range []int4.Type{int4.Q4_0, int4.Q8_0} {
		for _, sh := range [][2]int{{2048, 2048}, {5632, 2048}} {
			rows, cols := sh[0], sh[1]
			data := randBlocks(r, typ, rows, cols)
			m, _ := NewMatrix(typ, rows, cols, data)
			x := randVec(r, n*cols)
			y := make([]float32, n*rows)
			for _, im := range impls {
				if im == genericImpl && rows > 2048 && len(impls) > 1 {
					continue
				}
				b.Run(fmt.Sprintf("%v/%dx%d/n%d/%s", typ, rows, cols, n, im.name), func(b *testing.B) {
					withImpl(im, func() {
						b.SetBytes(int64(len(data)))
						for b.Loop() {
							p.MatMul(m, x, n, y)
						}
					})
				})
			}
		}
	}
}
