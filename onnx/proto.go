// Package onnx writes (and reads back) ONNX models: a small hand-written protobuf
// encoder for the subset of onnx.proto edgerun needs (ModelProto, GraphProto,
// NodeProto, AttributeProto, TensorProto, ValueInfoProto), the packing of edgerun's
// 4-bit weights into ONNX Runtime's com.microsoft MatMulNBits and MatMulBnb4 layouts,
// and the exporter of a LLaMA-family decoder (ExportLlama).
//
// The package is pure Go; running the exported graphs needs ONNX Runtime (the ort
// build tag of package runtime).
package onnx

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
)

// DataType is an ONNX TensorProto.DataType.
type DataType int32

// The ONNX tensor element types edgerun writes.
const (
	Float   DataType = 1
	Uint8   DataType = 2
	Int8    DataType = 3
	Int32   DataType = 6
	Int64   DataType = 7
	Bool    DataType = 9
	Float16 DataType = 10
	Double  DataType = 11
)

// Size returns the byte size of one element (0 for an unknown type).
func (t DataType) Size() int {
	switch t {
	case Uint8, Int8, Bool:
		return 1
	case Float16:
		return 2
	case Float, Int32:
		return 4
	case Int64, Double:
		return 8
	}
	return 0
}

// AttrType is an ONNX AttributeProto.AttributeType.
type AttrType int32

// The attribute types edgerun writes.
const (
	AttrFloat  AttrType = 1
	AttrInt    AttrType = 2
	AttrString AttrType = 3
	AttrTensor AttrType = 4
	AttrFloats AttrType = 6
	AttrInts   AttrType = 7
)

// Model is an ONNX ModelProto.
type Model struct {
	IRVersion       int64
	Opsets          []OpsetID
	ProducerName    string
	ProducerVersion string
	DocString       string
	Graph           *Graph
	Metadata        []KeyValue
}

// OpsetID is an OperatorSetIdProto: an operator domain ("" is the ONNX domain) and
// its version.
type OpsetID struct {
	Domain  string
	Version int64
}

// KeyValue is a StringStringEntryProto.
type KeyValue struct{ Key, Value string }

// Graph is an ONNX GraphProto.
type Graph struct {
	Name         string
	Nodes        []*Node
	Initializers []*Tensor
	Inputs       []*ValueInfo
	Outputs      []*ValueInfo
}

// Node is an ONNX NodeProto.
type Node struct {
	Name    string
	OpType  string
	Domain  string
	Inputs  []string
	Outputs []string
	Attrs   []*Attribute
}

// Attribute is an ONNX AttributeProto (the scalar, string, tensor and list kinds).
type Attribute struct {
	Name   string
	Type   AttrType
	F      float32
	I      int64
	S      []byte
	T      *Tensor
	Floats []float32
	Ints   []int64
}

// Tensor is an ONNX TensorProto holding its data as raw little-endian bytes, or
// pointing at an external data file (External set, Raw nil).
type Tensor struct {
	Name     string
	Dims     []int64
	DataType DataType
	Raw      []byte
	// External, when set, stores the data outside the model file: location, offset and
	// length (data_location EXTERNAL).
	External *ExternalData
}

// ExternalData locates a tensor's bytes in a file next to the model.
type ExternalData struct {
	Location       string
	Offset, Length int64
}

// Elems returns the number of elements the tensor's dims describe.
func (t *Tensor) Elems() int64 {
	n := int64(1)
	for _, d := range t.Dims {
		n *= d
	}
	return n
}

// ValueInfo is an ONNX ValueInfoProto for a tensor: name, element type and shape
// (each dimension fixed or symbolic).
type ValueInfo struct {
	Name     string
	ElemType DataType
	Shape    []Dim
}

// Dim is one dimension of a ValueInfo's shape: a fixed Value, or a symbolic Param
// when Param is not empty.
type Dim struct {
	Value int64
	Param string
}

// ---- encoding ------------------------------------------------------------------

// The protobuf wire types.
const (
	wireVarint = 0
	wire64     = 1
	wireBytes  = 2
	wire32     = 5
)

func varintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

func tagLen(field int) int { return varintLen(uint64(field) << 3) }

// enc accumulates the encoding; every message has a size method that must agree with
// its append method, so nested messages are written once without copies.
type enc struct{ b []byte }

func (e *enc) tag(field, wire int) { e.b = binary.AppendUvarint(e.b, uint64(field)<<3|uint64(wire)) }
func (e *enc) varint(field int, v uint64) {
	e.tag(field, wireVarint)
	e.b = binary.AppendUvarint(e.b, v)
}
func (e *enc) bytes(field int, v []byte) {
	e.tag(field, wireBytes)
	e.b = binary.AppendUvarint(e.b, uint64(len(v)))
	e.b = append(e.b, v...)
}
func (e *enc) str(field int, v string) {
	e.tag(field, wireBytes)
	e.b = binary.AppendUvarint(e.b, uint64(len(v)))
	e.b = append(e.b, v...)
}
func (e *enc) msgHeader(field, size int) {
	e.tag(field, wireBytes)
	e.b = binary.AppendUvarint(e.b, uint64(size))
}

