package tokenizer

import (
	"math"
	"strings"
	"sync"
	"unicode/utf8"
)

// symbol is one node of the doubly linked list of pieces being merged: the bytes
// word[start:end] and their token id (-1 when they form no token yet).
type symbol struct {
	start, end int32
	id         int32
	prev, next int32
}

// bigram is a candidate merge of symbols left and right into token id. key orders
// the queue: its high 32 bits are the priority (an order-preserving encoding of -score
// for SentencePiece scores, the rank for merge lists), its low 32 bits the left symbol
// index, so ties go to the leftmost pair and one integer compare decides. size is the
// pair's byte length when it was queued, which detects stale entries after either
// side changed.
type bigram struct {
	key   uint64
	right int32
	size  int32
	id    int32
}

func (b bigram) left() int32 { return int32(uint32(b.key)) }

// scoreKey maps a score to 32 bits that sort ascending as the score descends.
func scoreKey(score float32) uint64 {
	u := math.Float32bits(-score)
	if u&(1<<31) != 0 {
		u = ^u
	} else {
		u |= 1 << 31
	}
	return uint64(u)
}

// encoder holds the scratch buffers of one Encode call.
type encoder struct {
	t     *Tokenizer
	syms  []symbol
	queue []bigram
	buf   []byte
	words []string
}

var encoders sync.Pool

func encoderPool(t *Tokenizer) *encoder {
	if e, ok := encoders.Get().(*encoder); ok {
		e.t = t
		return e
	}
	return &encoder{t: t}
}

func (e *encoder) release() {
	e.t = nil
	if cap(e.buf) > 1<<20 || cap(e.syms) > 1<<18 {
		return // do not keep huge buffers alive
	}
	e.words = e.words[:0]
	encoders.Put(e)
}

func (b bigram) less(c bigram) bool { return b.key < c.key }

func (e *encoder) push(b bigram) {
	q := append(e.queue, b)
	i := len(q) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !q[i].less(q[p]) {
			break
		}
		q[i], q[p] = q[p], q[i]
		i = p
	}
	e.queue = q
}

func (e *encoder) pop() bigram {
	q := e.queue
	top := q[0]
	last := len(q) - 1
	q[0] = q[last]
	q = q[:last]
	i := 0
	for {
		l := 2*i + 1
		if l >= len(q) {
			break
		}
		m := l
		if r := l + 1; r < len(q) && q[r].less(q[l]) {
			m = r
		}
		if !q[m].less(q[i]) {
			break
		}
		q[i], q[m] = q[m], q[i]
		i = m
	}
	e.queue = q
	return top
}

// tryPair queues the merge of symbols l and r if the vocabulary has one.
func (e *encoder) tryPair(word string, l, r int32) {
	if l < 0 || r < 0 {
		return
	}
	t := e.t
	ls, rs := &e.syms[l], &e.syms[r]
	b := bigram{right: r, size: rs.end - ls.start}
	var prio uint64
	if t.byRank {
		if ls.id < 0 || rs.id < 0 {
			return
		}
		m, ok := t.merges[pairKey(ls.id, rs.id)]
		if !ok {
			return
		}
		prio, b.id = uint64(uint32(m.rank)), m.id
	} else {
		id, ok := t.ids[word[ls.start:rs.end]]
		if !ok || !t.mergeable[id] {
			return
		}
		b.id = id
		prio = scoreKey(0)
		if t.scores != nil {
			prio = scoreKey(t.scores[id])
		}
	}
	b.key = prio<<32 | uint64(uint32(l))
	e.push(b)
}

// merge runs the BPE loop over e.syms (already linked) for word.
func (e *encoder) merge(word string) {
	e.queue = e.queue[:0]
	for i := 1; i < len(e.syms); i++ {
		e.tryPair(word, int32(i-1), int32(i))
	}
	for len(e.queue) > 0 {
		b := e.pop()
		left := b.left()
		ls, rs := &e.syms[left], &e.syms[b.right]
		if ls.end == ls.start || rs.end == rs.start || (ls.end-ls.start)+(rs.end-rs.start) != b.size {
			continue // stale: one side was merged away or grew
		}
		ls.end = rs.end
		ls.id = b.id
		ls.next = rs.next
		rs.start = rs.end // dead
		if rs.next >= 0 {
			e.syms[rs.next].prev = left
		}
		e.tryPair(word, ls.prev, left)
		e.tryPair(word, left, ls.next)
	}
}

// addSym appends a symbol for word[start:end] linked after the previous one.
func (e *encoder) addSym(start, end int, id int32) {
	n := int32(len(e.syms))
	e.syms = append(e.syms, symbol{start: int32(start), end: int32(end), id: id, prev: n - 1, next: n + 1})
}

