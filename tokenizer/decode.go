package tokenizer

import (
	"unicode/utf8"
)

// Decode turns ids back into text. Control, unknown and unused tokens print nothing
// (llama.cpp's behaviour), user-defined tokens print their text, byte tokens their
// raw byte. For a SentencePiece vocabulary with AddSpacePrefix, one leading space of
// the output is dropped (the space Encode prepends; llama2.c and HF's Strip decoder do
// the same), so Decode(Encode(s, ·)) == s for valid UTF-8 s without "▁". Out-of-range
// ids print nothing. Bytes that do not form valid UTF-8 become U+FFFD, one per byte.
func (t *Tokenizer) Decode(ids []int) string {
	var raw []byte
	started := false
	for _, id := range ids {
		raw, started = t.appendRendered(raw, id, started)
	}
	return string(appendValid(make([]byte, 0, len(raw)), raw, true))
}

// appendRendered appends id's text to raw, dropping the leading space of the output
// for SentencePiece vocabularies with a space prefix.
func (t *Tokenizer) appendRendered(raw []byte, id int, started bool) ([]byte, bool) {
	if id < 0 || id >= len(t.render) {
		return raw, started
	}
	p := t.render[id]
	if p == "" {
		return raw, started
	}
	if !started {
		started = true
		if t.kind == kindSPM && t.prefix && p[0] == ' ' {
			p = p[1:]
		}
	}
	return append(raw, p...), started
}

// appendValid appends the longest prefix of src made of whole UTF-8 sequences to dst,
// each invalid byte as U+FFFD, and returns the rest via the consumed count. When final
// is true the whole of src is consumed (an incomplete tail becomes U+FFFD per byte).
func appendValid(dst, src []byte, final bool) []byte {
	out, _ := appendValidN(dst, src, final)
	return out
}

func appendValidN(dst, src []byte, final bool) ([]byte, int) {
	i := 0
	for i < len(src) {
		c := src[i]
		if c < utf8.RuneSelf {
			dst = append(dst, c)
			i++
			continue
		}
		if !final && !utf8.FullRune(src[i:]) {
			break // may still be completed by the next token
		}
		r, n := utf8.DecodeRune(src[i:])
		if r == utf8.RuneError && n == 1 {
			dst = append(dst, "\uFFFD"...)
		} else {
			dst = append(dst, src[i:i+n]...)
		}
		i += n
	}
	return dst, i
}

// Decoder decodes a stream of token ids incrementally, never emitting a broken UTF-8
// character: bytes of a multi-byte character split over several tokens are held back
// until the character is complete. The concatenation of every Push result and the
// final Flush equals Decode of all the pushed ids.
//
// The first non-empty text of the stream loses its leading space like in Decode; to
// stream a continuation of a prompt, push the prompt's ids first and discard their text.
type Decoder struct {
	t       *Tokenizer
	pending []byte
	started bool
}

// NewDecoder returns a streaming Decoder for t.
func (t *Tokenizer) NewDecoder() *Decoder { return &Decoder{t: t} }

// Push adds one token and returns the text that became complete with it (possibly "").
func (d *Decoder) Push(id int) string {
	d.pending, d.started = d.t.appendRendered(d.pending, id, d.started)
	if len(d.pending) == 0 {
		return ""
	}
	out, n := appendValidN(nil, d.pending, false)
	d.pending = append(d.pending[:0], d.pending[n:]...)
	return string(out)
}

// Flush returns what is still held back (an incomplete character becomes U+FFFD per
// byte) and resets the Decoder's pending bytes.
func (d *Decoder) Flush() string {
	out := appendValid(nil, d.pending, true)
	d.pending = d.pending[:0]
	return string(out)
}
