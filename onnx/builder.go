package onnx

import (
	"encoding/binary"
	"fmt"
	"math"
)

// builder accumulates a graph: nodes with generated unique names and initializers.
type builder struct {
	g    *Graph
	seq  int
	cons map[string]string // cached constant initializers by key
}

func newBuilder(name string) *builder {
	return &builder{g: &Graph{Name: name}, cons: map[string]string{}}
}

func (b *builder) fresh(prefix string) string {
	b.seq++
	return fmt.Sprintf("%s_%d", prefix, b.seq)
}

// op adds a node with one output and returns the output name.
func (b *builder) op(opType string, inputs []string, attrs ...*Attribute) string {
	out := b.fresh(opType)
	b.g.Nodes = append(b.g.Nodes, &Node{Name: out, OpType: opType, Inputs: inputs, Outputs: []string{out}, Attrs: attrs})
	return out
}

// opTo adds a node writing the named outputs.
func (b *builder) opTo(opType, domain string, inputs, outputs []string, attrs ...*Attribute) {
	b.g.Nodes = append(b.g.Nodes, &Node{Name: b.fresh(opType), OpType: opType, Domain: domain, Inputs: inputs, Outputs: outputs, Attrs: attrs})
}

// contrib adds a com.microsoft node with one output.
func (b *builder) contrib(opType string, inputs []string, attrs ...*Attribute) string {
	out := b.fresh(opType)
	b.g.Nodes = append(b.g.Nodes, &Node{Name: out, OpType: opType, Domain: "com.microsoft", Inputs: inputs, Outputs: []string{out}, Attrs: attrs})
	return out
}

func (b *builder) init(name string, dt DataType, dims []int64, raw []byte) string {
	b.g.Initializers = append(b.g.Initializers, &Tensor{Name: name, DataType: dt, Dims: dims, Raw: raw})
	return name
}

// ints returns a cached int64 1-D constant.
func (b *builder) ints(v ...int64) string {
	key := fmt.Sprint("i", v)
	if n, ok := b.cons[key]; ok {
		return n
	}
	raw := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(raw[8*i:], uint64(x))
	}
	n := b.init(b.fresh("const_i64"), Int64, []int64{int64(len(v))}, raw)
	b.cons[key] = n
	return n
}

// scalar returns a cached float32 0-D constant.
func (b *builder) scalar(v float32) string {
	key := fmt.Sprint("f", math.Float32bits(v))
	if n, ok := b.cons[key]; ok {
		return n
	}
	raw := binary.LittleEndian.AppendUint32(nil, math.Float32bits(v))
	n := b.init(b.fresh("const_f32"), Float, nil, raw)
	b.cons[key] = n
	return n
}

func attrInt(name string, v int64) *Attribute { return &Attribute{Name: name, Type: AttrInt, I: v} }
func attrFloat(name string, v float32) *Attribute {
	return &Attribute{Name: name, Type: AttrFloat, F: v}
}
func attrInts(name string, v ...int64) *Attribute {
	return &Attribute{Name: name, Type: AttrInts, Ints: v}
}
