//go:build ort

package ort_test

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/edgerun/edgerun/int4"
	"github.com/edgerun/edgerun/internal/testmodels"
	"github.com/edgerun/edgerun/onnx"
	"github.com/edgerun/edgerun/onnx/internal/vectors"
	"github.com/edgerun/edgerun/onnx/ort"
)

// initORT loads ONNX Runtime or skips (fails under EDGERUN_REQUIRE_ORT=1, as in CI).
func initORT(t *testing.T) {
	t.Helper()
	if _, err := ort.Init(""); err != nil {
		if os.Getenv("EDGERUN_REQUIRE_ORT") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
}

// TestOpVectors runs the four MatMulNBits conformance models through our session code.
func TestOpVectors(t *testing.T) {
	initORT(t)
	cases, err := vectors.Load(filepath.Join(testmodels.Dir(t), "onnx-int4-ops"))
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) != 4 {
		t.Fatalf("%d cases, want 4", len(cases))
	}
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			model, err := os.ReadFile(c.Model)
			if err != nil {
				t.Fatal(err)
			}
			ins, outs, err := ort.IONames(model)
			if err != nil {
				t.Fatal(err)
			}
			var vals []ort.Value
			for _, name := range ins {
				a, ok := c.Inputs[name]
				if !ok {
					t.Fatalf("model input %q has no vector (have %v)", name, keys(c.Inputs))
				}
				var v ort.Value
				switch a.Dtype {
				case "float32":
					v, err = ort.Float32(a.Shape, f32(a.Data))
				case "uint8":
					v, err = ort.Uint8(a.Shape, u8(a.Data))
				default:
					t.Fatalf("input %q dtype %s", name, a.Dtype)
				}
				if err != nil {
					t.Fatal(err)
				}
				defer v.Destroy()
				vals = append(vals, v)
			}
			s, err := ort.NewSession(model, ins, outs[:1], ort.Options{Threads: 1})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			out := []ort.Value{nil}
			if err := s.Run(vals, out); err != nil {
				t.Fatal(err)
			}
			defer out[0].Destroy()
			got := ort.Floats(out[0])
			if len(got) != len(c.Expected) || len(ort.Shape(out[0])) != len(c.ExpectedShape) {
				t.Fatalf("output shape %v, want %v", ort.Shape(out[0]), c.ExpectedShape)
			}
			var maxErr, maxRef float64
			for i, w := range c.Expected {
				maxErr = math.Max(maxErr, math.Abs(float64(got[i])-w))
				maxRef = math.Max(maxRef, math.Abs(w))
			}
			t.Logf("max |ort - expected| = %.3g (max |expected| %.3g)", maxErr, maxRef)
			if maxErr > 1e-5*maxRef {
				t.Fatalf("mismatch: got %v, want %v", got, c.Expected)
			}
		})
	}
}

