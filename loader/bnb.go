package loader

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/edgerun/edgerun/int4"
)

// bitsandbytes 4-bit serialized QuantState (formats.md §1.5, §2.2): a quantized weight
// X.weight (packed codes, uint8 or any quant_storage dtype reinterpreted as bytes) has
// siblings X.weight.absmax, X.weight.quant_map, optionally X.weight.nested_absmax and
// X.weight.nested_quant_map, and X.weight.quant_state.bitsandbytes__nf4|fp4, a U8 tensor
// holding the JSON of the non-tensor fields.

// bnbStatePrefix is the last-component prefix of the JSON quant-state tensor.
const bnbStatePrefix = "quant_state.bitsandbytes__"

// BnbQuantState is the JSON part of a serialized bitsandbytes QuantState.
type BnbQuantState struct {
	QuantType       string   `json:"quant_type"`
	Blocksize       int      `json:"blocksize"`
	DType           string   `json:"dtype"`
	Shape           []int    `json:"shape"`
	NestedBlocksize int      `json:"nested_blocksize,omitempty"`
	NestedDType     string   `json:"nested_dtype,omitempty"`
	NestedOffset    *float64 `json:"nested_offset,omitempty"`
}

// ParseBnbQuantState parses and validates the JSON bytes of a
// quant_state.bitsandbytes__<type> tensor. kind is the type named by the key suffix
// ("nf4" or "fp4"); the JSON's quant_type must agree with it.
func ParseBnbQuantState(data []byte, kind string) (*BnbQuantState, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	var s BnbQuantState
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("quant state JSON: %v", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("quant state JSON: trailing data")
	}
	if s.QuantType != "nf4" && s.QuantType != "fp4" {
		return nil, fmt.Errorf("quant state: quant_type %q is not nf4 or fp4", s.QuantType)
	}
	if kind != "" && s.QuantType != kind {
		return nil, fmt.Errorf("quant state: quant_type %q but the key says %q", s.QuantType, kind)
	}
	if s.Blocksize <= 0 || s.Blocksize > 1<<20 {
		return nil, fmt.Errorf("quant state: blocksize %d", s.Blocksize)
	}
	if len(s.Shape) == 0 || len(s.Shape) > 4 {
		return nil, fmt.Errorf("quant state: shape %v", s.Shape)
	}
	n := 1
	for _, d := range s.Shape {
		if lim := int64(min(1<<40, math.MaxInt)); d <= 0 || int64(d) > lim || int64(n) > lim/int64(d) { // 32-bit: at most MaxInt
			return nil, fmt.Errorf("quant state: shape %v", s.Shape)
		}
		n *= d
	}
	if s.NestedOffset != nil {
		if math.IsNaN(*s.NestedOffset) || math.IsInf(*s.NestedOffset, 0) {
			return nil, fmt.Errorf("quant state: nested_offset is %v", *s.NestedOffset)
		}
		if s.NestedBlocksize <= 0 || s.NestedBlocksize > 1<<20 {
			return nil, fmt.Errorf("quant state: nested_blocksize %d", s.NestedBlocksize)
		}
	}
	return &s, nil
}

// Elems returns the number of elements of the quantized tensor.
func (s *BnbQuantState) Elems() int {
	n := 1
	for _, d := range s.Shape {
		n *= d
	}
	return n
}

// Type returns int4.NF4 or int4.FP4.
func (s *BnbQuantState) Type() int4.Type {
	if s.QuantType == "fp4" {
		return int4.FP4
	}
	return int4.NF4
}

// bnbStateKey returns the quant-state key of the weight called name, and its kind, if
// tensors has one. More than one is an error.
func bnbStateKey(path, name string, has func(string) bool) (key, kind string, err error) {
	for _, k := range []string{"nf4", "fp4"} {
		cand := name + "." + bnbStatePrefix + k
		if has(cand) {
			if key != "" {
				return "", "", errorf(path, ErrCorrupt, "tensor %q has two quant states (%s and %s)", name, key, cand)
			}
			key, kind = cand, k
		}
	}
	return key, kind, nil
}

