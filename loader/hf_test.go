package loader

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgerun/edgerun/int4"
	"github.com/edgerun/edgerun/internal/testmodels"
	"github.com/edgerun/edgerun/tokenizer"
)

func TestStories260KHF(t *testing.T) {
	dir := filepath.Join(testmodels.Dir(t), "stories260K", "hf")
	c, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	want := Config{Arch: "llama", Dim: 64, FFN: 172, Layers: 5, Heads: 8, KVHeads: 4, HeadDim: 8, RopeDim: 8, Vocab: 512,
		Context: 512, RMSEps: 1e-5, RopeBase: 10000, RopeScale: 1, RopeNeox: true, Tied: true}
	if c.Config != want {
		t.Errorf("config\n got %+v\nwant %+v", c.Config, want)
	}
	if c.Format != "hf" || len(c.Tensors) != 2+5*9 {
		t.Errorf("format %q, %d tensors", c.Format, len(c.Tensors))
	}
	if d := c.Tensors["blk.4.ffn_down.weight"]; d.Type != int4.F32 || fmt.Sprint(d.Shape) != "[64 172]" {
		t.Errorf("ffn_down %v %v", d.Type, d.Shape)
	}
	v := c.Vocab
	if v == nil || v.Model != "llama" || len(v.Tokens) != 512 || v.BOS != 1 || v.EOS != 2 || !v.AddBOS || v.AddEOS {
		t.Fatalf("vocab %+v", v)
	}
	// The same tensors opened through model.safetensors.
	c2, err := Open(filepath.Join(dir, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if c2.Format != "hf" || len(c2.Tensors) != len(c.Tensors) {
		t.Errorf("via model.safetensors: %q %d", c2.Format, len(c2.Tensors))
	}
}

func TestHFTensorNames(t *testing.T) {
	for hf, g := range map[string]string{
		"model.embed_tokens.weight":                       "token_embd.weight",
		"model.norm.weight":                               "output_norm.weight",
		"lm_head.weight":                                  "output.weight",
		"model.layers.0.input_layernorm.weight":           "blk.0.attn_norm.weight",
		"model.layers.12.post_attention_layernorm.weight": "blk.12.ffn_norm.weight",
		"model.layers.3.self_attn.q_proj.weight":          "blk.3.attn_q.weight",
		"model.layers.3.self_attn.k_proj.bias":            "blk.3.attn_k.bias",
		"model.layers.3.self_attn.v_proj.weight":          "blk.3.attn_v.weight",
		"model.layers.3.self_attn.o_proj.weight":          "blk.3.attn_output.weight",
		"model.layers.3.mlp.gate_proj.weight":             "blk.3.ffn_gate.weight",
		"model.layers.3.mlp.up_proj.weight":               "blk.3.ffn_up.weight",
		"model.layers.3.mlp.down_proj.weight":             "blk.3.ffn_down.weight",
	} {
		if got, ok := HFTensorName(hf); !ok || got != g {
			t.Errorf("HFTensorName(%q) = %q, %v, want %q", hf, got, ok, g)
		}
		if back, ok := GGUFToHFName(g); !ok || back != hf {
			t.Errorf("GGUFToHFName(%q) = %q, %v, want %q", g, back, ok, hf)
		}
	}
	for _, bad := range []string{"model.layers.x.mlp.up_proj.weight", "model.layers.01.mlp.up_proj.weight", "model.layers.1.mlp.foo.weight",
		"model.layers.1.mlp.up_proj.absmax", "weight", "model.layers..mlp.up_proj.weight"} {
		if g, ok := HFTensorName(bad); ok {
			t.Errorf("HFTensorName(%q) = %q, want no mapping", bad, g)
		}
	}
}

// qwenDir writes a sharded qwen2 checkpoint with q/k/v biases, untied lm_head, BF16
// weights, linear RoPE scaling, and the stories260K tokenizer with configs that
// override its specials.
func qwenDir(t *testing.T) string {
	models := testmodels.Dir(t)
	dir := t.TempDir()
	cfg := `{"model_type": "qwen2", "hidden_size": 64, "intermediate_size": 96, "num_hidden_layers": 1, "num_attention_heads": 4,
	"num_key_value_heads": 2, "vocab_size": 520, "max_position_embeddings": 128, "rms_norm_eps": 1e-6, "rope_theta": 1000000.0,
	"rope_scaling": {"type": "linear", "factor": 2.0}, "tie_word_embeddings": false, "torch_dtype": "bfloat16", "hidden_act": "silu"}`
	tok, err := os.ReadFile(filepath.Join(models, "stories260K", "hf", "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"config.json":            cfg,
		"tokenizer.json":         string(tok),
		"tokenizer_config.json":  `{"add_bos_token": false, "add_eos_token": true, "bos_token": {"content": "<s>", "lstrip": false}, "eos_token": "</s>", "added_tokens_decoder": {"2": {"content": "</s>", "special": true}}}`,
		"generation_config.json": `{"eos_token_id": [2, 13], "do_sample": true}`,
	}
	for n, s := range files {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bf := func(name string, shape ...int) *SafeTensor {
		n := 1
		for _, d := range shape {
			n *= d
		}
		b := make([]byte, 2*n)
		for i := 0; i < n; i++ {
			b[2*i+1] = 0x3c // 2^-7
		}
		return &SafeTensor{Name: name, DType: "BF16", Shape: shape, Data: b}
	}
	p := "model.layers.0."
	shard1 := []*SafeTensor{bf("model.embed_tokens.weight", 520, 64), bf(p+"self_attn.q_proj.weight", 64, 64), bf(p+"self_attn.q_proj.bias", 64),
		bf(p+"self_attn.k_proj.weight", 32, 64), bf(p+"self_attn.k_proj.bias", 32), bf(p+"self_attn.v_proj.weight", 32, 64), bf(p+"self_attn.v_proj.bias", 32)}
	shard2 := []*SafeTensor{bf(p+"self_attn.o_proj.weight", 64, 64), bf(p+"mlp.gate_proj.weight", 96, 64), bf(p+"mlp.up_proj.weight", 96, 64),
		bf(p+"mlp.down_proj.weight", 64, 96), bf(p+"input_layernorm.weight", 64), bf(p+"post_attention_layernorm.weight", 64),
		bf("model.norm.weight", 64), bf("lm_head.weight", 520, 64)}
	wm := map[string]string{}
	for i, sh := range [][]*SafeTensor{shard1, shard2} {
		name := fmt.Sprintf("model-%05d-of-00002.safetensors", i+1)
		if err := WriteSafetensors(filepath.Join(dir, name), map[string]string{"format": "pt"}, sh); err != nil {
			t.Fatal(err)
		}
		for _, x := range sh {
			wm[x.Name] = name
		}
	}
	b, _ := json.Marshal(map[string]any{"metadata": map[string]any{"total_size": 0}, "weight_map": wm})
	if err := os.WriteFile(filepath.Join(dir, "model.safetensors.index.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestOpenHFShardedQwen2(t *testing.T) {
	dir := qwenDir(t)
	c, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	k := c.Config
	if k.Arch != "qwen2" || k.RopeScale != 2 || k.RopeBase != 1e6 || k.RMSEps != 1e-6 || k.Tied || !k.RopeNeox || k.HeadDim != 16 || k.Vocab != 520 {
		t.Errorf("config %+v", k)
	}
	for _, n := range []string{"blk.0.attn_q.bias", "blk.0.attn_k.bias", "blk.0.attn_v.bias", "output.weight"} {
		if x, ok := c.Tensors[n]; !ok || x.Type != int4.BF16 {
			t.Errorf("%s missing or not BF16", n)
		}
	}
	v := c.Vocab
	// tokenizer_config.json: no BOS, add EOS; generation_config.json: EOS ids 2 and 13;
	// the vocabulary is padded to vocab_size with unused tokens.
	if c.Meta["generation_config.do_sample"] != true {
		t.Errorf("generation_config meta: %v", c.Meta["generation_config.do_sample"])
	}
	if v.AddBOS || !v.AddEOS || v.BOS != 1 || v.EOS != 2 || v.EOT != 13 || len(v.Tokens) != 520 || v.Tokens[519] != "[PAD519]" || v.Types[519] != tokenizer.TypeUnused {
		t.Errorf("vocab: addBOS %v addEOS %v bos %d eos %d eot %d, %d tokens, last %q", v.AddBOS, v.AddEOS, v.BOS, v.EOS, v.EOT, len(v.Tokens), v.Tokens[len(v.Tokens)-1])
	}
	tk, err := tokenizer.New(v)
	if err != nil {
		t.Fatal(err)
	}
	if ids := tk.Encode("Once upon a time", true); ids[0] == 1 || ids[len(ids)-1] != 2 || !tk.IsEOG(13) {
		t.Errorf("encode %v", ids)
	}
	// A shard listed in the index but missing.
	os.Remove(filepath.Join(dir, "model-00002-of-00002.safetensors"))
	_, err = Open(dir)
	wantErr(t, err, ErrNotFound, "model-00002-of-00002.safetensors")
}

func TestOpenHFBadConfigs(t *testing.T) {
	for name, c := range map[string]struct {
		patch string
		kind  error
		msg   string
	}{
		"yarn":       {`"rope_scaling": {"rope_type": "yarn", "factor": 4.0}`, ErrUnsupported, "yarn"},
		"gelu":       {`"hidden_act": "gelu"`, ErrUnsupported, "gelu"},
		"no layers":  {`"num_hidden_layers": 0`, ErrCorrupt, "positive"},
		"bad linear": {`"rope_scaling": {"type": "linear", "factor": 0}`, ErrCorrupt, "linear"},
	} {
		t.Run(name, func(t *testing.T) {
			dir := qwenDir(t)
			p := filepath.Join(dir, "config.json")
			b, _ := os.ReadFile(p)
			s := strings.Replace(string(b), "{", "{"+c.patch+", ", 1)
			var m map[string]any
			if err := json.Unmarshal([]byte(s), &m); err == nil {
				// later keys win in Go's decoder; rewrite so the patch is the only value
				var patch map[string]any
				json.Unmarshal([]byte("{"+c.patch+"}"), &patch)
				for k, v := range patch {
					m[k] = v
				}
				nb, _ := json.Marshal(m)
				s = string(nb)
			}
			os.WriteFile(p, []byte(s), 0o644)
			_, err := Open(dir)
			wantErr(t, err, c.kind, "config.json", c.msg)
		})
	}
	dir := qwenDir(t)
	os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), []byte(`{"bos_token": "<nope>"}`), 0o644)
	_, err := Open(dir)
	wantErr(t, err, ErrCorrupt, "tokenizer_config.json", "<nope>")
	os.Remove(filepath.Join(dir, "tokenizer_config.json"))
	os.WriteFile(filepath.Join(dir, "generation_config.json"), []byte(`{"eos_token_id": [2, 9999]}`), 0o644)
	_, err = Open(dir)
	wantErr(t, err, ErrCorrupt, "generation_config.json", "9999")
}
