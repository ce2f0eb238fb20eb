package loader

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/edgerun/edgerun/int4"
	"github.com/edgerun/edgerun/tokenizer"
)

// Hugging Face model directories (formats.md §2, §6, §8): config.json, model.safetensors
// or model.safetensors.index.json + shards, tokenizer.json, tokenizer_config.json,
// generation_config.json. Tensors are renamed to the GGUF-style names the runtime uses
// and run with rotate-half RoPE (Config.RopeNeox) on the unpermuted weights.

// HFConfig is the part of a transformers config.json edgerun reads.
type HFConfig struct {
	ModelType         string          `json:"model_type"`
	Architectures     []string        `json:"architectures"`
	HiddenSize        int             `json:"hidden_size"`
	IntermediateSize  int             `json:"intermediate_size"`
	NumLayers         int             `json:"num_hidden_layers"`
	NumHeads          int             `json:"num_attention_heads"`
	NumKVHeads        int             `json:"num_key_value_heads"`
	HeadDim           int             `json:"head_dim"`
	VocabSize         int             `json:"vocab_size"`
	MaxPositions      int             `json:"max_position_embeddings"`
	RMSNormEps        float64         `json:"rms_norm_eps"`
	RopeTheta         float64         `json:"rope_theta"`
	RopeScaling       *HFRopeScaling  `json:"rope_scaling"`
	TieWordEmbeddings *bool           `json:"tie_word_embeddings"`
	AttentionBias     *bool           `json:"attention_bias"`
	MLPBias           bool            `json:"mlp_bias"`
	HiddenAct         string          `json:"hidden_act"`
	TorchDType        string          `json:"torch_dtype"`
	Quantization      json.RawMessage `json:"quantization_config"`
}

// HFRopeScaling is config.json's rope_scaling.
type HFRopeScaling struct {
	Type          string  `json:"type"`
	RopeType      string  `json:"rope_type"`
	Factor        float64 `json:"factor"`
	LowFreqFactor float64 `json:"low_freq_factor"`
	HighFreq      float64 `json:"high_freq_factor"`
	OriginalMax   int     `json:"original_max_position_embeddings"`
}

// Kind returns rope_type, or the older key type.
func (r *HFRopeScaling) Kind() string {
	if r.RopeType != "" {
		return r.RopeType
	}
	return r.Type
}

// hfLayerNames maps the HF per-layer module suffix to the GGUF one.
var hfLayerNames = map[string]string{
	"input_layernorm":          "attn_norm",
	"post_attention_layernorm": "ffn_norm",
	"self_attn.q_proj":         "attn_q",
	"self_attn.k_proj":         "attn_k",
	"self_attn.v_proj":         "attn_v",
	"self_attn.o_proj":         "attn_output",
	"mlp.gate_proj":            "ffn_gate",
	"mlp.up_proj":              "ffn_up",
	"mlp.down_proj":            "ffn_down",
}

var hfGlobalNames = map[string]string{
	"model.embed_tokens": "token_embd",
	"model.norm":         "output_norm",
	"lm_head":            "output",
}

// HFTensorName maps a Hugging Face Llama-family tensor name to the GGUF-style name
// edgerun uses ("model.layers.3.mlp.gate_proj.weight" -> "blk.3.ffn_gate.weight").
// ok is false for names outside that scheme.
func HFTensorName(hf string) (string, bool) {
	dot := strings.LastIndexByte(hf, '.')
	if dot < 0 {
		return "", false
	}
	mod, leaf := hf[:dot], hf[dot+1:]
	if leaf != "weight" && leaf != "bias" {
		return "", false
	}
	if g, ok := hfGlobalNames[mod]; ok {
		return g + "." + leaf, true
	}
	rest, ok := strings.CutPrefix(mod, "model.layers.")
	if !ok {
		return "", false
	}
	i := strings.IndexByte(rest, '.')
	if i <= 0 {
		return "", false
	}
	n, err := strconv.Atoi(rest[:i])
	if err != nil || n < 0 || strconv.Itoa(n) != rest[:i] {
		return "", false
	}
	g, ok := hfLayerNames[rest[i+1:]]
	if !ok {
		return "", false
	}
	return "blk." + rest[:i] + "." + g + "." + leaf, true
}

// GGUFToHFName is the inverse of HFTensorName.
func GGUFToHFName(name string) (string, bool) {
	dot := strings.LastIndexByte(name, '.')
	if dot < 0 {
		return "", false
	}
	mod, leaf := name[:dot], name[dot+1:]
	for hf, g := range hfGlobalNames {
		if g == mod {
			return hf + "." + leaf, true
		}
	}
	rest, ok := strings.CutPrefix(mod, "blk.")
	if !ok {
		return "", false
	}
	i := strings.IndexByte(rest, '.')
	if i <= 0 {
		return "", false
	}
	for hf, g := range hfLayerNames {
		if g == rest[i+1:] {
			return "model.layers." + rest[:i] + "." + hf + "." + leaf, true
		}
	}
	return "", false
}

// hfArchs are the model_type values whose weights and forward pass the runtime runs.
var hfArchs = map[string]bool{"llama": true, "mistral": true, "qwen2": true}

// hfDir holds the open shards of an HF checkpoint.
type hfDir struct {
	path   string
	shards []*SafetensorsFile
	where  map[string]*SafeTensor
}

