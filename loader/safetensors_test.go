package loader

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// rawSafetensors builds a file from a literal header and data area.
func rawSafetensors(header string, data []byte) []byte {
	b := make([]byte, 8, 8+len(header)+len(data))
	binary.LittleEndian.PutUint64(b, uint64(len(header)))
	b = append(b, header...)
	return append(b, data...)
}

func sampleSafeTensors() []*SafeTensor {
	return []*SafeTensor{
		{Name: "a.weight", DType: "F32", Shape: []int{2, 3}, Data: encodeF32s([]float32{1, 2, 3, 4, 5, 6})},
		{Name: "b", DType: "BF16", Shape: []int{3}, Data: []byte{0x80, 0x3f, 0, 0x40, 0x40, 0x40}},
		{Name: "empty", DType: "F16", Shape: []int{0, 4}, Data: nil},
		{Name: "scalar", DType: "I64", Shape: []int{}, Data: []byte{7, 0, 0, 0, 0, 0, 0, 0}},
		{Name: "u8 \"quoted\"", DType: "U8", Shape: []int{5, 1}, Data: []byte("hello")},
	}
}

func TestSafetensorsRoundTrip(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.safetensors")
	meta := map[string]string{"format": "pt"}
	if err := WriteSafetensors(p, meta, sampleSafeTensors()); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(p)
	if h := binary.LittleEndian.Uint64(raw); (8+h)%8 != 0 {
		t.Errorf("data area starts at %d, not 8-aligned", 8+h)
	}
	f, err := OpenSafetensors(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Metadata["format"] != "pt" || len(f.Metadata) != 1 {
		t.Errorf("metadata %v", f.Metadata)
	}
	want := sampleSafeTensors()
	if len(f.Tensors) != len(want) {
		t.Fatalf("%d tensors, want %d", len(f.Tensors), len(want))
	}
	for i, w := range want {
		g := f.Tensors[i]
		if g.Name != w.Name || g.DType != w.DType || fmt.Sprint(g.Shape) != fmt.Sprint(w.Shape) || !bytes.Equal(g.Data, w.Data) {
			t.Errorf("tensor %d: got %s %s %v % x, want %s %s %v % x", i, g.Name, g.DType, g.Shape, g.Data, w.Name, w.DType, w.Shape, w.Data)
		}
		if x, ok := f.Tensor(w.Name); !ok || x != g {
			t.Errorf("Tensor(%q) lookup failed", w.Name)
		}
	}
	// As a lone file, Open reads the float tensors under their own names.
	c, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Format != "safetensors" || len(c.Tensors) != 3 || c.Tensors["a.weight"].Rows() != 2 {
		t.Errorf("Open: format %q, %d tensors", c.Format, len(c.Tensors))
	}
}

func TestSafetensorsBad(t *testing.T) {
	ok := `{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`
	cases := []struct {
		name string
		file []byte
		kind error
		msg  string
	}{
		{"short", []byte{1, 2, 3}, ErrTruncated, "too short"},
		{"header beyond file", func() []byte { b := rawSafetensors(ok, make([]byte, 8)); b[0] = 200; return b }(), ErrTruncated, "beyond the end"},
		{"huge header", func() []byte { b := rawSafetensors(ok, make([]byte, 8)); b[7] = 0xff; return b }(), ErrCorrupt, "beyond the end"},
		{"bad json", rawSafetensors(`{"a":{"dtype":"F32",`, nil), ErrCorrupt, "safetensors header"},
		{"not object", rawSafetensors(`[1,2]`, nil), ErrCorrupt, "not a JSON object"},
		{"trailing", rawSafetensors(ok+`{}`, make([]byte, 8)), ErrCorrupt, "trailing"},
		{"out of range", rawSafetensors(ok, make([]byte, 4)), ErrTruncated, `tensor "a"`},
		{"size disagreement", rawSafetensors(`{"a":{"dtype":"F16","shape":[2],"data_offsets":[0,8]}}`, make([]byte, 8)), ErrCorrupt, "need 4 bytes"},
		{"reversed offsets", rawSafetensors(`{"a":{"dtype":"U8","shape":[0],"data_offsets":[4,0]}}`, make([]byte, 8)), ErrCorrupt, "end before"},
		{"overlap", rawSafetensors(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, make([]byte, 8)), ErrCorrupt, "overlap"},
		{"duplicate", rawSafetensors(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, make([]byte, 8)), ErrCorrupt, "twice"},
		{"unknown dtype", rawSafetensors(`{"a":{"dtype":"Q4","shape":[1],"data_offsets":[0,1]}}`, make([]byte, 1)), ErrUnsupported, "Q4"},
		{"negative dim", rawSafetensors(`{"a":{"dtype":"U8","shape":[-1],"data_offsets":[0,1]}}`, make([]byte, 1)), ErrCorrupt, "dimension"},
		{"float dim", rawSafetensors(`{"a":{"dtype":"U8","shape":[1.5],"data_offsets":[0,1]}}`, make([]byte, 1)), ErrCorrupt, "dimension"},
		{"missing field", rawSafetensors(`{"a":{"dtype":"U8","shape":[1]}}`, make([]byte, 1)), ErrCorrupt, "lacks"},
		{"bad metadata", rawSafetensors(`{"__metadata__":{"x":1}}`, nil), ErrCorrupt, "not a string"},
		{"overflow", rawSafetensors(`{"a":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,1]}}`, make([]byte, 1)), ErrCorrupt, "overflow"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := writeTemp(t, "bad.safetensors", c.file)
			_, err := Open(p)
			wantErr(t, err, c.kind, p, c.msg)
		})
	}
}

