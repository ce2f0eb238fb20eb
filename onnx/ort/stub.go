//go:build !ort

package ort

// Built reports whether this build has the ONNX Runtime backend.
const Built = false
