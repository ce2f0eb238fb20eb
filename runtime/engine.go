package runtime

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/edgerun/edgerun/kernels"
	"github.com/edgerun/edgerun/loader"
	"github.com/edgerun/edgerun/tokenizer"
)

// ErrNoTokenizer is returned when text is given to a model that has no tokenizer.
var ErrNoTokenizer = errors.New("runtime: the model has no tokenizer")

// Option configures Open.
type Option func(*options)

type options struct {
	threads   int
	tokenizer string
	context   int
	mem       memOptions // options_memory.go
	backend   string     // backend.go
	ort       ORTOptions
}

// WithThreads sets the number of compute threads (default: one per CPU).
func WithThreads(n int) Option { return func(o *options) { o.threads = n } }

// WithTokenizer names a separate tokenizer file (llama2.c's tokenizer.bin).
func WithTokenizer(path string) Option { return func(o *options) { o.tokenizer = path } }

// WithContext caps the context size of new sessions (default: the model's trained
// context). The KV cache grows on demand up to it.
func WithContext(n int) Option { return func(o *options) { o.context = n } }

// Engine owns a model's immutable weights (a memory map of the file), its tokenizer
// and the compute pool; sessions created from it share all three.
type Engine struct {
	Model     *Model
	Tokenizer *tokenizer.Tokenizer // nil when the file has none
	// LoadTime is how long Open took.
	LoadTime time.Duration

	pool *kernels.Pool
	opts options

	// mu guards the model's weight pointers: forward passes hold it for reading,
	// Merge and Unmerge for writing.
	mu     sync.RWMutex
	merged map[[2]int]*kernels.Matrix // original weights replaced by Merge, by (layer, projection)
	// regMu guards the adapter registry and the adapters' session counts.
	regMu    sync.Mutex
	adapters map[string]*Adapter
	alt      backendEngine // non-nil for the ort backend (backend.go)
	// backendErr is why the ort backend could not re-export after Unmerge; every Eval
	// then fails with it.
	backendErr error
}

// Open loads the model file at path (GGUF or llama2.c .bin) and prepares it to run.
func Open(path string, opts ...Option) (*Engine, error) {
	start := time.Now()
	var o options
	for _, f := range opts {
		f(&o)
	}
	if err := checkMemory(path, o); err != nil { // before anything is mapped
		return nil, err
	}
	var lopts []loader.Option
	if o.tokenizer != "" {
		lopts = append(lopts, loader.WithTokenizer(o.tokenizer))
	}
	if o.mem.noMmap {
		lopts = append(lopts, loader.WithoutMmap())
	}
	ckpt, err := loader.Open(path, lopts...)
	if err != nil {
		return nil, err
	}
	e, err := NewEngine(ckpt, opts...)
	if err != nil {
		ckpt.Close()
		return nil, err
	}
	if o.mem.mlock {
		if err := lockWeights(ckpt); err != nil {
			e.Close()
			return nil, err
		}
	}
	e.LoadTime = time.Since(start)
	return e, nil
}

// NewEngine prepares an already loaded checkpoint to run. The engine takes ownership
// of ckpt and closes it in Close.
func NewEngine(ckpt *loader.Checkpoint, opts ...Option) (*Engine, error) {
	start := time.Now()
	var o options
	for _, f := range opts {
		f(&o)
	}
	m, err := NewModel(ckpt)
	if err != nil {
		return nil, err
	}
	if err := checkKVType(o.mem.kvType, m.Config.HeadDim, ckpt.Path); err != nil {
		return nil, err
	}
	e := &Engine{Model: m, opts: o, adapters: map[string]*Adapter{}}
	if ckpt.Vocab != nil {
		if e.Tokenizer, err = tokenizer.New(ckpt.Vocab); err != nil {
			return nil, fmt.Errorf("runtime: %s: %w", ckpt.Path, err)
		}
		if n := e.Tokenizer.NumTokens(); n != m.Config.Vocab {
			return nil, fmt.Errorf("runtime: %s: tokenizer has %d tokens but the model's vocabulary is %d: %w", ckpt.Path, n, m.Config.Vocab, ErrBadModel)
		}
	}
	e.pool = kernels.NewPool(o.threads)
	if err := e.initBackend(); err != nil {
		e.pool.Close()
		return nil, err
	}
	e.LoadTime = time.Since(start)
	return e, nil
}

