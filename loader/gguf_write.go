package loader

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"

	"github.com/edgerun/edgerun/int4"
)

// KV is one GGUF metadata key/value pair. The Go type of Value selects the GGUF value
// type: uint8, int8, uint16, int16, uint32, int32, float32, bool, string, uint64, int64,
// float64; a slice of one of those is an array of it; []any is an array of arrays (each
// element itself a slice). These are exactly the types the reader produces, so
// Checkpoint.MetaKVs round-trips. Plain int and float are rejected: the width must be chosen.
type KV struct {
	Key   string
	Value any
}

// GGUFWriter streams a GGUF v3 file: NewGGUFWriter writes the header, then the tensors'
// data is written in the order the tensors were given (Write or WriteTensor), padded to
// the alignment automatically. Close completes the file; it appears at its path only
// then (it is written to a temporary file in the same directory and renamed).
type GGUFWriter struct {
	path    string
	f       *atomicFile
	enc     *ggufEncoder
	done    bool
	failure error
}

// NewGGUFWriter starts a GGUF v3 file at path with the given metadata and tensor infos
// (only Name, Type and Shape of each tensor are used here). The alignment is 32 unless
// meta holds general.alignment (a uint32 power of two).
func NewGGUFWriter(path string, meta []KV, tensors []*Tensor) (*GGUFWriter, error) {
	enc, err := newGGUFEncoder(path, meta, tensors)
	if err != nil {
		return nil, err
	}
	f, err := createAtomic(path)
	if err != nil {
		return nil, fmt.Errorf("loader: %s: %w", path, err)
	}
	w := &GGUFWriter{path: path, f: f, enc: enc}
	if err := enc.header(f); err != nil {
		w.Abort()
		return nil, fmt.Errorf("loader: %s: %w", path, err)
	}
	return w, nil
}

// Write appends tensor data: the bytes of the current tensor, continuing into the next
// one when it is complete. Writing more than the tensors hold is an error.
func (w *GGUFWriter) Write(p []byte) (int, error) {
	if w.failure != nil {
		return 0, w.failure
	}
	if w.done {
		return 0, errorf(w.path, ErrInvalid, "write after Close")
	}
	n, err := w.enc.data(w.f, p)
	if err != nil {
		w.failure = err
	}
	return n, err
}

// WriteTensor writes the whole data of the next tensor, which must be called name.
func (w *GGUFWriter) WriteTensor(name string, data []byte) error {
	if w.failure != nil {
		return w.failure
	}
	if i := w.enc.cur; i >= len(w.enc.tensors) || w.enc.tensors[i].Name != name || w.enc.written != 0 {
		return errorf(w.path, ErrInvalid, "tensor %q written out of order", name)
	}
	if want := w.enc.sizes[w.enc.cur]; uint64(len(data)) != want {
		return errorf(w.path, ErrInvalid, "tensor %q: %d bytes of data, want %d", name, len(data), want)
	}
	_, err := w.Write(data)
	return err
}

// Close checks that every tensor was written in full, flushes and syncs the file, and
// renames it into place. After a failure it removes the temporary file and returns the error.
func (w *GGUFWriter) Close() error {
	if w.done {
		return w.failure
	}
	err := w.failure
	if err == nil && w.enc.cur < len(w.enc.tensors) {
		err = errorf(w.path, ErrInvalid, "closed before tensor %q was written in full", w.enc.tensors[w.enc.cur].Name)
	}
	if err == nil {
		err = w.f.commit()
	} else {
		w.f.abort()
	}
	w.done = true
	if err != nil {
		if _, ok := err.(*fileError); !ok {
			err = fmt.Errorf("loader: %s: %w", w.path, err)
		}
		w.failure = err
	}
	return err
}

// Abort discards the file being written. It is a no-op after Close.
func (w *GGUFWriter) Abort() {
	if w.done {
		return
	}
	w.done = true
	w.f.abort()
	if w.failure == nil {
		w.failure = errorf(w.path, ErrInvalid, "aborted")
	}
}

// WriteGGUF writes a GGUF v3 file at path holding meta and tensors (with their Data),
// atomically. Tensor data is streamed from the tensors' buffers, so writing a checkpoint
// read from a memory map does not copy the weights to the heap.
func WriteGGUF(path string, meta []KV, tensors []*Tensor) error {
	w, err := NewGGUFWriter(path, meta, tensors)
	if err != nil {
		return err
	}
	for _, t := range tensors {
		if err := w.WriteTensor(t.Name, t.Data); err != nil {
			w.Abort()
			return err
		}
	}
	return w.Close()
}

// encodeGGUF returns the bytes of a GGUF v3 file (for tests and fuzz seeds).
func encodeGGUF(meta []KV, tensors []*Tensor) ([]byte, error) {
	enc, err := newGGUFEncoder("<memory>", meta, tensors)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := enc.header(&b); err != nil {
		return nil, err
	}
	for i, t := range tensors {
		if uint64(len(t.Data)) != enc.sizes[i] {
			return nil, errorf("<memory>", ErrInvalid, "tensor %q: %d bytes of data, want %d", t.Name, len(t.Data), enc.sizes[i])
		}
		if _, err := enc.data(&b, t.Data); err != nil {
			return nil, err
		}
	}
	return b.Bytes(), nil
}

