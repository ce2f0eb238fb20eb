package loader

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgerun/edgerun/int4"
)

// openTensors writes ts to a safetensors file and returns the parsed file.
func openTensors(t testing.TB, ts []*SafeTensor) *SafetensorsFile {
	t.Helper()
	p := filepath.Join(t.TempDir(), "model.safetensors")
	if err := WriteSafetensors(p, map[string]string{"format": "pt"}, ts); err != nil {
		t.Fatal(err)
	}
	f, err := OpenSafetensors(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// loadOne reads the bitsandbytes weight "w.weight" from f.
func loadOne(f *SafetensorsFile) (*int4.Bnb4, *BnbQuantState, error) {
	has := func(k string) bool { _, ok := f.Tensor(k); return ok }
	key, kind, err := bnbStateKey(f.Path, "w.weight", has)
	if err != nil {
		return nil, nil, err
	}
	if key == "" {
		return nil, nil, errors.New("no quant state")
	}
	q, js, _, err := loadBnb4(f.Path, "w.weight", key, kind, f.Tensor)
	return q, js, err
}

// TestBnbKnownValues builds quant states byte by byte from formats.md §1.4–1.5 (not with
// edgerun's quantizer) and checks the loaded weights against the formula.
func TestBnbKnownValues(t *testing.T) {
	const rows, cols = 2, 64
	packed := make([]byte, rows*cols/2)
	for i := range packed {
		packed[i] = byte(i*37 + 11)
	}
	code := func(e int) byte {
		if e%2 == 0 {
			return packed[e/2] >> 4
		}
		return packed[e/2] & 15
	}
	dm := int4.DynamicMap()
	for _, tc := range []struct {
		name   string
		kind   string
		nested bool
		bs     int
	}{{"nf4 bs64", "nf4", false, 64}, {"fp4 bs64", "fp4", false, 64}, {"nf4 bs64 nested", "nf4", true, 64}, {"fp4 bs128 nested", "fp4", true, 128}} {
		t.Run(tc.name, func(t *testing.T) {
			table := int4.NF4Table
			if tc.kind == "fp4" {
				table = int4.FP4Table
			}
			nb := rows * cols / tc.bs
			absmax := []float32{0.5, 2}[:nb]
			js := fmt.Sprintf(`{"quant_type": %q, "blocksize": %d, "dtype": "bfloat16", "shape": [%d, %d]`, tc.kind, tc.bs, rows, cols)
			ts := []*SafeTensor{
				{Name: "w.weight", DType: "U8", Shape: []int{len(packed), 1}, Data: packed},
				{Name: "w.weight.quant_map", DType: "F32", Shape: []int{16}, Data: encodeF32s(table[:])},
			}
			var want []float32
			if tc.nested {
				codes := []byte{3, 250}[:nb]
				ts = append(ts,
					&SafeTensor{Name: "w.weight.absmax", DType: "U8", Shape: []int{nb}, Data: codes},
					&SafeTensor{Name: "w.weight.nested_absmax", DType: "F32", Shape: []int{1}, Data: encodeF32s([]float32{0.25})},
					&SafeTensor{Name: "w.weight.nested_quant_map", DType: "F32", Shape: []int{256}, Data: encodeF32s(dm[:])})
				js += `, "nested_blocksize": 256, "nested_dtype": "float32", "nested_offset": 1.5}`
				absmax = make([]float32, nb)
				for b, c := range codes {
					absmax[b] = float32(dm[c]*0.25) + 1.5
				}
			} else {
				ts = append(ts, &SafeTensor{Name: "w.weight.absmax", DType: "F32", Shape: []int{nb}, Data: encodeF32s(absmax)})
				js += "}"
			}
			ts = append(ts, &SafeTensor{Name: "w.weight.quant_state.bitsandbytes__" + tc.kind, DType: "U8", Shape: []int{len(js)}, Data: []byte(js)})
			for e := 0; e < rows*cols; e++ {
				want = append(want, table[code(e)]*absmax[e/tc.bs])
			}
			q, st, err := loadOne(openTensors(t, ts))
			if err != nil {
				t.Fatal(err)
			}
			if st.DType != "bfloat16" || fmt.Sprint(st.Shape) != "[2 64]" {
				t.Errorf("state %+v", st)
			}
			tt, fallback, err := bnbTensor("blk.0.attn_q.weight", q, st.Shape)
			if err != nil || fallback {
				t.Fatalf("bnbTensor: fallback %v, %v", fallback, err)
			}
			if tt.Type != q.RowType(cols) || int4.Bnb4Base(tt.Type) != q.Type {
				t.Fatalf("type %v", tt.Type)
			}
			got := make([]float32, rows*cols)
			if err := int4.DequantizeRow(tt.Type, tt.Data, got); err != nil {
				t.Fatal(err)
			}
			for e := range want {
				if math.Float32bits(got[e]) != math.Float32bits(want[e]) {
					t.Fatalf("element %d: %v, want %v", e, got[e], want[e])
				}
			}
		})
	}
}

// TestBnbFixtures quantizes weights with the bitsandbytes algorithm, writes them exactly
// as bitsandbytes + transformers do, and reads them back: nested and not, blocksizes 64,
// 128 and 4096, odd element counts, uint8 and bfloat16 quant storage, NF4 and FP4.
func TestBnbFixtures(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for _, kind := range []int4.Type{int4.NF4, int4.FP4} {
		for _, bs := range []int{64, 128, 4096} {
			for _, nested := range []bool{false, true} {
				for _, storage := range []string{"uint8", "bfloat16"} {
					for _, shape := range [][]int{{3, 64}, {7, 37}, {96, 64}} {
						n := shape[0] * shape[1]
						if storage == "bfloat16" && (n+1)/2%2 != 0 {
							continue // bitsandbytes cannot view an odd byte count as bf16
						}
						name := fmt.Sprintf("%v/bs%d/nested=%v/%s/%v", kind, bs, nested, storage, shape)
						x := make([]float32, n)
						for i := range x {
							x[i] = float32(r.NormFloat64()) * 0.05
						}
						q, err := int4.QuantizeBnb4(kind, x, bs, nested)
						if err != nil {
							t.Fatal(err)
						}
						ts, err := BnbTensors("w.weight", q, shape, "float16", storage)
						if err != nil {
							t.Fatalf("%s: %v", name, err)
						}
						f := openTensors(t, ts)
						if storage == "bfloat16" {
							if w, _ := f.Tensor("w.weight"); w.DType != "BF16" || w.Shape[0] != (n+1)/4 {
								t.Fatalf("%s: packed weight stored as %s %v", name, w.DType, w.Shape)
							}
						}
						got, st, err := loadOne(f)
						if err != nil {
							t.Fatalf("%s: %v", name, err)
						}
						a, b := make([]float32, n), make([]float32, n)
						q.Dequantize(a)
						if err := got.Dequantize(b); err != nil {
							t.Fatal(err)
						}
						for i := range a {
							if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
								t.Fatalf("%s: element %d: %v after reload, %v before", name, i, b[i], a[i])
							}
						}
						tt, fallback, err := bnbTensor("x", got, st.Shape)
						if err != nil {
							t.Fatal(err)
						}
						if wantFB := shape[1]%32 != 0; fallback != wantFB {
							t.Fatalf("%s: fallback %v, want %v", name, fallback, wantFB)
						}
						c := make([]float32, n)
						if err := int4.DequantizeRow(tt.Type, tt.Data, c); err != nil {
							t.Fatal(err)
						}
						for i := range a {
							if math.Float32bits(a[i]) != math.Float32bits(c[i]) {
								t.Fatalf("%s: runtime tensor %v element %d: %v, want %v", name, tt.Type, i, c[i], a[i])
							}
						}
					}
				}
			}
		}
	}
}

func TestBnbStateJSON(t *testing.T) {
	q, _ := int4.QuantizeBnb4(int4.NF4, make([]float32, 6*64), 64, true)
	q.Offset = 0.0123
	ts, err := BnbTensors("m.q_proj.weight", q, []int{6, 64}, "bfloat16", "uint8")
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	var state string
	for _, x := range ts {
		keys = append(keys, x.Name+":"+x.DType+fmt.Sprint(x.Shape))
		if strings.Contains(x.Name, "quant_state") {
			state = string(x.Data)
		}
	}
	want := []string{"m.q_proj.weight:U8[192 1]", "m.q_proj.weight.quant_map:F32[16]", "m.q_proj.weight.absmax:U8[6]",
		"m.q_proj.weight.nested_absmax:F32[1]", "m.q_proj.weight.nested_quant_map:F32[256]",
		fmt.Sprintf("m.q_proj.weight.quant_state.bitsandbytes__nf4:U8[%d]", len(state))}
	if fmt.Sprint(keys) != fmt.Sprint(want) {
		t.Fatalf("keys\n got %v\nwant %v", keys, want)
	}
	// Python json.dumps of the dict in QuantState.as_dict order; the float32 offset is
	// written as Python's repr of the double it converts to.
	wantJSON := `{"quant_type": "nf4", "blocksize": 64, "dtype": "bfloat16", "shape": [6, 64], "nested_blocksize": 256, "nested_dtype": "float32", "nested_offset": 0.012299999594688416}`
	if state != wantJSON {
		t.Fatalf("quant state\n got %s\nwant %s", state, wantJSON)
	}
	for _, c := range []struct {
		f    float64
		want string
	}{{1, "1.0"}, {0.5, "0.5"}, {1e-05, "1e-05"}, {123456789, "123456789.0"}, {1e16, "1e+16"}, {-2.5e-7, "-2.5e-07"}} {
		if got := pyFloat(c.f); got != c.want {
			t.Errorf("pyFloat(%v) = %s, want %s", c.f, got, c.want)
		}
	}
}

func TestBnbBad(t *testing.T) {
	q, _ := int4.QuantizeBnb4(int4.NF4, make([]float32, 128), 64, true)
	good := func() []*SafeTensor {
		ts, err := BnbTensors("w.weight", q, []int{2, 64}, "float16", "uint8")
		if err != nil {
			t.Fatal(err)
		}
		return ts
	}
	drop := func(suffix string) func([]*SafeTensor) []*SafeTensor {
		return func(ts []*SafeTensor) []*SafeTensor {
			var out []*SafeTensor
			for _, x := range ts {
				if !strings.HasSuffix(x.Name, suffix) {
					out = append(out, x)
				}
			}
			return out
		}
	}
	setState := func(js string) func([]*SafeTensor) []*SafeTensor {
		return func(ts []*SafeTensor) []*SafeTensor {
			ts[len(ts)-1] = &SafeTensor{Name: ts[len(ts)-1].Name, DType: "U8", Shape: []int{len(js)}, Data: []byte(js)}
			return ts
		}
	}
	cases := map[string]struct {
		mod func([]*SafeTensor) []*SafeTensor
		msg string
	}{
		"missing absmax":           {drop(".absmax"), "missing w.weight.absmax"},
		"missing quant_map":        {drop(".quant_map"), "missing w.weight.quant_map"},
		"missing nested_absmax":    {drop(".nested_absmax"), "missing w.weight.nested_absmax"},
		"missing nested_quant_map": {drop(".nested_quant_map"), "missing w.weight.nested_quant_map"},
		"nan nested absmax": {func(ts []*SafeTensor) []*SafeTensor {
			ts[3] = &SafeTensor{Name: ts[3].Name, DType: "F32", Shape: []int{1}, Data: encodeF32s([]float32{float32(math.NaN())})}
			return ts
		}, "NaN"},
		"wrong shape":        {setState(`{"quant_type": "nf4", "blocksize": 64, "dtype": "float16", "shape": [3, 64], "nested_blocksize": 256, "nested_dtype": "float32", "nested_offset": 0.1}`), "packed bytes"},
		"type mismatch":      {setState(`{"quant_type": "fp4", "blocksize": 64, "dtype": "float16", "shape": [2, 64]}`), "key says"},
		"bad json":           {setState(`{"quant_type": "nf4", `), "JSON"},
		"no offset":          {setState(`{"quant_type": "nf4", "blocksize": 64, "dtype": "float16", "shape": [2, 64]}`), "nested_offset"},
		"nan offset":         {setState(`{"quant_type": "nf4", "blocksize": 64, "dtype": "float16", "shape": [2, 64], "nested_blocksize": 256, "nested_offset": NaN}`), "JSON"},
		"zero blocksize":     {setState(`{"quant_type": "nf4", "blocksize": 0, "dtype": "float16", "shape": [2, 64]}`), "blocksize"},
		"absmax count":       {setState(`{"quant_type": "nf4", "blocksize": 32, "dtype": "float16", "shape": [2, 64], "nested_blocksize": 256, "nested_offset": 0.5}`), "absmax is U8"},
		"negative shape":     {setState(`{"quant_type": "nf4", "blocksize": 64, "dtype": "float16", "shape": [-2, 64]}`), "shape"},
		"huge nested blocks": {setState(`{"quant_type": "nf4", "blocksize": 64, "dtype": "float16", "shape": [2, 64], "nested_blocksize": 0, "nested_offset": 0.5}`), "nested_blocksize"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			f := openTensors(t, c.mod(good()))
			_, _, err := loadOne(f)
			wantErr(t, err, ErrCorrupt, f.Path, c.msg)
			if !strings.Contains(err.Error(), `"w.weight"`) {
				t.Errorf("error %q does not name the tensor", err)
			}
		})
	}
	t.Run("non-nested NaN absmax", func(t *testing.T) {
		q, _ := int4.QuantizeBnb4(int4.FP4, make([]float32, 128), 64, false)
		q.Absmax[1] = float32(math.NaN())
		q.Absmax = append([]float32(nil), q.Absmax...)
		ts, _ := BnbTensors("w.weight", &int4.Bnb4{Type: q.Type, Blocksize: 64, N: 128, Packed: q.Packed, QuantMap: q.QuantMap, Absmax: []float32{1, 1}}, []int{2, 64}, "float16", "uint8")
		ts[2].Data = encodeF32s([]float32{1, float32(math.NaN())})
		f := openTensors(t, ts)
		_, _, err := loadOne(f)
		wantErr(t, err, ErrCorrupt, f.Path, "NaN")
	})
}

