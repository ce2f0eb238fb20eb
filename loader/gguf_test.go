package loader

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"unsafe"

	"github.com/edgerun/edgerun/int4"
	"github.com/edgerun/edgerun/tokenizer"
)

func TestGGUFRoundTrip(t *testing.T) {
	meta := allKindsMeta()
	tensors := smallTensors()
	path := filepath.Join(t.TempDir(), "rt.gguf")
	if err := WriteGGUF(path, meta, tensors); err != nil {
		t.Fatal(err)
	}
	c, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Format != "gguf" || c.FormatVersion != 3 {
		t.Errorf("format %q v%d", c.Format, c.FormatVersion)
	}
	if !reflect.DeepEqual(c.MetaKVs(), meta) {
		t.Errorf("metadata differs:\n got %#v\nwant %#v", c.MetaKVs(), meta)
	}
	if len(c.Order) != len(tensors) {
		t.Fatalf("%d tensors, want %d", len(c.Order), len(tensors))
	}
	for i, want := range tensors {
		got := c.Tensors[c.Order[i]]
		if got.Name != want.Name || got.Type != want.Type || !reflect.DeepEqual(got.Shape, want.Shape) || !bytes.Equal(got.Data, want.Data) {
			t.Errorf("tensor %d: got %s %v %v (%d bytes), want %s %v %v (%d bytes)", i, got.Name, got.Type, got.Shape, len(got.Data), want.Name, want.Type, want.Shape, len(want.Data))
		}
	}
	// Config and vocab from the metadata.
	cfg := c.Config
	want := Config{Arch: "llama", Dim: 4, FFN: 8, Layers: 1, Heads: 2, KVHeads: 2, HeadDim: 2, RopeDim: 2, Vocab: 4,
		Context: 16, RMSEps: 1e-6, RopeBase: 500000, RopeScale: 1, Tied: false}
	if cfg != want {
		t.Errorf("config\n got %+v\nwant %+v", cfg, want)
	}
	v := c.Vocab
	if v == nil || v.Model != "gpt2" || v.Pre != "llama-bpe" || !v.AddBOS || v.AddSpacePrefix || v.EOT != 3 || v.BOS != -1 || v.EOS != -1 || v.UNK != -1 || len(v.Merges) != 1 {
		t.Errorf("vocab %+v", v)
	}

	// The encoder produces the same bytes, and streaming in odd chunks does too.
	enc, err := encodeGGUF(meta, tensors)
	if err != nil {
		t.Fatal(err)
	}
	file, _ := os.ReadFile(path)
	if !bytes.Equal(enc, file) {
		t.Fatal("encodeGGUF and WriteGGUF differ")
	}
	path2 := filepath.Join(t.TempDir(), "stream.gguf")
	w, err := NewGGUFWriter(path2, meta, tensors)
	if err != nil {
		t.Fatal(err)
	}
	var all []byte
	for _, t := range tensors {
		all = append(all, t.Data...)
	}
	for len(all) > 0 {
		n := min(len(all), 7)
		if _, err := w.Write(all[:n]); err != nil {
			t.Fatal(err)
		}
		all = all[n:]
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	file2, _ := os.ReadFile(path2)
	if !bytes.Equal(file2, file) {
		t.Fatal("streamed file differs")
	}
}

func TestGGUFCustomAlignmentAndV2(t *testing.T) {
	meta := []KV{{"general.alignment", uint32(64)}}
	tensors := smallTensors()
	b, err := encodeGGUF(meta, tensors)
	if err != nil {
		t.Fatal(err)
	}
	c, err := parseGGUF("a64.gguf", b)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range c.Tensors {
		if off := uintptr(unsafe.Pointer(&tt.Data[0])) - uintptr(unsafe.Pointer(&b[0])); off%64 != 0 {
			t.Errorf("tensor %s at offset %d, not 64-aligned", tt.Name, off)
		}
	}
	// A v2 file has the same layout.
	binary.LittleEndian.PutUint32(b[4:], 2)
	c, err = parseGGUF("v2.gguf", b)
	if err != nil || c.FormatVersion != 2 {
		t.Fatalf("v2: %v", err)
	}
}

func TestGGUFWriterErrors(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "w.gguf")
	good := smallTensors()
	cases := []struct {
		name    string
		meta    []KV
		tensors []*Tensor
	}{
		{"int value", []KV{{"a", 1}}, nil},
		{"nested non-array", []KV{{"a", []any{uint8(1)}}}, nil},
		{"duplicate key", []KV{{"a", uint8(1)}, {"a", uint8(2)}}, nil},
		{"bad alignment", []KV{{"general.alignment", uint32(48)}}, nil},
		{"duplicate tensor", nil, []*Tensor{good[0], good[0]}},
		{"bad block", nil, []*Tensor{{Name: "q", Type: int4.Q4_0, Shape: []int{2, 33}}}},
		{"zero dim", nil, []*Tensor{{Name: "z", Type: int4.F32, Shape: []int{0, 3}}}},
		{"5 dims", nil, []*Tensor{{Name: "z", Type: int4.F32, Shape: []int{1, 1, 1, 1, 1}}}},
		{"unsupported type", nil, []*Tensor{{Name: "z", Type: 13, Shape: []int{256}}}},
		{"short data", nil, []*Tensor{{Name: "z", Type: int4.F32, Shape: []int{4}, Data: make([]byte, 15)}}},
	}
	for _, tc := range cases {
		err := WriteGGUF(path, tc.meta, tc.tensors)
		wantErr(t, err, ErrInvalid, path)
	}
	// Close before all data is written fails and leaves nothing behind.
	w, err := NewGGUFWriter(path, nil, good)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteTensor(good[1].Name, good[1].Data); err == nil {
		t.Fatal("out-of-order WriteTensor succeeded")
	}
	w.Abort()
	w, err = NewGGUFWriter(path, nil, good)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteTensor(good[0].Name, good[0].Data); err != nil {
		t.Fatal(err)
	}
	wantErr(t, w.Close(), ErrInvalid, path, "written in full")
	if _, err := w.Write([]byte{1}); err == nil {
		t.Fatal("write after close succeeded")
	}
	// Too much data.
	w, err = NewGGUFWriter(path, nil, good[:1])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(make([]byte, len(good[0].Data)+1)); err == nil {
		t.Fatal("write past the last tensor succeeded")
	}
	w.Abort()
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		t.Errorf("left behind: %s", e.Name())
	}
}