func (d *hfDir) close() error {
	var first error
	for _, s := range d.shards {
		if err := s.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

func (d *hfDir) lookup(name string) (*SafeTensor, bool) { t, ok := d.where[name]; return t, ok }

// openHFShards opens model.safetensors, or the shards listed in
// model.safetensors.index.json.
func openHFShards(dir string, inRAM bool) (*hfDir, error) {
	d := &hfDir{path: dir, where: map[string]*SafeTensor{}}
	var files []string
	idxPath := filepath.Join(dir, "model.safetensors.index.json")
	single := filepath.Join(dir, "model.safetensors")
	if b, err := os.ReadFile(idxPath); err == nil {
		var idx struct {
			WeightMap map[string]string `json:"weight_map"`
		}
		if err := json.Unmarshal(b, &idx); err != nil {
			return nil, wrapf(idxPath, ErrCorrupt, err, "bad index JSON")
		}
		if len(idx.WeightMap) == 0 {
			return nil, errorf(idxPath, ErrCorrupt, "weight_map is empty")
		}
		seen := map[string]bool{}
		for _, f := range idx.WeightMap {
			if f == "" || filepath.Base(f) != f {
				return nil, errorf(idxPath, ErrCorrupt, "shard name %q is not a plain file name", f)
			}
			if !seen[f] {
				seen[f] = true
				files = append(files, f)
			}
		}
		sort.Strings(files)
		for _, f := range files {
			sf, err := openSafetensors(filepath.Join(dir, f), inRAM)
			if err != nil {
				d.close()
				return nil, err
			}
			d.shards = append(d.shards, sf)
		}
		for name, f := range idx.WeightMap {
			var t *SafeTensor
			for _, s := range d.shards {
				if filepath.Base(s.Path) == f {
					t, _ = s.Tensor(name)
				}
			}
			if t == nil {
				d.close()
				return nil, errorf(idxPath, ErrMissingTensor, "tensor %q is listed in shard %s but not found there", name, f)
			}
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("loader: %s: %w", idxPath, err)
	} else {
		sf, err := openSafetensors(single, inRAM)
		if err != nil {
			if errors.Is(err, ErrNotFound) {
				return nil, errorf(dir, ErrNotFound, "no model.safetensors or model.safetensors.index.json")
			}
			return nil, err
		}
		d.shards = append(d.shards, sf)
	}
	for _, s := range d.shards {
		for _, t := range s.Tensors {
			if prev, dup := d.where[t.Name]; dup {
				d.close()
				return nil, errorf(s.Path, ErrCorrupt, "tensor %q is also in %s", t.Name, prevShard(d, prev))
			}
			d.where[t.Name] = t
		}
	}
	return d, nil
}

func prevShard(d *hfDir, t *SafeTensor) string {
	for _, s := range d.shards {
		if x, ok := s.Tensor(t.Name); ok && x == t {
			return s.Path
		}
	}
	return "another shard"
}

// readHFConfig reads dir/config.json.
func readHFConfig(dir string) (*HFConfig, map[string]any, error) {
	p := filepath.Join(dir, "config.json")
	b, err := os.ReadFile(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil, errorf(dir, ErrUnsupported, "a directory without config.json is not a Hugging Face model directory")
		}
		return nil, nil, fmt.Errorf("loader: %s: %w", p, err)
	}
	var cfg HFConfig
	if err := json.Unmarshal(b, &cfg); err != nil {
		return nil, nil, wrapf(p, ErrCorrupt, err, "bad JSON")
	}
	var raw map[string]any
	_ = json.Unmarshal(b, &raw)
	return &cfg, raw, nil
}

// hfToConfig converts config.json to Config. It returns llama3 RoPE factors when the
// config asks for them.
func hfToConfig(p string, h *HFConfig) (Config, []float32, error) {
	if !hfArchs[h.ModelType] {
		return Config{}, nil, errorf(p, ErrUnsupported, "model_type %q is not supported (llama, mistral, qwen2)", h.ModelType)
	}
	if h.HiddenAct != "" && h.HiddenAct != "silu" {
		return Config{}, nil, errorf(p, ErrUnsupported, "hidden_act %q is not supported (silu)", h.HiddenAct)
	}
	c := Config{
		Arch: h.ModelType, Dim: h.HiddenSize, FFN: h.IntermediateSize, Layers: h.NumLayers,
		Heads: h.NumHeads, KVHeads: h.NumKVHeads, HeadDim: h.HeadDim, Vocab: h.VocabSize,
		Context: h.MaxPositions, RMSEps: float32(h.RMSNormEps), RopeBase: float32(h.RopeTheta),
		RopeScale: 1, RopeNeox: true,
	}
	if c.Dim <= 0 || c.Layers <= 0 || c.Heads <= 0 || c.FFN <= 0 || c.Vocab <= 0 {
		return Config{}, nil, errorf(p, ErrCorrupt, "hidden_size, intermediate_size, num_hidden_layers, num_attention_heads and vocab_size must be positive")
	}
	if c.KVHeads == 0 {
		c.KVHeads = c.Heads
	}
	if c.HeadDim == 0 {
		c.HeadDim = c.Dim / c.Heads
	}
	c.RopeDim = c.HeadDim
	if c.RMSEps == 0 {
		c.RMSEps = 1e-6 // transformers' LlamaConfig default
	}
	if c.RopeBase == 0 {
		c.RopeBase = 10000
	}
	var factors []float32
	if r := h.RopeScaling; r != nil {
		switch r.Kind() {
		case "", "default":
		case "linear":
			if r.Factor <= 0 {
				return Config{}, nil, errorf(p, ErrCorrupt, "rope_scaling linear factor %v", r.Factor)
			}
			c.RopeScale = float32(r.Factor)
		case "llama3":
			var err error
			if factors, err = llama3RopeFactors(r, float64(c.RopeBase), c.RopeDim); err != nil {
				return Config{}, nil, errorf(p, ErrCorrupt, "rope_scaling llama3: %v", err)
			}
		default:
			return Config{}, nil, errorf(p, ErrUnsupported, "rope_scaling type %q is not supported (linear, llama3)", r.Kind())
		}
	}
	return c, factors, nil
}

// llama3RopeFactors computes, per rotated pair, the divisor of the RoPE frequency that
// Llama 3.x scaling applies (formats.md §4.6), as llama.cpp's converter writes it to
// rope_freqs.weight.
func llama3RopeFactors(r *HFRopeScaling, base float64, dim int) ([]float32, error) {
	factor, lo, hi, old := r.Factor, r.LowFreqFactor, r.HighFreq, float64(r.OriginalMax)
	if lo == 0 {
		lo = 1
	}
	if hi == 0 {
		hi = 4
	}
	if old == 0 {
		old = 8192
	}
	if !(factor > 0) || !(hi > lo) || dim <= 0 || dim%2 != 0 {
		return nil, fmt.Errorf("factor %v, low_freq_factor %v, high_freq_factor %v, head dim %d", factor, lo, hi, dim)
	}
	lowWL, highWL := old/lo, old/hi
	out := make([]float32, dim/2)
	for i := range out {
		freq := 1 / math.Pow(base, float64(float32(2*i)/float32(dim)))
		wl := 2 * math.Pi / freq
		switch {
		case wl < highWL:
			out[i] = 1
		case wl > lowWL:
			out[i] = float32(factor)
		default:
			smooth := (old/wl - lo) / (hi - lo)
			out[i] = float32(1 / ((1-smooth)/factor + smooth))
		}
	}
	return out, nil
}

// openHF loads the Hugging Face model directory dir.
func openHF(dir string, inRAM bool) (*Checkpoint, error) {
	cfgPath := filepath.Join(dir, "config.json")
	hc, raw, err := readHFConfig(dir)
	if err != nil {
		return nil, err
	}
	cfg, factors, err := hfToConfig(cfgPath, hc)
	if err != nil {
		return nil, err
	}
	d, err := openHFShards(dir, inRAM)
	if err != nil {
		return nil, err
	}
	c, err := hfCheckpoint(dir, d, cfg, factors, raw)
	if err != nil {
		d.close()
		return nil, err
	}
	c.closer = d.close
	if c.Vocab, err = hfVocab(dir, cfg.Vocab); err != nil {
		d.close()
		return nil, err
	}
	// generation_config.json's defaults (sampling, eos ids) are kept for inspection and
	// for callers that want the model's default sampling, as generation_config.<key>.
	if b, err := os.ReadFile(filepath.Join(dir, "generation_config.json")); err == nil {
		var gc map[string]any
		if json.Unmarshal(b, &gc) == nil {
			keys := make([]string, 0, len(gc))
			for k := range gc {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				c.Meta["generation_config."+k] = gc[k]
				c.MetaKeys = append(c.MetaKeys, "generation_config."+k)
			}
		}
	}
	return c, nil
}

// hfCheckpoint maps the tensors of d to GGUF-style names, decoding bitsandbytes 4-bit
// weights.
func hfCheckpoint(dir string, d *hfDir, cfg Config, factors []float32, raw map[string]any) (*Checkpoint, error) {
	c := &Checkpoint{Path: dir, Format: "hf", Config: cfg, Tensors: map[string]*Tensor{}, Meta: map[string]any{}}
	for k, v := range raw {
		c.Meta["config."+k] = v
		c.MetaKeys = append(c.MetaKeys, "config."+k)
	}
	sort.Strings(c.MetaKeys)
	var names []string
	for _, s := range d.shards {
		for _, t := range s.Tensors {
			names = append(names, t.Name)
		}
	}
	consumed := map[string]bool{}
	var fallback []string
	has := func(k string) bool { _, ok := d.where[k]; return ok }
	for _, hf := range names {
		if consumed[hf] {
			continue
		}
		t := d.where[hf]
		if strings.HasSuffix(hf, ".rotary_emb.inv_freq") {
			continue // recomputed from rope_theta
		}
		stateKey, kind, err := bnbStateKey(d.shardOf(t), hf, has)
		if err != nil {
			return nil, err
		}
		if stateKey == "" && isBnbAux(hf) {
			continue // checked below: every sibling must be consumed by its weight
		}
		name, ok := HFTensorName(hf)
		if !ok {
			return nil, errorf(d.shardOf(t), ErrUnsupported, "tensor %q has no counterpart in the llama-family model edgerun runs", hf)
		}
		if strings.HasSuffix(name, ".bias") && !strings.Contains(name, ".attn_q.") && !strings.Contains(name, ".attn_k.") && !strings.Contains(name, ".attn_v.") {
			return nil, errorf(d.shardOf(t), ErrUnsupported, "tensor %q: only q/k/v projections may have a bias", hf)
		}
		if stateKey != "" {
			q, js, used, err := loadBnb4(d.shardOf(t), hf, stateKey, kind, d.lookup)
			if err != nil {
				return nil, err
			}
			for _, u := range used {
				consumed[u] = true
			}
			tt, fb, err := bnbTensor(name, q, js.Shape)
			if err != nil {
				return nil, wrapf(d.shardOf(t), ErrCorrupt, err, "bitsandbytes tensor %q", hf)
			}
			if fb {
				fallback = append(fallback, name)
			}
			c.Tensors[name] = tt
			c.Order = append(c.Order, name)
			continue
		}
		typ, ok := safeTensorType(t.DType)
		if !ok {
			return nil, errorf(d.shardOf(t), ErrUnsupported, "tensor %q has dtype %s (want F32, F16 or BF16, or a bitsandbytes 4-bit weight)", hf, t.DType)
		}
		consumed[hf] = true
		c.Tensors[name] = &Tensor{Name: name, Type: typ, Shape: t.Shape, Data: t.Data}
		c.Order = append(c.Order, name)
	}
	for _, hf := range names {
		if isBnbAux(hf) && !consumed[hf] {
			return nil, errorf(d.shardOf(d.where[hf]), ErrCorrupt, "tensor %q belongs to a bitsandbytes quant state whose weight or state tensor is missing", hf)
		}
	}
	if len(fallback) > 0 {
		c.Meta["edgerun.bnb_dequantized"] = fallback
		c.MetaKeys = append(c.MetaKeys, "edgerun.bnb_dequantized")
		slog.Debug("loader: bitsandbytes tensors dequantized to F32 (row length or blocksize not a multiple of 32)", "path", dir, "tensors", fallback)
	}
	if _, ok := c.Tensors["output.weight"]; !ok {
		c.Config.Tied = true
	}
	if factors != nil {
		b := make([]byte, 4*len(factors))
		for i, f := range factors {
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(f))
		}
		c.Tensors["rope_freqs.weight"] = &Tensor{Name: "rope_freqs.weight", Type: int4.F32, Shape: []int{len(factors)}, Data: b}
		c.Order = append(c.Order, "rope_freqs.weight")
	}
	return c, nil
}

func (d *hfDir) shardOf(t *SafeTensor) string {
	for _, s := range d.shards {
		if x, ok := s.Tensor(t.Name); ok && x == t {
			return s.Path
		}
	}
	return d.path
}

// hfVocab builds the tokenizer data from tokenizer.json, tokenizer_config.json and
// generation_config.json (nil when tokenizer.json is absent). The vocabulary is padded
// with unused tokens up to the model's vocab_size, as llama.cpp's converter does.
func hfVocab(dir string, vocabSize int) (*tokenizer.Vocab, error) {
	tp := filepath.Join(dir, "tokenizer.json")
	b, err := os.ReadFile(tp)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("loader: %s: %w", tp, err)
	}
	v, err := tokenizer.FromTokenizerJSON(b)
	if err != nil {
		return nil, wrapf(tp, ErrUnsupported, err, "tokenizer")
	}
	if len(v.Tokens) > vocabSize {
		return nil, errorf(tp, ErrCorrupt, "tokenizer has %d tokens but config.json's vocab_size is %d", len(v.Tokens), vocabSize)
	}
	if err := applyTokenizerConfig(filepath.Join(dir, "tokenizer_config.json"), v); err != nil {
		return nil, err
	}
	if err := applyGenerationConfig(filepath.Join(dir, "generation_config.json"), v); err != nil {
		return nil, err
	}
	for i := len(v.Tokens); i < vocabSize; i++ {
		v.Tokens = append(v.Tokens, fmt.Sprintf("[PAD%d]", i))
		if v.Scores != nil {
			v.Scores = append(v.Scores, 0)
		}
		if v.Types != nil {
			v.Types = append(v.Types, tokenizer.TypeUnused)
		}
	}
	return v, nil
}

