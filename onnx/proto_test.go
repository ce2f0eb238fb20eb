package onnx

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/edgerun/edgerun/internal/testmodels"
	"github.com/edgerun/edgerun/onnx/internal/vectors"
)

func sampleModel() *Model {
	return &Model{
		IRVersion: 8, ProducerName: "edgerun", ProducerVersion: "test", DocString: "doc",
		Opsets:   []OpsetID{{"", 17}, {"com.microsoft", 1}},
		Metadata: []KeyValue{{"a", "b"}},
		Graph: &Graph{
			Name: "g",
			Nodes: []*Node{{Name: "n", OpType: "MatMulNBits", Domain: "com.microsoft", Inputs: []string{"A", "B"}, Outputs: []string{"Y"},
				Attrs: []*Attribute{
					{Name: "K", Type: AttrInt, I: 16}, {Name: "neg", Type: AttrInt, I: -3},
					{Name: "f", Type: AttrFloat, F: 1.5}, {Name: "s", Type: AttrString, S: []byte("x")},
					{Name: "fs", Type: AttrFloats, Floats: []float32{1, -2}}, {Name: "is", Type: AttrInts, Ints: []int64{0, -1, 1 << 40}},
					{Name: "t", Type: AttrTensor, T: &Tensor{DataType: Float, Dims: []int64{1}, Raw: []byte{0, 0, 128, 63}}},
				}}},
			Initializers: []*Tensor{
				{Name: "B", DataType: Uint8, Dims: []int64{4, 1, 8}, Raw: bytes.Repeat([]byte{7}, 32)},
				{Name: "E", DataType: Float, Dims: []int64{2}, External: &ExternalData{Location: "w.bin", Offset: 64, Length: 8}},
			},
			Inputs:  []*ValueInfo{{Name: "A", ElemType: Float, Shape: []Dim{{Value: 1}, {Param: "seq"}, {Value: 16}}}},
			Outputs: []*ValueInfo{{Name: "Y", ElemType: Float, Shape: []Dim{{Param: "seq"}, {Value: 4}}}},
		},
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	m := sampleModel()
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	got, err := Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, m) {
		t.Fatalf("round trip differs:\n got %+v\nwant %+v", got.Graph, m.Graph)
	}
	// Truncations never panic and are reported.
	for i := 1; i < len(b); i += 7 {
		if _, err := Unmarshal(b[:i]); err != nil && !errors.Is(err, ErrMalformed) {
			t.Fatalf("prefix %d: error %v does not wrap ErrMalformed", i, err)
		}
	}
}

