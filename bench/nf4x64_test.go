package bench

import (
	"strings"
	"testing"

	"github.com/edgerun/edgerun/int4"
	"github.com/edgerun/edgerun/loader"
	"github.com/edgerun/edgerun/runtime"
)

// TestBytesPerTokenNF4_64 checks that a model whose projections are NF4_64 counts them
// at 36 bytes per 64 weights in the decode step's weight bytes, and is named by that
// type.
func TestBytesPerTokenNF4_64(t *testing.T) {
	ck := runtime.DemoCheckpoint()
	for name, tt := range ck.Tensors {
		if !runtime.IsProjectionWeight(name) {
			continue
		}
		x := make([]float32, tt.Elems())
		if err := int4.DequantizeRow(tt.Type, tt.Data, x); err != nil {
			t.Fatal(err)
		}
		data := make([]byte, 4*len(x))
		_ = int4.QuantizeRow(int4.F32, x, data)
		ck.Tensors[name] = &loader.Tensor{Name: name, Type: int4.F32, Shape: tt.Shape, Data: data}
	}
	if _, err := runtime.QuantizeCheckpoint(ck, runtime.QuantizeOptions{Type: int4.NF4_64}); err != nil {
		t.Fatal(err)
	}
	var want int64
	_, hasOutput := ck.Tensors["output.weight"]
	for name, tt := range ck.Tensors {
		n := int64(len(tt.Data))
		if runtime.IsProjectionWeight(name) {
			if tt.Type != int4.NF4_64 {
				t.Fatalf("%s is %v", name, tt.Type)
			}
			n = int64(tt.Elems()) / 64 * 36
		}
		if name == "token_embd.weight" && hasOutput {
			n /= int64(tt.Rows())
		}
		want += n
	}
	eng, err := runtime.NewEngine(ck, runtime.WithThreads(1))
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	var cr ConfigResult
	describe(&cr, eng)
	if cr.WeightBytesPerToken != want {
		t.Fatalf("weight bytes per token %d, want %d", cr.WeightBytesPerToken, want)
	}
	if !strings.HasSuffix(cr.ModelType, "NF4_64") {
		t.Fatalf("model type %q", cr.ModelType)
	}
}
