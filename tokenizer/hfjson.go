package tokenizer

import (
	"encoding/json"
	"fmt"
	"strings"
)

// The pre-tokenizer regexes of Llama 3 and Qwen2 as tokenizer.json spells them.
const (
	regexLlama3 = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	regexQwen2  = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
)

type hfAddedToken struct {
	ID      int    `json:"id"`
	Content string `json:"content"`
	Special bool   `json:"special"`
}

type hfModel struct {
	Type         string          `json:"type"`
	Vocab        map[string]int  `json:"vocab"`
	Merges       json.RawMessage `json:"merges"`
	UnkToken     *string         `json:"unk_token"`
	ByteFallback bool            `json:"byte_fallback"`
	IgnoreMerges bool            `json:"ignore_merges"`
	ContPrefix   *string         `json:"continuing_subword_prefix"`
	EndSuffix    *string         `json:"end_of_word_suffix"`
}

type hfTokenizerJSON struct {
	AddedTokens   []hfAddedToken  `json:"added_tokens"`
	Normalizer    json.RawMessage `json:"normalizer"`
	PreTokenizer  json.RawMessage `json:"pre_tokenizer"`
	PostProcessor json.RawMessage `json:"post_processor"`
	Decoder       json.RawMessage `json:"decoder"`
	Model         hfModel         `json:"model"`
}

// hfNode is any normalizer / pre-tokenizer / decoder / post-processor object; only
// the fields this package looks at are decoded.
type hfNode struct {
	Type           string            `json:"type"`
	Normalizers    []json.RawMessage `json:"normalizers"`
	Pretokenizers  []json.RawMessage `json:"pretokenizers"`
	Decoders       []json.RawMessage `json:"decoders"`
	Processors     []json.RawMessage `json:"processors"`
	Prepend        string            `json:"prepend"`
	Content        string            `json:"content"`
	Replacement    string            `json:"replacement"`
	PrependScheme  string            `json:"prepend_scheme"`
	AddPrefixSpace *bool             `json:"add_prefix_space"`
	UseRegex       *bool             `json:"use_regex"`
	Split          *bool             `json:"split"`
	Individual     bool              `json:"individual_digits"`
	Invert         bool              `json:"invert"`
	Behavior       string            `json:"behavior"`
	Pattern        struct {
		String *string `json:"String"`
		Regex  *string `json:"Regex"`
	} `json:"pattern"`
	Single        []json.RawMessage `json:"single"`
	SpecialTokens map[string]struct {
		IDs []int `json:"ids"`
	} `json:"special_tokens"`
}

func parseNode(raw json.RawMessage) (*hfNode, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var n hfNode
	if err := json.Unmarshal(raw, &n); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadJSON, err)
	}
	return &n, nil
}

// flatten returns the leaves of a (possibly nested) Sequence node.
func flatten(raw json.RawMessage) ([]*hfNode, error) {
	n, err := parseNode(raw)
	if err != nil || n == nil {
		return nil, err
	}
	if n.Type != "Sequence" {
		return []*hfNode{n}, nil
	}
	var out []*hfNode
	for _, lists := range [][]json.RawMessage{n.Normalizers, n.Pretokenizers, n.Decoders, n.Processors} {
		for _, c := range lists {
			sub, err := flatten(c)
			if err != nil {
				return nil, err
			}
			out = append(out, sub...)
		}
	}
	return out, nil
}

