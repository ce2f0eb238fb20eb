package tokenizer

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"golang.org/x/text/unicode/norm"
)

// Sentinel errors returned (wrapped with detail) by New and FromTokenizerJSON.
var (
	// ErrUnknownModel means Vocab.Model is neither "llama" nor "gpt2".
	ErrUnknownModel = errors.New("tokenizer: unknown tokenizer model")
	// ErrUnknownPre means Vocab.Pre names a pre-tokenizer this package does not implement.
	ErrUnknownPre = errors.New("tokenizer: unknown pre-tokenizer")
	// ErrEmptyVocab means the vocabulary has no tokens.
	ErrEmptyVocab = errors.New("tokenizer: empty vocabulary")
	// ErrLength means Scores or Types do not have one entry per token.
	ErrLength = errors.New("tokenizer: length mismatch")
	// ErrSpecialID means a special token id is out of range, or a special token that
	// must be added (AddBOS, AddEOS) is absent.
	ErrSpecialID = errors.New("tokenizer: bad special token id")
	// ErrBadMerge means a merge is not of the form "left right".
	ErrBadMerge = errors.New("tokenizer: malformed merge")
	// ErrBadJSON means tokenizer.json could not be parsed.
	ErrBadJSON = errors.New("tokenizer: malformed tokenizer.json")
	// ErrUnsupported means tokenizer.json uses a feature this package does not implement.
	ErrUnsupported = errors.New("tokenizer: unsupported tokenizer.json feature")
)

// The two tokenizer families.
const (
	kindSPM = iota // SentencePiece-style: "▁" for spaces, merges by score (or rank), byte fallback
	kindBPE        // byte-level BPE: bytes mapped to code points, regex pre-tokenizer, merges by rank
)

// Tokenizer turns text into token ids and back. It is immutable after New and safe for
// concurrent use.
type Tokenizer struct {
	kind   int
	pre    preKind
	tokens []string
	types  []int32
	scores []float32
	ids    map[string]int32 // piece -> id (the last id wins on duplicates, as in llama.cpp)
	// mergeable[id] says whether a merge may produce id (SentencePiece never emits
	// control, unknown, unused or byte pieces from text).
	mergeable []bool
	// byRank selects merge-by-rank (Merges) instead of merge-by-score (Scores).
	byRank bool
	merges map[uint64]mergeRule
	// byteTok[b] is the token for raw byte b: <0xHH> for SentencePiece, the mapped
	// code point for byte-level BPE; -1 when absent.
	byteTok [256]int32
	// specials are the control/unknown/user-defined tokens matched atomically in the
	// text, longest first; parseOnly marks those matched only by EncodeSpecial.
	specials []special
	// render[id] is what Decode prints for id.
	render []string

	bos, eos, unk, eot     int
	eog                    []int
	addBOS, addEOS, prefix bool
	ignoreMerges           bool
	// norm is the Unicode normalization applied to raw text fragments (nil: none).
	norm *norm.Form
}

type special struct {
	id        int32
	text      string
	parseOnly bool
}

type mergeRule struct {
	rank int32
	id   int32
}

func pairKey(a, b int32) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

// normForms are the Vocab.Normalize values.
var normForms = map[string]norm.Form{"NFC": norm.NFC, "NFD": norm.NFD, "NFKC": norm.NFKC, "NFKD": norm.NFKD}