func TestGGUFBadMagicAndVersion(t *testing.T) {
	for _, tc := range []struct {
		name string
		data []byte
		kind error
	}{
		{"empty.gguf", nil, ErrTruncated},
		{"short.gguf", []byte("GG"), ErrTruncated},
		{"magic.gguf", []byte("GGUX\x03\x00\x00\x00"), ErrBadMagic},
		{"zeros.gguf", make([]byte, 64), ErrBadMagic},
		{"v1.gguf", []byte("GGUF\x01\x00\x00\x00"), ErrUnsupported},
		{"v4.gguf", []byte("GGUF\x04\x00\x00\x00"), ErrUnsupported},
		{"bigendian.gguf", []byte("GGUF\x00\x00\x00\x03"), ErrUnsupported},
	} {
		p := writeTemp(t, tc.name, tc.data)
		_, err := Open(p)
		wantErr(t, err, tc.kind, p)
	}
}

// TestGGUFTruncated cuts a valid file at every offset: each prefix must fail with
// ErrTruncated (never panic, never succeed).
func TestGGUFTruncated(t *testing.T) {
	b, err := encodeGGUF(allKindsMeta(), smallTensors())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := parseGGUF("full.gguf", b); err != nil {
		t.Fatal(err)
	}
	// The last tensor's padding is not needed: the file is complete without it.
	last := smallTensors()[len(smallTensors())-1]
	complete := len(b) - (32-len(last.Data)%32)%32
	for n := 0; n < complete; n++ {
		_, err := parseGGUF("cut.gguf", b[:n])
		wantErr(t, err, ErrTruncated, "cut.gguf")
	}
	// And through a real file, at a few offsets.
	for _, n := range []int{0, 3, 10, 30, 200, len(b) / 2, complete - 1} {
		p := writeTemp(t, "cut.gguf", b[:n])
		_, err := Open(p)
		wantErr(t, err, ErrTruncated, p)
	}
}

