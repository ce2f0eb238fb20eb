package loader

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/edgerun/edgerun/int4"
)

// AdapterConfig is the part of a PEFT adapter_config.json (LoraConfig) that matters at
// inference time (formats.md §3.2).
type AdapterConfig struct {
	PeftType  string  `json:"peft_type"`
	BaseModel string  `json:"base_model_name_or_path"`
	R         int     `json:"r"`
	Alpha     float64 `json:"lora_alpha"`
	UseRSLoRA bool    `json:"use_rslora"`
	UseDoRA   bool    `json:"use_dora"`
	// FanInFanOut is accepted and has no effect: it describes base weights stored
	// [in, out] (GPT-2 Conv1D), and for the nn.Linear projections of LLaMA-family
	// models PEFT itself resets it to false when it builds the LoRA layers (lora_A
	// stays [r, in], lora_B [out, r]); only merging into a Conv1D weight transposes.
	FanInFanOut   bool     `json:"fan_in_fan_out"`
	LoraBias      bool     `json:"lora_bias"`
	Bias          string   `json:"bias"`
	ModulesToSave []string `json:"-"`
	// TargetModules is the list form of target_modules; TargetRegex the string form
	// (a regular expression matched against the whole module key, or "all-linear").
	TargetModules []string `json:"-"`
	TargetRegex   string   `json:"-"`
	// RankPattern and AlphaPattern are the per-module overrides, in file order.
	RankPattern  []PatternValue `json:"-"`
	AlphaPattern []PatternValue `json:"-"`
}

// PatternValue is one entry of rank_pattern or alpha_pattern: a module pattern P that
// applies to module keys matching `(.*\.)?(P)$`.
type PatternValue struct {
	Pattern string
	Value   float64
	re      *regexp.Regexp
}

// Adapter is a LoRA (or DoRA) adapter read from a PEFT directory or a GGUF LoRA file,
// with its factors converted to float32 and its modules named after the base tensors
// they modify (GGUF style: "blk.0.attn_q.weight").
type Adapter struct {
	Path   string
	Format string // "peft" or "gguf"
	// Config is the PEFT configuration (for GGUF files, a synthesized one carrying alpha).
	Config *AdapterConfig
	// Arch is the architecture a GGUF adapter declares ("" for PEFT).
	Arch string
	// NeoxQK is true when the rows of the q/k lora_B factors are in Hugging Face
	// (rotate-half) order, as PEFT writes them; false when they are permuted for
	// adjacent-pair RoPE, as GGUF llama files are (formats.md §4.5).
	NeoxQK bool
	// Modules are the adapted projections, in base-tensor order.
	Modules []*LoraModule
	// Replacements are full weights saved by modules_to_save (or the base layer of a
	// targeted embedding saved by save_embedding_layers): while the adapter is active
	// they are used instead of the base tensors of the same name.
	Replacements []*Replacement
}

// Replacement is a full weight that replaces a base tensor while the adapter is
// active (PEFT modules_to_save).
type Replacement struct {
	Target string // GGUF name of the base tensor ("output.weight", "blk.0.attn_norm.weight")
	Key    string // tensor name in the file
	Shape  []int  // outermost first, as in the file
	Data   []float32
}

// Replacement returns the replacement of the base tensor target, or nil.
func (a *Adapter) Replacement(target string) *Replacement {
	for _, r := range a.Replacements {
		if r.Target == target {
			return r
		}
	}
	return nil
}

// LoraModule is the low-rank update of one base weight: ΔW = Scale · B·A.
type LoraModule struct {
	Target string // GGUF name of the base tensor ("blk.3.ffn_up.weight")
	Key    string // module key in the file ("model.layers.3.mlp.up_proj")
	Rank   int
	In     int
	Out    int
	Alpha  float64
	// Scale is the module scaling: alpha/r, alpha/sqrt(r) with rsLoRA, or 1 for a GGUF
	// adapter without alpha. The user scale multiplies it.
	Scale float32
	A     []float32 // Rank × In, row-major
	B     []float32 // Out × Rank, row-major
	// Bias is lora_B's bias (Out values) when lora_bias was set; nil otherwise.
	Bias []float32
	// Magnitude is DoRA's lora_magnitude_vector (Out values); nil for plain LoRA.
	Magnitude []float32
	// Embedding marks embedding LoRA (lora_embedding_A/B on embed_tokens, Target
	// "token_embd.weight"): A is [r, vocab] (In = vocab), B is [dim, r] (Out = dim),
	// and token t's embedding gets Scale · Σ_k A[k, t]·B[:, k], i.e. ΔW = (B·A)ᵀ.
	Embedding bool
}

// Bytes returns the memory held by the module's factors.
func (m *LoraModule) Bytes() int64 {
	return int64(len(m.A)+len(m.B)+len(m.Bias)+len(m.Magnitude)) * 4
}