// FromTokenizerJSON builds a Vocab from a Hugging Face tokenizer.json holding a BPE
// model. It supports the common recipes:
//
//   - byte-level BPE (a ByteLevel pre-tokenizer or decoder) becomes Model "gpt2" with
//     Pre "gpt2" (ByteLevel with its regex), "smollm" (Digits individual + ByteLevel),
//     "llama3" or "qwen2" (Split with those models' regex + ByteLevel without regex);
//     an NFC, NFD, NFKC or NFKD normalizer (alone or in a Sequence) sets
//     Vocab.Normalize, so Encode normalizes text as HF tokenizers do;
//   - SentencePiece-style BPE (Llama 2: Prepend/Replace "▁" normalizers or a Metaspace
//     pre-tokenizer without splitting, byte_fallback) becomes Model "llama" with Merges
//     and no Scores, merged by rank.
//
// Added tokens marked special become TypeControl, the others TypeUserDefined; the
// unk_token is TypeUnknown and <0xHH> pieces are TypeByte when byte_fallback is set.
// BOS/EOS and AddBOS/AddEOS come from a TemplateProcessing post-processor, else from
// well-known token names ("<s>", "</s>", "<|begin_of_text|>", "<|endoftext|>", ...);
// EOT from "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>". tokenizer_config.json
// is not read. Other recipes fail with ErrUnsupported; bad JSON with ErrBadJSON.
func FromTokenizerJSON(data []byte) (*Vocab, error) {
	var tj hfTokenizerJSON
	if err := json.Unmarshal(data, &tj); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadJSON, err)
	}
	m := tj.Model
	if m.Type != "BPE" && !(m.Type == "" && m.Merges != nil) {
		return nil, fmt.Errorf("%w: model type %q (only BPE)", ErrUnsupported, m.Type)
	}
	if (m.ContPrefix != nil && *m.ContPrefix != "") || (m.EndSuffix != nil && *m.EndSuffix != "") {
		return nil, fmt.Errorf("%w: continuing_subword_prefix / end_of_word_suffix", ErrUnsupported)
	}

	// Tokens by id: the model vocab plus the added tokens.
	n := 0
	for _, id := range m.Vocab {
		if id < 0 {
			return nil, fmt.Errorf("%w: negative token id %d", ErrBadJSON, id)
		}
		n = max(n, id+1)
	}
	for _, a := range tj.AddedTokens {
		if a.ID < 0 {
			return nil, fmt.Errorf("%w: negative added token id %d", ErrBadJSON, a.ID)
		}
		n = max(n, a.ID+1)
	}
	if n == 0 {
		return nil, fmt.Errorf("%w: no tokens", ErrBadJSON)
	}
	if n > 16<<20 || n > 2*(len(m.Vocab)+len(tj.AddedTokens))+1024 {
		return nil, fmt.Errorf("%w: token ids up to %d for %d tokens", ErrBadJSON, n-1, len(m.Vocab)+len(tj.AddedTokens))
	}
	v := &Vocab{Tokens: make([]string, n), Types: make([]int32, n),
		BOS: -1, EOS: -1, UNK: -1, PAD: -1, EOT: -1, IgnoreMerges: m.IgnoreMerges}
	set := make([]bool, n)
	for p, id := range m.Vocab {
		v.Tokens[id], set[id] = p, true
		v.Types[id] = TypeNormal
	}
	for _, a := range tj.AddedTokens {
		v.Tokens[a.ID], set[a.ID] = a.Content, true
		v.Types[a.ID] = TypeUserDefined
		if a.Special {
			v.Types[a.ID] = TypeControl
		}
	}
	for i := range v.Tokens {
		if !set[i] {
			v.Types[i] = TypeUnused
		}
	}
	if m.ByteFallback {
		for i, p := range v.Tokens {
			if _, ok := parseByteToken(p); ok && v.Types[i] == TypeNormal {
				v.Types[i] = TypeByte
			}
		}
	}
	if m.UnkToken != nil {
		if id, ok := m.Vocab[*m.UnkToken]; ok {
			v.UNK = id
			v.Types[id] = TypeUnknown
		}
	}

	merges, err := parseMerges(m.Merges)
	if err != nil {
		return nil, err
	}
	v.Merges = merges

	if err := detectRecipe(&tj, v); err != nil {
		return nil, err
	}
	if err := detectSpecials(&tj, v); err != nil {
		return nil, err
	}
	return v, nil
}

// parseMerges accepts both merge forms: "left right" strings and [left, right] pairs.
func parseMerges(raw json.RawMessage) ([]string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, fmt.Errorf("%w: merges: %v", ErrBadJSON, err)
	}
	out := make([]string, 0, len(items))
	for i, it := range items {
		var s string
		if err := json.Unmarshal(it, &s); err == nil {
			if strings.HasPrefix(s, "#version") {
				continue
			}
			if _, _, ok := splitMerge(s); !ok {
				return nil, fmt.Errorf("%w: merge %d is %q", ErrBadMerge, i, s)
			}
			out = append(out, s)
			continue
		}
		var pair []string
		if err := json.Unmarshal(it, &pair); err != nil || len(pair) != 2 || pair[0] == "" || pair[1] == "" {
			return nil, fmt.Errorf("%w: merge %d is %s", ErrBadMerge, i, it)
		}
		if strings.Contains(pair[0], " ") || strings.Contains(pair[1], " ") {
			return nil, fmt.Errorf("%w: merge %d has a space inside a part", ErrUnsupported, i)
		}
		out = append(out, pair[0]+" "+pair[1])
	}
	return out, nil
}

// setNormalize records a Unicode normalization normalizer in v.Normalize. It fails when
// typ is not one, or when a different form is already set (two forms in a Sequence).
func setNormalize(v *Vocab, typ string) error {
	if _, ok := normForms[typ]; !ok || (v.Normalize != "" && v.Normalize != typ) {
		return ErrUnsupported
	}
	v.Normalize = typ
	return nil
}