// New validates v and builds a Tokenizer from it. The Tokenizer keeps references to
// v's slices, which must not be modified afterwards.
//
// Model "llama" is SentencePiece-style BPE: merges by Scores, or by Merges rank when
// Scores is nil (a Llama-2-style tokenizer.json). Model "gpt2" is byte-level BPE with
// the pre-tokenizer named by Pre. When Types is nil, pieces spelt <0xHH> are taken as
// byte tokens, BOS/EOS/EOT as control tokens and UNK as the unknown token.
func New(v *Vocab) (*Tokenizer, error) {
	if v == nil {
		return nil, ErrEmptyVocab
	}
	t := &Tokenizer{tokens: v.Tokens, scores: v.Scores,
		bos: v.BOS, eos: v.EOS, unk: v.UNK, eot: v.EOT,
		addBOS: v.AddBOS, addEOS: v.AddEOS, ignoreMerges: v.IgnoreMerges}
	switch v.Model {
	case "llama":
		t.kind = kindSPM
		t.prefix = v.AddSpacePrefix
	case "gpt2":
		t.kind = kindBPE
		pk, ok := preKinds[v.Pre]
		if !ok {
			return nil, fmt.Errorf("%w %q", ErrUnknownPre, v.Pre)
		}
		t.pre = pk
		if ignoreMergesPre[v.Pre] {
			t.ignoreMerges = true
		}
	default:
		return nil, fmt.Errorf("%w %q", ErrUnknownModel, v.Model)
	}
	if v.Normalize != "" {
		f, ok := normForms[v.Normalize]
		if !ok {
			return nil, fmt.Errorf("%w: normalization %q", ErrUnsupported, v.Normalize)
		}
		t.norm = &f
	}
	n := len(v.Tokens)
	if n == 0 {
		return nil, ErrEmptyVocab
	}
	if n > 1<<31-1 {
		return nil, fmt.Errorf("%w: %d tokens", ErrLength, n)
	}
	if v.Scores != nil && len(v.Scores) != n {
		return nil, fmt.Errorf("%w: %d scores for %d tokens", ErrLength, len(v.Scores), n)
	}
	if v.Types != nil && len(v.Types) != n {
		return nil, fmt.Errorf("%w: %d token types for %d tokens", ErrLength, len(v.Types), n)
	}
	for _, s := range []struct {
		name string
		id   int
	}{{"BOS", v.BOS}, {"EOS", v.EOS}, {"UNK", v.UNK}, {"PAD", v.PAD}, {"EOT", v.EOT}} {
		if s.id < -1 || s.id >= n {
			return nil, fmt.Errorf("%w: %s id %d not in [-1, %d)", ErrSpecialID, s.name, s.id, n)
		}
	}
	for _, id := range v.EOG {
		if id < 0 || id >= n {
			return nil, fmt.Errorf("%w: EOG id %d not in [0, %d)", ErrSpecialID, id, n)
		}
	}
	t.eog = v.EOG
	if v.AddBOS && v.BOS < 0 {
		return nil, fmt.Errorf("%w: AddBOS is set but there is no BOS token", ErrSpecialID)
	}
	if v.AddEOS && v.EOS < 0 {
		return nil, fmt.Errorf("%w: AddEOS is set but there is no EOS token", ErrSpecialID)
	}

	t.types = v.Types
	if t.types == nil {
		t.types = make([]int32, n)
		for i, p := range v.Tokens {
			t.types[i] = TypeNormal
			if _, ok := parseByteToken(p); ok {
				t.types[i] = TypeByte
			}
		}
		for _, id := range []int{v.BOS, v.EOS, v.EOT} {
			if id >= 0 {
				t.types[id] = TypeControl
			}
		}
		if v.UNK >= 0 {
			t.types[v.UNK] = TypeUnknown
		}
	}

	t.ids = make(map[string]int32, n)
	t.mergeable = make([]bool, n)
	for i := range t.byteTok {
		t.byteTok[i] = -1
	}
	for i, p := range v.Tokens {
		t.ids[p] = int32(i)
		typ := t.types[i]
		t.mergeable[i] = p != "" && (typ == TypeNormal || typ == TypeUserDefined || typ == 0 || typ > TypeByte)
		if typ == TypeControl || typ == TypeUnknown || typ == TypeUserDefined {
			if p != "" {
				t.specials = append(t.specials, special{id: int32(i), text: p, parseOnly: typ != TypeUserDefined})
			}
		}
	}
	sort.SliceStable(t.specials, func(a, b int) bool { return len(t.specials[a].text) > len(t.specials[b].text) })

	switch t.kind {
	case kindSPM:
		for i, p := range v.Tokens {
			if b, ok := parseByteToken(p); ok && t.types[i] == TypeByte && t.byteTok[b] < 0 {
				t.byteTok[b] = int32(i)
			}
		}
		if v.Scores == nil && v.Merges != nil {
			t.byRank = true
		}
	case kindBPE:
		t.byRank = true
		for b := 0; b < 256; b++ {
			if id, ok := t.ids[string(byteToRune[b])]; ok {
				t.byteTok[b] = id
			}
		}
	}
	if t.byRank {
		t.merges = make(map[uint64]mergeRule, len(v.Merges))
		for r, m := range v.Merges {
			l, rt, ok := splitMerge(m)
			if !ok {
				return nil, fmt.Errorf("%w: merge %d is %q", ErrBadMerge, r, m)
			}
			a, okA := t.ids[l]
			b, okB := t.ids[rt]
			c, okC := t.ids[l+rt]
			if !okA || !okB || !okC {
				continue // parts or result not in the vocabulary: the merge can never apply
			}
			k := pairKey(a, b)
			if _, dup := t.merges[k]; !dup {
				t.merges[k] = mergeRule{rank: int32(r), id: c}
			}
		}
	}

	t.render = make([]string, n)
	for i, p := range v.Tokens {
		t.render[i] = t.renderPiece(i, p)
	}
	return t, nil
}

// splitMerge splits a merge "left right" at its single space.
func splitMerge(m string) (string, string, bool) {
	i := strings.IndexByte(m, ' ')
	if i <= 0 || i == len(m)-1 || strings.IndexByte(m[i+1:], ' ') >= 0 {
		return "", "", false
	}
	return m[:i], m[i+1:], true
}

// parseByteToken recognises a byte piece "<0xHH>" (hex digits in either case).
func parseByteToken(p string) (byte, bool) {
	if len(p) != 6 || p[0] != '<' || p[1] != '0' || p[2] != 'x' || p[5] != '>' {
		return 0, false
	}
	hi, ok1 := hexVal(p[3])
	lo, ok2 := hexVal(p[4])
	return hi<<4 | lo, ok1 && ok2
}