// Threads returns the number of compute threads.
func (e *Engine) Threads() int { return e.pool.Threads() }

// Close stops the compute pool and unmaps the weights. Sessions must not be used
// afterwards.
func (e *Engine) Close() error {
	if e.alt != nil {
		e.alt.close()
	}
	e.pool.Close()
	return e.Model.Ckpt.Close()
}

// Session is one conversation: a KV cache, the tokens seen so far and a sampler.
// A session is not safe for concurrent use; use one session per goroutine. Each
// session has its own active adapter set (SetAdapters).
type Session struct {
	e      *Engine
	kv     *KVCache
	s      scratch
	tokens []int // tokens whose keys and values are in kv
	// pending holds the last token Generate sampled but did not run (it stopped on
	// length or end of generation): the next Eval runs it first, so a conversation
	// continues with the model's whole reply in context.
	pending []int
	logits  []float32
	active  []activeLora   // unmerged adapters; see SetAdapters
	alt     backendSession // the ort backend's state, when the engine has it
}

// NewSession starts an empty conversation.
func (e *Engine) NewSession() *Session {
	ctx := e.sessionContext()
	s := &Session{e: e, kv: newSessionKV(e.Model, ctx, e.opts.mem.kvType), logits: make([]float32, e.Model.Config.Vocab)}
	if e.alt != nil {
		s.alt = e.alt.newSession(ctx)
	}
	return s
}

// Tokens returns the tokens of the conversation so far: those processed, then the last
// token Generate sampled if it stopped before running it (the next Eval runs it).
func (s *Session) Tokens() []int {
	if len(s.pending) == 0 {
		return s.tokens
	}
	return append(s.tokens[:len(s.tokens):len(s.tokens)], s.pending...)
}

// KVCache returns the session's cache.
func (s *Session) KVCache() *KVCache { return s.kv }

// Reset forgets the conversation (the cache memory is kept for reuse).
func (s *Session) Reset() { s.tokens, s.pending = s.tokens[:0], s.pending[:0] }

// Eval runs ids after the tokens already seen and returns the logits of the last one.
// The returned slice is reused by the next call.
func (s *Session) Eval(ids []int) ([]float32, error) {
	if len(ids) == 0 {
		return nil, errors.New("runtime: Eval needs at least one token")
	}
	if len(s.pending) > 0 {
		ids = append(s.pending[:len(s.pending):len(s.pending)], ids...)
	}
	var err error
	if s.alt != nil {
		err = s.alt.eval(s, ids, s.logits, false)
	} else {
		s.e.mu.RLock()
		err = s.e.Model.forward(s.e.pool, s.kv, &s.s, s.active, ids, len(s.tokens), s.logits, false)
		s.e.mu.RUnlock()
	}
	if err != nil {
		return nil, err
	}
	s.tokens = append(s.tokens, ids...)
	s.pending = s.pending[:0]
	return s.logits, nil
}

// EvalAll runs ids like Eval and returns the logits of every one of them
// (len(ids) × vocab), in a new slice.
func (s *Session) EvalAll(ids []int) ([]float32, error) {
	if len(s.pending) > 0 {
		p := s.pending
		s.pending = nil
		if _, err := s.Eval(p); err != nil {
			s.pending = p
			return nil, err
		}
	}
	out := make([]float32, len(ids)*s.e.Model.Config.Vocab)
	var err error
	if s.alt != nil {
		err = s.alt.eval(s, ids, out, true)
	} else {
		s.e.mu.RLock()
		err = s.e.Model.forward(s.e.pool, s.kv, &s.s, s.active, ids, len(s.tokens), out, true)
		s.e.mu.RUnlock()
	}
	if err != nil {
		return nil, err
	}
	s.tokens = append(s.tokens, ids...)
	return out, nil
}