// tokenName is a tokenizer_config.json special token: a string or {"content": ...}.
type tokenName struct {
	s     string
	valid bool
}

func (t *tokenName) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	if err := json.Unmarshal(b, &t.s); err == nil {
		t.valid = true
		return nil
	}
	var o struct {
		Content string `json:"content"`
	}
	if err := json.Unmarshal(b, &o); err != nil {
		return err
	}
	t.s, t.valid = o.Content, true
	return nil
}

func findToken(v *tokenizer.Vocab, s string) int {
	for i, p := range v.Tokens {
		if p == s {
			return i
		}
	}
	return -1
}

func applyTokenizerConfig(p string, v *tokenizer.Vocab) error {
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("loader: %s: %w", p, err)
	}
	var tc struct {
		AddBOS *bool     `json:"add_bos_token"`
		AddEOS *bool     `json:"add_eos_token"`
		BOS    tokenName `json:"bos_token"`
		EOS    tokenName `json:"eos_token"`
		UNK    tokenName `json:"unk_token"`
		PAD    tokenName `json:"pad_token"`
		Added  map[string]struct {
			Content string `json:"content"`
			Special bool   `json:"special"`
		} `json:"added_tokens_decoder"`
	}
	if err := json.Unmarshal(b, &tc); err != nil {
		return wrapf(p, ErrCorrupt, err, "bad JSON")
	}
	if tc.AddBOS != nil {
		v.AddBOS = *tc.AddBOS
	}
	if tc.AddEOS != nil {
		v.AddEOS = *tc.AddEOS
	}
	for _, s := range []struct {
		name tokenName
		dst  *int
	}{{tc.BOS, &v.BOS}, {tc.EOS, &v.EOS}, {tc.UNK, &v.UNK}, {tc.PAD, &v.PAD}} {
		if !s.name.valid {
			continue
		}
		id := findToken(v, s.name.s)
		if id < 0 {
			return errorf(p, ErrCorrupt, "special token %q is not in the vocabulary", s.name.s)
		}
		*s.dst = id
	}
	for k, a := range tc.Added {
		id, err := strconv.Atoi(k)
		if err != nil || id < 0 || id >= len(v.Tokens) || v.Tokens[id] != a.Content {
			return errorf(p, ErrCorrupt, "added_tokens_decoder entry %s %q does not match the vocabulary", k, a.Content)
		}
		if v.Types != nil && v.Types[id] == tokenizer.TypeNormal {
			if a.Special {
				v.Types[id] = tokenizer.TypeControl
			} else {
				v.Types[id] = tokenizer.TypeUserDefined
			}
		}
	}
	return nil
}

