package loader

import (
	"math"
	"slices"

	"github.com/edgerun/edgerun/tokenizer"
)

// neoxArchs are the GGUF architectures llama.cpp runs with NEOX (rotate-half) RoPE
// (llama_model_rope_type in llama.cpp's src/llama-model.cpp). Everything else
// (llama, mistral-as-llama, deci, granite, ...) uses adjacent pairs.
var neoxArchs = map[string]bool{
	"falcon": true, "falcon-h1": true, "grok": true, "dbrx": true, "bert": true,
	"jina-bert-v3": true, "modern-bert": true, "nomic-bert": true, "nomic-bert-moe": true,
	"eurobert": true, "stablelm": true, "bitnet": true, "qwen": true, "qwen2": true,
	"dream": true, "qwen2moe": true, "qwen3": true, "qwen3moe": true, "llada-moe": true,
	"olmo2": true, "olmoe": true, "phi2": true, "phi3": true, "phimoe": true,
	"plamo2": true, "gemma": true, "gemma2": true, "gemma3": true, "gemma3n": true,
	"gemma-embedding": true, "starcoder2": true, "openelm": true, "gptneox": true,
	"codeshell": true, "nemotron": true, "exaone": true, "exaone4": true, "minicpm3": true,
}

// bosByDefaultPre are the tokenizer.ggml.pre values for which llama.cpp adds BOS to
// byte-level BPE ("gpt2") prompts unless add_bos_token says otherwise
// (llama_vocab::impl::load in src/llama-vocab.cpp).
var bosByDefaultPre = map[string]bool{
	"llama3": true, "llama-v3": true, "llama-bpe": true, "falcon3": true, "falcon-h1": true,
	"pixtral": true, "midm-2.0": true, "lfm2": true, "jina-v5-nano": true,
	"tekken": true, "chameleon": true,
}

// maxConfigInt bounds every integer hyper-parameter read from metadata.
const maxConfigInt = math.MaxInt32

// metaInt returns the integer at key. Any integer type is accepted (writers disagree
// between u32, i32 and u64); for an integer array (per-layer values) the first element
// is returned.
func (c *Checkpoint) metaInt(key string) (int, bool, error) {
	n, ok, err := c.metaInt64(key)
	if err != nil || !ok {
		return 0, ok, err
	}
	if n < 0 || n > maxConfigInt {
		return 0, false, errorf(c.Path, ErrCorrupt, "metadata %q = %v is out of range", key, c.Meta[key])
	}
	return int(n), true, nil
}

// metaInt64 is metaInt without the range check (a u64 above MaxInt64 becomes -1).
func (c *Checkpoint) metaInt64(key string) (int64, bool, error) {
	v, ok := c.Meta[key]
	if !ok {
		return 0, false, nil
	}
	var n int64
	switch x := v.(type) {
	case uint8:
		n = int64(x)
	case int8:
		n = int64(x)
	case uint16:
		n = int64(x)
	case int16:
		n = int64(x)
	case uint32:
		n = int64(x)
	case int32:
		n = int64(x)
	case int64:
		n = x
	case uint64:
		if x > math.MaxInt64 {
			n = -1
		} else {
			n = int64(x)
		}
	case []uint32:
		if len(x) == 0 {
			return 0, false, nil
		}
		n = int64(x[0])
	case []int32:
		if len(x) == 0 {
			return 0, false, nil
		}
		n = int64(x[0])
	case []uint64:
		if len(x) == 0 {
			return 0, false, nil
		}
		n = int64(min(x[0], 1<<63-1))
	case []int64:
		if len(x) == 0 {
			return 0, false, nil
		}
		n = x[0]
	default:
		return 0, false, errorf(c.Path, ErrCorrupt, "metadata %q has type %T, want an integer", key, v)
	}
	return n, true, nil
}

// metaFloat returns the number at key (f32, f64 or an integer).
func (c *Checkpoint) metaFloat(key string) (float64, bool, error) {
	v, ok := c.Meta[key]
	if !ok {
		return 0, false, nil
	}
	var f float64
	switch x := v.(type) {
	case float32:
		f = float64(x)
	case float64:
		f = x
	default:
		n, ok, err := c.metaInt(key)
		if err != nil || !ok {
			return 0, ok, errorf(c.Path, ErrCorrupt, "metadata %q has type %T, want a number", key, v)
		}
		f = float64(n)
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false, errorf(c.Path, ErrCorrupt, "metadata %q = %v is not finite", key, f)
	}
	return f, true, nil
}