func TestGGUFCorrupt(t *testing.T) {
	huge := uint64(1) << 62
	le := binary.LittleEndian
	type tc struct {
		name     string
		mod      func(g *rawGGUF)
		kind     error
		contains string
	}
	cases := []tc{
		{"tensor_count", func(g *rawGGUF) { g.tensorN = &huge }, ErrCorrupt, "tensor_count"},
		{"kv_count", func(g *rawGGUF) { g.kvN = &huge }, ErrCorrupt, "kv_count"},
		{"string length", func(g *rawGGUF) {
			g.kvs[0].val = le.AppendUint64(nil, huge)
		}, ErrCorrupt, "general.architecture"},
		{"key length", func(g *rawGGUF) {
			g.kvs = append(g.kvs, rawKV{key: "", typ: 0, val: nil})
			g.kvN = new(uint64)
			*g.kvN = 4
			// overwrite: make the 4th key's length absurd by a custom raw kv
			g.kvs[3] = rawKV{key: "k", typ: ggufString, val: le.AppendUint64(nil, 1<<40)}
		}, ErrCorrupt, "length"},
		{"array length", func(g *rawGGUF) {
			v := le.AppendUint32(nil, uint32(ggufU32))
			g.kvs[2] = rawKV{key: "tokenizer.ggml.tokens", typ: ggufArray, val: le.AppendUint64(v, huge)}
		}, ErrCorrupt, "array length"},
		{"array of strings length", func(g *rawGGUF) {
			v := le.AppendUint32(nil, uint32(ggufString))
			g.kvs[2] = rawKV{key: "tokenizer.ggml.tokens", typ: ggufArray, val: le.AppendUint64(v, 1<<20)}
		}, ErrCorrupt, "array length"},
		{"unknown value type", func(g *rawGGUF) { g.kvs[1].typ = 13 }, ErrCorrupt, "unknown value type 13"},
		{"unknown array type", func(g *rawGGUF) {
			g.kvs[2] = rawKV{key: "x", typ: ggufArray, val: le.AppendUint64(le.AppendUint32(nil, 99), 0)}
		}, ErrCorrupt, "unknown array element type 99"},
		{"nesting", func(g *rawGGUF) {
			var v []byte
			for i := 0; i < 40; i++ {
				v = le.AppendUint64(le.AppendUint32(v, uint32(ggufArray)), 1)
			}
			g.kvs[2] = rawKV{key: "deep", typ: ggufArray, val: v[4:]}
			g.kvs[2].val = append(le.AppendUint32(nil, uint32(ggufArray)), v[4:]...)
			g.kvs[2].val = v
		}, ErrCorrupt, "nested"},
		{"duplicate key", func(g *rawGGUF) { g.kvs[1].key = g.kvs[0].key }, ErrCorrupt, "duplicate metadata key"},
		{"alignment type", func(g *rawGGUF) { g.kvs = append(g.kvs, kv("general.alignment", uint64(32))) }, ErrCorrupt, "general.alignment"},
		{"alignment value", func(g *rawGGUF) { g.kvs = append(g.kvs, kv("general.alignment", uint32(24))) }, ErrCorrupt, "power of two"},
		{"n_dims", func(g *rawGGUF) { g.tensors[0].dims = []uint64{4, 2, 1, 1, 1} }, ErrCorrupt, "n_dims 5"},
		{"n_dims zero", func(g *rawGGUF) { g.tensors[0].dims = nil }, ErrCorrupt, "n_dims 0"},
		{"zero dim", func(g *rawGGUF) { g.tensors[0].dims = []uint64{4, 0} }, ErrCorrupt, "zero"},
		{"huge dims", func(g *rawGGUF) { g.tensors[0].dims = []uint64{1 << 40, 1 << 40} }, ErrCorrupt, "overflow"},
		{"huge dim", func(g *rawGGUF) { g.tensors[0].dims = []uint64{1 << 63, 2} }, ErrCorrupt, "overflow"},
		{"big tensor", func(g *rawGGUF) { g.tensors[0].dims = []uint64{1 << 20, 1 << 20} }, ErrCorrupt, "cannot fit"},
		{"block size", func(g *rawGGUF) {
			g.tensors[0].typ = uint32(int4.Q4_0)
			g.tensors[0].dims = []uint64{33, 1}
		}, ErrCorrupt, "not a multiple of the Q4_0 block size 32"},
		{"unaligned offset", func(g *rawGGUF) { g.tensors[1].offset = 36 }, ErrCorrupt, "not a multiple of the alignment 32"},
		{"offset past end", func(g *rawGGUF) { g.tensors[1].offset = 1 << 20 }, ErrTruncated, `tensor "b"`},
		{"data past end", func(g *rawGGUF) { g.tensors[1].offset = 64 }, ErrTruncated, "past the end"},
		{"data past end (corrupt)", func(g *rawGGUF) { g.tensors[1].offset = 64 }, ErrCorrupt, "past the end"},
		{"overlap", func(g *rawGGUF) { g.tensors[1].offset = 0 }, ErrCorrupt, "overlap"},
		{"overlap partial", func(g *rawGGUF) {
			g.tensors[0].dims = []uint64{12} // 48 bytes: into b at 32
		}, ErrCorrupt, "overlap"},
		{"duplicate tensor", func(g *rawGGUF) { g.tensors[1].name = "a" }, ErrCorrupt, `duplicate tensor name "a"`},
		{"unsupported type", func(g *rawGGUF) {
			g.tensors[0] = rawTensor{name: "blk.0.ffn_down.weight", dims: []uint64{256}, typ: 13, offset: 0}
			g.tensors[1].offset = 1024
			g.data = make([]byte, 2048)
		}, ErrUnsupported, `tensor "blk.0.ffn_down.weight": type Q5_K is not supported`},
		{"unknown type", func(g *rawGGUF) { g.tensors[0].typ = 200 }, ErrUnsupported, `tensor "a": unknown type id 200`},
		{"metadata wrong type", func(g *rawGGUF) { g.kvs[1] = kv("llama.embedding_length", "eight") }, ErrCorrupt, "llama.embedding_length"},
		{"metadata out of range", func(g *rawGGUF) { g.kvs[1] = kv("llama.embedding_length", uint64(1<<40)) }, ErrCorrupt, "out of range"},
		{"tokens wrong type", func(g *rawGGUF) { g.kvs[2] = kv("tokenizer.ggml.tokens", []int32{1}) }, ErrCorrupt, "tokenizer.ggml.tokens"},
		{"scores short", func(g *rawGGUF) { g.kvs = append(g.kvs, kv("tokenizer.ggml.scores", []float32{1})) }, ErrCorrupt, "scores"},
		{"model without tokens", func(g *rawGGUF) { g.kvs[2] = kv("tokenizer.ggml.model", "llama") }, ErrCorrupt, "tokens is missing"},
	}
	g := smallGGUF()
	if _, err := parseGGUF("ok.gguf", g.bytes()); err != nil {
		t.Fatalf("base file: %v", err)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := smallGGUF()
			c.mod(g)
			p := writeTemp(t, "bad.gguf", g.bytes())
			ck, err := Open(p)
			if err == nil {
				ck.Close()
			}
			wantErr(t, err, c.kind, p, c.contains)
		})
	}
}