// GenerateOptions control Generate.
type GenerateOptions struct {
	MaxTokens int // stop after this many generated tokens (<= 0: until EOS or the context is full)
	Sampler   SamplerConfig
	// NoSpecial stops Generate from adding BOS/EOS to the prompt as the vocabulary asks.
	NoSpecial bool
	// IgnoreEOS keeps generating past end-of-generation tokens.
	IgnoreEOS bool
}

// Result is what Generate produced.
type Result struct {
	PromptTokens []int
	Tokens       []int // generated ids only
	Text         string
	StopReason   string // "eos", "length", "context"
	PrefillTime  time.Duration
	DecodeTime   time.Duration // from the first to the last generated token
}

// PrefillTokensPerSecond returns the prompt-processing speed.
func (r *Result) PrefillTokensPerSecond() float64 {
	return perSecond(len(r.PromptTokens), r.PrefillTime)
}

// DecodeTokensPerSecond returns the generation speed (tokens after the first one).
func (r *Result) DecodeTokensPerSecond() float64 {
	return perSecond(len(r.Tokens)-1, r.DecodeTime)
}

func perSecond(n int, d time.Duration) float64 {
	if n <= 0 || d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// Generate encodes prompt, runs it, and samples up to opts.MaxTokens tokens, calling
// onToken (if not nil) with each token id and the text it completes (possibly empty,
// when a character spans several tokens). It stops early when ctx is cancelled or
// onToken returns an error.
func (s *Session) Generate(ctx context.Context, prompt string, opts GenerateOptions, onToken func(id int, text string) error) (*Result, error) {
	tok := s.e.Tokenizer
	if tok == nil {
		return nil, ErrNoTokenizer
	}
	ids := tok.Encode(prompt, !opts.NoSpecial)
	if len(ids) == 0 {
		return nil, errors.New("runtime: the prompt encodes to no tokens (empty prompt and no BOS)")
	}
	return s.GenerateTokens(ctx, ids, opts, onToken)
}

// GenerateTokens is Generate for an already tokenized prompt.
func (s *Session) GenerateTokens(ctx context.Context, ids []int, opts GenerateOptions, onToken func(id int, text string) error) (*Result, error) {
	res := &Result{PromptTokens: append([]int(nil), ids...)}
	sampler := NewSampler(opts.Sampler)
	var dec *tokenizer.Decoder
	if s.e.Tokenizer != nil {
		dec = s.e.Tokenizer.NewDecoder()
	}
	var text []byte
	t0 := time.Now()
	logits, err := s.Eval(ids)
	if err != nil {
		return nil, err
	}
	res.PrefillTime = time.Since(t0)
	var t1 time.Time
	for {
		if err := ctx.Err(); err != nil {
			res.Text = string(text)
			return res, err
		}
		next := sampler.Sample(logits, s.tokens)
		if len(res.Tokens) == 0 {
			t1 = time.Now()
		}
		res.Tokens = append(res.Tokens, next)
		if !opts.IgnoreEOS && s.e.Tokenizer != nil && s.e.Tokenizer.IsEOG(next) {
			res.StopReason = "eos"
			s.pending = append(s.pending, next)
			break
		}
		piece := ""
		if dec != nil {
			piece = dec.Push(next)
			text = append(text, piece...)
		}
		if onToken != nil {
			if err := onToken(next, piece); err != nil {
				s.pending = append(s.pending, next)
				res.Text = string(text)
				return res, err
			}
		}
		if opts.MaxTokens > 0 && len(res.Tokens) >= opts.MaxTokens {
			res.StopReason = "length"
			s.pending = append(s.pending, next)
			break
		}
		if len(s.tokens) >= s.kv.ctx {
			res.StopReason = "context"
			break
		}
		if logits, err = s.Eval([]int{next}); err != nil {
			return res, err
		}
	}
	res.DecodeTime = time.Since(t1)
	if dec != nil {
		rest := dec.Flush()
		text = append(text, rest...)
		if rest != "" && onToken != nil {
			if err := onToken(-1, rest); err != nil {
				res.Text = string(text)
				return res, err
			}
		}
	}
	res.Text = string(text)
	return res, nil
}