func applyGenerationConfig(p string, v *tokenizer.Vocab) error {
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("loader: %s: %w", p, err)
	}
	var gc struct {
		EOS json.RawMessage `json:"eos_token_id"`
	}
	if err := json.Unmarshal(b, &gc); err != nil {
		return wrapf(p, ErrCorrupt, err, "bad JSON")
	}
	var ids []int
	if len(gc.EOS) > 0 && string(gc.EOS) != "null" {
		var one int
		if json.Unmarshal(gc.EOS, &one) == nil {
			ids = []int{one}
		} else if err := json.Unmarshal(gc.EOS, &ids); err != nil {
			return errorf(p, ErrCorrupt, "eos_token_id is neither an id nor a list of ids")
		}
	}
	for _, id := range ids {
		if id < 0 || id >= len(v.Tokens) {
			return errorf(p, ErrCorrupt, "eos_token_id %d is outside the %d-token vocabulary", id, len(v.Tokens))
		}
	}
	// EOS is the first id listed; EOT stays the end-of-turn token found by name when it
	// is listed too (Llama 3.1 lists <|end_of_text|>, <|eom_id|>, <|eot_id|>), else it
	// is the second one. Every other listed id, and tokenizer_config.json's eos_token
	// when generation_config.json names another, end generation too (Vocab.EOG).
	if len(ids) > 0 {
		cfgEOS := v.EOS
		v.EOS = ids[0]
		if len(ids) > 1 && !slices.Contains(ids[1:], v.EOT) {
			v.EOT = ids[1]
		}
		if v.EOT == v.EOS {
			v.EOT = -1
		}
		for _, id := range slices.Concat(ids[1:], []int{cfgEOS}) {
			if id >= 0 && id != v.EOS && id != v.EOT && !slices.Contains(v.EOG, id) {
				v.EOG = append(v.EOG, id)
			}
		}
	}
	return nil
}