// ggufEncoder holds a validated header and tracks the data being streamed after it.
type ggufEncoder struct {
	path    string
	meta    []KV
	tensors []*Tensor
	sizes   []uint64
	align   uint64
	cur     int    // tensor being written
	written uint64 // bytes of it written so far
}

func newGGUFEncoder(path string, meta []KV, tensors []*Tensor) (*ggufEncoder, error) {
	e := &ggufEncoder{path: path, meta: meta, tensors: tensors, align: ggufDefaultAlignment}
	keys := make(map[string]bool, len(meta))
	for _, kv := range meta {
		if kv.Key == "" {
			return nil, errorf(path, ErrInvalid, "empty metadata key")
		}
		if keys[kv.Key] {
			return nil, errorf(path, ErrInvalid, "duplicate metadata key %q", kv.Key)
		}
		keys[kv.Key] = true
		if _, err := valueType(kv.Value); err != nil {
			return nil, errorf(path, ErrInvalid, "metadata %q: %v", kv.Key, err)
		}
		if kv.Key == "general.alignment" {
			a, ok := kv.Value.(uint32)
			if !ok || a == 0 || a&(a-1) != 0 {
				return nil, errorf(path, ErrInvalid, "general.alignment must be a uint32 power of two, got %T %v", kv.Value, kv.Value)
			}
			e.align = uint64(a)
		}
	}
	names := make(map[string]bool, len(tensors))
	for _, t := range tensors {
		if t == nil || t.Name == "" {
			return nil, errorf(path, ErrInvalid, "tensor without a name")
		}
		if names[t.Name] {
			return nil, errorf(path, ErrInvalid, "duplicate tensor name %q", t.Name)
		}
		names[t.Name] = true
		if !t.Type.Supported() {
			return nil, errorf(path, ErrInvalid, "tensor %q: type %v is not supported", t.Name, t.Type)
		}
		if len(t.Shape) == 0 || len(t.Shape) > ggufMaxDims {
			return nil, errorf(path, ErrInvalid, "tensor %q: shape %v must have 1 to %d dimensions", t.Name, t.Shape, ggufMaxDims)
		}
		elems := uint64(1)
		for _, d := range t.Shape {
			if d <= 0 || uint64(d) > ggufMaxElems/elems {
				return nil, errorf(path, ErrInvalid, "tensor %q: bad shape %v", t.Name, t.Shape)
			}
			elems *= uint64(d)
		}
		n, err := int4.RowBytes(t.Type, t.Cols())
		if err != nil {
			return nil, errorf(path, ErrInvalid, "tensor %q: shape %v: %v", t.Name, t.Shape, err)
		}
		e.sizes = append(e.sizes, uint64(n)*(elems/uint64(t.Cols())))
	}
	return e, nil
}

func (e *ggufEncoder) pad(n uint64) uint64 { return (e.align - n%e.align) % e.align }

