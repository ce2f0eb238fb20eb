package onnx

import (
	"fmt"
	"io"
)

// ExternalizeData moves the data of every initializer of at least minBytes out of the
// model: each gets an External reference (location, offset, length) into one data
// file, offsets aligned to 64 bytes. It returns the tensors in file order; write them
// with WriteExternalData. The model stays valid for Marshal (now without those bytes).
func (m *Model) ExternalizeData(location string, minBytes int) []*Tensor {
	if m.Graph == nil {
		return nil
	}
	var moved []*Tensor
	var off int64
	for _, t := range m.Graph.Initializers {
		if t.External != nil || len(t.Raw) < minBytes {
			continue
		}
		off = (off + 63) &^ 63
		t.External = &ExternalData{Location: location, Offset: off, Length: int64(len(t.Raw))}
		off += int64(len(t.Raw))
		moved = append(moved, t)
	}
	return moved
}

// WriteExternalData writes the bytes of tensors (as returned by ExternalizeData) at
// their offsets to w, and drops them from the tensors.
func WriteExternalData(w io.Writer, tensors []*Tensor) (int64, error) {
	var pos int64
	pad := make([]byte, 64)
	for _, t := range tensors {
		if t.External == nil || int64(len(t.Raw)) != t.External.Length || t.External.Offset < pos {
			return pos, fmt.Errorf("onnx: tensor %q: not externalized in order", t.Name)
		}
		n, err := w.Write(pad[:t.External.Offset-pos])
		pos += int64(n)
		if err != nil {
			return pos, err
		}
		n, err = w.Write(t.Raw)
		pos += int64(n)
		if err != nil {
			return pos, err
		}
		t.Raw = nil
	}
	return pos, nil
}