func sizeVarint(field int, v uint64) int { return tagLen(field) + varintLen(v) }
func sizeBytes(field, n int) int         { return tagLen(field) + varintLen(uint64(n)) + n }
func sizeStrOpt(field int, s string) int {
	if s == "" {
		return 0
	}
	return sizeBytes(field, len(s))
}

func (e *enc) strOpt(field int, s string) {
	if s != "" {
		e.str(field, s)
	}
}

func (o *OpsetID) size() int {
	return sizeStrOpt(1, o.Domain) + sizeVarint(2, uint64(o.Version))
}
func (o *OpsetID) append(e *enc) {
	e.strOpt(1, o.Domain)
	e.varint(2, uint64(o.Version))
}

func (kv *KeyValue) size() int { return sizeStrOpt(1, kv.Key) + sizeStrOpt(2, kv.Value) }
func (kv *KeyValue) append(e *enc) {
	e.strOpt(1, kv.Key)
	e.strOpt(2, kv.Value)
}

func (t *Tensor) size() int {
	n := 0
	for _, d := range t.Dims {
		n += sizeVarint(1, uint64(d))
	}
	n += sizeVarint(2, uint64(t.DataType))
	n += sizeStrOpt(8, t.Name)
	if t.External != nil {
		for _, kv := range t.External.entries() {
			n += sizeBytes(13, kv.size())
		}
		n += sizeVarint(14, 1)
	} else {
		n += sizeBytes(9, len(t.Raw))
	}
	return n
}

func (x *ExternalData) entries() []KeyValue {
	return []KeyValue{
		{"location", x.Location},
		{"offset", fmt.Sprint(x.Offset)},
		{"length", fmt.Sprint(x.Length)},
	}
}

func (t *Tensor) append(e *enc) {
	for _, d := range t.Dims {
		e.varint(1, uint64(d))
	}
	e.varint(2, uint64(t.DataType))
	e.strOpt(8, t.Name)
	if t.External != nil {
		for _, kv := range t.External.entries() {
			e.msgHeader(13, kv.size())
			kv.append(e)
		}
		e.varint(14, 1)
	} else {
		e.bytes(9, t.Raw)
	}
}

func (a *Attribute) size() int {
	n := sizeStrOpt(1, a.Name) + sizeVarint(20, uint64(a.Type))
	switch a.Type {
	case AttrFloat:
		n += tagLen(2) + 4
	case AttrInt:
		n += sizeVarint(3, uint64(a.I))
	case AttrString:
		n += sizeBytes(4, len(a.S))
	case AttrTensor:
		n += sizeBytes(5, a.T.size())
	case AttrFloats:
		n += len(a.Floats) * (tagLen(7) + 4)
	case AttrInts:
		for _, v := range a.Ints {
			n += sizeVarint(8, uint64(v))
		}
	}
	return n
}

func (a *Attribute) append(e *enc) {
	e.strOpt(1, a.Name)
	switch a.Type {
	case AttrFloat:
		e.tag(2, wire32)
		e.b = binary.LittleEndian.AppendUint32(e.b, math.Float32bits(a.F))
	case AttrInt:
		e.varint(3, uint64(a.I))
	case AttrString:
		e.bytes(4, a.S)
	case AttrTensor:
		e.msgHeader(5, a.T.size())
		a.T.append(e)
	case AttrFloats:
		for _, v := range a.Floats {
			e.tag(7, wire32)
			e.b = binary.LittleEndian.AppendUint32(e.b, math.Float32bits(v))
		}
	case AttrInts:
		for _, v := range a.Ints {
			e.varint(8, uint64(v))
		}
	}
	e.varint(20, uint64(a.Type))
}

func (n *Node) size() int {
	s := 0
	for _, v := range n.Inputs {
		s += sizeBytes(1, len(v))
	}
	for _, v := range n.Outputs {
		s += sizeBytes(2, len(v))
	}
	s += sizeStrOpt(3, n.Name) + sizeStrOpt(4, n.OpType)
	for _, a := range n.Attrs {
		s += sizeBytes(5, a.size())
	}
	s += sizeStrOpt(7, n.Domain)
	return s
}