// TestMarshalWireFormat pins a few bytes of the encoding against hand-computed protobuf.
func TestMarshalWireFormat(t *testing.T) {
	b, err := (&Model{IRVersion: 8, Opsets: []OpsetID{{"", 17}}}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{0x08, 0x08, 0x42, 0x02, 0x10, 0x11} // ir_version=8; opset_import{version=17}
	if !bytes.Equal(b, want) {
		t.Fatalf("got % x, want % x", b, want)
	}
}

func FuzzUnmarshal(f *testing.F) {
	b, _ := sampleModel().Marshal()
	f.Add(b)
	f.Add([]byte{0x08, 0x08, 0x42, 0x02, 0x10, 0x11})
	f.Add([]byte{0x3a, 0x05, 0x0a, 0x03, 0x22, 0x01, 0x41})
	if dir := os.Getenv("EDGERUN_MODELS"); dir != "" {
		if mb, err := os.ReadFile(filepath.Join(dir, "onnx-int4-ops", "matmulnbits_mm_test.onnx")); err == nil {
			f.Add(mb)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Unmarshal(data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		// Whatever decodes must re-encode and decode to the same model (for the subset
		// Marshal writes: re-marshal once and compare the second round).
		b1, err := m.Marshal()
		if err != nil {
			return
		}
		m2, err := Unmarshal(b1)
		if err != nil {
			t.Fatalf("re-decoding our own encoding: %v", err)
		}
		b2, err := m2.Marshal()
		if err != nil || !bytes.Equal(b1, b2) {
			t.Fatalf("encoding not stable (%v)", err)
		}
	})
}

// TestReadsConformanceModels decodes the shared MatMulNBits models (written by the
// official onnx package) and checks the node our reader sees.
func TestReadsConformanceModels(t *testing.T) {
	dir := filepath.Join(testmodels.Dir(t), "onnx-int4-ops")
	cases, err := vectors.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		b, err := os.ReadFile(c.Model)
		if err != nil {
			t.Fatal(err)
		}
		m, err := Unmarshal(b)
		if err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		if m.Graph == nil || len(m.Graph.Nodes) != 1 || m.Graph.Nodes[0].OpType != "MatMulNBits" || m.Graph.Nodes[0].Domain != "com.microsoft" {
			t.Fatalf("%s: unexpected graph %+v", c.Name, m.Graph)
		}
	}
}

// TestNBitsLayoutConformance runs the four MatMulNBits vectors through our layout
// spec (NBits.Dequantize, then a float64 matmul) — the same layout our exporter writes.
func TestNBitsLayoutConformance(t *testing.T) {
	dir := filepath.Join(testmodels.Dir(t), "onnx-int4-ops")
	cases, err := vectors.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) != 4 {
		t.Fatalf("%d cases, want 4", len(cases))
	}
	for _, c := range cases {
		b, _ := os.ReadFile(c.Model)
		m, err := Unmarshal(b)
		if err != nil {
			t.Fatal(err)
		}
		attrs := map[string]int64{}
		for _, a := range m.Graph.Nodes[0].Attrs {
			attrs[a.Name] = a.I
		}
		k, n, bs := int(attrs["K"]), int(attrs["N"]), int(attrs["block_size"])
		q := &NBits{N: n, K: k, BlockSize: bs, B: u8(c.Inputs["b"].Data), Scales: f32(c.Inputs["scales"].Data)}
		if zp, ok := c.Inputs["zp"]; ok {
			q.ZeroPoints = u8(zp.Data)
		}
		w := make([]float32, n*k)
		if err := q.Dequantize(w); err != nil {
			t.Fatal(err)
		}
		a := c.Inputs["a"].Data
		rows := len(a) / k
		var maxErr, maxRef float64
		for r := 0; r < rows; r++ {
			for j := 0; j < n; j++ {
				var s float64
				for i := 0; i < k; i++ {
					s += a[r*k+i] * float64(w[j*k+i])
				}
				maxErr = math.Max(maxErr, math.Abs(s-c.Expected[r*n+j]))
				maxRef = math.Max(maxRef, math.Abs(c.Expected[r*n+j]))
			}
		}
		if maxErr > 1e-5*maxRef {
			t.Errorf("%s: max |ours - expected| = %g (max |expected| %g)", c.Name, maxErr, maxRef)
		}
	}
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

func randWeights(r *rand.Rand, n int, scale float32) []float32 {
	w := make([]float32, n)
	for i := range w {
		w[i] = float32(r.NormFloat64()) * scale
	}
	return w
}

func TestExternalData(t *testing.T) {
	m := sampleModel()
	m.Graph.Initializers = append(m.Graph.Initializers, &Tensor{Name: "C", DataType: Uint8, Dims: []int64{3}, Raw: []byte{1, 2, 3}})
	moved := m.ExternalizeData("m.onnx.data", 3)
	if len(moved) != 2 || moved[1].External.Offset != 64 {
		t.Fatalf("moved %d tensors, second at %+v", len(moved), moved[len(moved)-1].External)
	}
	var buf bytes.Buffer
	if _, err := WriteExternalData(&buf, moved); err != nil {
		t.Fatal(err)
	}
	if buf.Len() != 67 || buf.Bytes()[64] != 1 || buf.Bytes()[0] != 7 {
		t.Fatalf("data file % x", buf.Bytes())
	}
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	got, err := Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range got.Graph.Initializers {
		if x.Name == "C" && (x.External == nil || x.External.Location != "m.onnx.data" || x.External.Length != 3 || x.Raw != nil) {
			t.Fatalf("C decoded as %+v", x)
		}
	}
}