// bnbSiblings are the last components of the tensors a quantized weight may own.
var bnbSiblings = []string{"absmax", "quant_map", "nested_absmax", "nested_quant_map"}

// loadBnb4 reads the quantized weight called name and its quant state from lookup. It
// returns the state, the parsed JSON, and every key it consumed (the weight, its
// siblings and the state). A missing sibling, a size that disagrees with the shape or a
// NaN/Inf scale is an error naming the file and the tensor.
func loadBnb4(path, name, stateKey, kind string, lookup func(string) (*SafeTensor, bool)) (*int4.Bnb4, *BnbQuantState, []string, error) {
	fail := func(format string, args ...any) error {
		return errorf(path, ErrCorrupt, "bitsandbytes tensor %q: "+format, append([]any{name}, args...)...)
	}
	st, _ := lookup(stateKey)
	if st.DType != "U8" && st.DType != "I8" {
		return nil, nil, nil, fail("quant state %q has dtype %s, want U8", stateKey, st.DType)
	}
	js, err := ParseBnbQuantState(st.Data, kind)
	if err != nil {
		return nil, nil, nil, fail("%v", err)
	}
	used := []string{name, stateKey}
	sib := map[string]*SafeTensor{}
	for _, s := range bnbSiblings {
		if t, ok := lookup(name + "." + s); ok {
			sib[s] = t
			used = append(used, t.Name)
		}
	}
	w, _ := lookup(name)
	q := &int4.Bnb4{Type: js.Type(), Blocksize: js.Blocksize, N: js.Elems(), Packed: w.Data}
	if want := (q.N + 1) / 2; len(w.Data) != want {
		return nil, nil, nil, fail("%d packed bytes (dtype %s, shape %v) but the quant state's shape %v needs %d", len(w.Data), w.DType, w.Shape, js.Shape, want)
	}
	qm, ok := sib["quant_map"]
	if !ok {
		return nil, nil, nil, fail("missing %s.quant_map", name)
	}
	if qm.DType != "F32" || qm.Elems() != 16 {
		return nil, nil, nil, fail("quant_map is %s %v, want F32 [16]", qm.DType, qm.Shape)
	}
	copy(q.QuantMap[:], decodeF32s(qm.Data))
	for i, v := range q.QuantMap {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil, nil, nil, fail("quant_map[%d] is %v", i, v)
		}
	}
	am, ok := sib["absmax"]
	if !ok {
		return nil, nil, nil, fail("missing %s.absmax", name)
	}
	nb := q.Blocks()
	_, hasNA := sib["nested_absmax"]
	_, hasNM := sib["nested_quant_map"]
	switch {
	case !hasNA && !hasNM:
		if js.NestedOffset != nil {
			return nil, nil, nil, fail("the quant state has nested_offset but %s.nested_absmax is missing", name)
		}
		if am.DType != "F32" || am.Elems() != nb {
			return nil, nil, nil, fail("absmax is %s %v, want F32 [%d]", am.DType, am.Shape, nb)
		}
		q.Absmax = decodeF32s(am.Data)
	case hasNA && hasNM:
		if js.NestedOffset == nil {
			return nil, nil, nil, fail("nested tensors present but the quant state has no nested_offset")
		}
		na, nm := sib["nested_absmax"], sib["nested_quant_map"]
		if am.DType != "U8" || am.Elems() != nb {
			return nil, nil, nil, fail("absmax is %s %v, want U8 [%d] with double quantization", am.DType, am.Shape, nb)
		}
		if nm.DType != "F32" || nm.Elems() != 256 {
			return nil, nil, nil, fail("nested_quant_map is %s %v, want F32 [256]", nm.DType, nm.Shape)
		}
		nnb := (nb + js.NestedBlocksize - 1) / js.NestedBlocksize
		if na.DType != "F32" || na.Elems() != nnb {
			return nil, nil, nil, fail("nested_absmax is %s %v, want F32 [%d]", na.DType, na.Shape, nnb)
		}
		q.Nested = true
		q.AbsmaxQ = am.Data
		q.NestedAbsmax = decodeF32s(na.Data)
		q.NestedMap = decodeF32s(nm.Data)
		q.NestedBlock = js.NestedBlocksize
		q.Offset = float32(*js.NestedOffset)
	case hasNA:
		return nil, nil, nil, fail("missing %s.nested_quant_map", name)
	default:
		return nil, nil, nil, fail("missing %s.nested_absmax", name)
	}
	if err := q.Validate(); err != nil {
		return nil, nil, nil, wrapf(path, ErrCorrupt, err, "bitsandbytes tensor %q", name)
	}
	for b, a := range q.BlockAbsmax() {
		if math.IsNaN(float64(a)) || math.IsInf(float64(a), 0) {
			return nil, nil, nil, fail("block %d has absmax %v", b, a)
		}
	}
	return q, js, used, nil
}