// metaString returns the string at key.
func (c *Checkpoint) metaString(key string) (string, bool, error) {
	v, ok := c.Meta[key]
	if !ok {
		return "", false, nil
	}
	s, ok := v.(string)
	if !ok {
		return "", false, errorf(c.Path, ErrCorrupt, "metadata %q has type %T, want a string", key, v)
	}
	return s, true, nil
}

// metaBool returns the boolean at key (an integer is accepted as non-zero = true).
func (c *Checkpoint) metaBool(key string) (bool, bool, error) {
	v, ok := c.Meta[key]
	if !ok {
		return false, false, nil
	}
	if b, ok := v.(bool); ok {
		return b, true, nil
	}
	n, ok, err := c.metaInt(key)
	if err != nil {
		return false, false, errorf(c.Path, ErrCorrupt, "metadata %q has type %T, want a bool", key, v)
	}
	return n != 0, ok, nil
}

// ggufConfig fills c.Config from the general.* and <arch>.* metadata.
func ggufConfig(c *Checkpoint) error {
	arch, _, err := c.metaString("general.architecture")
	if err != nil {
		return err
	}
	cfg := Config{Arch: arch, RopeBase: 10000, RopeScale: 1, RMSEps: 1e-5, RopeNeox: neoxArchs[arch]}
	p := arch + "."
	ints := []struct {
		key string
		dst *int
	}{
		{"embedding_length", &cfg.Dim},
		{"feed_forward_length", &cfg.FFN},
		{"block_count", &cfg.Layers},
		{"attention.head_count", &cfg.Heads},
		{"attention.head_count_kv", &cfg.KVHeads},
		{"attention.key_length", &cfg.HeadDim},
		{"rope.dimension_count", &cfg.RopeDim},
		{"context_length", &cfg.Context},
		{"vocab_size", &cfg.Vocab},
	}
	for _, f := range ints {
		if *f.dst, _, err = c.metaInt(p + f.key); err != nil {
			return err
		}
	}
	floats := []struct {
		key string
		dst *float32
	}{
		{"attention.layer_norm_rms_epsilon", &cfg.RMSEps},
		{"rope.freq_base", &cfg.RopeBase},
	}
	for _, f := range floats {
		v, ok, err := c.metaFloat(p + f.key)
		if err != nil {
			return err
		}
		if ok {
			*f.dst = float32(v)
		}
	}
	if cfg.KVHeads == 0 {
		cfg.KVHeads = cfg.Heads
	}
	if cfg.HeadDim == 0 && cfg.Heads > 0 {
		cfg.HeadDim = cfg.Dim / cfg.Heads
	}
	if cfg.RopeDim == 0 {
		cfg.RopeDim = cfg.HeadDim
	}
	scaling, _, err := c.metaString(p + "rope.scaling.type")
	if err != nil {
		return err
	}
	factor, hasFactor, err := c.metaFloat(p + "rope.scaling.factor")
	if err != nil {
		return err
	}
	if scaling == "linear" && hasFactor && factor > 0 {
		cfg.RopeScale = float32(factor)
	} else if scaling == "" {
		old, ok, err := c.metaFloat(p + "rope.scale_linear")
		if err != nil {
			return err
		}
		if ok && old > 0 {
			cfg.RopeScale = float32(old)
		}
	}
	if cfg.Vocab == 0 {
		if toks, ok := c.Meta["tokenizer.ggml.tokens"].([]string); ok {
			cfg.Vocab = len(toks)
		} else if t, ok := c.Tensors["token_embd.weight"]; ok && len(t.Shape) == 2 {
			cfg.Vocab = t.Shape[0]
		}
	}
	_, hasOutput := c.Tensors["output.weight"]
	cfg.Tied = !hasOutput
	c.Config = cfg
	return nil
}