// finishSyms terminates the list.
func (e *encoder) finishSyms() {
	if len(e.syms) > 0 {
		e.syms[len(e.syms)-1].next = -1
	}
}

// charID is the id of a single character piece that encoding may emit, or -1.
func (t *Tokenizer) charID(s string) int32 {
	if id, ok := t.ids[s]; ok && t.mergeable[id] {
		return id
	}
	return -1
}

// appendBytes emits byte-fallback tokens for s (UNK for bytes without a token).
func (t *Tokenizer) appendBytes(out []int, s string) []int {
	for i := 0; i < len(s); i++ {
		if id := t.byteTok[s[i]]; id >= 0 {
			out = append(out, int(id))
		} else if t.unk >= 0 {
			out = append(out, t.unk)
		}
	}
	return out
}

// encodeSPM encodes one raw-text fragment SentencePiece-style: optional space prefix,
// spaces to "▁", characters merged by score (or merge rank), byte fallback for the
// characters that form no token.
func (e *encoder) encodeSPM(text string, prefix bool, out []int) []int {
	t := e.t
	e.buf = e.buf[:0]
	if prefix {
		e.buf = append(e.buf, spaceMark...)
	}
	for i := 0; i < len(text); i++ {
		if text[i] == ' ' {
			e.buf = append(e.buf, spaceMark...)
		} else {
			e.buf = append(e.buf, text[i])
		}
	}
	word := string(e.buf)
	e.syms = e.syms[:0]
	for i := 0; i < len(word); {
		_, n := utf8.DecodeRuneInString(word[i:])
		id := t.charID(word[i : i+n])
		if id < 0 && t.byRank {
			// HF BPE: an unknown character becomes its byte tokens before merging.
			for j := i; j < i+n; j++ {
				e.addSym(j, j+1, t.byteTok[word[j]])
			}
		} else {
			e.addSym(i, i+n, id)
		}
		i += n
	}
	e.finishSyms()
	e.merge(word)
	if len(e.syms) == 0 {
		return out
	}
	for i := int32(0); i >= 0; i = e.syms[i].next {
		s := &e.syms[i]
		switch {
		case s.id >= 0:
			out = append(out, int(s.id))
		case t.byRank && t.unk >= 0:
			out = append(out, t.unk)
		case !t.byRank:
			out = t.appendBytes(out, word[s.start:s.end])
		}
	}
	return out
}

// encodeBPE encodes one raw-text fragment with byte-level BPE: pre-tokenize, map
// each word's bytes to code points, merge by rank.
func (e *encoder) encodeBPE(text string, out []int) []int {
	t := e.t
	e.words = t.pre.split(text, e.words[:0])
	for _, w := range e.words {
		e.buf = e.buf[:0]
		for i := 0; i < len(w); i++ {
			e.buf = utf8.AppendRune(e.buf, byteToRune[w[i]])
		}
		if t.ignoreMerges {
			if id, ok := t.ids[string(e.buf)]; ok && t.mergeable[id] {
				out = append(out, int(id))
				continue
			}
		}
		word := string(e.buf)
		e.syms = e.syms[:0]
		for i := 0; i < len(word); {
			_, n := utf8.DecodeRuneInString(word[i:])
			e.addSym(i, i+n, t.charID(word[i:i+n]))
			i += n
		}
		e.finishSyms()
		e.merge(word)
		for i := int32(0); i >= 0; i = e.syms[i].next {
			if id := e.syms[i].id; id >= 0 {
				out = append(out, int(id))
			} else if t.unk >= 0 {
				out = append(out, t.unk)
			}
		}
	}
	return out
}

// byteToRune is GPT-2's bytes_to_unicode table: printable bytes map to themselves,
// the other 68 map in ascending order to U+0100, U+0101, ...
var byteToRune [256]rune

// runeToByte inverts byteToRune for code points below 0x144 (-1 elsewhere).
var runeToByte [0x144]int16

func init() {
	for i := range runeToByte {
		runeToByte[i] = -1
	}
	n := rune(0)
	for b := 0; b < 256; b++ {
		if (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF) {
			byteToRune[b] = rune(b)
		} else {
			byteToRune[b] = 0x100 + n
			n++
		}
		runeToByte[byteToRune[b]] = int16(b)
	}
}

// byteLevelDecode maps a byte-level piece back to its bytes. Code points outside the
// table are kept as their UTF-8 encoding.
func byteLevelDecode(p string) string {
	var sb strings.Builder
	sb.Grow(len(p))
	for _, r := range p {
		if r >= 0 && int(r) < len(runeToByte) && runeToByte[r] >= 0 {
			sb.WriteByte(byte(runeToByte[r]))
		} else {
			sb.WriteRune(r)
		}
	}
	return sb.String()
}