func TestSafetensorsWriterErrors(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "w.safetensors")
	ts := sampleSafeTensors()
	w, err := NewSafetensorsWriter(p, nil, ts)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteTensor("b", ts[1].Data); err == nil {
		t.Error("out-of-order write accepted")
	}
	if err := w.WriteTensor("a.weight", ts[0].Data[:4]); err == nil {
		t.Error("short write accepted")
	}
	if err := w.WriteTensor("a.weight", ts[0].Data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err == nil {
		t.Error("Close before all tensors were written succeeded")
	}
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Errorf("incomplete file exists: %v", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("temporary files left: %v", ents)
	}
	if _, err := NewSafetensorsWriter(p, nil, []*SafeTensor{{Name: "x", DType: "F12"}}); err == nil {
		t.Error("unknown dtype accepted")
	}
	if _, err := NewSafetensorsWriter(p, nil, []*SafeTensor{{Name: "x", DType: "U8"}, {Name: "x", DType: "U8"}}); err == nil {
		t.Error("duplicate name accepted")
	}
}

func FuzzSafetensors(f *testing.F) {
	for _, s := range safetensorsSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		sf, err := ParseSafetensors("fuzz.safetensors", data)
		if err != nil {
			checkParseError(t, err, "fuzz.safetensors")
			return
		}
		var end int
		for _, tt := range sf.Tensors {
			if len(tt.Data) != tt.Elems()*DTypeSize(tt.DType) {
				t.Fatalf("tensor %q: %d bytes for %s %v", tt.Name, len(tt.Data), tt.DType, tt.Shape)
			}
			end += len(tt.Data)
		}
		if end > len(data) {
			t.Fatalf("tensors hold %d bytes of a %d-byte file", end, len(data))
		}
		// What was read writes back and reads the same.
		p := filepath.Join(t.TempDir(), "re.safetensors")
		if err := WriteSafetensors(p, sf.Metadata, sf.Tensors); err != nil {
			t.Fatalf("rewrite: %v", err)
		}
		b, _ := os.ReadFile(p)
		sf2, err := ParseSafetensors(p, b)
		if err != nil || len(sf2.Tensors) != len(sf.Tensors) {
			t.Fatalf("re-read: %v", err)
		}
	})
}

func safetensorsSeeds() [][]byte {
	p := filepath.Join(os.TempDir(), fmt.Sprintf("edgerun-seed-%d.safetensors", os.Getpid()))
	if err := WriteSafetensors(p, map[string]string{"format": "pt"}, sampleSafeTensors()); err != nil {
		panic(err)
	}
	full, _ := os.ReadFile(p)
	os.Remove(p)
	return [][]byte{
		full, full[:len(full)/2], full[:8], {},
		rawSafetensors(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, make([]byte, 8)),
		rawSafetensors(`{"__metadata__":{"format":"pt"},"x.weight.quant_state.bitsandbytes__nf4":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}`, []byte("{}")),
	}
}

// TestWriteSafetensorsSeeds regenerates the committed seed corpora of FuzzSafetensors and
// FuzzBnbQuantState when EDGERUN_WRITE_SEEDS=1.
func TestWriteSafetensorsSeeds(t *testing.T) {
	if os.Getenv("EDGERUN_WRITE_SEEDS") != "1" {
		t.Skip("set EDGERUN_WRITE_SEEDS=1 to regenerate testdata/fuzz seeds")
	}
	write := func(fuzz, name string, args ...string) {
		dir := filepath.Join("testdata", "fuzz", fuzz)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		b.WriteString("go test fuzz v1\n")
		for _, a := range args {
			b.WriteString(a + "\n")
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for i, s := range safetensorsSeeds() {
		write("FuzzSafetensors", fmt.Sprintf("seed-%02d", i), fmt.Sprintf("[]byte(%q)", s))
	}
	for i, s := range bnbStateSeeds() {
		write("FuzzBnbQuantState", fmt.Sprintf("seed-%02d", i), fmt.Sprintf("[]byte(%q)", s.json), fmt.Sprintf("[]byte(%q)", s.absmax), fmt.Sprintf("bool(%v)", s.nested))
	}
}