// decodeF32s decodes little-endian float32 values (a copy, so the result is aligned).
func decodeF32s(b []byte) []float32 {
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(uint32(b[4*i]) | uint32(b[4*i+1])<<8 | uint32(b[4*i+2])<<16 | uint32(b[4*i+3])<<24)
	}
	return out
}

// bnbTensor turns a loaded bitsandbytes weight into a runtime tensor: the lossless row
// repack when the code table is the standard one and the row length and blocksize fit
// (q.RowType: NF4_64/FP4_64 when both are multiples of 64, else NF4/FP4 when both are
// multiples of 32), else the float32 dequantization. fallback reports the last case.
func bnbTensor(name string, q *int4.Bnb4, shape []int) (t *Tensor, fallback bool, err error) {
	rows, cols := 1, shape[len(shape)-1]
	for _, d := range shape[:len(shape)-1] {
		rows *= d
	}
	if rt := q.RowType(cols); rt != 0 {
		data, err := q.RepackAs(rt, rows, cols)
		if err != nil {
			return nil, false, err
		}
		return &Tensor{Name: name, Type: rt, Shape: shape, Data: data}, false, nil
	}
	y := make([]float32, q.N)
	if err := q.Dequantize(y); err != nil {
		return nil, false, err
	}
	data := make([]byte, 4*len(y))
	if err := int4.QuantizeRow(int4.F32, y, data); err != nil {
		return nil, false, err
	}
	return &Tensor{Name: name, Type: int4.F32, Shape: shape, Data: data}, true, nil
}

// isBnbAux reports whether key is a quant-state sibling of some weight (so a caller can
// tell unconsumed siblings from ordinary tensors).
func isBnbAux(key string) bool {
	last := key[strings.LastIndexByte(key, '.')+1:]
	if strings.HasPrefix(last, "bitsandbytes__") {
		return true
	}
	for _, s := range bnbSiblings {
		if strings.HasSuffix(key, ".weight."+s) {
			return true
		}
	}
	return false
}

// bnbTorchDTypes maps a quant-state dtype string to the safetensors dtype of that name.
var bnbTorchDTypes = map[string]string{"float32": "F32", "float16": "F16", "bfloat16": "BF16", "uint8": "U8"}

