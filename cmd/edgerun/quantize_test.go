package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/edgerun/edgerun/int4"
	"github.com/edgerun/edgerun/internal/testmodels"
	"github.com/edgerun/edgerun/loader"
	"github.com/edgerun/edgerun/runtime"
)

// TestQuantizeNF4Stories260K quantizes the F32 HF stories260K to NF4 with double
// quantization through `edgerun quantize`, then checks the directory against what
// bitsandbytes + transformers write (formats.md §1.5, §2) and that reloading it gives
// packed weights and scales bit-identical to the in-memory quantization.
func TestQuantizeNF4Stories260K(t *testing.T) {
	src := filepath.Join(testmodels.Dir(t), "stories260K", "hf")
	out := filepath.Join(t.TempDir(), "nf4")
	if so, se, code := runCLI(t, "quantize", src, out, "--type", "nf4"); code != 0 {
		t.Fatalf("exit %d: %s %s", code, so, se)
	}
	f, err := loader.OpenSafetensors(filepath.Join(out, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Metadata["format"] != "pt" {
		t.Errorf("metadata %v", f.Metadata)
	}
	ref, err := loader.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()

	// The key set: every projection is a Linear4bit with a nested NF4 quant state;
	// embeddings and norms stay F32; the tied lm_head is absent.
	want := map[string]string{}
	stateJSON := regexp.MustCompile(`^\{"quant_type": "nf4", "blocksize": 64, "dtype": "float32", "shape": \[(\d+), (\d+)\], "nested_blocksize": 256, "nested_dtype": "float32", "nested_offset": -?\d+\.\d+(e-?\d+)?\}$`)
	for _, name := range ref.Order {
		tt := ref.Tensors[name]
		hf, ok := loader.GGUFToHFName(name)
		if !ok {
			continue
		}
		if !runtime.IsProjectionWeight(name) {
			want[hf] = fmt.Sprintf("F32%v", tt.Shape)
			continue
		}
		n := tt.Elems()
		nb := (n + 63) / 64
		want[hf] = fmt.Sprintf("U8[%d 1]", (n+1)/2)
		want[hf+".absmax"] = fmt.Sprintf("U8[%d]", nb)
		want[hf+".quant_map"] = "F32[16]"
		want[hf+".nested_absmax"] = fmt.Sprintf("F32[%d]", (nb+255)/256)
		want[hf+".nested_quant_map"] = "F32[256]"
		st, ok := f.Tensor(hf + ".quant_state.bitsandbytes__nf4")
		if !ok {
			t.Fatalf("%s has no quant state", hf)
		}
		want[st.Name] = fmt.Sprintf("U8[%d]", len(st.Data))
		m := stateJSON.FindStringSubmatch(string(st.Data))
		if m == nil || m[1]+" "+m[2] != fmt.Sprint(tt.Shape[0], tt.Shape[1]) {
			t.Fatalf("%s quant state %s", hf, st.Data)
		}
		// In-memory quantization of the same F32 weights.
		x := make([]float32, n)
		if err := int4.DequantizeRow(tt.Type, tt.Data, x); err != nil {
			t.Fatal(err)
		}
		q, err := int4.QuantizeBnb4(int4.NF4, x, 64, true)
		if err != nil {
			t.Fatal(err)
		}
		get := func(k string) []byte { s, _ := f.Tensor(k); return s.Data }
		if !bytes.Equal(get(hf), q.Packed) || !bytes.Equal(get(hf+".absmax"), q.AbsmaxQ) ||
			!bytes.Equal(get(hf+".nested_absmax"), f32bytes(q.NestedAbsmax)) || !bytes.Equal(get(hf+".nested_quant_map"), f32bytes(q.NestedMap)) ||
			!bytes.Equal(get(hf+".quant_map"), f32bytes(int4.NF4Table[:])) {
			t.Fatalf("%s: saved tensors differ from the in-memory quantization", hf)
		}
		var js map[string]any
		if err := json.Unmarshal(st.Data, &js); err != nil || float32(js["nested_offset"].(float64)) != q.Offset {
			t.Fatalf("%s: nested_offset %v, want %v (%v)", hf, js["nested_offset"], q.Offset, err)
		}
	}
	got := map[string]string{}
	for _, s := range f.Tensors {
		got[s.Name] = s.DType + fmt.Sprint(s.Shape)
	}
	if fmt.Sprint(sortedKeys(got)) != fmt.Sprint(sortedKeys(want)) {
		t.Fatalf("key set\n got %v\nwant %v", sortedKeys(got), sortedKeys(want))
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %s, want %s", k, got[k], v)
		}
	}
	if _, ok := got["lm_head.weight"]; ok {
		t.Error("tied lm_head was written")
	}
	if len(got) != 5*7*6+2*5+2 {
		t.Errorf("%d tensors", len(got))
	}

	// config.json carries transformers' BitsAndBytesConfig.to_dict().
	var cfg map[string]any
	b, _ := os.ReadFile(filepath.Join(out, "config.json"))
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	qc, _ := cfg["quantization_config"].(map[string]any)
	for k, v := range map[string]any{"quant_method": "bitsandbytes", "load_in_4bit": true, "_load_in_4bit": true, "load_in_8bit": false,
		"bnb_4bit_quant_type": "nf4", "bnb_4bit_use_double_quant": true, "bnb_4bit_quant_storage": "uint8", "bnb_4bit_compute_dtype": "float32",
		"llm_int8_threshold": 6.0, "llm_int8_skip_modules": nil} {
		if qc[k] != v {
			t.Errorf("quantization_config[%s] = %v, want %v", k, qc[k], v)
		}
	}
	for _, name := range []string{"tokenizer.json", "tokenizer_config.json", "generation_config.json", "special_tokens_map.json"} {
		a, _ := os.ReadFile(filepath.Join(src, name))
		b, err := os.ReadFile(filepath.Join(out, name))
		if err != nil || !bytes.Equal(a, b) {
			t.Errorf("%s not copied (%v)", name, err)
		}
	}

	// Reloaded, the runtime tensors equal runtime.QuantizeCheckpoint's bit for bit.
	re, err := loader.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer re.Close()
	mem, err := loader.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Close()
	rep, err := runtime.QuantizeCheckpoint(mem, runtime.QuantizeOptions{Type: int4.NF4})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range append(rep.Quantized, rep.Fallback...) {
		a, b := mem.Tensors[name], re.Tensors[name]
		if a.Type != b.Type || !bytes.Equal(a.Data, b.Data) {
			t.Fatalf("%s: reloaded %v differs from in-memory %v", name, b.Type, a.Type)
		}
	}
	if len(rep.Quantized) != 30 || len(rep.Fallback) != 5 {
		t.Errorf("quantized %d, fallback %d", len(rep.Quantized), len(rep.Fallback))
	}

	// And it runs: greedy text from the NF4 directory.
	so, se, code := runCLI(t, "run", "-m", out, "-p", "Once upon a time", "-n", "16", "--temp", "0", "-t", "2")
	if code != 0 || !strings.HasPrefix(so, "Once upon a time") {
		t.Fatalf("run: exit %d: %q %s", code, so, se)
	}
}

func f32bytes(x []float32) []byte {
	b := make([]byte, 4*len(x))
	if err := int4.QuantizeRow(int4.F32, x, b); err != nil {
		panic(err)
	}
	return b
}

func sortedKeys(m map[string]string) []string {
	k := make([]string, 0, len(m))
	for s := range m {
		k = append(k, s)
	}
	sort.Strings(k)
	return k
}

// TestQuantizeGGUF writes GGUF files of each ggml type from the HF and GGUF
// stories260K and checks that they run with the same greedy start as --quantize on load.
func TestQuantizeGGUF(t *testing.T) {
	dir := filepath.Join(testmodels.Dir(t), "stories260K")
	for _, typ := range []string{"q8_0", "q4_0", "iq4_nl"} {
		for _, in := range []string{filepath.Join(dir, "hf"), filepath.Join(dir, "stories260K.gguf")} {
			out := filepath.Join(t.TempDir(), "m.gguf")
			if so, se, code := runCLI(t, "quantize", "--type", typ, in, out); code != 0 {
				t.Fatalf("%s %s: exit %d: %s %s", typ, in, code, so, se)
			}
			c, err := loader.Open(out)
			if err != nil {
				t.Fatal(err)
			}
			tq, td := c.Tensors["blk.0.attn_q.weight"], c.Tensors["blk.0.ffn_down.weight"]
			if tq.Type.String() != strings.ToUpper(typ) || td.Type != int4.F32 {
				t.Errorf("%s: attn_q %v, ffn_down %v", typ, tq.Type, td.Type)
			}
			c.Close()
			gen := func(args ...string) []int {
				so, se, code := runCLI(t, append([]string{"run", "-p", "Once upon a time", "-n", "24", "--temp", "0", "--json", "-t", "2"}, args...)...)
				if code != 0 {
					t.Fatalf("%v: exit %d: %s", args, code, se)
				}
				var res struct {
					Tokens []int `json:"tokens"`
				}
				if err := json.Unmarshal([]byte(so), &res); err != nil {
					t.Fatal(err)
				}
				return res.Tokens
			}
			a := gen("-m", out)
			b := gen("-m", filepath.Join(dir, "hf"), "--quantize", typ)
			if !slices.Equal(a, b) {
				t.Errorf("%s from %s: GGUF file %v, quantized on load %v", typ, filepath.Base(in), a, b)
			}
		}
	}
}

// TestQuantizeRefusesRequantize checks that quantizing a model whose projection weights
// are already quantized in another type fails with a message naming the file, a tensor
// and the flag, writes nothing, and that --allow-requantize converts them (GGUF and
// bitsandbytes targets alike) while an already matching type passes without the flag.
func TestQuantizeRefusesRequantize(t *testing.T) {
	dir := filepath.Join(testmodels.Dir(t), "stories260K")
	tmp := t.TempDir()
	q8 := filepath.Join(tmp, "q8.gguf")
	if so, se, code := runCLI(t, "quantize", "--type", "q8_0", "-q", filepath.Join(dir, "hf"), q8); code != 0 {
		t.Fatalf("exit %d: %s %s", code, so, se)
	}
	for _, typ := range []string{"q4_0", "nf4"} {
		out := filepath.Join(tmp, "out-"+typ)
		_, se, code := runCLI(t, "quantize", "--type", typ, "-q", q8, out)
		if code == 0 || !strings.Contains(se, q8) || !strings.Contains(se, ".weight is Q8_0") || !strings.Contains(se, "--allow-requantize") {
			t.Fatalf("%s: exit %d, stderr %q", typ, code, se)
		}
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			t.Fatalf("%s: refused quantization left %s (%v)", typ, out, err)
		}
		if so, se, code := runCLI(t, "quantize", "--type", typ, "-q", "--allow-requantize", q8, out); code != 0 {
			t.Fatalf("%s --allow-requantize: exit %d: %s %s", typ, code, so, se)
		}
	}
	c, err := loader.Open(filepath.Join(tmp, "out-q4_0"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if tq := c.Tensors["blk.0.attn_q.weight"]; tq.Type != int4.Q4_0 {
		t.Errorf("requantized attn_q is %v, want Q4_0", tq.Type)
	}
	if so, se, code := runCLI(t, "quantize", "--type", "q8_0", "-q", q8, filepath.Join(tmp, "same.gguf")); code != 0 {
		t.Fatalf("q8_0 from q8_0: exit %d: %s %s", code, so, se)
	}
}

// TestQuantizeNF4FromGGUF writes the NF4 directory from the GGUF stories260K (Q/K rows
// in the interleaved layout): after the inverse permutation its quantized projections
// equal those written from the HF directory byte for byte.
func TestQuantizeNF4FromGGUF(t *testing.T) {
	dir := filepath.Join(testmodels.Dir(t), "stories260K")
	outs := map[string]string{}
	for _, in := range []string{"hf", "stories260K.gguf"} {
		out := filepath.Join(t.TempDir(), "nf4")
		if so, se, code := runCLI(t, "quantize", "--type", "nf4", filepath.Join(dir, in), out); code != 0 {
			t.Fatalf("%s: exit %d: %s %s", in, code, so, se)
		}
		outs[in] = out
	}
	a, err := loader.OpenSafetensors(filepath.Join(outs["hf"], "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := loader.OpenSafetensors(filepath.Join(outs["stories260K.gguf"], "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	n := 0
	for _, x := range a.Tensors {
		if !strings.Contains(x.Name, "self_attn") && !strings.Contains(x.Name, "mlp") {
			continue
		}
		y, ok := b.Tensor(x.Name)
		if !ok || !bytes.Equal(x.Data, y.Data) {
			t.Fatalf("%s differs between the HF- and GGUF-sourced directories", x.Name)
		}
		n++
	}
	if n != 35*6 {
		t.Fatalf("compared %d tensors", n)
	}
}

// TestQuantizeFP4Options writes FP4 without double quantization, blocksize 128 and
// bfloat16 quant storage (flags after the paths), and reloads it bit-identically to
// the in-memory quantization with the same options.
func TestQuantizeFP4Options(t *testing.T) {
	src := filepath.Join(testmodels.Dir(t), "stories260K", "hf")
	out := filepath.Join(t.TempDir(), "fp4")
	if so, se, code := runCLI(t, "quantize", src, out, "--type", "fp4", "--no-double-quant", "--blocksize", "128", "--quant-storage", "bfloat16", "-q"); code != 0 {
		t.Fatalf("exit %d: %s %s", code, so, se)
	}
	f, err := loader.OpenSafetensors(filepath.Join(out, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, _ := f.Tensor("model.layers.0.self_attn.q_proj.weight")
	am, _ := f.Tensor("model.layers.0.self_attn.q_proj.weight.absmax")
	st, _ := f.Tensor("model.layers.0.self_attn.q_proj.weight.quant_state.bitsandbytes__fp4")
	if w == nil || w.DType != "BF16" || fmt.Sprint(w.Shape) != "[1024 1]" || am == nil || am.DType != "F32" || fmt.Sprint(am.Shape) != "[32]" || st == nil {
		t.Fatalf("q_proj tensors: %+v %+v %+v", w, am, st)
	}
	if _, ok := f.Tensor("model.layers.0.self_attn.q_proj.weight.nested_absmax"); ok {
		t.Fatal("nested tensors without double quantization")
	}
	re, err := loader.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer re.Close()
	mem, err := loader.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Close()
	rep, err := runtime.QuantizeCheckpoint(mem, runtime.QuantizeOptions{Type: int4.FP4, Blocksize: 128, NoDoubleQuant: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range append(rep.Quantized, rep.Fallback...) {
		a, b := mem.Tensors[name], re.Tensors[name]
		if a.Type != b.Type || !bytes.Equal(a.Data, b.Data) {
			t.Fatalf("%s: reloaded %v differs from in-memory %v", name, b.Type, a.Type)
		}
	}
	var cfg struct {
		Q map[string]any `json:"quantization_config"`
	}
	b, _ := os.ReadFile(filepath.Join(out, "config.json"))
	if err := json.Unmarshal(b, &cfg); err != nil || cfg.Q["bnb_4bit_quant_type"] != "fp4" || cfg.Q["bnb_4bit_use_double_quant"] != false || cfg.Q["bnb_4bit_quant_storage"] != "bfloat16" {
		t.Fatalf("quantization_config %v (%v)", cfg.Q, err)
	}
	if _, se, code := runCLI(t, "quantize", src, out, "--type", "q5_0"); code != 2 || !strings.Contains(se, "q5_0") {
		t.Errorf("unknown type: exit %d, %q", code, se)
	}
}

// TestQuantizeHead writes the (untied) demo model as NF4 with and without
// BnbWriteOptions.QuantizeHead: with it, lm_head is a bitsandbytes NF4 tensor that
// reloads within NF4's error of the source and the config lists no skipped modules;
// without it, lm_head keeps a float dtype and the config says null.
func TestQuantizeHead(t *testing.T) {
	ck := runtime.DemoCheckpoint()
	src := ck.Tensors["output.weight"]
	want := make([]float32, src.Elems())
	if err := int4.DequantizeRow(src.Type, src.Data, want); err != nil {
		t.Fatal(err)
	}
	for _, head := range []bool{false, true} {
		dir := filepath.Join(t.TempDir(), "nf4")
		if err := loader.WriteHFBnb(dir, ck, loader.BnbWriteOptions{Type: int4.NF4, DoubleQuant: true, QuantizeHead: head}); err != nil {
			t.Fatal(err)
		}
		raw, err := os.ReadFile(filepath.Join(dir, "config.json"))
		if err != nil {
			t.Fatal(err)
		}
		var cfg struct {
			Q map[string]json.RawMessage `json:"quantization_config"`
		}
		if err := json.Unmarshal(raw, &cfg); err != nil {
			t.Fatal(err)
		}
		if got, exp := string(cfg.Q["llm_int8_skip_modules"]), map[bool]string{false: "null", true: "[]"}[head]; got != exp {
			t.Errorf("head %v: llm_int8_skip_modules %s, want %s", head, got, exp)
		}
		f, err := loader.OpenSafetensors(filepath.Join(dir, "model.safetensors"))
		if err != nil {
			t.Fatal(err)
		}
		_, quantized := f.Tensor("lm_head.weight.quant_state.bitsandbytes__nf4")
		f.Close()
		if quantized != head {
			t.Fatalf("head %v: lm_head quant state present %v", head, quantized)
		}
		if !head {
			continue
		}
		back, err := loader.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		out := back.Tensors["output.weight"]
		got := make([]float32, out.Elems())
		err = int4.DequantizeRow(out.Type, out.Data, got)
		back.Close()
		if err != nil || int4.Bnb4Base(out.Type) != int4.NF4 {
			t.Fatalf("reloaded lm_head %v: %v", out.Type, err)
		}
		var num, den float64
		for i := range want {
			num += float64(got[i]-want[i]) * float64(got[i]-want[i])
			den += float64(want[i]) * float64(want[i])
		}
		// NF4 of Gaussian weights: about 10% relative RMS error; rows of zeros stay zero.
		if rel := math.Sqrt(num / den); !(rel > 0.02 && rel < 0.15) {
			t.Fatalf("lm_head NF4 relative RMS error %.4f", rel)
		}
	}
}