func TestGGUFEmptyAndNoTensors(t *testing.T) {
	g := &rawGGUF{}
	c, err := parseGGUF("nothing.gguf", g.bytes()[:24]) // header only, no padding
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Tensors) != 0 || c.Vocab != nil || c.Config.Arch != "" {
		t.Errorf("unexpected content %+v", c)
	}
	if _, err := c.Tensor("token_embd.weight"); err == nil {
		t.Fatal("missing tensor found")
	} else {
		wantErr(t, err, ErrMissingTensor, "nothing.gguf", `"token_embd.weight"`)
	}
}

func TestGGUFConfigVariants(t *testing.T) {
	build := func(meta ...KV) Config {
		t.Helper()
		b, err := encodeGGUF(meta, []*Tensor{{Name: "token_embd.weight", Type: int4.F32, Shape: []int{7, 4}, Data: make([]byte, 7*4*4)}})
		if err != nil {
			t.Fatal(err)
		}
		c, err := parseGGUF("cfg.gguf", b)
		if err != nil {
			t.Fatal(err)
		}
		return c.Config
	}
	c := build(KV{"general.architecture", "qwen2"}, KV{"qwen2.embedding_length", uint64(64)},
		KV{"qwen2.attention.head_count", int32(4)}, KV{"qwen2.attention.head_count_kv", uint32(2)},
		KV{"qwen2.attention.key_length", uint32(32)}, KV{"qwen2.rope.dimension_count", uint32(16)},
		KV{"qwen2.rope.scaling.type", "linear"}, KV{"qwen2.rope.scaling.factor", float32(4)})
	if !c.RopeNeox || c.HeadDim != 32 || c.RopeDim != 16 || c.KVHeads != 2 || c.RopeScale != 4 || c.Vocab != 7 || !c.Tied || c.RopeBase != 10000 {
		t.Errorf("qwen2 config %+v", c)
	}
	c = build(KV{"general.architecture", "llama"}, KV{"llama.rope.scale_linear", float32(2)},
		KV{"llama.attention.head_count", []int32{8, 8}})
	if c.RopeNeox || c.RopeScale != 2 || c.Heads != 8 || c.KVHeads != 8 {
		t.Errorf("llama config %+v", c)
	}
	c = build(KV{"general.architecture", "llama"}, KV{"llama.rope.scaling.type", "yarn"}, KV{"llama.rope.scaling.factor", float32(8)})
	if c.RopeScale != 1 {
		t.Errorf("yarn scaling became linear %v", c.RopeScale)
	}
}

