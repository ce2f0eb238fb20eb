//go:build ort

package ort_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/edgerun/edgerun/onnx"
	"github.com/edgerun/edgerun/onnx/ort"
)

// BenchmarkMatMulNBits is one TinyLlama ffn_up product (K=2048, N=5632, block 32) for a
// single token through ONNX Runtime, at accuracy_level 0 (float32 activations) and 4
// (int8 activations).
func BenchmarkMatMulNBits(b *testing.B) {
	if _, err := ort.Init(""); err != nil {
		b.Skip(err)
	}
	const k, n = 2048, 5632
	r := rand.New(rand.NewPCG(1, 1))
	w := make([]float32, n*k)
	for i := range w {
		w[i] = float32(r.NormFloat64()) * 0.02
	}
	q, err := onnx.QuantizeNBits(w, n, k, 32, false)
	if err != nil {
		b.Fatal(err)
	}
	for _, acc := range []int64{0, 4} {
		b.Run(fmt.Sprintf("acc%d", acc), func(b *testing.B) {
			g := &graph{k: k, n: n}
			g.nbits(q)
			g.node.Attrs = append(g.node.Attrs, &onnx.Attribute{Name: "accuracy_level", Type: onnx.AttrInt, I: acc})
			model, _ := g.model(1).Marshal()
			s, err := ort.NewSession(model, []string{"A"}, []string{"Y"}, ort.Options{Threads: 2})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			a := make([]float32, k)
			y := make([]float32, n)
			av, _ := ort.Float32([]int64{1, k}, a)
			yv, _ := ort.Float32([]int64{1, n}, y)
			defer av.Destroy()
			defer yv.Destroy()
			b.SetBytes(int64(len(q.B)))
			for b.Loop() {
				if err := s.Run([]ort.Value{av}, []ort.Value{yv}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
