package runtime

import (
	"fmt"

	"github.com/edgerun/edgerun/onnx/ort"
)

// Backend names for WithBackend.
const (
	// BackendNative runs on edgerun's own kernels (the default).
	BackendNative = "native"
	// BackendORT exports the model to ONNX (com.microsoft MatMulNBits / MatMulBnb4 for
	// 4-bit weights) and runs it through ONNX Runtime; it needs a build with cgo and
	// -tags ort, and the ONNX Runtime shared library (see ORTOptions.Library).
	BackendORT = "ort"
)

// WithBackend selects the execution backend: BackendNative (default) or BackendORT.
func WithBackend(name string) Option { return func(o *options) { o.backend = name } }

// ORTOptions configure the ONNX Runtime backend.
type ORTOptions struct {
	// Library is the path of the ONNX Runtime shared library (--ort-lib); empty: the
	// ONNXRUNTIME_LIB environment variable, the `make ort-setup` folder .ort, then the
	// usual system paths.
	Library string
	// Int4 is how 4-bit weights are exported: "auto" (default: MatMulBnb4 for NF4/FP4,
	// MatMulNBits otherwise), "nbits" or "bnb4" (see onnx.ExportOptions).
	Int4 string
	// BlockSize and ZeroPoints control MatMulNBits requantization (onnx.ExportOptions).
	BlockSize  int
	ZeroPoints bool
	// NoLoRA leaves the LoRA graph inputs out: the session cannot apply unmerged
	// adapters, and saves the (zero-rank) adapter products of every projection.
	NoLoRA bool
	// Contrib uses ONNX Runtime's SimplifiedLayerNormalization for RMSNorm and
	// RotaryEmbedding for RoPE; GQA its GroupQueryAttention for attention.
	Contrib, GQA bool
	// AccuracyLevel is MatMulNBits' accuracy_level: 0 (float32 activations, default) or
	// 4 (int8 activations, like the native kernels).
	AccuracyLevel int
	// SaveModel, when set, also writes the exported model there.
	SaveModel string
}

// WithORT sets the ONNX Runtime backend's options (used with WithBackend(BackendORT)).
func WithORT(o ORTOptions) Option { return func(opt *options) { opt.ort = o } }

// ORTBuilt reports whether this build has the ort backend (cgo, -tags ort).
const ORTBuilt = ort.Built

// ErrNoORT is returned when the ort backend is asked for in a build without it.
var ErrNoORT = ort.ErrNotBuilt

// backendEngine is an alternative executor bound to an engine (the ort backend).
type backendEngine interface {
	newSession(ctx int) backendSession
	close() error
	describe() string
	// reload rebuilds the executor from the engine's current weights (after Merge or
	// Unmerge); the caller holds the engine's weight lock.
	reload() error
}

// backendSession runs a session's tokens on an alternative executor. eval runs ids at
// positions len(s.tokens)..., writing the logits of the last token (all false) or of
// every token into out.
type backendSession interface {
	eval(s *Session, ids []int, out []float32, all bool) error
}

// newORTEngine is set by ort.go in builds with the ort tag.
var newORTEngine = func(e *Engine, o ORTOptions) (backendEngine, error) { return nil, ErrNoORT }

// initBackend binds the backend the options ask for.
func (e *Engine) initBackend() error {
	switch e.opts.backend {
	case "", BackendNative:
		return nil
	case BackendORT:
		be, err := newORTEngine(e, e.opts.ort)
		if err != nil {
			return err
		}
		e.alt = be
		return nil
	}
	return fmt.Errorf("runtime: unknown backend %q (native, ort)", e.opts.backend)
}

// Backend names the engine's execution backend ("native" or "ort"), with details for
// ort (library, how the weights were exported).
func (e *Engine) Backend() string {
	if e.alt == nil {
		return BackendNative
	}
	return e.alt.describe()
}

// sessionContext is the context size of new sessions.
func (e *Engine) sessionContext() int {
	ctx := e.Model.Config.Context
	if e.opts.context > 0 && (ctx <= 0 || e.opts.context < ctx) {
		ctx = e.opts.context
	}
	if ctx <= 0 {
		ctx = 2048
	}
	return ctx
}

// reloadBackend makes the ort backend follow a Merge or Unmerge; e.mu is held. On
// failure every later Eval reports the error (the session would run stale weights).
func (e *Engine) reloadBackend() error {
	if e.alt == nil {
		return nil
	}
	e.backendErr = e.alt.reload()
	return e.backendErr
}