func TestGGUFVocabDefaults(t *testing.T) {
	vocab := func(meta ...KV) *tokenizer.Vocab {
		t.Helper()
		b, err := encodeGGUF(meta, nil)
		if err != nil {
			t.Fatal(err)
		}
		c, err := parseGGUF("v.gguf", b)
		if err != nil {
			t.Fatal(err)
		}
		return c.Vocab
	}
	toks := KV{"tokenizer.ggml.tokens", []string{"<unk>", "<s>", "</s>", "x"}}
	v := vocab(KV{"tokenizer.ggml.model", "llama"}, toks)
	if v.BOS != 1 || v.EOS != 2 || v.UNK != 0 || v.PAD != -1 || v.EOT != -1 || !v.AddBOS || v.AddEOS || !v.AddSpacePrefix {
		t.Errorf("llama defaults %+v", v)
	}
	v = vocab(KV{"tokenizer.ggml.model", "llama"}, toks, KV{"tokenizer.ggml.add_bos_token", false},
		KV{"tokenizer.ggml.add_space_prefix", false}, KV{"tokenizer.ggml.bos_token_id", int32(3)},
		KV{"tokenizer.ggml.eos_token_id", uint32(0xffffffff)}, KV{"tokenizer.ggml.scores", []int32{1, 2, 3, 4}})
	if v.AddBOS || v.AddSpacePrefix || v.BOS != 3 || v.EOS != 2 || v.Scores[3] != 4 {
		t.Errorf("llama overrides %+v", v)
	}
	v = vocab(KV{"tokenizer.ggml.model", "gpt2"}, KV{"tokenizer.ggml.pre", "qwen2"}, toks)
	if v.AddBOS || v.AddSpacePrefix || v.BOS != -1 || v.UNK != -1 {
		t.Errorf("gpt2 defaults %+v", v)
	}
	if v := vocab(KV{"tokenizer.ggml.model", "none"}); v != nil {
		t.Errorf("no_vocab gave %+v", v)
	}
	if v := vocab(); v != nil {
		t.Errorf("no tokenizer gave %+v", v)
	}
}
