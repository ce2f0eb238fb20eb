#!/usr/bin/python3
"""Writes ggml_golden.txt: SHA-256 digests of what ggml (libggml-base.so from a llama.cpp
release) produces for deterministic inputs, so int4's tests can check bit-exactness
without needing ggml at test time.

usage: gen_ggml_golden.py /path/to/libggml-base.so > ggml_golden.txt

Inputs are built from a 64-bit LCG with integer arithmetic only (exact in Go and Python);
golden_test.go rebuilds them identically. Per type it records:
  q   sha256 of ggml_quantize_chunk(type, X, nrows=ROWS, n_per_row=N, imatrix=NULL)
  dq  sha256 of the little-endian float32 output of ggml's dequantize of those bytes
  rdq sha256 of ggml's dequantize of LCG-random block bytes (every fp16 scale pattern), with
      every NaN written as 0x7FC00000 (NaN payloads and signs differ between CPU families)
"""
import ctypes, hashlib, struct, sys

ROWS, N = 16, 512
M64 = (1 << 64) - 1

class LCG:
    def __init__(self, seed): self.s = seed & M64
    def next(self):
        self.s = (self.s * 6364136223846793005 + 1442695040888963407) & M64
        return self.s

def f32(v):  # round a Python float (exact here) to float32
    return struct.unpack('<f', struct.pack('<f', v))[0]

def gen_x():
    g = LCG(1)
    xs = []
    exps = [0, -20, 8, -3, -12, 4, -1, 2]
    for r in range(ROWS):
        e = exps[r % len(exps)]
        for i in range(N):
            u = sum(((g.next() >> 48) - 32768) for _ in range(4))  # ~Gaussian integer
            if r % 4 == 1 and g.next() >> 59 == 0:
                u *= 64  # outliers
            if r % 4 == 2 and i < 80:
                u = 0  # zero blocks
            if r % 8 == 7:
                u = ((g.next() >> 61) - 4) << 15  # few distinct values: ties
            xs.append(f32(u * 2.0 ** (e - 17)))
    return xs

def main():
    lib = ctypes.CDLL(sys.argv[1])
    lib.ggml_quantize_chunk.restype = ctypes.c_size_t
    lib.ggml_quantize_chunk.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p,
                                        ctypes.c_int64, ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p]
    types = [("F16", 1, 1, 2, "ggml_fp16_to_fp32_row"), ("BF16", 30, 1, 2, "ggml_bf16_to_fp32_row"),
             ("Q8_0", 8, 32, 34, "dequantize_row_q8_0"), ("Q4_0", 2, 32, 18, "dequantize_row_q4_0"),
             ("Q4_1", 3, 32, 20, "dequantize_row_q4_1"), ("Q4_K", 12, 256, 144, "dequantize_row_q4_K"),
             ("Q6_K", 14, 256, 210, "dequantize_row_q6_K"), ("IQ4_NL", 20, 32, 18, "dequantize_row_iq4_nl")]
    x = gen_x()
    xb = (ctypes.c_float * len(x))(*x)
    for name, tid, be, bb, deq in types:
        nbytes = ROWS * N // be * bb
        q = (ctypes.c_uint8 * nbytes)()
        lib.ggml_quantize_chunk(tid, xb, q, 0, ROWS, N, None)
        f = getattr(lib, deq)
        f.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64]
        f.restype = None
        y = (ctypes.c_float * (ROWS * N))()
        f(q, y, ROWS * N)
        g = LCG(tid)
        rnd = (ctypes.c_uint8 * nbytes)(*[g.next() >> 56 for _ in range(nbytes)])
        ry = (ctypes.c_float * (ROWS * N))()
        f(rnd, ry, ROWS * N)
        ryc = b"".join(struct.pack("<I", 0x7FC00000) if v != v else struct.pack("<f", v) for v in ry)
        print(name, hashlib.sha256(bytes(q)).hexdigest(), hashlib.sha256(bytes(y)).hexdigest(),
              hashlib.sha256(ryc).hexdigest())

main()