// BnbTensors returns the safetensors tensors that bitsandbytes' Linear4bit (through
// transformers' save_pretrained) writes for the weight called name ("...q_proj.weight")
// quantized as q (formats.md §1.5): the packed weight (dtype storage: "uint8", or
// "bfloat16"/"float16"/"float32" for a bnb_4bit_quant_storage that reinterprets the same
// bytes), name.absmax, name.quant_map, with double quantization name.nested_absmax and
// name.nested_quant_map, and name.quant_state.bitsandbytes__<nf4|fp4>, the JSON of
// quant_type, blocksize, dtype, shape (and nested_blocksize, nested_dtype,
// nested_offset) as Python's json.dumps writes it. shape is the original weight shape and
// dtype its torch dtype name ("float32", "float16", "bfloat16").
func BnbTensors(name string, q *int4.Bnb4, shape []int, dtype, storage string) ([]*SafeTensor, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	n := 1
	for _, d := range shape {
		n *= d
	}
	if n != q.N || len(shape) == 0 {
		return nil, fmt.Errorf("%w: shape %v does not hold %d elements", ErrInvalid, shape, q.N)
	}
	if bnbTorchDTypes[dtype] == "" || dtype == "uint8" {
		return nil, fmt.Errorf("%w: dtype %q", ErrInvalid, dtype)
	}
	st := bnbTorchDTypes[storage]
	if st == "" {
		return nil, fmt.Errorf("%w: quant storage %q", ErrInvalid, storage)
	}
	size := DTypeSize(st)
	if len(q.Packed)%size != 0 {
		return nil, fmt.Errorf("%w: %d packed bytes cannot be viewed as %s", ErrInvalid, len(q.Packed), storage)
	}
	kind := "nf4"
	if q.Type == int4.FP4 {
		kind = "fp4"
	}
	var js strings.Builder
	fmt.Fprintf(&js, `{"quant_type": %q, "blocksize": %d, "dtype": %q, "shape": [`, kind, q.Blocksize, dtype)
	for i, d := range shape {
		if i > 0 {
			js.WriteString(", ")
		}
		fmt.Fprintf(&js, "%d", d)
	}
	js.WriteString("]")
	if q.Nested {
		fmt.Fprintf(&js, `, "nested_blocksize": %d, "nested_dtype": "float32", "nested_offset": %s`, q.NestedBlock, pyFloat(float64(q.Offset)))
	}
	js.WriteString("}")
	out := []*SafeTensor{
		{Name: name, DType: st, Shape: []int{len(q.Packed) / size, 1}, Data: q.Packed},
		{Name: name + ".quant_map", DType: "F32", Shape: []int{16}, Data: encodeF32s(q.QuantMap[:])},
	}
	if q.Nested {
		out = append(out,
			&SafeTensor{Name: name + ".absmax", DType: "U8", Shape: []int{len(q.AbsmaxQ)}, Data: q.AbsmaxQ},
			&SafeTensor{Name: name + ".nested_absmax", DType: "F32", Shape: []int{len(q.NestedAbsmax)}, Data: encodeF32s(q.NestedAbsmax)},
			&SafeTensor{Name: name + ".nested_quant_map", DType: "F32", Shape: []int{len(q.NestedMap)}, Data: encodeF32s(q.NestedMap)})
	} else {
		out = append(out, &SafeTensor{Name: name + ".absmax", DType: "F32", Shape: []int{len(q.Absmax)}, Data: encodeF32s(q.Absmax)})
	}
	out = append(out, &SafeTensor{Name: name + "." + bnbStatePrefix + kind, DType: "U8", Shape: []int{js.Len()}, Data: []byte(js.String())})
	return out, nil
}

// pyFloat formats f as Python's repr(float) does (shortest round-trip digits, ".0" on
// integral values, exponent form below 1e-4 and from 1e16).
func pyFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	a := math.Abs(f)
	var s string
	if a != 0 && (a < 1e-4 || a >= 1e16) {
		s = strconv.FormatFloat(f, 'e', -1, 64)
		// Go writes e-05 / e+16 like Python; only the mantissa may need no change.
		return s
	}
	s = strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.ContainsAny(s, ".") {
		s += ".0"
	}
	return s
}

// encodeF32s encodes float32 values little-endian.
func encodeF32s(x []float32) []byte {
	b := make([]byte, 4*len(x))
	for i, v := range x {
		u := math.Float32bits(v)
		b[4*i], b[4*i+1], b[4*i+2], b[4*i+3] = byte(u), byte(u>>8), byte(u>>16), byte(u>>24)
	}
	return b
}