// BnbWriteOptions configure WriteHFBnb.
type BnbWriteOptions struct {
	Type         int4.Type // int4.NF4 or int4.FP4 (NF4_64/FP4_64 are taken as NF4/FP4)
	Blocksize    int       // bitsandbytes blocksize (0 = 64)
	DoubleQuant  bool      // bnb_4bit_use_double_quant
	QuantStorage string    // bnb_4bit_quant_storage: "uint8" (default), "bfloat16", "float16", "float32"
	// QuantizeHead quantizes an untied lm_head too, as transformers does when
	// llm_int8_skip_modules is an empty list (the default keeps lm_head in its float
	// dtype). The config then says so.
	QuantizeHead bool
	// Progress, when set, is called after each tensor with the number done and the total.
	Progress func(done, total int)
}

// hfTokenizerFiles are copied from a Hugging Face source directory by WriteHFBnb.
var hfTokenizerFiles = []string{"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
	"generation_config.json", "tokenizer.model", "vocab.json", "merges.txt", "added_tokens.json", "chat_template.jinja"}

// WriteHFBnb writes c as a bitsandbytes 4-bit Hugging Face directory, the way
// transformers' save_pretrained writes a model loaded with load_in_4bit: every
// projection weight (q/k/v/o, gate/up/down) quantized with bitsandbytes' algorithm and
// serialized with its quant state (BnbTensors), embeddings, norms and an untied lm_head
// kept in their float dtype (quantized ones are dequantized to F32; lm_head is quantized
// too with QuantizeHead), lm_head omitted
// when tied, config.json with a quantization_config, and the tokenizer files of a
// Hugging Face source copied. GGUF "llama" sources have their Q/K rows permuted back to
// the rotate-half layout.
func WriteHFBnb(dir string, c *Checkpoint, o BnbWriteOptions) error {
	if !int4.IsBnb4(o.Type) {
		return errorf(dir, ErrInvalid, "bitsandbytes type %v (want NF4 or FP4)", o.Type)
	}
	o.Type = int4.Bnb4Base(o.Type) // NF4_64/FP4_64 name the same bitsandbytes codes
	if o.Blocksize == 0 {
		o.Blocksize = 64
	}
	if o.QuantStorage == "" {
		o.QuantStorage = "uint8"
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("loader: %s: %w", dir, err)
	}
	// Two passes keep memory to one tensor at a time: the first quantizes every weight to
	// learn the header (shapes, and the quant-state JSON, whose length depends on the
	// nested offset), the second quantizes again (deterministically) and streams the data.
	var names []string
	for _, name := range c.Order {
		if name == "rope_freqs.weight" || (name == "output.weight" && c.Config.Tied) {
			continue
		}
		names = append(names, name)
	}
	total := 2 * len(names)
	var infos []*SafeTensor
	for i, name := range names {
		ts, err := hfBnbTensors(dir, c, name, o)
		if err != nil {
			return err
		}
		for _, t := range ts {
			infos = append(infos, &SafeTensor{Name: t.Name, DType: t.DType, Shape: t.Shape})
		}
		if o.Progress != nil {
			o.Progress(i+1, total)
		}
	}
	w, err := NewSafetensorsWriter(filepath.Join(dir, "model.safetensors"), map[string]string{"format": "pt"}, infos)
	if err != nil {
		return err
	}
	for i, name := range names {
		ts, err := hfBnbTensors(dir, c, name, o)
		for _, t := range ts {
			if err == nil {
				err = w.WriteTensor(t.Name, t.Data)
			}
		}
		if err != nil {
			w.Abort()
			return err
		}
		if o.Progress != nil {
			o.Progress(len(names)+i+1, total)
		}
	}
	if err := w.Close(); err != nil {
		return err
	}
	if err := writeBnbConfig(dir, c, o); err != nil {
		return err
	}
	if c.Format == "hf" {
		for _, f := range hfTokenizerFiles {
			b, err := os.ReadFile(filepath.Join(c.Path, f))
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err == nil {
				err = os.WriteFile(filepath.Join(dir, f), b, 0o644)
			}
			if err != nil {
				return fmt.Errorf("loader: %s: %w", dir, err)
			}
		}
	}
	return nil
}

