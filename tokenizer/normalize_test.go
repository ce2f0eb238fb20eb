package tokenizer

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
)

// normJSON is a byte-level tokenizer.json (all 256 byte tokens, one merge making "é")
// with the given normalizer JSON.
func normJSON(t *testing.T, normalizer string) []byte {
	t.Helper()
	vocab := map[string]int{}
	for b := range 256 {
		vocab[string(byteToRune[b])] = b
	}
	c3, a9 := string(byteToRune[0xC3]), string(byteToRune[0xA9])
	vocab[c3+a9] = 256
	vb, err := json.Marshal(vocab)
	if err != nil {
		t.Fatal(err)
	}
	mb, err := json.Marshal([]string{c3 + " " + a9})
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Appendf(nil, `{"normalizer":%s,"pre_tokenizer":{"type":"ByteLevel","add_prefix_space":false,"use_regex":true},
	"decoder":{"type":"ByteLevel"},"model":{"type":"BPE","vocab":%s,"merges":%s}}`, normalizer, vb, mb)
}

func TestNormalizerNFC(t *testing.T) {
	composed, decomposed := "caf\u00e9", "cafe\u0301"
	for _, nz := range []string{`{"type":"NFC"}`, `{"type":"Sequence","normalizers":[{"type":"NFC"}]}`} {
		v, err := FromTokenizerJSON(normJSON(t, nz))
		if err != nil {
			t.Fatalf("%s: %v", nz, err)
		}
		if v.Normalize != "NFC" {
			t.Fatalf("%s: Normalize = %q", nz, v.Normalize)
		}
		tk := mustNew(t, v)
		want := tk.Encode(composed, false)
		if !slices.Equal(want, []int{'c', 'a', 'f', 256}) {
			t.Fatalf("%s: Encode(%q) = %v", nz, composed, want)
		}
		if got := tk.Encode(decomposed, false); !slices.Equal(got, want) {
			t.Errorf("%s: Encode(%q) = %v, want %v (the composed form's ids)", nz, decomposed, got, want)
		}
	}

	// Without a normalizer the decomposed text stays decomposed: e + U+0301 (CC 81).
	v, err := FromTokenizerJSON(normJSON(t, "null"))
	if err != nil {
		t.Fatal(err)
	}
	if got := mustNew(t, v).Encode(decomposed, false); !slices.Equal(got, []int{'c', 'a', 'f', 'e', 0xCC, 0x81}) {
		t.Errorf("no normalizer: Encode(%q) = %v", decomposed, got)
	}

	// NFD decomposes, so the composed text loses the merge.
	v, err = FromTokenizerJSON(normJSON(t, `{"type":"NFD"}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := mustNew(t, v).Encode(composed, false); v.Normalize != "NFD" || !slices.Equal(got, []int{'c', 'a', 'f', 'e', 0xCC, 0x81}) {
		t.Errorf("NFD: Normalize %q, Encode(%q) = %v", v.Normalize, composed, got)
	}

	// Two different forms, and unknown forms in a Vocab, are refused.
	if _, err := FromTokenizerJSON(normJSON(t, `{"type":"Sequence","normalizers":[{"type":"NFC"},{"type":"NFKD"}]}`)); err == nil {
		t.Error("NFC+NFKD sequence accepted")
	}
	v.Normalize = "NFX"
	if _, err := New(v); err == nil {
		t.Error(`Normalize "NFX" accepted`)
	}
}