// ggufVocab fills c.Vocab from the tokenizer.ggml.* metadata (nil when there is none).
func ggufVocab(c *Checkpoint) error {
	const k = "tokenizer.ggml."
	model, hasModel, err := c.metaString(k + "model")
	if err != nil {
		return err
	}
	rawTokens, hasTokens := c.Meta[k+"tokens"]
	if model == "no_vocab" || model == "none" || (!hasModel && !hasTokens) {
		return nil
	}
	if !hasTokens {
		return errorf(c.Path, ErrCorrupt, "%smodel is %q but %stokens is missing", k, model, k)
	}
	tokens, ok := rawTokens.([]string)
	if !ok {
		return errorf(c.Path, ErrCorrupt, "%stokens has type %T, want an array of strings", k, rawTokens)
	}
	n := len(tokens)
	v := &tokenizer.Vocab{Model: model, Tokens: tokens, BOS: -1, EOS: -1, UNK: -1, PAD: -1, EOT: -1}
	if v.Pre, _, err = c.metaString(k + "pre"); err != nil {
		return err
	}
	if raw, ok := c.Meta[k+"scores"]; ok {
		switch s := raw.(type) {
		case []float32:
			v.Scores = s
		case []int32:
			v.Scores = make([]float32, len(s))
			for i, x := range s {
				v.Scores[i] = float32(x)
			}
		default:
			return errorf(c.Path, ErrCorrupt, "%sscores has type %T, want an array of f32", k, raw)
		}
		if len(v.Scores) < n {
			return errorf(c.Path, ErrCorrupt, "%sscores has %d entries for %d tokens", k, len(v.Scores), n)
		}
		v.Scores = v.Scores[:n:n]
	}
	if raw, ok := c.Meta[k+"token_type"]; ok {
		switch s := raw.(type) {
		case []int32:
			v.Types = s
		case []uint32:
			v.Types = make([]int32, len(s))
			for i, x := range s {
				v.Types[i] = int32(x)
			}
		default:
			return errorf(c.Path, ErrCorrupt, "%stoken_type has type %T, want an array of i32", k, raw)
		}
		if len(v.Types) < n {
			return errorf(c.Path, ErrCorrupt, "%stoken_type has %d entries for %d tokens", k, len(v.Types), n)
		}
		v.Types = v.Types[:n:n]
	}
	if raw, ok := c.Meta[k+"merges"]; ok {
		if v.Merges, ok = raw.([]string); !ok {
			return errorf(c.Path, ErrCorrupt, "%smerges has type %T, want an array of strings", k, raw)
		}
	}
	switch model {
	case "llama":
		v.BOS, v.EOS, v.UNK = 1, 2, 0
		v.AddBOS, v.AddSpacePrefix = true, true
	case "gpt2":
		v.AddBOS = bosByDefaultPre[v.Pre]
	}
	ids := []struct {
		key string
		dst *int
	}{
		{"bos_token_id", &v.BOS},
		{"eos_token_id", &v.EOS},
		{"unknown_token_id", &v.UNK},
		{"padding_token_id", &v.PAD},
		{"eot_token_id", &v.EOT},
	}
	for _, id := range ids {
		if *id.dst >= n { // a default that does not exist in this vocabulary
			*id.dst = -1
		}
		x, ok, err := c.metaInt64(k + id.key)
		if err != nil {
			return err
		}
		// llama.cpp ignores out-of-range ids (writers store "none" as u32 0xFFFFFFFF)
		// and keeps the default.
		if ok && x >= 0 && x < int64(n) {
			*id.dst = int(x)
		}
	}
	// Further end-of-generation ids: llama.cpp's eom_token_id and edgerun's list.
	var eog []int64
	if x, ok, err := c.metaInt64(k + "eom_token_id"); err != nil {
		return err
	} else if ok {
		eog = append(eog, x)
	}
	switch raw := c.Meta[eogKey].(type) {
	case nil:
	case []uint32:
		for _, x := range raw {
			eog = append(eog, int64(x))
		}
	case []int32:
		for _, x := range raw {
			eog = append(eog, int64(x))
		}
	default:
		return errorf(c.Path, ErrCorrupt, "%s has type %T, want an array of u32", eogKey, raw)
	}
	for _, x := range eog {
		if x >= 0 && x < int64(n) && int(x) != v.EOS && int(x) != v.EOT && !slices.Contains(v.EOG, int(x)) {
			v.EOG = append(v.EOG, int(x))
		}
	}
	bools := []struct {
		key string
		dst *bool
	}{
		{"add_bos_token", &v.AddBOS},
		{"add_eos_token", &v.AddEOS},
		{"add_space_prefix", &v.AddSpacePrefix},
	}
	for _, b := range bools {
		x, ok, err := c.metaBool(k + b.key)
		if err != nil {
			return err
		}
		if ok {
			*b.dst = x
		}
	}
	c.Vocab = v
	return nil
}

// eogKey is edgerun's GGUF metadata key for every end-of-generation id besides EOS and
// EOT (tokenizer.Vocab.EOG); llama.cpp ignores it and reads eom_token_id instead.
const eogKey = "edgerun.tokenizer.eog_token_ids"