// hfBnbTensors returns the safetensors tensors WriteHFBnb stores for the checkpoint
// tensor called name: the bitsandbytes weight and its quant state for a projection,
// else the tensor in its float dtype under its HF name.
func hfBnbTensors(dir string, c *Checkpoint, name string, o BnbWriteOptions) ([]*SafeTensor, error) {
	cfg := c.Config
	t := c.Tensors[name]
	hf, ok := GGUFToHFName(name)
	if !ok {
		return nil, errorf(c.Path, ErrUnsupported, "tensor %q has no Hugging Face name", name)
	}
	x := make([]float32, t.Elems())
	if err := int4.DequantizeRow(t.Type, t.Data, x); err != nil {
		return nil, wrapf(c.Path, ErrCorrupt, err, "tensor %q", name)
	}
	permuted := !cfg.RopeNeox && (strings.Contains(name, ".attn_q.") || strings.Contains(name, ".attn_k."))
	if permuted {
		heads, cols := cfg.Heads, t.Cols()
		if strings.Contains(name, ".attn_k.") {
			heads = cfg.KVHeads
		}
		if len(t.Shape) == 1 {
			cols = 1
		}
		var err error
		if x, err = unpermuteRows(x, heads, cols); err != nil {
			return nil, errorf(c.Path, ErrCorrupt, "tensor %q: %v", name, err)
		}
	}
	dtype := SafeTensorDType(t.Type)
	if dtype == "" {
		dtype = "F32"
	}
	if (isProjection(name) || (o.QuantizeHead && name == "output.weight")) && len(t.Shape) == 2 {
		torch := map[string]string{"F32": "float32", "F16": "float16", "BF16": "bfloat16"}[dtype]
		q, err := int4.QuantizeBnb4(o.Type, x, o.Blocksize, o.DoubleQuant)
		if err != nil {
			return nil, fmt.Errorf("loader: %s: tensor %q: %w", dir, name, err)
		}
		ts, err := BnbTensors(hf, q, t.Shape, torch, o.QuantStorage)
		if err != nil {
			return nil, fmt.Errorf("loader: %s: tensor %q: %w", dir, name, err)
		}
		return ts, nil
	}
	data := t.Data
	if SafeTensorDType(t.Type) == "" || permuted {
		typ, _ := safeTensorType(dtype)
		data = make([]byte, len(x)*DTypeSize(dtype))
		if err := int4.QuantizeRow(typ, x, data); err != nil {
			return nil, err
		}
	}
	return []*SafeTensor{{Name: hf, DType: dtype, Shape: t.Shape, Data: data}}, nil
}

func isProjection(name string) bool {
	for _, g := range []string{"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"} {
		if strings.HasPrefix(name, "blk.") && strings.HasSuffix(name, "."+g+".weight") {
			return true
		}
	}
	return false
}

// unpermuteRows undoes llama.cpp's Q/K row permutation (formats.md §4.5): within each
// head, GGUF row 2i+half holds HF row half*(hd/2)+i.
func unpermuteRows(x []float32, heads, cols int) ([]float32, error) {
	rows := len(x) / cols
	if heads <= 0 || rows%heads != 0 || (rows/heads)%2 != 0 {
		return nil, fmt.Errorf("%d rows do not split into %d heads of even size", rows, heads)
	}
	hd := rows / heads
	out := make([]float32, len(x))
	for h := 0; h < heads; h++ {
		for i := 0; i < hd/2; i++ {
			for half := 0; half < 2; half++ {
				src := (h*hd + 2*i + half) * cols
				dst := (h*hd + half*hd/2 + i) * cols
				copy(out[dst:dst+cols], x[src:src+cols])
			}
		}
	}
	return out, nil
}

// writeBnbConfig writes config.json: the source's (for a Hugging Face source) or one
// built from c.Config, with transformers' BitsAndBytesConfig.to_dict() as
// quantization_config.
func writeBnbConfig(dir string, c *Checkpoint, o BnbWriteOptions) error {
	cfg := map[string]any{}
	if c.Format == "hf" {
		b, err := os.ReadFile(filepath.Join(c.Path, "config.json"))
		if err != nil {
			return fmt.Errorf("loader: %w", err)
		}
		if err := json.Unmarshal(b, &cfg); err != nil {
			return wrapf(c.Path, ErrCorrupt, err, "config.json")
		}
	} else {
		k := c.Config
		arch := map[string]string{"llama": "LlamaForCausalLM", "mistral": "MistralForCausalLM", "qwen2": "Qwen2ForCausalLM"}[k.Arch]
		if arch == "" {
			return errorf(c.Path, ErrUnsupported, "architecture %q has no Hugging Face counterpart", k.Arch)
		}
		cfg = map[string]any{"architectures": []string{arch}, "model_type": k.Arch, "hidden_size": k.Dim,
			"intermediate_size": k.FFN, "num_hidden_layers": k.Layers, "num_attention_heads": k.Heads,
			"num_key_value_heads": k.KVHeads, "head_dim": k.HeadDim, "vocab_size": k.Vocab,
			"max_position_embeddings": k.Context, "rms_norm_eps": k.RMSEps, "rope_theta": k.RopeBase,
			"tie_word_embeddings": k.Tied, "hidden_act": "silu", "torch_dtype": "float32"}
		if k.RopeScale != 1 && k.RopeScale > 0 {
			cfg["rope_scaling"] = map[string]any{"type": "linear", "factor": k.RopeScale}
		}
	}
	kind := "nf4"
	if o.Type == int4.FP4 {
		kind = "fp4"
	}
	compute, _ := cfg["torch_dtype"].(string)
	if compute == "" {
		compute = "float32"
	}
	var skip any // null: transformers' default (lm_head not quantized)
	if o.QuantizeHead {
		skip = []string{}
	}
	cfg["quantization_config"] = map[string]any{
		"_load_in_4bit": true, "_load_in_8bit": false,
		"bnb_4bit_compute_dtype": compute, "bnb_4bit_quant_storage": o.QuantStorage,
		"bnb_4bit_quant_type": kind, "bnb_4bit_use_double_quant": o.DoubleQuant,
		"llm_int8_enable_fp32_cpu_offload": false, "llm_int8_has_fp16_weight": false,
		"llm_int8_skip_modules": skip, "llm_int8_threshold": 6.0,
		"load_in_4bit": true, "load_in_8bit": false, "quant_method": "bitsandbytes",
	}
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return fmt.Errorf("loader: %s: %w", dir, err)
	}
	return os.WriteFile(filepath.Join(dir, "config.json"), append(b, '\n'), 0o644)
}