// tinyHF writes a 1-layer llama HF directory whose projections are bitsandbytes weights
// (when kind is NF4/FP4) or F32, and returns it.
func tinyHF(t testing.TB, kind int4.Type, ffn int) string {
	t.Helper()
	dir := t.TempDir()
	cfg := map[string]any{"model_type": "llama", "hidden_size": 64, "intermediate_size": ffn, "num_hidden_layers": 1,
		"num_attention_heads": 2, "num_key_value_heads": 1, "vocab_size": 32, "max_position_embeddings": 64,
		"rms_norm_eps": 1e-5, "rope_theta": 10000.0, "tie_word_embeddings": true,
		"rope_scaling": map[string]any{"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 64}}
	if kind != int4.F32 {
		cfg["quantization_config"] = map[string]any{"quant_method": "bitsandbytes", "load_in_4bit": true}
	}
	b, _ := json.Marshal(cfg)
	if err := os.WriteFile(filepath.Join(dir, "config.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, uint64(ffn)))
	rnd := func(n int) []float32 {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(r.NormFloat64()) * 0.1
		}
		return x
	}
	var ts []*SafeTensor
	add := func(name string, shape ...int) {
		n := 1
		for _, d := range shape {
			n *= d
		}
		x := rnd(n)
		if kind == int4.F32 || len(shape) == 1 || strings.Contains(name, "embed") {
			ts = append(ts, &SafeTensor{Name: name, DType: "F32", Shape: shape, Data: encodeF32s(x)})
			return
		}
		q, err := int4.QuantizeBnb4(kind, x, 64, true)
		if err != nil {
			t.Fatal(err)
		}
		bt, err := BnbTensors(name, q, shape, "float32", "uint8")
		if err != nil {
			t.Fatal(err)
		}
		ts = append(ts, bt...)
	}
	add("model.embed_tokens.weight", 32, 64)
	add("model.norm.weight", 64)
	p := "model.layers.0."
	add(p+"input_layernorm.weight", 64)
	add(p+"post_attention_layernorm.weight", 64)
	add(p+"self_attn.q_proj.weight", 64, 64)
	add(p+"self_attn.k_proj.weight", 32, 64)
	add(p+"self_attn.v_proj.weight", 32, 64)
	add(p+"self_attn.o_proj.weight", 64, 64)
	add(p+"mlp.gate_proj.weight", ffn, 64)
	add(p+"mlp.up_proj.weight", ffn, 64)
	add(p+"mlp.down_proj.weight", 64, ffn)
	if err := WriteSafetensors(filepath.Join(dir, "model.safetensors"), map[string]string{"format": "pt"}, ts); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestOpenHFBnb(t *testing.T) {
	for _, kind := range []int4.Type{int4.NF4, int4.FP4} {
		dir := tinyHF(t, kind, 72)
		c, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		if c.Format != "hf" || !c.Config.RopeNeox || !c.Config.Tied || c.Config.HeadDim != 32 {
			t.Errorf("config %+v", c.Config)
		}
		want, _ := int4.Bnb4RowType(kind, 64) // 64 columns, blocksize 64: the 64-element type
		if got := c.Tensors["blk.0.attn_q.weight"]; got.Type != want || fmt.Sprint(got.Shape) != "[64 64]" {
			t.Errorf("attn_q: %v %v", got.Type, got.Shape)
		}
		// ffn_down has 72 columns, not a multiple of 32: dequantized to F32 at load.
		if got := c.Tensors["blk.0.ffn_down.weight"]; got.Type != int4.F32 {
			t.Errorf("ffn_down: %v", got.Type)
		}
		if fb, _ := c.Meta["edgerun.bnb_dequantized"].([]string); len(fb) != 1 {
			t.Errorf("fallback list %v", c.Meta["edgerun.bnb_dequantized"])
		}
		rf := c.Tensors["rope_freqs.weight"]
		if rf == nil || rf.Elems() != 16 {
			t.Fatalf("rope_freqs %v", rf)
		}
		f := decodeF32s(rf.Data)
		// head dim 32, theta 1e4, old context 64: the fastest frequencies (wavelength < 16)
		// are kept, the slowest (> 64) divided by 8, the middle ones smoothed.
		if f[0] != 1 || f[15] != 8 || !(f[3] > 1 && f[3] < 8) {
			t.Errorf("rope factors %v", f)
		}
		c.Close()
	}
}

func TestOpenHFBad(t *testing.T) {
	dir := tinyHF(t, int4.NF4, 64)
	// Drop the quant state of one weight: its siblings are orphans.
	p := filepath.Join(dir, "model.safetensors")
	f, err := OpenSafetensors(p)
	if err != nil {
		t.Fatal(err)
	}
	var keep []*SafeTensor
	for _, x := range f.Tensors {
		if !strings.HasSuffix(x.Name, "k_proj.weight.quant_state.bitsandbytes__nf4") {
			keep = append(keep, &SafeTensor{Name: x.Name, DType: x.DType, Shape: x.Shape, Data: append([]byte(nil), x.Data...)})
		}
	}
	f.Close()
	if err := WriteSafetensors(p, nil, keep); err != nil {
		t.Fatal(err)
	}
	_, err = Open(dir)
	wantErr(t, err, ErrUnsupported, p, "k_proj.weight")
	// No weights at all.
	os.Remove(p)
	_, err = Open(dir)
	wantErr(t, err, ErrNotFound, dir, "model.safetensors")
	// Unsupported architecture.
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"model_type":"gpt2"}`), 0o644)
	_, err = Open(dir)
	wantErr(t, err, ErrUnsupported, dir, "gpt2")
}

type bnbSeed struct {
	json, absmax []byte
	nested       bool
}

func bnbStateSeeds() []bnbSeed {
	return []bnbSeed{
		{[]byte(`{"quant_type": "nf4", "blocksize": 64, "dtype": "bfloat16", "shape": [2, 64]}`), encodeF32s([]float32{1, 2}), false},
		{[]byte(`{"quant_type": "nf4", "blocksize": 64, "dtype": "bfloat16", "shape": [2, 64], "nested_blocksize": 256, "nested_dtype": "float32", "nested_offset": 0.5}`), []byte{1, 2}, true},
		{[]byte(`{"quant_type": "fp4", "blocksize": 32, "dtype": "float16", "shape": [3, 5]}`), encodeF32s([]float32{1}), false},
		{[]byte(`{"quant_type": "nf4", "blocksize": 64, "dtype": "bfloat16", "shape": [2, 64], "nested_offset": 1e400}`), []byte{1}, true},
		{[]byte(`{}`), nil, false},
	}
}

func FuzzBnbQuantState(f *testing.F) {
	for _, s := range bnbStateSeeds() {
		f.Add(s.json, s.absmax, s.nested)
	}
	dm := int4.DynamicMap()
	f.Fuzz(func(t *testing.T, js, absmax []byte, nested bool) {
		kind := "nf4"
		if strings.Contains(string(js), "fp4") {
			kind = "fp4"
		}
		var st BnbQuantState
		n := 128
		if json.Unmarshal(js, &st) == nil && len(st.Shape) > 0 {
			n = 1
			for _, d := range st.Shape {
				if d > 0 && d < 1<<12 {
					n *= d
				}
			}
			n = min(n, 1<<16)
		}
		tensors := map[string]*SafeTensor{
			"w.weight":           {Name: "w.weight", DType: "U8", Shape: []int{(n + 1) / 2, 1}, Data: make([]byte, (n+1)/2)},
			"w.weight.quant_map": {Name: "w.weight.quant_map", DType: "F32", Shape: []int{16}, Data: encodeF32s(int4.NF4Table[:])},
			"w.weight.quant_state.bitsandbytes__" + kind: {DType: "U8", Shape: []int{len(js)}, Data: js},
		}
		if nested {
			tensors["w.weight.absmax"] = &SafeTensor{Name: "w.weight.absmax", DType: "U8", Shape: []int{len(absmax)}, Data: absmax}
			tensors["w.weight.nested_absmax"] = &SafeTensor{Name: "w.weight.nested_absmax", DType: "F32", Shape: []int{1}, Data: encodeF32s([]float32{1})}
			tensors["w.weight.nested_quant_map"] = &SafeTensor{Name: "w.weight.nested_quant_map", DType: "F32", Shape: []int{256}, Data: encodeF32s(dm[:])}
		} else {
			absmax = absmax[:len(absmax)/4*4]
			tensors["w.weight.absmax"] = &SafeTensor{Name: "w.weight.absmax", DType: "F32", Shape: []int{len(absmax) / 4}, Data: absmax}
		}
		lookup := func(k string) (*SafeTensor, bool) { x, ok := tensors[k]; return x, ok }
		q, st2, _, err := loadBnb4("fuzz.safetensors", "w.weight", "w.weight.quant_state.bitsandbytes__"+kind, kind, lookup)
		if err != nil {
			checkParseError(t, err, "fuzz.safetensors")
			return
		}
		y := make([]float32, q.N)
		if err := q.Dequantize(y); err != nil {
			t.Fatalf("valid state does not dequantize: %v", err)
		}
		for i, v := range y {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				t.Fatalf("element %d dequantizes to %v", i, v)
			}
		}
		if _, _, err := bnbTensor("x", q, st2.Shape); err != nil {
			t.Fatalf("bnbTensor: %v", err)
		}
	})
}

// ExampleBnbTensors quantizes a weight with bitsandbytes' NF4 algorithm (double
// quantization on) and lists the tensors a QLoRA checkpoint stores for it.
func ExampleBnbTensors() {
	w := make([]float32, 4*64) // a [4, 64] Linear weight
	for i := range w {
		w[i] = float32(i%7) - 3
	}
	q, err := int4.QuantizeBnb4(int4.NF4, w, 64, true)
	if err != nil {
		panic(err)
	}
	ts, err := BnbTensors("model.layers.0.mlp.up_proj.weight", q, []int{4, 64}, "bfloat16", "uint8")
	if err != nil {
		panic(err)
	}
	for _, t := range ts {
		fmt.Println(t.Name, t.DType, t.Shape)
	}
	fmt.Println(string(ts[len(ts)-1].Data))
	// Output:
	// model.layers.0.mlp.up_proj.weight U8 [128 1]
	// model.layers.0.mlp.up_proj.weight.quant_map F32 [16]
	// model.layers.0.mlp.up_proj.weight.absmax U8 [4]
	// model.layers.0.mlp.up_proj.weight.nested_absmax F32 [1]
	// model.layers.0.mlp.up_proj.weight.nested_quant_map F32 [256]
	// model.layers.0.mlp.up_proj.weight.quant_state.bitsandbytes__nf4 U8 [151]
	// {"quant_type": "nf4", "blocksize": 64, "dtype": "bfloat16", "shape": [4, 64], "nested_blocksize": 256, "nested_dtype": "float32", "nested_offset": 3.0}
}