// TestPackedWeightsThroughORT: our own MatMulNBits (from Q4_0, exact; requantized with
// and without zero points, block 32/128) and MatMulBnb4 (from NF4/FP4 rows) weights,
// on random data, computed by ONNX Runtime, equal A·Wᵀ with W dequantized by our int4
// package (float64 reference; float32 accumulation tolerance).
func TestPackedWeightsThroughORT(t *testing.T) {
	initORT(t)
	r := rand.New(rand.NewPCG(11, 12))
	const m, n, k = 3, 48, 256
	a := make([]float32, m*k)
	for i := range a {
		a[i] = float32(r.NormFloat64())
	}
	w := make([]float32, n*k)
	for i := range w {
		w[i] = float32(r.NormFloat64()) * 0.05
	}
	type tc struct {
		name string
		node func(b *graph) (ref []float32)
	}
	rowsOf := func(typ int4.Type) []byte {
		rb, _ := int4.RowBytes(typ, k)
		out := make([]byte, n*rb)
		if typ == int4.NF4 || typ == int4.FP4 {
			st, err := int4.QuantizeBnb4(typ, w, 64, true)
			if err != nil {
				t.Fatal(err)
			}
			if out, err = st.Repack(n, k); err != nil {
				t.Fatal(err)
			}
			return out
		}
		for i := 0; i < n; i++ {
			if err := int4.QuantizeRow(typ, w[i*k:(i+1)*k], out[i*rb:(i+1)*rb]); err != nil {
				t.Fatal(err)
			}
		}
		return out
	}
	deq := func(typ int4.Type, data []byte) []float32 {
		out := make([]float32, n*k)
		if err := int4.DequantizeRow(typ, data, out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	cases := []tc{
		{"nbits_from_q4_0", func(b *graph) []float32 {
			data := rowsOf(int4.Q4_0)
			q, err := onnx.NBitsFromQ4_0(data, n, k)
			if err != nil {
				t.Fatal(err)
			}
			b.nbits(q)
			return deq(int4.Q4_0, data)
		}},
		{"nbits_bs128_zp", func(b *graph) []float32 {
			q, err := onnx.QuantizeNBits(w, n, k, 128, true)
			if err != nil {
				t.Fatal(err)
			}
			b.nbits(q)
			ref := make([]float32, n*k)
			_ = q.Dequantize(ref)
			return ref
		}},
		{"nbits_bs32_sym", func(b *graph) []float32 {
			q, err := onnx.QuantizeNBits(w, n, k, 32, false)
			if err != nil {
				t.Fatal(err)
			}
			b.nbits(q)
			ref := make([]float32, n*k)
			_ = q.Dequantize(ref)
			return ref
		}},
		{"bnb4_nf4", func(b *graph) []float32 {
			data := rowsOf(int4.NF4)
			q, err := onnx.Bnb4FromRows(int4.NF4, data, n, k)
			if err != nil {
				t.Fatal(err)
			}
			b.bnb4(q)
			return deq(int4.NF4, data)
		}},
		{"bnb4_fp4", func(b *graph) []float32 {
			data := rowsOf(int4.FP4)
			q, err := onnx.Bnb4FromRows(int4.FP4, data, n, k)
			if err != nil {
				t.Fatal(err)
			}
			b.bnb4(q)
			return deq(int4.FP4, data)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := &graph{k: k, n: n}
			ref := c.node(g)
			model, err := g.model(m).Marshal()
			if err != nil {
				t.Fatal(err)
			}
			s, err := ort.NewSession(model, []string{"A"}, []string{"Y"}, ort.Options{Threads: 1})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			av, _ := ort.Float32([]int64{m, k}, a)
			defer av.Destroy()
			y := make([]float32, m*n)
			yv, _ := ort.Float32([]int64{m, n}, y)
			defer yv.Destroy()
			if err := s.Run([]ort.Value{av}, []ort.Value{yv}); err != nil {
				t.Fatal(err)
			}
			var maxErr, maxRef float64
			for i := 0; i < m; i++ {
				for j := 0; j < n; j++ {
					var sum float64
					for x := 0; x < k; x++ {
						sum += float64(a[i*k+x]) * float64(ref[j*k+x])
					}
					maxErr = math.Max(maxErr, math.Abs(sum-float64(y[i*n+j])))
					maxRef = math.Max(maxRef, math.Abs(sum))
				}
			}
			t.Logf("max |ort - ours| = %.3g (max |ref| %.3g)", maxErr, maxRef)
			if maxErr > 1e-5*maxRef+1e-6 {
				t.Fatalf("ORT differs from our dequantization: %g", maxErr)
			}
		})
	}
}

// graph builds a one-node model Y = A·Wᵀ.
type graph struct {
	k, n  int
	node  *onnx.Node
	inits []*onnx.Tensor
}

func (g *graph) nbits(q *onnx.NBits) {
	kb := int64(q.KBlocks())
	g.inits = append(g.inits,
		&onnx.Tensor{Name: "B", DataType: onnx.Uint8, Dims: []int64{int64(q.N), kb, int64(q.BlockSize / 2)}, Raw: q.B},
		&onnx.Tensor{Name: "S", DataType: onnx.Float, Dims: []int64{int64(q.N) * kb}, Raw: onnx.Float32Bytes(q.Scales)})
	ins := []string{"A", "B", "S"}
	if q.ZeroPoints != nil {
		g.inits = append(g.inits, &onnx.Tensor{Name: "Z", DataType: onnx.Uint8, Dims: []int64{int64(len(q.ZeroPoints))}, Raw: q.ZeroPoints})
		ins = append(ins, "Z")
	}
	g.node = &onnx.Node{OpType: "MatMulNBits", Domain: "com.microsoft", Inputs: ins, Outputs: []string{"Y"}, Attrs: []*onnx.Attribute{
		{Name: "K", Type: onnx.AttrInt, I: int64(q.K)}, {Name: "N", Type: onnx.AttrInt, I: int64(q.N)},
		{Name: "bits", Type: onnx.AttrInt, I: 4}, {Name: "block_size", Type: onnx.AttrInt, I: int64(q.BlockSize)}}}
}

func (g *graph) bnb4(q *onnx.Bnb4) {
	g.inits = append(g.inits,
		&onnx.Tensor{Name: "B", DataType: onnx.Uint8, Dims: []int64{int64(len(q.B))}, Raw: q.B},
		&onnx.Tensor{Name: "S", DataType: onnx.Float, Dims: []int64{int64(len(q.Absmax))}, Raw: onnx.Float32Bytes(q.Absmax)})
	g.node = &onnx.Node{OpType: "MatMulBnb4", Domain: "com.microsoft", Inputs: []string{"A", "B", "S"}, Outputs: []string{"Y"}, Attrs: []*onnx.Attribute{
		{Name: "K", Type: onnx.AttrInt, I: int64(q.K)}, {Name: "N", Type: onnx.AttrInt, I: int64(q.N)},
		{Name: "block_size", Type: onnx.AttrInt, I: int64(q.BlockSize)}, {Name: "quant_type", Type: onnx.AttrInt, I: int64(q.QuantType)}}}
}

func (g *graph) model(m int) *onnx.Model {
	return &onnx.Model{IRVersion: 8, Opsets: []onnx.OpsetID{{Domain: "", Version: 17}, {Domain: "com.microsoft", Version: 1}},
		Graph: &onnx.Graph{Name: "t", Nodes: []*onnx.Node{g.node}, Initializers: g.inits,
			Inputs:  []*onnx.ValueInfo{{Name: "A", ElemType: onnx.Float, Shape: []onnx.Dim{{Value: int64(m)}, {Value: int64(g.k)}}}},
			Outputs: []*onnx.ValueInfo{{Name: "Y", ElemType: onnx.Float, Shape: []onnx.Dim{{Value: int64(m)}, {Value: int64(g.n)}}}}}}
}

func keys(m map[string]vectors.Array) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func u8(v []float64) []byte {
	out := make([]byte, len(v))
	for i, x := range v {
		out[i] = byte(x)
	}
	return out
}

func f32(v []float64) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}
