package onnx_test

import (
	"fmt"

	"github.com/edgerun/edgerun/int4"
	"github.com/edgerun/edgerun/onnx"
)

// A ggml Q4_0 row re-expressed as MatMulNBits (block 32, no zero points) dequantizes to
// exactly the same values.
func Example_nbitsFromQ4() {
	w := make([]float32, 32)
	for i := range w {
		w[i] = float32(i-16) / 8
	}
	row := make([]byte, 18)
	_ = int4.QuantizeRow(int4.Q4_0, w, row)
	q, _ := onnx.NBitsFromQ4_0(row, 1, 32)
	got := make([]float32, 32)
	_ = q.Dequantize(got)
	want := make([]float32, 32)
	_ = int4.DequantizeRow(int4.Q4_0, row, want)
	same := true
	for i := range got {
		same = same && got[i] == want[i]
	}
	fmt.Printf("B %d bytes, %d scale, equal: %v\n", len(q.B), len(q.Scales), same)
	// Output: B 16 bytes, 1 scale, equal: true
}
