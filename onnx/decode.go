package onnx

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
)

// ErrMalformed is the kind of every error about bytes that are not a valid ModelProto
// (of the subset this package reads).
var ErrMalformed = errors.New("onnx: malformed protobuf")

// Unmarshal decodes a ModelProto written by Marshal (or any ONNX model, as far as the
// fields this package knows; others are skipped). Tensor data stays a view into b.
func Unmarshal(b []byte) (*Model, error) {
	m := &Model{}
	err := fields(b, func(f, w int, v uint64, p []byte) error {
		switch {
		case f == 1 && w == wireVarint:
			m.IRVersion = int64(v)
		case f == 2 && w == wireBytes:
			m.ProducerName = string(p)
		case f == 3 && w == wireBytes:
			m.ProducerVersion = string(p)
		case f == 6 && w == wireBytes:
			m.DocString = string(p)
		case f == 7 && w == wireBytes:
			g, err := decodeGraph(p)
			if err != nil {
				return err
			}
			m.Graph = g
		case f == 8 && w == wireBytes:
			var o OpsetID
			err := fields(p, func(f, w int, v uint64, p []byte) error {
				switch {
				case f == 1 && w == wireBytes:
					o.Domain = string(p)
				case f == 2 && w == wireVarint:
					o.Version = int64(v)
				}
				return nil
			})
			if err != nil {
				return err
			}
			m.Opsets = append(m.Opsets, o)
		case f == 14 && w == wireBytes:
			kv, err := decodeKV(p)
			if err != nil {
				return err
			}
			m.Metadata = append(m.Metadata, kv)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// fields calls fn for every field of the message in b: its number, wire type, varint
// value (varint, 32- and 64-bit fields) and payload (length-delimited fields).
func fields(b []byte, fn func(field, wire int, v uint64, p []byte) error) error {
	for len(b) > 0 {
		key, n := binary.Uvarint(b)
		if n <= 0 {
			return fmt.Errorf("%w: bad field key", ErrMalformed)
		}
		b = b[n:]
		field, wire := int(key>>3), int(key&7)
		if field <= 0 || key>>3 > math.MaxInt32 {
			return fmt.Errorf("%w: field number %d", ErrMalformed, key>>3)
		}
		var v uint64
		var p []byte
		switch wire {
		case wireVarint:
			v, n = binary.Uvarint(b)
			if n <= 0 {
				return fmt.Errorf("%w: bad varint in field %d", ErrMalformed, field)
			}
			b = b[n:]
		case wire64:
			if len(b) < 8 {
				return fmt.Errorf("%w: short 64-bit field %d", ErrMalformed, field)
			}
			v = binary.LittleEndian.Uint64(b)
			b = b[8:]
		case wire32:
			if len(b) < 4 {
				return fmt.Errorf("%w: short 32-bit field %d", ErrMalformed, field)
			}
			v = uint64(binary.LittleEndian.Uint32(b))
			b = b[4:]
		case wireBytes:
			l, n := binary.Uvarint(b)
			if n <= 0 || l > uint64(len(b)-n) {
				return fmt.Errorf("%w: bad length of field %d", ErrMalformed, field)
			}
			p = b[n : n+int(l)]
			b = b[n+int(l):]
		default:
			return fmt.Errorf("%w: wire type %d in field %d", ErrMalformed, wire, field)
		}
		if err := fn(field, wire, v, p); err != nil {
			return err
		}
	}
	return nil
}

func decodeKV(p []byte) (KeyValue, error) {
	var kv KeyValue
	err := fields(p, func(f, w int, v uint64, p []byte) error {
		switch {
		case f == 1 && w == wireBytes:
			kv.Key = string(p)
		case f == 2 && w == wireBytes:
			kv.Value = string(p)
		}
		return nil
	})
	return kv, err
}

// packedOrSingle decodes a repeated varint field given either unpacked (one value) or
// packed (a length-delimited run of varints).
func packedOrSingle(w int, v uint64, p []byte, add func(uint64)) error {
	if w == wireVarint {
		add(v)
		return nil
	}
	if w != wireBytes {
		return fmt.Errorf("%w: repeated integer with wire type %d", ErrMalformed, w)
	}
	for len(p) > 0 {
		x, n := binary.Uvarint(p)
		if n <= 0 {
			return fmt.Errorf("%w: bad packed varint", ErrMalformed)
		}
		add(x)
		p = p[n:]
	}
	return nil
}

func decodeGraph(b []byte) (*Graph, error) {
	g := &Graph{}
	err := fields(b, func(f, w int, v uint64, p []byte) error {
		if w != wireBytes {
			return nil
		}
		switch f {
		case 1:
			n, err := decodeNode(p)
			if err != nil {
				return err
			}
			g.Nodes = append(g.Nodes, n)
		case 2:
			g.Name = string(p)
		case 5:
			t, err := decodeTensor(p)
			if err != nil {
				return err
			}
			g.Initializers = append(g.Initializers, t)
		case 11, 12:
			vi, err := decodeValueInfo(p)
			if err != nil {
				return err
			}
			if f == 11 {
				g.Inputs = append(g.Inputs, vi)
			} else {
				g.Outputs = append(g.Outputs, vi)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return g, nil
}

func decodeNode(b []byte) (*Node, error) {
	n := &Node{}
	err := fields(b, func(f, w int, v uint64, p []byte) error {
		if w != wireBytes {
			return nil
		}
		switch f {
		case 1:
			n.Inputs = append(n.Inputs, string(p))
		case 2:
			n.Outputs = append(n.Outputs, string(p))
		case 3:
			n.Name = string(p)
		case 4:
			n.OpType = string(p)
		case 5:
			a, err := decodeAttr(p)
			if err != nil {
				return err
			}
			n.Attrs = append(n.Attrs, a)
		case 7:
			n.Domain = string(p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return n, nil
}

func decodeAttr(b []byte) (*Attribute, error) {
	a := &Attribute{}
	err := fields(b, func(f, w int, v uint64, p []byte) error {
		switch {
		case f == 1 && w == wireBytes:
			a.Name = string(p)
		case f == 2 && w == wire32:
			a.F = math.Float32frombits(uint32(v))
		case f == 3 && w == wireVarint:
			a.I = int64(v)
		case f == 4 && w == wireBytes:
			a.S = p
		case f == 5 && w == wireBytes:
			t, err := decodeTensor(p)
			if err != nil {
				return err
			}
			a.T = t
		case f == 7 && w == wire32:
			a.Floats = append(a.Floats, math.Float32frombits(uint32(v)))
		case f == 7 && w == wireBytes:
			if len(p)%4 != 0 {
				return fmt.Errorf("%w: packed floats of %d bytes", ErrMalformed, len(p))
			}
			for i := 0; i < len(p); i += 4 {
				a.Floats = append(a.Floats, math.Float32frombits(binary.LittleEndian.Uint32(p[i:])))
			}
		case f == 8:
			return packedOrSingle(w, v, p, func(x uint64) { a.Ints = append(a.Ints, int64(x)) })
		case f == 20 && w == wireVarint:
			a.Type = AttrType(v)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return a, nil
}

func decodeTensor(b []byte) (*Tensor, error) {
	t := &Tensor{}
	var ext []KeyValue
	external := false
	err := fields(b, func(f, w int, v uint64, p []byte) error {
		switch {
		case f == 1:
			return packedOrSingle(w, v, p, func(x uint64) { t.Dims = append(t.Dims, int64(x)) })
		case f == 2 && w == wireVarint:
			t.DataType = DataType(v)
		case f == 8 && w == wireBytes:
			t.Name = string(p)
		case f == 9 && w == wireBytes:
			t.Raw = p
		case f == 13 && w == wireBytes:
			kv, err := decodeKV(p)
			if err != nil {
				return err
			}
			ext = append(ext, kv)
		case f == 14 && w == wireVarint:
			external = v == 1
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if external {
		t.External = &ExternalData{}
		for _, kv := range ext {
			switch kv.Key {
			case "location":
				t.External.Location = kv.Value
			case "offset", "length":
				x, err := strconv.ParseInt(kv.Value, 10, 64)
				if err != nil || x < 0 {
					return nil, fmt.Errorf("%w: tensor %q: external %s %q", ErrMalformed, t.Name, kv.Key, kv.Value)
				}
				if kv.Key == "offset" {
					t.External.Offset = x
				} else {
					t.External.Length = x
				}
			}
		}
	}
	return t, nil
}

func decodeValueInfo(b []byte) (*ValueInfo, error) {
	vi := &ValueInfo{}
	err := fields(b, func(f, w int, v uint64, p []byte) error {
		switch {
		case f == 1 && w == wireBytes:
			vi.Name = string(p)
		case f == 2 && w == wireBytes: // TypeProto
			return fields(p, func(f, w int, v uint64, p []byte) error {
				if f != 1 || w != wireBytes { // tensor_type only
					return nil
				}
				return fields(p, func(f, w int, v uint64, p []byte) error {
					switch {
					case f == 1 && w == wireVarint:
						vi.ElemType = DataType(v)
					case f == 2 && w == wireBytes: // TensorShapeProto
						return fields(p, func(f, w int, v uint64, p []byte) error {
							if f != 1 || w != wireBytes {
								return nil
							}
							var d Dim
							err := fields(p, func(f, w int, v uint64, p []byte) error {
								switch {
								case f == 1 && w == wireVarint:
									d.Value = int64(v)
								case f == 2 && w == wireBytes:
									d.Param = string(p)
								}
								return nil
							})
							vi.Shape = append(vi.Shape, d)
							return err
						})
					}
					return nil
				})
			})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return vi, nil
}