// GGUFQuantizeOptions say how WriteGGUFQuantized quantizes.
type GGUFQuantizeOptions struct {
	// Type is the ggml type the projection weights are quantized to.
	Type int4.Type
	// Requantize also converts projection weights that are already quantized in another
	// type (dequantized, then quantized to Type: a second rounding error on top of the
	// first, which is why it is not the default). Without it they keep their type.
	Requantize bool
	// Progress, when set, is called after each tensor with the number done and the total.
	Progress func(done, total int)
}

// WriteGGUFQuantized writes ck as a GGUF file whose F32/F16/BF16 projection weights are
// quantized to o.Type (rows not a multiple of the 32-element block keep their type;
// already quantized ones too, unless o.Requantize). A GGUF source keeps its metadata;
// other sources get llama.cpp-style metadata from their configuration and tokenizer,
// with HF Q/K rows permuted to GGUF's "llama" layout.
func WriteGGUFQuantized(path string, ck *Checkpoint, o GGUFQuantizeOptions) error {
	t, progress := o.Type, o.Progress
	var meta []KV
	permute := false
	if ck.Format == "gguf" {
		for _, kv := range ck.MetaKVs() {
			if kv.Key != "general.quantization_version" && kv.Key != "general.file_type" {
				meta = append(meta, kv)
			}
		}
	} else {
		var err error
		if meta, permute, err = ggufMetaFromConfig(ck); err != nil {
			return err
		}
	}
	meta = append(meta, KV{Key: "general.quantization_version", Value: uint32(2)})
	type job struct {
		src *Tensor
		dst *Tensor
	}
	var jobs []job
	var infos []*Tensor
	for _, name := range ck.Order {
		src := ck.Tensors[name]
		dst := &Tensor{Name: name, Type: src.Type, Shape: src.Shape}
		float := src.Type == int4.F32 || src.Type == int4.F16 || src.Type == int4.BF16
		if isProjection(name) && (float || o.Requantize) && len(src.Shape) == 2 {
			if _, err := int4.RowBytes(t, src.Cols()); err == nil {
				dst.Type = t
			}
		}
		if dst.Type == src.Type && (!src.Type.Supported() || (src.Type.Quantized() && src.Type >= 1000)) {
			dst.Type = int4.F32 // edgerun-only row types (NF4/FP4) become F32 in GGUF
		}
		jobs = append(jobs, job{src, dst})
		infos = append(infos, dst)
	}
	w, err := NewGGUFWriter(path, meta, infos)
	if err != nil {
		return err
	}
	c := ck.Config
	for i, j := range jobs {
		data, err := convertTensor(j.src, j.dst.Type, permute, c)
		if err == nil {
			err = w.WriteTensor(j.dst.Name, data)
		}
		if err != nil {
			w.Abort()
			return wrapf(path, ErrInvalid, err, "tensor %q", j.src.Name)
		}
		if progress != nil {
			progress(i+1, len(jobs))
		}
	}
	return w.Close()
}

// convertTensor re-encodes src as type t, permuting HF Q/K rows to the GGUF layout
// when permute is set.
func convertTensor(src *Tensor, t int4.Type, permute bool, c Config) ([]byte, error) {
	isQK := strings.HasSuffix(src.Name, ".attn_q.weight") || strings.HasSuffix(src.Name, ".attn_k.weight") ||
		strings.HasSuffix(src.Name, ".attn_q.bias") || strings.HasSuffix(src.Name, ".attn_k.bias")
	if t == src.Type && !(permute && isQK) {
		return src.Data, nil
	}
	x := make([]float32, src.Elems())
	if err := int4.DequantizeRow(src.Type, src.Data, x); err != nil {
		return nil, err
	}
	cols := src.Cols()
	if len(src.Shape) == 1 {
		cols = 1
	}
	if permute && isQK {
		heads := c.Heads
		if strings.Contains(src.Name, ".attn_k.") {
			heads = c.KVHeads
		}
		rows := len(x) / cols
		if rows%heads != 0 || (rows/heads)%2 != 0 {
			return nil, fmt.Errorf("%d rows do not split into %d heads of even size", rows, heads)
		}
		hd := rows / heads
		y := make([]float32, len(x))
		for h := 0; h < heads; h++ {
			for i := 0; i < hd/2; i++ {
				for half := 0; half < 2; half++ {
					dst := (h*hd + 2*i + half) * cols
					s := (h*hd + half*hd/2 + i) * cols
					copy(y[dst:dst+cols], x[s:s+cols])
				}
			}
		}
		x = y
	}
	rowLen := src.Cols()
	rb, err := int4.RowBytes(t, rowLen)
	if err != nil {
		return nil, err
	}
	data := make([]byte, len(x)/rowLen*rb)
	if err := int4.QuantizeRows(t, x, rowLen, data); err != nil {
		return nil, err
	}
	return data, nil
}