// header writes everything up to the start of the first tensor's data.
func (e *ggufEncoder) header(w io.Writer) error {
	b := make([]byte, 0, 4096)
	le := binary.LittleEndian
	b = append(b, ggufMagic...)
	b = le.AppendUint32(b, ggufVersion)
	b = le.AppendUint64(b, uint64(len(e.tensors)))
	b = le.AppendUint64(b, uint64(len(e.meta)))
	var total uint64
	flush := func() error {
		_, err := w.Write(b)
		total += uint64(len(b))
		b = b[:0]
		return err
	}
	for _, kv := range e.meta {
		b = appendString(b, kv.Key)
		t, _ := valueType(kv.Value)
		b = le.AppendUint32(b, uint32(t))
		b = appendValue(b, kv.Value)
		if len(b) > 1<<16 {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	var offset uint64
	for i, t := range e.tensors {
		b = appendString(b, t.Name)
		b = le.AppendUint32(b, uint32(len(t.Shape)))
		for d := len(t.Shape) - 1; d >= 0; d-- {
			b = le.AppendUint64(b, uint64(t.Shape[d]))
		}
		b = le.AppendUint32(b, uint32(t.Type))
		b = le.AppendUint64(b, offset)
		offset += e.sizes[i] + e.pad(e.sizes[i])
	}
	b = append(b, make([]byte, e.pad(total+uint64(len(b))))...)
	if err := flush(); err != nil {
		return err
	}
	e.skipEmpty()
	return nil
}

// skipEmpty advances past finished tensors.
func (e *ggufEncoder) skipEmpty() {
	for e.cur < len(e.tensors) && e.written == e.sizes[e.cur] {
		e.cur++
		e.written = 0
	}
}

var zeros [256]byte

// data writes p as the continuation of the tensor data, adding padding after each
// tensor that completes.
func (e *ggufEncoder) data(w io.Writer, p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		if e.cur >= len(e.tensors) {
			return n, errorf(e.path, ErrInvalid, "%d bytes written past the last tensor", len(p))
		}
		size := e.sizes[e.cur]
		k := uint64(len(p))
		if k > size-e.written {
			k = size - e.written
		}
		m, err := w.Write(p[:k])
		n += m
		e.written += uint64(m)
		if err != nil {
			return n, err
		}
		p = p[k:]
		if e.written == size {
			if _, err := w.Write(zeros[:e.pad(size)]); err != nil {
				return n, err
			}
			e.cur++
			e.written = 0
		}
	}
	return n, nil
}

func appendString(b []byte, s string) []byte {
	b = binary.LittleEndian.AppendUint64(b, uint64(len(s)))
	return append(b, s...)
}

// valueType returns the GGUF type of a metadata value, checking nested arrays.
func valueType(v any) (ggufType, error) {
	switch x := v.(type) {
	case uint8:
		return ggufU8, nil
	case int8:
		return ggufI8, nil
	case uint16:
		return ggufU16, nil
	case int16:
		return ggufI16, nil
	case uint32:
		return ggufU32, nil
	case int32:
		return ggufI32, nil
	case float32:
		return ggufF32, nil
	case bool:
		return ggufBool, nil
	case string:
		return ggufString, nil
	case uint64:
		return ggufU64, nil
	case int64:
		return ggufI64, nil
	case float64:
		return ggufF64, nil
	case []uint8, []int8, []uint16, []int16, []uint32, []int32, []float32, []bool, []string, []uint64, []int64, []float64:
		return ggufArray, nil
	case []any:
		for i, e := range x {
			t, err := valueType(e)
			if err != nil {
				return 0, err
			}
			if t != ggufArray {
				return 0, fmt.Errorf("element %d of an array of arrays has type %T, want a slice", i, e)
			}
		}
		return ggufArray, nil
	}
	return 0, fmt.Errorf("value of Go type %T has no GGUF type", v)
}

// elemType returns the element type of an array value (one valueType accepted).
func elemType(v any) ggufType {
	switch v.(type) {
	case []uint8:
		return ggufU8
	case []int8:
		return ggufI8
	case []uint16:
		return ggufU16
	case []int16:
		return ggufI16
	case []uint32:
		return ggufU32
	case []int32:
		return ggufI32
	case []float32:
		return ggufF32
	case []bool:
		return ggufBool
	case []string:
		return ggufString
	case []uint64:
		return ggufU64
	case []int64:
		return ggufI64
	case []float64:
		return ggufF64
	}
	return ggufArray
}

// appendValue appends the encoding of v (whose type valueType accepted) without its type tag.
func appendValue(b []byte, v any) []byte {
	le := binary.LittleEndian
	arr := func(n int) []byte {
		b = le.AppendUint32(b, uint32(elemType(v)))
		return le.AppendUint64(b, uint64(n))
	}
	switch x := v.(type) {
	case uint8:
		return append(b, x)
	case int8:
		return append(b, byte(x))
	case uint16:
		return le.AppendUint16(b, x)
	case int16:
		return le.AppendUint16(b, uint16(x))
	case uint32:
		return le.AppendUint32(b, x)
	case int32:
		return le.AppendUint32(b, uint32(x))
	case float32:
		return le.AppendUint32(b, math.Float32bits(x))
	case bool:
		if x {
			return append(b, 1)
		}
		return append(b, 0)
	case string:
		return appendString(b, x)
	case uint64:
		return le.AppendUint64(b, x)
	case int64:
		return le.AppendUint64(b, uint64(x))
	case float64:
		return le.AppendUint64(b, math.Float64bits(x))
	case []uint8:
		return append(arr(len(x)), x...)
	case []int8:
		return appendElems(arr(len(x)), x)
	case []bool:
		return appendElems(arr(len(x)), x)
	case []uint16:
		return appendElems(arr(len(x)), x)
	case []int16:
		return appendElems(arr(len(x)), x)
	case []uint32:
		return appendElems(arr(len(x)), x)
	case []int32:
		return appendElems(arr(len(x)), x)
	case []float32:
		return appendElems(arr(len(x)), x)
	case []uint64:
		return appendElems(arr(len(x)), x)
	case []int64:
		return appendElems(arr(len(x)), x)
	case []float64:
		return appendElems(arr(len(x)), x)
	case []string:
		return appendElems(arr(len(x)), x)
	case []any:
		return appendElems(arr(len(x)), x)
	}
	return b
}

// appendElems appends the elements of an array value, each encoded as appendValue
// encodes a scalar (or, for []any, a nested array) of its type.
func appendElems[T any](b []byte, xs []T) []byte {
	for _, e := range xs {
		b = appendValue(b, e)
	}
	return b
}