func (n *Node) append(e *enc) {
	for _, v := range n.Inputs {
		e.str(1, v)
	}
	for _, v := range n.Outputs {
		e.str(2, v)
	}
	e.strOpt(3, n.Name)
	e.strOpt(4, n.OpType)
	for _, a := range n.Attrs {
		e.msgHeader(5, a.size())
		a.append(e)
	}
	e.strOpt(7, n.Domain)
}

// Dimension, TensorShapeProto, TypeProto.Tensor, TypeProto, ValueInfoProto.
func (d *Dim) size() int {
	if d.Param != "" {
		return sizeBytes(2, len(d.Param))
	}
	return sizeVarint(1, uint64(d.Value))
}
func (d *Dim) append(e *enc) {
	if d.Param != "" {
		e.str(2, d.Param)
	} else {
		e.varint(1, uint64(d.Value))
	}
}

func (v *ValueInfo) shapeSize() int {
	n := 0
	for i := range v.Shape {
		n += sizeBytes(1, v.Shape[i].size())
	}
	return n
}
func (v *ValueInfo) tensorTypeSize() int {
	return sizeVarint(1, uint64(v.ElemType)) + sizeBytes(2, v.shapeSize())
}
func (v *ValueInfo) typeSize() int { return sizeBytes(1, v.tensorTypeSize()) }
func (v *ValueInfo) size() int     { return sizeStrOpt(1, v.Name) + sizeBytes(2, v.typeSize()) }
func (v *ValueInfo) append(e *enc) {
	e.strOpt(1, v.Name)
	e.msgHeader(2, v.typeSize())
	e.msgHeader(1, v.tensorTypeSize())
	e.varint(1, uint64(v.ElemType))
	e.msgHeader(2, v.shapeSize())
	for i := range v.Shape {
		e.msgHeader(1, v.Shape[i].size())
		v.Shape[i].append(e)
	}
}

func (g *Graph) size() int {
	n := 0
	for _, x := range g.Nodes {
		n += sizeBytes(1, x.size())
	}
	n += sizeStrOpt(2, g.Name)
	for _, x := range g.Initializers {
		n += sizeBytes(5, x.size())
	}
	for _, x := range g.Inputs {
		n += sizeBytes(11, x.size())
	}
	for _, x := range g.Outputs {
		n += sizeBytes(12, x.size())
	}
	return n
}

func (g *Graph) append(e *enc) {
	for _, x := range g.Nodes {
		e.msgHeader(1, x.size())
		x.append(e)
	}
	e.strOpt(2, g.Name)
	for _, x := range g.Initializers {
		e.msgHeader(5, x.size())
		x.append(e)
	}
	for _, x := range g.Inputs {
		e.msgHeader(11, x.size())
		x.append(e)
	}
	for _, x := range g.Outputs {
		e.msgHeader(12, x.size())
		x.append(e)
	}
}

func (m *Model) size() int {
	n := sizeVarint(1, uint64(m.IRVersion))
	n += sizeStrOpt(2, m.ProducerName) + sizeStrOpt(3, m.ProducerVersion) + sizeStrOpt(6, m.DocString)
	if m.Graph != nil {
		n += sizeBytes(7, m.Graph.size())
	}
	for i := range m.Opsets {
		n += sizeBytes(8, m.Opsets[i].size())
	}
	for i := range m.Metadata {
		n += sizeBytes(14, m.Metadata[i].size())
	}
	return n
}

// ErrTooLarge is returned when a model without external data exceeds protobuf's 2 GiB
// message limit.
var ErrTooLarge = errors.New("onnx: model exceeds the 2 GiB protobuf limit (use external data)")

// Marshal encodes m as a ModelProto.
func (m *Model) Marshal() ([]byte, error) {
	sz := m.size()
	if int64(sz) >= 1<<31 || sz < 0 {
		return nil, ErrTooLarge
	}
	e := &enc{b: make([]byte, 0, sz)}
	e.varint(1, uint64(m.IRVersion))
	e.strOpt(2, m.ProducerName)
	e.strOpt(3, m.ProducerVersion)
	e.strOpt(6, m.DocString)
	if m.Graph != nil {
		e.msgHeader(7, m.Graph.size())
		m.Graph.append(e)
	}
	for i := range m.Opsets {
		e.msgHeader(8, m.Opsets[i].size())
		m.Opsets[i].append(e)
	}
	for i := range m.Metadata {
		e.msgHeader(14, m.Metadata[i].size())
		m.Metadata[i].append(e)
	}
	if len(e.b) != sz {
		return nil, fmt.Errorf("onnx: internal error: encoded %d bytes, sized %d", len(e.b), sz)
	}
	return e.b, nil
}

// WriteTo writes the encoded model to w.
func (m *Model) WriteTo(w io.Writer) (int64, error) {
	b, err := m.Marshal()
	if err != nil {
		return 0, err
	}
	n, err := w.Write(b)
	return int64(n), err
}