// ggufMetaFromConfig builds llama.cpp metadata for a non-GGUF checkpoint. permute is
// true when the weights are in HF rotate-half layout but the GGUF architecture ("llama")
// expects interleaved pairs.
func ggufMetaFromConfig(ck *Checkpoint) ([]KV, bool, error) {
	c := ck.Config
	arch := c.Arch
	if arch == "mistral" {
		arch = "llama"
	}
	if arch != "llama" && arch != "qwen2" {
		return nil, false, errorf(ck.Path, ErrUnsupported, "architecture %q cannot be written as GGUF", c.Arch)
	}
	permute := c.RopeNeox && arch == "llama"
	if !c.RopeNeox && arch == "qwen2" {
		return nil, false, errorf(ck.Path, ErrUnsupported, "qwen2 weights in interleaved RoPE layout")
	}
	u := func(v int) uint32 { return uint32(v) }
	p := arch + "."
	meta := []KV{
		{Key: "general.architecture", Value: arch},
		{Key: "general.name", Value: "edgerun quantize"},
		{Key: p + "context_length", Value: u(c.Context)},
		{Key: p + "embedding_length", Value: u(c.Dim)},
		{Key: p + "feed_forward_length", Value: u(c.FFN)},
		{Key: p + "block_count", Value: u(c.Layers)},
		{Key: p + "attention.head_count", Value: u(c.Heads)},
		{Key: p + "attention.head_count_kv", Value: u(c.KVHeads)},
		{Key: p + "attention.layer_norm_rms_epsilon", Value: c.RMSEps},
		{Key: p + "rope.freq_base", Value: c.RopeBase},
		{Key: p + "rope.dimension_count", Value: u(c.RopeDim)},
		{Key: p + "vocab_size", Value: u(c.Vocab)},
	}
	if c.Heads > 0 && c.HeadDim != c.Dim/c.Heads {
		meta = append(meta, KV{Key: p + "attention.key_length", Value: u(c.HeadDim)}, KV{Key: p + "attention.value_length", Value: u(c.HeadDim)})
	}
	if c.RopeScale > 0 && c.RopeScale != 1 {
		meta = append(meta, KV{Key: p + "rope.scaling.type", Value: "linear"}, KV{Key: p + "rope.scaling.factor", Value: c.RopeScale})
	}
	if v := ck.Vocab; v != nil {
		meta = append(meta, ggufVocabKVs(v)...)
	}
	return meta, permute, nil
}

// ggufVocabKVs encodes v as tokenizer.ggml.* metadata. A SentencePiece-style vocabulary
// from tokenizer.json has merges but no scores: each token gets the score -rank of the
// first merge producing it (other tokens -1e9), which orders llama.cpp's score-based
// merging like the rank-based one.
func ggufVocabKVs(v *tokenizer.Vocab) []KV {
	k := "tokenizer.ggml."
	kvs := []KV{{Key: k + "model", Value: v.Model}}
	if v.Pre != "" {
		kvs = append(kvs, KV{Key: k + "pre", Value: v.Pre})
	}
	kvs = append(kvs, KV{Key: k + "tokens", Value: v.Tokens})
	scores := v.Scores
	if scores == nil && v.Model == "llama" {
		id := map[string]int{}
		for i, p := range v.Tokens {
			id[p] = i
		}
		scores = make([]float32, len(v.Tokens))
		for i := range scores {
			scores[i] = -1e9
		}
		for r, m := range v.Merges {
			if a, b, ok := strings.Cut(m, " "); ok {
				if i, ok := id[a+b]; ok && scores[i] == -1e9 {
					scores[i] = -float32(r)
				}
			}
		}
	}
	if scores != nil {
		kvs = append(kvs, KV{Key: k + "scores", Value: scores})
	}
	if v.Types != nil {
		kvs = append(kvs, KV{Key: k + "token_type", Value: v.Types})
	}
	if v.Model == "gpt2" && len(v.Merges) > 0 {
		kvs = append(kvs, KV{Key: k + "merges", Value: v.Merges})
	}
	for _, id := range []struct {
		key string
		v   int
	}{{"bos_token_id", v.BOS}, {"eos_token_id", v.EOS}, {"unknown_token_id", v.UNK}, {"padding_token_id", v.PAD}, {"eot_token_id", v.EOT}} {
		if id.v >= 0 {
			kvs = append(kvs, KV{Key: k + id.key, Value: uint32(id.v)})
		}
	}
	if len(v.EOG) > 0 {
		// llama.cpp reads one further end-of-generation id (Llama 3.1's <|eom_id|>) from
		// eom_token_id; edgerun keeps them all under its own key.
		ids := make([]uint32, len(v.EOG))
		for i, id := range v.EOG {
			ids[i] = uint32(id)
		}
		kvs = append(kvs, KV{Key: k + "eom_token_id", Value: ids[0]}, KV{Key: eogKey, Value: ids})
	}
	kvs = append(kvs,
		KV{Key: k + "add_bos_token", Value: v.AddBOS},
		KV{Key: k + "add_eos_token", Value: v.AddEOS})
	if v.Model == "llama" {
		kvs = append(kvs, KV{Key: k + "add_space_prefix", Value: v.AddSpacePrefix})
	}
	return kvs
}