// Bytes returns the memory held by all factors and replacement weights of the adapter.
func (a *Adapter) Bytes() int64 {
	var n int64
	for _, m := range a.Modules {
		n += m.Bytes()
	}
	for _, r := range a.Replacements {
		n += int64(len(r.Data)) * 4
	}
	return n
}

// MaxRank returns the largest module rank.
func (a *Adapter) MaxRank() int {
	r := 0
	for _, m := range a.Modules {
		r = max(r, m.Rank)
	}
	return r
}

// Module returns the module that adapts the base tensor target, or nil.
func (a *Adapter) Module(target string) *LoraModule {
	for _, m := range a.Modules {
		if m.Target == target {
			return m
		}
	}
	return nil
}

// ParseAdapterConfig decodes a PEFT adapter_config.json. Only LORA adapters are
// accepted; r and lora_alpha default to 8 as in PEFT.
func ParseAdapterConfig(path string, data []byte) (*AdapterConfig, error) {
	var raw struct {
		AdapterConfig
		R             *int            `json:"r"`
		Alpha         *float64        `json:"lora_alpha"`
		Target        json.RawMessage `json:"target_modules"`
		ModulesToSave json.RawMessage `json:"modules_to_save"`
		RankPattern   json.RawMessage `json:"rank_pattern"`
		AlphaPattern  json.RawMessage `json:"alpha_pattern"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, wrapf(path, ErrCorrupt, err, "adapter_config.json is not valid JSON of the expected shape")
	}
	c := raw.AdapterConfig
	c.R, c.Alpha = 8, 8
	if raw.R != nil {
		c.R = *raw.R
	}
	if raw.Alpha != nil {
		c.Alpha = *raw.Alpha
	}
	if c.PeftType != "" && c.PeftType != "LORA" {
		return nil, errorf(path, ErrUnsupported, "peft_type %q is not supported (only LORA)", c.PeftType)
	}
	if c.R <= 0 {
		return nil, errorf(path, ErrCorrupt, "r = %d, want a positive rank", c.R)
	}
	if math.IsNaN(c.Alpha) || math.IsInf(c.Alpha, 0) {
		return nil, errorf(path, ErrCorrupt, "lora_alpha %v is not finite", c.Alpha)
	}
	if len(raw.Target) > 0 && string(raw.Target) != "null" {
		if raw.Target[0] == '"' {
			if err := json.Unmarshal(raw.Target, &c.TargetRegex); err != nil {
				return nil, wrapf(path, ErrCorrupt, err, "target_modules")
			}
			if c.TargetRegex != "all-linear" {
				if _, err := regexp.Compile("^(?:" + c.TargetRegex + ")$"); err != nil {
					return nil, wrapf(path, ErrCorrupt, err, "target_modules regex %q", c.TargetRegex)
				}
			}
		} else if err := json.Unmarshal(raw.Target, &c.TargetModules); err != nil {
			return nil, wrapf(path, ErrCorrupt, err, "target_modules must be a list of strings or a string")
		}
	}
	if len(raw.ModulesToSave) > 0 && string(raw.ModulesToSave) != "null" {
		if err := json.Unmarshal(raw.ModulesToSave, &c.ModulesToSave); err != nil {
			return nil, wrapf(path, ErrCorrupt, err, "modules_to_save must be a list of strings")
		}
	}
	var err error
	if c.RankPattern, err = parsePatterns(path, "rank_pattern", raw.RankPattern); err != nil {
		return nil, err
	}
	if c.AlphaPattern, err = parsePatterns(path, "alpha_pattern", raw.AlphaPattern); err != nil {
		return nil, err
	}
	for _, p := range c.RankPattern {
		if p.Value <= 0 || p.Value != math.Trunc(p.Value) || p.Value > 1<<20 {
			return nil, errorf(path, ErrCorrupt, "rank_pattern %q: rank %v is not a positive integer", p.Pattern, p.Value)
		}
	}
	return &c, nil
}

// parsePatterns decodes a JSON object {pattern: number} keeping the key order.
func parsePatterns(path, field string, raw json.RawMessage) ([]PatternValue, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	bad := func(err error) error { return wrapf(path, ErrCorrupt, err, "%s must be an object of numbers", field) }
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, bad(err)
	}
	var out []PatternValue
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, bad(err)
		}
		key, _ := tok.(string)
		var v float64
		if err := dec.Decode(&v); err != nil {
			return nil, bad(err)
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, errorf(path, ErrCorrupt, "%s %q: value is not finite", field, key)
		}
		re, err := regexp.Compile(`^(?:.*\.)?(?:` + key + `)$`)
		if err != nil {
			return nil, wrapf(path, ErrCorrupt, err, "%s: pattern %q", field, key)
		}
		out = append(out, PatternValue{Pattern: key, Value: v, re: re})
	}
	return out, nil
}

// resolve returns the rank and alpha for module key, applying the first matching
// rank_pattern and alpha_pattern entries.
func (c *AdapterConfig) resolve(key string) (r int, alpha float64) {
	r, alpha = c.R, c.Alpha
	for _, p := range c.RankPattern {
		if p.re.MatchString(key) {
			r = int(p.Value)
			break
		}
	}
	for _, p := range c.AlphaPattern {
		if p.re.MatchString(key) {
			alpha = p.Value
			break
		}
	}
	return r, alpha
}

// Scaling returns the module scaling for rank r and alpha: alpha/r, or alpha/sqrt(r)
// with rsLoRA.
func (c *AdapterConfig) Scaling(r int, alpha float64) float32 {
	if c.UseRSLoRA {
		return float32(alpha / math.Sqrt(float64(r)))
	}
	return float32(alpha / float64(r))
}

// targets reports whether module key (without the base_model.model. prefix) is one of
// the config's target modules.
func (c *AdapterConfig) targets(key string) bool {
	switch {
	case c.TargetRegex == "all-linear":
		return !strings.HasSuffix(key, "lm_head")
	case c.TargetRegex != "":
		re, err := regexp.Compile("^(?:" + c.TargetRegex + ")$")
		return err == nil && re.MatchString(key)
	case c.TargetModules == nil:
		return true // not stated: trust the tensors
	}
	for _, t := range c.TargetModules {
		if key == t || strings.HasSuffix(key, "."+t) {
			return true
		}
	}
	return false
}

// hfModuleRE matches the HF module path of a decoder-layer projection.
var hfModuleRE = regexp.MustCompile(`^(?:.*\.)?layers\.(\d+)\.(self_attn|mlp)\.(q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj)$`)

var hfToGGUF = map[string]string{
	"q_proj": "attn_q", "k_proj": "attn_k", "v_proj": "attn_v", "o_proj": "attn_output",
	"gate_proj": "ffn_gate", "up_proj": "ffn_up", "down_proj": "ffn_down",
}

// HFModuleToGGUF maps a Hugging Face module key ("model.layers.0.self_attn.q_proj",
// with or without "base_model.model.") to the GGUF name of the weight it holds
// ("blk.0.attn_q.weight"). It returns false for modules edgerun cannot adapt.
func HFModuleToGGUF(key string) (string, bool) {
	key = strings.TrimPrefix(key, "base_model.model.")
	if key == "lm_head" {
		return "output.weight", true
	}
	m := hfModuleRE.FindStringSubmatch(key)
	if m == nil {
		return "", false
	}
	n, err := strconv.Atoi(m[1])
	if err != nil || n > 1<<20 {
		return "", false
	}
	return "blk." + m[1] + "." + hfToGGUF[m[3]] + ".weight", true
}

// replacementRE matches the module of a full weight edgerun can replace, with an
// optional in-memory "modules_to_save.<adapter>" or a "base_layer" infix.
var replacementRE = regexp.MustCompile(`^(?:.*\.)?(lm_head|embed_tokens|norm|layers\.(\d+)\.(input_layernorm|post_attention_layernorm))(?:\.modules_to_save\.[^.]+|\.base_layer)?\.weight$`)

// replacementTarget maps the saved name of a modules_to_save weight
// ("base_model.model.lm_head.weight") to the GGUF name of the base tensor it replaces.
func replacementTarget(name string) (string, bool) {
	m := replacementRE.FindStringSubmatch(strings.TrimPrefix(name, "base_model.model."))
	if m == nil {
		return "", false
	}
	switch m[1] {
	case "lm_head":
		return "output.weight", true
	case "embed_tokens":
		return "token_embd.weight", true
	case "norm":
		return "output_norm.weight", true
	}
	if n, err := strconv.Atoi(m[2]); err != nil || n > 1<<20 {
		return "", false
	}
	if m[3] == "input_layernorm" {
		return "blk." + m[2] + ".attn_norm.weight", true
	}
	return "blk." + m[2] + ".ffn_norm.weight", true
}

// peftPart is one tensor role of a module.
type peftPart int

const (
	partA peftPart = iota
	partB
	partBias
	partMag
	partEmbA
	partEmbB
)

// splitPEFTKey splits a saved PEFT key into the module key (without the
// base_model.model. prefix) and the tensor's role, accepting an adapter-name infix
// (".lora_A.default.weight") as in-memory state dicts carry. ok is false for keys that
// are not LoRA factors.
func splitPEFTKey(name string) (module string, part peftPart, ok bool) {
	key := strings.TrimPrefix(name, "base_model.model.")
	fields := strings.Split(key, ".")
	for i, f := range fields {
		var p peftPart
		switch f {
		case "lora_A":
			p = partA
		case "lora_B":
			p = partB
		case "lora_magnitude_vector":
			p = partMag
		case "lora_embedding_A":
			p = partEmbA
		case "lora_embedding_B":
			p = partEmbB
		default:
			continue
		}
		if i == 0 {
			return "", 0, false
		}
		rest := fields[i+1:]
		if p == partEmbA || p == partEmbB {
			// Bare parameters: lora_embedding_A[.<adapter name>].
			if len(rest) > 1 || (len(rest) == 1 && rest[0] == "weight") {
				return "", 0, false
			}
			return strings.Join(fields[:i], "."), p, true
		}
		// Drop an adapter-name infix: lora_A.<name>.weight, lora_magnitude_vector.<name>[.weight].
		last := ""
		if len(rest) > 0 {
			last = rest[len(rest)-1]
		}
		switch {
		case len(rest) > 2:
			return "", 0, false
		case p == partMag && (len(rest) < 2 || last == "weight"):
		case last == "weight":
		case p == partB && last == "bias":
			p = partBias
		default:
			return "", 0, false
		}
		return strings.Join(fields[:i], "."), p, true
	}
	return "", 0, false
}

// OpenAdapter reads a LoRA adapter: a PEFT directory (adapter_config.json +
// adapter_model.safetensors) or a GGUF LoRA file. Shapes are checked for internal
// consistency (A [r, in], B [out, r]); Validate checks them against a base model.
func OpenAdapter(path string) (*Adapter, error) {
	fi, err := os.Stat(path)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, wrapf(path, ErrNotFound, err, "cannot open adapter")
		}
		return nil, fmt.Errorf("loader: %s: %w", path, err)
	}
	if !fi.IsDir() {
		if filepath.Base(path) == "adapter_config.json" {
			return OpenAdapter(filepath.Dir(path))
		}
		return openGGUFAdapter(path)
	}
	cfgPath := filepath.Join(path, "adapter_config.json")
	cfgData, err := os.ReadFile(cfgPath)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, wrapf(path, ErrNotFound, err, "not a PEFT adapter directory: adapter_config.json is missing")
		}
		return nil, fmt.Errorf("loader: %s: %w", cfgPath, err)
	}
	cfg, err := ParseAdapterConfig(cfgPath, cfgData)
	if err != nil {
		return nil, err
	}
	stPath := filepath.Join(path, "adapter_model.safetensors")
	if _, err := os.Stat(stPath); err != nil {
		if _, errBin := os.Stat(filepath.Join(path, "adapter_model.bin")); errBin == nil {
			return nil, errorf(path, ErrUnsupported, "adapter_model.bin is a Python pickle, which edgerun does not read: re-save the adapter with safetensors (PEFT save_pretrained(..., safe_serialization=True))")
		}
		return nil, wrapf(path, ErrNotFound, err, "adapter_model.safetensors is missing")
	}
	data, err := os.ReadFile(stPath)
	if err != nil {
		return nil, fmt.Errorf("loader: %s: %w", stPath, err)
	}
	tensors, err := readSafetensorsF32(stPath, data)
	if err != nil {
		return nil, err
	}
	return buildPEFTAdapter(path, stPath, cfg, tensors)
}

// buildPEFTAdapter groups the tensors of a PEFT adapter into modules.
func buildPEFTAdapter(path, stPath string, cfg *AdapterConfig, tensors []f32Tensor) (*Adapter, error) {
	// fan_in_fan_out needs no handling: see AdapterConfig.FanInFanOut.
	a := &Adapter{Path: path, Format: "peft", Config: cfg, NeoxQK: true}
	byModule := map[string]*LoraModule{}
	for _, t := range tensors {
		module, part, ok := splitPEFTKey(t.name)
		if !ok {
			target, isRepl := replacementTarget(t.name)
			if !isRepl {
				return nil, errorf(stPath, ErrUnsupported, "tensor %q is neither a LoRA factor nor a full weight edgerun can swap in (modules_to_save covers embed_tokens, lm_head and the RMSNorm weights)", t.name)
			}
			if a.Replacement(target) != nil {
				return nil, errorf(stPath, ErrCorrupt, "tensor %q: %s is replaced twice (with and without prefix or adapter name)", t.name, target)
			}
			a.Replacements = append(a.Replacements, &Replacement{Target: target, Key: t.name, Shape: t.shape, Data: t.data})
			continue
		}
		emb := part == partEmbA || part == partEmbB
		var target string
		if emb {
			if module != "embed_tokens" && !strings.HasSuffix(module, ".embed_tokens") {
				return nil, errorf(stPath, ErrUnsupported, "tensor %q: embedding LoRA on module %q, which is not the token embedding of a LLaMA-family model", t.name, module)
			}
			target = "token_embd.weight"
			part = map[peftPart]peftPart{partEmbA: partA, partEmbB: partB}[part]
		} else if target, ok = HFModuleToGGUF(module); !ok {
			return nil, errorf(stPath, ErrUnsupported, "tensor %q: module %q has no counterpart in a LLaMA-family model", t.name, module)
		}
		if !cfg.targets(module) {
			return nil, errorf(stPath, ErrCorrupt, "tensor %q: module %q is not among target_modules of adapter_config.json", t.name, module)
		}
		m := byModule[module]
		if m == nil {
			m = &LoraModule{Target: target, Key: module, Embedding: emb}
			byModule[module] = m
		}
		if m.Embedding != emb {
			return nil, errorf(stPath, ErrCorrupt, "tensor %q: module %q mixes lora_embedding_* and lora_A/lora_B factors", t.name, module)
		}
		if emb && part != partA && part != partB {
			return nil, errorf(stPath, ErrUnsupported, "tensor %q: embedding LoRA takes no bias or DoRA magnitude", t.name)
		}
		var dst *[]float32
		switch part {
		case partA, partB:
			if len(t.shape) != 2 {
				return nil, errorf(stPath, ErrCorrupt, "tensor %q has shape %v, want 2 dimensions", t.name, t.shape)
			}
			if part == partA {
				dst = &m.A
				m.Rank, m.In = t.shape[0], t.shape[1]
			} else {
				dst = &m.B
				m.Out = t.shape[0]
				if m.Rank != 0 && t.shape[1] != m.Rank {
					return nil, errorf(stPath, ErrCorrupt, "tensor %q has shape %v: its rank %d differs from lora_A's %d", t.name, t.shape, t.shape[1], m.Rank)
				}
				if m.Rank == 0 {
					m.Rank = t.shape[1]
				}
			}
		case partBias, partMag:
			if len(t.shape) != 1 {
				return nil, errorf(stPath, ErrCorrupt, "tensor %q has shape %v, want 1 dimension", t.name, t.shape)
			}
			dst = &m.Bias
			if part == partMag {
				dst = &m.Magnitude
			}
		}
		if *dst != nil {
			return nil, errorf(stPath, ErrCorrupt, "tensor %q: module %q has this factor twice (with and without prefix or adapter name)", t.name, module)
		}
		*dst = t.data
	}
	for key, m := range byModule {
		switch {
		case m.A == nil:
			return nil, errorf(stPath, ErrCorrupt, "module %q has no lora_A", key)
		case m.B == nil:
			return nil, errorf(stPath, ErrCorrupt, "module %q has no lora_B", key)
		case m.Rank <= 0 || m.In <= 0 || m.Out <= 0:
			return nil, errorf(stPath, ErrCorrupt, "module %q: empty factors (rank %d, %d inputs, %d outputs)", key, m.Rank, m.In, m.Out)
		case len(m.A) != m.Rank*m.In || len(m.B) != m.Out*m.Rank:
			return nil, errorf(stPath, ErrCorrupt, "module %q: lora_A is [%d %d] and lora_B has %d values for rank %d: the ranks disagree", key, m.Rank, m.In, len(m.B), m.Rank)
		case m.Bias != nil && len(m.Bias) != m.Out:
			return nil, errorf(stPath, ErrCorrupt, "module %q: lora_B.bias has %d values, want %d", key, len(m.Bias), m.Out)
		case m.Magnitude != nil && len(m.Magnitude) != m.Out:
			return nil, errorf(stPath, ErrCorrupt, "module %q: lora_magnitude_vector has %d values, want %d", key, len(m.Magnitude), m.Out)
		case cfg.UseDoRA && m.Magnitude == nil && !m.Embedding:
			return nil, errorf(stPath, ErrCorrupt, "module %q: use_dora is set but lora_magnitude_vector is missing", key)
		}
		r, alpha := cfg.resolve(key)
		if r != m.Rank {
			return nil, errorf(stPath, ErrCorrupt, "module %q: tensors have rank %d but adapter_config.json (r/rank_pattern) says %d", key, m.Rank, r)
		}
		m.Alpha = alpha
		m.Scale = cfg.Scaling(r, alpha)
		a.Modules = append(a.Modules, m)
	}
	if len(a.Modules) == 0 && len(a.Replacements) == 0 {
		return nil, errorf(stPath, ErrCorrupt, "the adapter holds no LoRA modules")
	}
	sortModules(a.Modules)
	sort.Slice(a.Replacements, func(i, j int) bool { return a.Replacements[i].Target < a.Replacements[j].Target })
	return a, nil
}

// sortModules orders modules by layer, then projection, as a model file does.
func sortModules(ms []*LoraModule) {
	order := map[string]int{"attn_q": 0, "attn_k": 1, "attn_v": 2, "attn_output": 3, "ffn_gate": 4, "ffn_up": 5, "ffn_down": 6}
	rank := func(t string) (int, int) {
		var layer int
		var proj string
		if _, err := fmt.Sscanf(strings.ReplaceAll(strings.TrimSuffix(t, ".weight"), ".", " "), "blk %d %s", &layer, &proj); err != nil {
			return 1 << 30, 0
		}
		return layer, order[proj]
	}
	sort.SliceStable(ms, func(i, j int) bool {
		li, pi := rank(ms[i].Target)
		lj, pj := rank(ms[j].Target)
		if li != lj {
			return li < lj
		}
		if pi != pj {
			return pi < pj
		}
		return ms[i].Target < ms[j].Target
	})
}

// TargetShape returns the [out, in] shape of the base weight target in a model with
// configuration cfg, or false when the name is not an adaptable projection.
func TargetShape(cfg Config, target string) (out, in int, ok bool) {
	hd := cfg.HeadDim
	if hd == 0 && cfg.Heads > 0 {
		hd = cfg.Dim / cfg.Heads
	}
	q, kv := cfg.Heads*hd, cfg.KVHeads*hd
	if target == "output.weight" {
		return cfg.Vocab, cfg.Dim, true
	}
	var layer int
	var proj string
	if _, err := fmt.Sscanf(strings.ReplaceAll(target, ".", " "), "blk %d %s weight", &layer, &proj); err != nil || layer < 0 || layer >= cfg.Layers {
		return 0, 0, false
	}
	if target != fmt.Sprintf("blk.%d.%s.weight", layer, proj) {
		return 0, 0, false
	}
	switch proj {
	case "attn_q":
		return q, cfg.Dim, true
	case "attn_k", "attn_v":
		return kv, cfg.Dim, true
	case "attn_output":
		return cfg.Dim, q, true
	case "ffn_gate", "ffn_up":
		return cfg.FFN, cfg.Dim, true
	case "ffn_down":
		return cfg.Dim, cfg.FFN, true
	}
	return 0, 0, false
}

// Validate checks every module against a base model configuration: the target must
// exist and lora_A must be [r, in], lora_B [out, r] for the base weight's [out, in].
// The error names the first mismatching tensor.
func (a *Adapter) Validate(cfg Config) error {
	if a.Arch != "" && cfg.Arch != "" && a.Arch != cfg.Arch {
		return errorf(a.Path, ErrUnsupported, "adapter is for architecture %q, the base model is %q", a.Arch, cfg.Arch)
	}
	for _, m := range a.Modules {
		out, in, ok := TargetShape(cfg, m.Target)
		if m.Embedding {
			// ΔW = (B·A)ᵀ: A is [r, vocab], B [dim, r] for the [vocab, dim] embedding.
			out, in, ok = cfg.Dim, cfg.Vocab, m.Target == "token_embd.weight"
			if ok && m.In != in {
				return errorf(a.Path, ErrCorrupt, "module %q: lora_embedding_A is [%d %d] but the base embedding is [%d %d] (num_embeddings %d ≠ %d)", m.Key, m.Rank, m.In, in, out, m.In, in)
			}
			if ok && m.Out != out {
				return errorf(a.Path, ErrCorrupt, "module %q: lora_embedding_B is [%d %d] but the base embedding is [%d %d] (embedding_dim %d ≠ %d)", m.Key, m.Out, m.Rank, in, out, m.Out, out)
			}
			if m.Magnitude != nil || m.Bias != nil {
				return errorf(a.Path, ErrUnsupported, "module %q: embedding LoRA with a DoRA magnitude or a bias is not supported", m.Key)
			}
		}
		if !ok {
			return errorf(a.Path, ErrCorrupt, "module %q adapts %q, which the base model (%d layers) does not have", m.Key, m.Target, cfg.Layers)
		}
		if m.In != in {
			return errorf(a.Path, ErrCorrupt, "module %q: lora_A is [%d %d] but the base weight %s is [%d %d] (in features %d ≠ %d)", m.Key, m.Rank, m.In, m.Target, out, in, m.In, in)
		}
		if m.Out != out {
			return errorf(a.Path, ErrCorrupt, "module %q: lora_B is [%d %d] but the base weight %s is [%d %d] (out features %d ≠ %d)", m.Key, m.Out, m.Rank, m.Target, out, in, m.Out, out)
		}
		for _, v := range [][]float32{m.A, m.B, m.Bias, m.Magnitude} {
			for _, f := range v {
				if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
					return errorf(a.Path, ErrCorrupt, "module %q holds a non-finite value (%v)", m.Key, f)
				}
			}
		}
	}
	for _, r := range a.Replacements {
		want, ok := ReplacementShape(cfg, r.Target)
		if !ok {
			return errorf(a.Path, ErrCorrupt, "tensor %q replaces %s, which the base model (%d layers) does not have", r.Key, r.Target, cfg.Layers)
		}
		if !slices.Equal(r.Shape, want) || len(r.Data) != shapeElems(want) {
			return errorf(a.Path, ErrCorrupt, "tensor %q has shape %v but the base tensor %s it replaces is %v", r.Key, r.Shape, r.Target, want)
		}
		for _, f := range r.Data {
			if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
				return errorf(a.Path, ErrCorrupt, "tensor %q holds a non-finite value (%v)", r.Key, f)
			}
		}
	}
	return nil
}

// ReplacementShape returns the shape (outermost first) of the base tensor target that
// a modules_to_save weight may replace: [vocab, dim] for token_embd/output, [dim] for
// the RMSNorm weights.
func ReplacementShape(cfg Config, target string) ([]int, bool) {
	switch target {
	case "token_embd.weight", "output.weight":
		return []int{cfg.Vocab, cfg.Dim}, true
	case "output_norm.weight":
		return []int{cfg.Dim}, true
	}
	var layer int
	var norm string
	if _, err := fmt.Sscanf(strings.ReplaceAll(target, ".", " "), "blk %d %s weight", &layer, &norm); err != nil || layer < 0 || layer >= cfg.Layers {
		return nil, false
	}
	if target != fmt.Sprintf("blk.%d.%s.weight", layer, norm) || (norm != "attn_norm" && norm != "ffn_norm") {
		return nil, false
	}
	return []int{cfg.Dim}, true
}

func shapeElems(s []int) int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}

// MatchRopeLayout permutes the output rows of the q/k factors (lora_B, its bias and
// DoRA's magnitude) so they follow the base model's RoPE pairing: an HF-layout adapter
// applied to a GGUF llama base (adjacent pairs, permuted q/k rows) gets the converter's
// permutation (formats.md §4.5), a GGUF-layout adapter on a rotate-half base the
// inverse. It is a no-op when the layouts already agree.
func (a *Adapter) MatchRopeLayout(cfg Config) {
	if a.NeoxQK == cfg.RopeNeox {
		return
	}
	hd := cfg.HeadDim
	if hd == 0 && cfg.Heads > 0 {
		hd = cfg.Dim / cfg.Heads
	}
	toAdjacent := a.NeoxQK
	for _, m := range a.Modules {
		var heads int
		switch {
		case strings.HasSuffix(m.Target, ".attn_q.weight"):
			heads = cfg.Heads
		case strings.HasSuffix(m.Target, ".attn_k.weight"):
			heads = cfg.KVHeads
		default:
			continue
		}
		if heads*hd != m.Out || hd%2 != 0 {
			continue // Validate reports the mismatch
		}
		m.B = PermuteQKRows(m.B, heads, hd, m.Rank, toAdjacent)
		if m.Bias != nil {
			m.Bias = PermuteQKRows(m.Bias, heads, hd, 1, toAdjacent)
		}
		if m.Magnitude != nil {
			m.Magnitude = PermuteQKRows(m.Magnitude, heads, hd, 1, toAdjacent)
		}
	}
	a.NeoxQK = cfg.RopeNeox
}

// PermuteQKRows returns a copy of the row-major matrix w (heads·headDim rows of cols
// values) with its rows reordered. With toAdjacent it applies llama.cpp's HF→GGUF
// permutation: within each head, new row 2i+j = old row i + j·headDim/2. Otherwise it
// applies the inverse.
func PermuteQKRows(w []float32, heads, headDim, cols int, toAdjacent bool) []float32 {
	out := make([]float32, len(w))
	half := headDim / 2
	for h := 0; h < heads; h++ {
		for i := 0; i < half; i++ {
			for j := 0; j < 2; j++ {
				adj := h*headDim + 2*i + j
				neox := h*headDim + i + j*half
				src, dst := neox, adj
				if !toAdjacent {
					src, dst = adj, neox
				}
				copy(out[dst*cols:(dst+1)*cols], w[src*cols:(src+1)*cols])
			}
		}
	}
	return out
}

// f32Tensor is a safetensors tensor converted to float32.
type f32Tensor struct {
	name  string
	shape []int
	data  []float32
}

// readSafetensorsF32 parses a safetensors file held in data with the shared reader
// (safetensors.go) and converts its F32/F16/BF16 tensors to float32, sorted by name.
func readSafetensorsF32(path string, data []byte) ([]f32Tensor, error) {
	f, err := ParseSafetensors(path, data)
	if err != nil {
		return nil, err
	}
	out := make([]f32Tensor, 0, len(f.Tensors))
	for _, t := range f.Tensors {
		typ, ok := safeTensorType(t.DType)
		if !ok || !(typ == int4.F32 || typ == int4.F16 || typ == int4.BF16) {
			return nil, errorf(path, ErrUnsupported, "tensor %q: dtype %s is not supported for adapter factors (want F32, F16 or BF16)", t.Name, t.DType)
		}
		v := make([]float32, t.Elems())
		if err := int4.DequantizeRow(typ, t.Data, v); err != nil {
			return nil, wrapf(path, ErrCorrupt, err, "tensor %q", t.Name)
		}
		out = append(out, f32Tensor{name: t.Name, shape: t.Shape, data: v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out, nil
}

// GGUFToHFModule is the inverse of HFModuleToGGUF: "blk.0.attn_q.weight" →
// "model.layers.0.self_attn.q_proj".
func GGUFToHFModule(target string) (string, bool) {
	switch target {
	case "output.weight":
		return "lm_head", true
	case "token_embd.weight":
		return "model.embed_tokens", true
	case "output_norm.weight":
		return "model.norm", true
	}
	var nl int
	var norm string
	if _, err := fmt.Sscanf(strings.ReplaceAll(target, ".", " "), "blk %d %s weight", &nl, &norm); err == nil {
		switch norm {
		case "attn_norm":
			return fmt.Sprintf("model.layers.%d.input_layernorm", nl), true
		case "ffn_norm":
			return fmt.Sprintf("model.layers.%d.post_attention_layernorm", nl), true
		}
	}
	var layer int
	var proj string
	if _, err := fmt.Sscanf(strings.ReplaceAll(target, ".", " "), "blk %d %s weight", &layer, &proj); err != nil {
		return "", false
	}
	for hf, g := range hfToGGUF {
		if g == proj {
			group := "self_attn"
			if strings.HasPrefix(g, "ffn_") {
				group = "mlp"
			}
			return fmt.Sprintf("model.layers.%d.%s.%s", layer, group, hf), true
		}
	}
	return "", false
}

// WritePEFTAdapter writes a as a PEFT adapter directory (adapter_config.json and an F32
// adapter_model.safetensors with "base_model.model." keys), as PEFT's save_pretrained
// does. The adapter's factors must be in Hugging Face layout (NeoxQK).
func WritePEFTAdapter(dir string, a *Adapter) error {
	if !a.NeoxQK {
		return errorf(dir, ErrInvalid, "adapter factors are in GGUF (permuted q/k) layout; convert them with MatchRopeLayout first")
	}
	c := a.Config
	if c == nil {
		c = &AdapterConfig{R: a.MaxRank(), Alpha: float64(a.MaxRank())}
	}
	targets := map[string]bool{}
	var names []string
	type entry struct {
		name  string
		shape []int
		data  []float32
	}
	var entries []entry
	for _, m := range a.Modules {
		key := m.Key
		if m.Embedding {
			if key == "" || !strings.HasSuffix("."+key, ".embed_tokens") {
				key = "model.embed_tokens"
			}
			if !targets["embed_tokens"] {
				targets["embed_tokens"] = true
				names = append(names, "embed_tokens")
			}
			p := "base_model.model." + key + "."
			entries = append(entries, entry{p + "lora_embedding_A", []int{m.Rank, m.In}, m.A}, entry{p + "lora_embedding_B", []int{m.Out, m.Rank}, m.B})
			continue
		}
		if _, ok := HFModuleToGGUF(key); !ok {
			var ok2 bool
			if key, ok2 = GGUFToHFModule(m.Target); !ok2 {
				return errorf(dir, ErrInvalid, "module %q has no Hugging Face name", m.Target)
			}
		}
		short := key[strings.LastIndex(key, ".")+1:]
		if !targets[short] {
			targets[short] = true
			names = append(names, short)
		}
		p := "base_model.model." + key + "."
		entries = append(entries, entry{p + "lora_A.weight", []int{m.Rank, m.In}, m.A}, entry{p + "lora_B.weight", []int{m.Out, m.Rank}, m.B})
		if m.Bias != nil {
			entries = append(entries, entry{p + "lora_B.bias", []int{m.Out}, m.Bias})
		}
		if m.Magnitude != nil {
			entries = append(entries, entry{p + "lora_magnitude_vector", []int{m.Out}, m.Magnitude})
		}
	}
	var saved []string
	for _, r := range a.Replacements {
		key, ok := GGUFToHFModule(r.Target)
		if !ok {
			return errorf(dir, ErrInvalid, "replacement %q has no Hugging Face name", r.Target)
		}
		saved = append(saved, key[strings.LastIndex(key, ".")+1:])
		entries = append(entries, entry{"base_model.model." + key + ".weight", r.Shape, r.Data})
	}
	pattern := func(ps []PatternValue) map[string]float64 {
		out := map[string]float64{}
		for _, p := range ps {
			out[p.Pattern] = p.Value
		}
		return out
	}
	cfgJSON, err := json.MarshalIndent(map[string]any{
		"peft_type": "LORA", "task_type": "CAUSAL_LM", "base_model_name_or_path": c.BaseModel,
		"r": c.R, "lora_alpha": c.Alpha, "use_rslora": c.UseRSLoRA, "use_dora": c.UseDoRA,
		"lora_bias": c.LoraBias, "bias": "none", "fan_in_fan_out": false, "target_modules": names,
		"rank_pattern": pattern(c.RankPattern), "alpha_pattern": pattern(c.AlphaPattern),
		"modules_to_save": saved,
	}, "", "  ")
	if err != nil {
		return fmt.Errorf("loader: %s: %w", dir, err)
	}
	var sts []*SafeTensor
	for _, e := range entries {
		sts = append(sts, &SafeTensor{Name: e.name, DType: "F32", Shape: e.shape, Data: f32Bytes(e.data)})
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("loader: %s: %w", dir, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "adapter_config.json"), cfgJSON, 0o644); err != nil {
		return fmt.Errorf("loader: %s: %w", dir, err)
	}
	return WriteSafetensors(filepath.Join(dir, "adapter_model.safetensors"), map[string]string{"format": "pt"}, sts)
}
