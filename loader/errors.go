package loader

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error the loader returns for bad input matches one of them
// with errors.Is, and its message names the file and the problem.
var (
	// ErrBadMagic means the file does not start with the magic of the format it claims.
	ErrBadMagic = errors.New("loader: bad magic")
	// ErrTruncated means the file ends before a structure it declares is complete.
	ErrTruncated = errors.New("loader: truncated file")
	// ErrUnsupported means the file is valid but uses something edgerun does not read
	// (a format version, a tensor type, a source layout).
	ErrUnsupported = errors.New("loader: not supported")
	// ErrCorrupt means the file is inconsistent: impossible counts, shapes or offsets,
	// duplicate names, values of the wrong type.
	ErrCorrupt = errors.New("loader: corrupt file")
	// ErrMissingTensor means a tensor asked for by name is not in the checkpoint.
	ErrMissingTensor = errors.New("loader: missing tensor")
	// ErrInvalid means a caller passed something the writer cannot encode (an unknown
	// value type, a bad shape, tensor data of the wrong length).
	ErrInvalid = errors.New("loader: invalid argument")
	// ErrNotFound means a file the loader needs (e.g. a tokenizer) does not exist.
	ErrNotFound = errors.New("loader: file not found")
)

// fileError is the loader's error type: "loader: <path>: <msg>", matching kind (one of
// the sentinels) and, when set, an underlying cause with errors.Is/As.
type fileError struct {
	path  string
	msg   string
	kind  error
	cause error
}

func (e *fileError) Error() string {
	s := "loader: " + e.path + ": " + e.msg
	if e.cause != nil {
		s += ": " + e.cause.Error()
	}
	return s
}

func (e *fileError) Unwrap() []error {
	if e.cause != nil {
		return []error{e.kind, e.cause}
	}
	return []error{e.kind}
}

// errorf returns a *fileError of the given kind for path.
func errorf(path string, kind error, format string, args ...any) error {
	return &fileError{path: path, msg: fmt.Sprintf(format, args...), kind: kind}
}

// wrapf is errorf with an underlying cause appended to the message.
func wrapf(path string, kind, cause error, format string, args ...any) error {
	return &fileError{path: path, msg: fmt.Sprintf(format, args...), kind: kind, cause: cause}
}

// errCountTooLarge is the kind of a count (of items or bytes) that exceeds what the rest of
// the file can hold: the file is either truncated or the count is corrupt, so it
// matches both ErrTruncated and ErrCorrupt.
var errCountTooLarge = countError{}

type countError struct{}

func (countError) Error() string { return "loader: count larger than the file" }

func (countError) Is(target error) bool { return target == ErrTruncated || target == ErrCorrupt }