func hexVal(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// renderPiece is the text Decode prints for token id (llama.cpp's token_to_piece with
// special=false): control, unknown and unused tokens print nothing, user-defined
// tokens print their text, byte tokens their byte, normal tokens their text with "▁"
// as a space (SentencePiece) or mapped back to bytes (byte-level BPE).
func (t *Tokenizer) renderPiece(id int, p string) string {
	switch t.types[id] {
	case TypeControl, TypeUnknown, TypeUnused:
		return ""
	case TypeUserDefined:
		return p
	case TypeByte:
		if t.kind == kindSPM {
			if b, ok := parseByteToken(p); ok {
				return string([]byte{b})
			}
			return ""
		}
	}
	if t.kind == kindSPM {
		return strings.ReplaceAll(p, spaceMark, " ")
	}
	return byteLevelDecode(p)
}

// spaceMark is SentencePiece's visible space, U+2581.
const spaceMark = "\u2581"

// NumTokens returns the vocabulary size.
func (t *Tokenizer) NumTokens() int { return len(t.tokens) }

// BOS returns the beginning-of-sequence token id, or -1.
func (t *Tokenizer) BOS() int { return t.bos }

// EOS returns the end-of-sequence token id, or -1.
func (t *Tokenizer) EOS() int { return t.eos }

// IsEOG reports whether id ends generation: the EOS, the end-of-turn (EOT) token or
// one of Vocab.EOG.
func (t *Tokenizer) IsEOG(id int) bool {
	return id >= 0 && (id == t.eos || id == t.eot || slices.Contains(t.eog, id))
}

// Piece returns the raw vocabulary piece of id ("▁Hello", "<0x0A>", "Ġworld"), or ""
// when id is out of range.
func (t *Tokenizer) Piece(id int) string {
	if id < 0 || id >= len(t.tokens) {
		return ""
	}
	return t.tokens[id]
}

// TokenID returns the id of the exact piece p, or -1 when p is not in the vocabulary.
func (t *Tokenizer) TokenID(p string) int {
	if id, ok := t.ids[p]; ok {
		return int(id)
	}
	return -1
}

// Encode tokenizes text. With addSpecial it adds BOS (when the vocabulary says
// AddBOS) and EOS (AddEOS). Control tokens spelt in the text ("<s>", "<|im_start|>")
// are encoded as plain text; user-defined tokens are matched atomically, as llama.cpp
// and HF tokenizers do with parse_special=false.
func (t *Tokenizer) Encode(text string, addSpecial bool) []int {
	return t.encode(text, addSpecial, false)
}

// EncodeSpecial is Encode, but control, unknown and user-defined tokens spelt in the
// text are matched atomically as their ids (llama.cpp's parse_special=true), so a
// chat-templated prompt "<|im_start|>user\n..." gets the real control ids.
func (t *Tokenizer) EncodeSpecial(text string, addSpecial bool) []int {
	return t.encode(text, addSpecial, true)
}

// fragment is a piece of the input: raw text (id < 0) or a matched special token.
type fragment struct {
	text string
	id   int32
}

func (t *Tokenizer) encode(text string, addSpecial, parseSpecial bool) []int {
	out := make([]int, 0, len(text)/3+2)
	if addSpecial && t.addBOS && t.bos >= 0 {
		out = append(out, t.bos)
	}
	var frags []fragment
	if text != "" {
		frags = t.partition(text, parseSpecial)
	}
	e := encoderPool(t)
	prevSpecial := true
	for _, f := range frags {
		if f.id >= 0 {
			out = append(out, int(f.id))
			prevSpecial = true
			continue
		}
		if t.norm != nil {
			f.text = t.norm.String(f.text)
		}
		if t.kind == kindSPM {
			out = e.encodeSPM(f.text, t.prefix && prevSpecial, out)
		} else {
			out = e.encodeBPE(f.text, out)
		}
		prevSpecial = false
	}
	e.release()
	if addSpecial && t.addEOS && t.eos >= 0 {
		out = append(out, t.eos)
	}
	return out
}

// partition splits text at occurrences of special tokens, longest tokens first
// (llama.cpp's tokenizer_st_partition).
func (t *Tokenizer) partition(text string, parseSpecial bool) []fragment {
	frags := []fragment{{text: text, id: -1}}
	for _, sp := range t.specials {
		if sp.parseOnly && !parseSpecial {
			continue
		}
		var next []fragment
		changed := false
		for _, f := range frags {
			if f.id >= 0 || !strings.Contains(f.text, sp.text) {
				next = append(next, f)
				continue
			}
			changed = true
			rest := f.text
			for {
				i := strings.Index(rest, sp.text)
				if i < 0 {
					if rest != "" {
						next = append(next, fragment{text: rest, id: -1})
					}
					break
				}
				if i > 0 {
					next = append(next, fragment{text: rest[:i], id: -1})
				}
				next = append(next, fragment{id: sp.id})
				rest = rest[i+len(sp.text):]
			}
		}
		if changed {
			frags = next
		}
	}
	return frags
}