// detectRecipe sets Model, Pre, AddSpacePrefix and Normalize from the normalizer, pre-tokenizer
// and decoder.
func detectRecipe(tj *hfTokenizerJSON, v *Vocab) error {
	norms, err := flatten(tj.Normalizer)
	if err != nil {
		return err
	}
	pres, err := flatten(tj.PreTokenizer)
	if err != nil {
		return err
	}
	decs, err := flatten(tj.Decoder)
	if err != nil {
		return err
	}
	byteLevel := false
	for _, p := range pres {
		byteLevel = byteLevel || p.Type == "ByteLevel"
	}
	for _, d := range decs {
		byteLevel = byteLevel || d.Type == "ByteLevel"
	}

	if byteLevel {
		v.Model = "gpt2"
		for _, nz := range norms {
			if err := setNormalize(v, nz.Type); err != nil {
				return fmt.Errorf("%w: normalizer %q with byte-level BPE", ErrUnsupported, nz.Type)
			}
		}
		regexOn := func(p *hfNode) bool { return p.UseRegex == nil || *p.UseRegex }
		prefixOn := func(p *hfNode) bool { return p.AddPrefixSpace != nil && *p.AddPrefixSpace }
		switch {
		case len(pres) == 1 && pres[0].Type == "ByteLevel" && regexOn(pres[0]) && !prefixOn(pres[0]):
			v.Pre = "gpt2"
		case len(pres) == 2 && pres[0].Type == "Digits" && pres[0].Individual &&
			pres[1].Type == "ByteLevel" && regexOn(pres[1]) && !prefixOn(pres[1]):
			v.Pre = "smollm"
		case len(pres) == 2 && pres[0].Type == "Split" && pres[0].Pattern.Regex != nil && !pres[0].Invert &&
			pres[0].Behavior == "Isolated" && pres[1].Type == "ByteLevel" && !regexOn(pres[1]) && !prefixOn(pres[1]):
			switch *pres[0].Pattern.Regex {
			case regexLlama3:
				v.Pre = "llama3"
			case regexQwen2:
				v.Pre = "qwen2"
			default:
				return fmt.Errorf("%w: Split regex %q", ErrUnsupported, *pres[0].Pattern.Regex)
			}
		default:
			var names []string
			for _, p := range pres {
				names = append(names, p.Type)
			}
			return fmt.Errorf("%w: byte-level pre-tokenizer %v", ErrUnsupported, names)
		}
		return nil
	}

	// SentencePiece-style BPE, merged by rank.
	v.Model = "llama"
	if v.Merges == nil {
		v.Merges = []string{}
	}
	replaced := false
	for _, nz := range norms {
		switch {
		case nz.Type == "Prepend" && nz.Prepend == spaceMark:
			v.AddSpacePrefix = true
		case nz.Type == "Replace" && nz.Pattern.String != nil && *nz.Pattern.String == " " && nz.Content == spaceMark:
			replaced = true
		case setNormalize(v, nz.Type) == nil:
		default:
			return fmt.Errorf("%w: normalizer %q", ErrUnsupported, nz.Type)
		}
	}
	for _, p := range pres {
		if p.Type != "Metaspace" || (p.Replacement != "" && p.Replacement != spaceMark) || (p.Split != nil && *p.Split) {
			return fmt.Errorf("%w: pre-tokenizer %q (split %v) for SentencePiece-style BPE", ErrUnsupported, p.Type, p.Split)
		}
		replaced = true
		switch {
		case p.PrependScheme == "always" || p.PrependScheme == "first":
			v.AddSpacePrefix = true
		case p.PrependScheme == "" && (p.AddPrefixSpace == nil || *p.AddPrefixSpace):
			v.AddSpacePrefix = true
		}
	}
	if !replaced {
		return fmt.Errorf("%w: neither byte-level nor SentencePiece-style (no ByteLevel, no \"▁\" replacement)", ErrUnsupported)
	}
	return nil
}

// detectSpecials sets BOS/EOS/EOT and AddBOS/AddEOS.
func detectSpecials(tj *hfTokenizerJSON, v *Vocab) error {
	procs, err := flatten(tj.PostProcessor)
	if err != nil {
		return err
	}
	lookup := func(name string) int {
		for id, p := range v.Tokens {
			if p == name && (v.Types[id] == TypeControl || v.Types[id] == TypeUserDefined || v.Types[id] == TypeUnknown) {
				return id
			}
		}
		return -1
	}
	for _, p := range procs {
		if p.Type != "TemplateProcessing" || len(p.Single) == 0 {
			continue
		}
		specialID := func(raw json.RawMessage) int {
			var item struct {
				SpecialToken *struct {
					ID string `json:"id"`
				} `json:"SpecialToken"`
			}
			if json.Unmarshal(raw, &item) != nil || item.SpecialToken == nil {
				return -1
			}
			name := item.SpecialToken.ID
			if st, ok := p.SpecialTokens[name]; ok && len(st.IDs) == 1 && st.IDs[0] >= 0 && st.IDs[0] < len(v.Tokens) {
				return st.IDs[0]
			}
			return lookup(name)
		}
		if id := specialID(p.Single[0]); id >= 0 {
			v.BOS, v.AddBOS = id, true
		}
		if len(p.Single) > 1 {
			if id := specialID(p.Single[len(p.Single)-1]); id >= 0 {
				v.EOS, v.AddEOS = id, true
			}
		}
	}
	first := func(names ...string) int {
		for _, nm := range names {
			if id := lookup(nm); id >= 0 {
				return id
			}
		}
		return -1
	}
	if v.BOS < 0 {
		v.BOS = first("<s>", "<|begin_of_text|>", "<|startoftext|>", "<bos>")
	}
	if v.EOS < 0 {
		v.EOS = first("</s>", "<|end_of_text|>", "<|endoftext|>", "<eos>")
	}
	v.EOT = first("<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>")
	if v.EOT == v.EOS {
		v.EOT = -1
	}
	return nil
}
