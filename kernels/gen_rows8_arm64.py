#!/usr/bin/env python3
# Generates kernels/rows8_arm64.s (hand-written kernels; the SIMD instructions the Go
# assembler lacks are encoded with llvm-mc and emitted as WORDs with the instruction as comment).
import subprocess, sys

out = []
special = []  # (index into out, gnu text)

def g(s):  # Go assembler line
    out.append("\t" + s)

def w(s):  # llvm-mc encoded
    special.append((len(out), s))
    out.append(None)

def raw(s):
    out.append(s)

def X(n):
    return "x%d" % n

def encode():
    src = "\n".join(s for _, s in special) + "\n"
    r = subprocess.run(["llvm-mc", "-triple=aarch64", "-mattr=+dotprod,+fullfp16", "-show-encoding"],
                       input=src, capture_output=True, text=True, check=True)
    encs = []
    for line in r.stdout.splitlines():
        if "encoding:" in line:
            b = line.split("encoding: [")[1].split("]")[0].split(",")
            v = int(b[0], 16) | int(b[1], 16) << 8 | int(b[2], 16) << 16 | int(b[3], 16) << 24
            encs.append(v)
    assert len(encs) == len(special), (len(encs), len(special), r.stderr)
    for (i, s), v in zip(special, encs):
        out[i] = "\tWORD $0x%08x // %s" % (v, s)

# ---------------------------------------------------------------------------------
def widen(lo, hi, xlo, xhi, acc, ta):
    # Four rows' block sums without the dot product, two rows at a time (temporaries ta):
    # acc(j) = pairwise int32 sums of lo(j)·x[xlo] + hi(j)·x[xhi] (int16 products, two a lane).
    for i in (0, 2):
        for j, (a, b) in zip((i, i + 1), ta):
            w("smull v%d.8h, v%d.8b, v%d.8b" % (a, lo(j), xlo))
            w("smull2 v%d.8h, v%d.16b, v%d.16b" % (b, lo(j), xlo))
        for j, (a, b) in zip((i, i + 1), ta):
            w("smlal v%d.8h, v%d.8b, v%d.8b" % (a, hi(j), xhi))
            w("smlal2 v%d.8h, v%d.16b, v%d.16b" % (b, hi(j), xhi))
        for j, (a, b) in zip((i, i + 1), ta):
            w("saddlp v%d.4s, v%d.8h" % (acc(j), a))
        for j, (a, b) in zip((i, i + 1), ta):
            w("sadalp v%d.4s, v%d.8h" % (acc(j), b))

def rows8(name, q4, neon=False, bnb=False, q8=False, b64=False):
    # decode: 8 rows × 1 token. q4: Q4_0 offset form (nibbles unsigned, 8·Σx subtracted);
    # else TBL through tab (16 int8 in V31). neon: widening multiplies (SMULL/SMLAL into
    # int16, SADDLP/SADALP into int32) instead of SDOT, for cores without the dot product.
    # bnb: NF4/FP4 blocks (float32 absmax, 16 code bytes, element 2i in the high nibble of
    # byte i): the activations are split into even and odd elements (UZP1/UZP2), and the
    # result is multiplied by post.
    # q8: Q8_0 blocks (fp16 scale, 32 int8), no decoding (SDOT only).
    # b64 (with bnb): NF4_64/FP4_64 blocks of 36 bytes (float32 absmax, 32 code bytes):
    # the loop runs once per 64-element block, loads the 8 absmax once and then does for
    # each 32-element half exactly what the bnb kernel does for one 20-byte block (the
    # absmax·xd products go to V24/V25 so that V6/V7 keep the absmax for the second half).
    xlo, xhi = (3, 2) if bnb else (0, 1)
    if q8:
        raw("// func %s(w *byte, rowBytes, groups int, xq *int8, xd *float32, nb int, y *float32)" % name)
        raw("TEXT ·%s(SB), NOSPLIT, $0-56" % name)
        g("MOVD w+0(FP), R0"); g("MOVD rowBytes+8(FP), R1"); g("MOVD groups+16(FP), R2")
        g("MOVD xq+24(FP), R3"); g("MOVD xd+32(FP), R4")
        g("MOVD nb+40(FP), R6"); g("MOVD y+48(FP), R7")
    elif bnb:
        raw("// func %s(w *byte, rowBytes, groups int, xq *int8, xd *float32, nb int, y *float32, tab *int8, post float32)" % name)
        raw("TEXT ·%s(SB), NOSPLIT, $0-68" % name)
        g("MOVD w+0(FP), R0"); g("MOVD rowBytes+8(FP), R1"); g("MOVD groups+16(FP), R2")
        g("MOVD xq+24(FP), R3"); g("MOVD xd+32(FP), R4")
        g("MOVD nb+40(FP), R6"); g("MOVD y+48(FP), R7"); g("MOVD tab+56(FP), R5")
        g("VLD1 (R5), [V31.B16]")
        g("FMOVS post+64(FP), F5")
    elif q4:
        raw("// func %s(w *byte, rowBytes, groups int, xq *int8, xd *float32, xc *int32, nb int, y *float32)" % name)
        raw("TEXT ·%s(SB), NOSPLIT, $0-64" % name)
        g("MOVD w+0(FP), R0"); g("MOVD rowBytes+8(FP), R1"); g("MOVD groups+16(FP), R2")
        g("MOVD xq+24(FP), R3"); g("MOVD xd+32(FP), R4"); g("MOVD xc+40(FP), R5")
        g("MOVD nb+48(FP), R6"); g("MOVD y+56(FP), R7")
    else:
        raw("// func %s(w *byte, rowBytes, groups int, xq *int8, xd *float32, nb int, y *float32, tab *int8)" % name)
        raw("TEXT ·%s(SB), NOSPLIT, $0-64" % name)
        g("MOVD w+0(FP), R0"); g("MOVD rowBytes+8(FP), R1"); g("MOVD groups+16(FP), R2")
        g("MOVD xq+24(FP), R3"); g("MOVD xd+32(FP), R4")
        g("MOVD nb+40(FP), R6"); g("MOVD y+48(FP), R7"); g("MOVD tab+56(FP), R5")
        g("VLD1 (R5), [V31.B16]")
    g("VMOVI $15, V30.B16")
    raw("")
    raw("%s_group:" % name)
    g("MOVD R0, R8")
    for r in range(1, 8):
        g("ADD R1, R%d, R%d" % (7 + r, 8 + r))
    g("MOVD R3, R16"); g("MOVD R4, R17")
    if q4:
        g("MOVD R5, R19")
    g("MOVD R6, R20")
    if b64:
        g("LSR $1, R20, R20                // 64-element blocks")
    g("VEOR V26.B16, V26.B16, V26.B16"); g("VEOR V27.B16, V27.B16, V27.B16")
    raw("")
    raw("%s_block:" % name)
    for half in range(2 if b64 else 1):
        rows8body(name, q4, neon, bnb, q8, b64, half, xlo, xhi)
    g("SUBS $1, R20, R20")
    g("BNE %s_block" % name)
    raw("")
    if bnb:
        w("fmul v26.4s, v26.4s, v5.s[0]"); w("fmul v27.4s, v27.4s, v5.s[0]")
    g("VST1.P [V26.S4, V27.S4], 32(R7)")
    g("ADD R1<<3, R0, R0")
    g("SUBS $1, R2, R2")
    g("BNE %s_group" % name)
    g("RET")
    raw("")

def rows8body(name, q4, neon, bnb, q8, b64, half, xlo, xhi):
    # one 32-element block column of rows8 (for b64, half 0 or 1 of a 64-element block)
    if b64:
        raw("\t// 32-element half %d" % half)
    g("VLD1.P 32(R16), [V0.B16, V1.B16] // x: elements 0..15, 16..31")
    g("FMOVS.P 4(R17), F4               // xd")
    if q4:
        g("VLD1.P 32(R19), [V2.S4, V3.S4]    // xc: 8·lane sums")
    if bnb:
        w("uzp1 v2.16b, v0.16b, v1.16b") # even elements (high nibbles)
        w("uzp2 v3.16b, v0.16b, v1.16b") # odd elements (low nibbles)
        for r in range(8 if half == 0 else 0):
            w("ld1 {v%d.s}[%d], [x%d], #4" % (6 + r // 4, r % 4, 8 + r))
    else:
        for r in range(8):
            w("ld1 {v5.h}[%d], [x%d], #2" % (r, 8 + r))
    for h in range(2):
        if q8:
            for i in range(4):
                g("VLD1.P 32(R%d), [V%d.B16, V%d.B16]" % (8 + 4 * h + i, 16 + 2 * i, 17 + 2 * i))
            if neon:
                widen(lambda j: 16 + 2 * j, lambda j: 17 + 2 * j, 0, 1, lambda j: 8 + 4 * h + j, [(24, 25), (28, 29)])
                continue
            for i in range(4):
                a = 8 + 4 * h + i
                g("VEOR V%d.B16, V%d.B16, V%d.B16" % (a, a, a))
            for i in range(4):
                w("sdot v%d.4s, v%d.16b, v0.16b" % (8 + 4 * h + i, 16 + 2 * i))
            for i in range(4):
                w("sdot v%d.4s, v%d.16b, v1.16b" % (8 + 4 * h + i, 17 + 2 * i))
            continue
        for i in range(4):
            g("VLD1.P 16(R%d), [V%d.B16]" % (8 + 4 * h + i, 16 + i))
        for i in range(4 if not neon else 0):
            a = 8 + 4 * h + i
            g("VEOR V%d.B16, V%d.B16, V%d.B16" % (a, a, a))
        for i in range(4):
            g("VAND V30.B16, V%d.B16, V%d.B16" % (16 + i, 20 + i))
            g("VUSHR $4, V%d.B16, V%d.B16" % (16 + i, 16 + i))
        if not q4:
            for i in range(4):
                g("VTBL V%d.B16, [V31.B16], V%d.B16" % (20 + i, 20 + i))
                g("VTBL V%d.B16, [V31.B16], V%d.B16" % (16 + i, 16 + i))
        if not neon:
            for i in range(4):
                w("sdot v%d.4s, v%d.16b, v%d.16b" % (8 + 4 * h + i, 20 + i, xlo))
            for i in range(4):
                w("sdot v%d.4s, v%d.16b, v%d.16b" % (8 + 4 * h + i, 16 + i, xhi))
        else:
            if q4:
                # Q4_0's unsigned nibbles: |n·x| ≤ 15·128, so a row's 4 products a lane and
                # the pairwise sums of 4 rows (16 terms) fit int16; widen once per 4 rows.
                b = 8 + 4 * h
                for j in range(4):
                    w("smull v%d.8h, v%d.8b, v%d.8b" % (b + j, 20 + j, xlo)); w("smlal2 v%d.8h, v%d.16b, v%d.16b" % (b + j, 20 + j, xlo))
                    w("smlal v%d.8h, v%d.8b, v%d.8b" % (b + j, 16 + j, xhi)); w("smlal2 v%d.8h, v%d.16b, v%d.16b" % (b + j, 16 + j, xhi))
                w("addp v%d.8h, v%d.8h, v%d.8h" % (b, b, b + 1)); w("addp v%d.8h, v%d.8h, v%d.8h" % (b + 2, b + 2, b + 3))
                w("addp v%d.8h, v%d.8h, v%d.8h" % (b, b, b + 2)); w("saddlp v%d.4s, v%d.8h" % (b, b))
            else:
                widen(lambda j: 20 + j, lambda j: 16 + j, xlo, xhi, lambda j: 8 + 4 * h + j, [(24, 25), (28, 29)])
    if q4:
        g("VADD V3.S4, V2.S4, V2.S4")
        w("addv s2, v2.4s")
        g("VDUP V2.S[0], V2.S4")
    for base in ((8, 12) if not (q4 and neon) else ()):
        w("addp v%d.4s, v%d.4s, v%d.4s" % (base, base, base + 1))
        w("addp v%d.4s, v%d.4s, v%d.4s" % (base + 2, base + 2, base + 3))
        w("addp v%d.4s, v%d.4s, v%d.4s" % (base, base, base + 2))
    if q4:
        g("VSUB V2.S4, V8.S4, V8.S4")
        g("VSUB V2.S4, V12.S4, V12.S4")
    w("scvtf v8.4s, v8.4s"); w("scvtf v12.4s, v12.4s")
    if not bnb:
        w("fcvtl2 v7.4s, v5.8h"); w("fcvtl v6.4s, v5.4h")
    s0, s1 = (24, 25) if b64 else (6, 7)
    w("fmul v%d.4s, v6.4s, v4.s[0]" % s0); w("fmul v%d.4s, v7.4s, v4.s[0]" % s1)
    g("VFMLA V8.S4, V%d.S4, V26.S4" % s0); g("VFMLA V12.S4, V%d.S4, V27.S4" % s1)

def rows8x4(name, bnb=False, q8=False, b64=False):
    # bnb: NF4/FP4 (see rows8): each token's block is split into even elements (into
    # V2t) and odd ones (V2t+1) with V8 as the temporary, and the result times post.
    # b64 (with bnb): NF4_64/FP4_64 (see rows8): the 8 absmax (V10, V11) once per
    # 64-element block, then the bnb block column for each 32-element half.
    if q8:
        raw("// func %s(w *byte, rowBytes, groups int, xg *byte, nb int, y *float32, ystride int)" % name)
        raw("TEXT ·%s(SB), NOSPLIT, $0-56" % name)
    elif bnb:
        raw("// func %s(w *byte, rowBytes, groups int, xg *byte, nb int, y *float32, ystride int, tab *int8, post float32)" % name)
        raw("TEXT ·%s(SB), NOSPLIT, $0-68" % name)
    else:
        raw("// func %s(w *byte, rowBytes, groups int, xg *byte, nb int, y *float32, ystride int, tab *int8)" % name)
        raw("TEXT ·%s(SB), NOSPLIT, $0-64" % name)
    g("MOVD w+0(FP), R0"); g("MOVD rowBytes+8(FP), R1"); g("MOVD groups+16(FP), R2")
    g("MOVD xg+24(FP), R3"); g("MOVD nb+32(FP), R4"); g("MOVD y+40(FP), R5")
    g("MOVD ystride+48(FP), R6")
    if not q8:
        g("MOVD tab+56(FP), R7")
        g("VLD1 (R7), [V23.B16]")
        g("VMOVI $15, V22.B16")
    g("MOVD $32, R19")
    raw("")
    raw("%s_group:" % name)
    g("MOVD R0, R8")
    for r in range(1, 8):
        g("ADD R1, R%d, R%d" % (7 + r, 8 + r))
    g("MOVD R3, R16"); g("MOVD R4, R17")
    if b64:
        g("LSR $1, R17, R17")
    for a in range(24, 32):
        g("VEOR V%d.B16, V%d.B16, V%d.B16" % (a, a, a))
    raw("")
    raw("%s_block:" % name)
    for half in range(2 if b64 else 1):
        rows8x4body(bnb, q8, b64, half)
    g("SUBS $1, R17, R17")
    g("BNE %s_block" % name)
    raw("")
    if bnb:
        g("FMOVS post+64(FP), F8")
        for a in range(24, 32):
            w("fmul v%d.4s, v%d.4s, v8.s[0]" % (a, a))
    g("MOVD R5, R20")
    for t in range(4):
        g("VST1 [V%d.S4, V%d.S4], (R20)" % (24 + 2 * t, 25 + 2 * t))
        if t < 3:
            g("ADD R6, R20, R20")
    g("ADD $32, R5, R5")
    g("ADD R1<<3, R0, R0")
    g("SUBS $1, R2, R2")
    g("BNE %s_group" % name)
    g("RET")
    raw("")

def rows8x4body(bnb, q8, b64, half):
    # one 32-element block column of rows8x4 (for b64, half 0 or 1 of a 64-element block)
    if b64:
        raw("\t// 32-element half %d" % half)
    g("VLD1.P 64(R16), [V0.B16, V1.B16, V2.B16, V3.B16] // tokens 0, 1: elements 0..15, 16..31")
    g("VLD1.P 64(R16), [V4.B16, V5.B16, V6.B16, V7.B16] // tokens 2, 3")
    g("ADD $128, R16                                    // skip the lane sums: token scales at 256+32t")
    for t in range(4):
        w("ld1 {v9.s}[%d], [x16], x19" % t)
    if bnb:
        for t in range(4):
            w("uzp1 v8.16b, v%d.16b, v%d.16b" % (2 * t, 2 * t + 1))
            w("uzp2 v%d.16b, v%d.16b, v%d.16b" % (2 * t + 1, 2 * t, 2 * t + 1))
            g("VORR V8.B16, V8.B16, V%d.B16" % (2 * t))
        for r in range(8 if half == 0 else 0):
            w("ld1 {v%d.s}[%d], [x%d], #4" % (10 + r // 4, r % 4, 8 + r))
    else:
        for r in range(8):
            w("ld1 {v10.h}[%d], [x%d], #2" % (r, 8 + r))
        w("fcvtl2 v11.4s, v10.8h"); w("fcvtl v10.4s, v10.4h")
    for h in range(2):
        # V16+k lane i = bytes 4k..4k+3 of row 4h+i's quants
        for i in range(4):
            w("ld4 {v16.s, v17.s, v18.s, v19.s}[%d], [x%d], #16" % (i, 8 + 4 * h + i))
            if q8: # V20+k lane i = bytes 16+4k..16+4k+3 of row 4h+i (elements 16..31)
                w("ld4 {v20.s, v21.s, v22.s, v23.s}[%d], [x%d], #16" % (i, 8 + 4 * h + i))
        for t in range(4):
            a = 12 + t
            g("VEOR V%d.B16, V%d.B16, V%d.B16" % (a, a, a))
        for k in range(4 if q8 else 0):
            for t in range(4):
                w("sdot v%d.4s, v%d.16b, v%d.4b[%d]" % (12 + t, 16 + k, 2 * t, k))
            for t in range(4):
                w("sdot v%d.4s, v%d.16b, v%d.4b[%d]" % (12 + t, 20 + k, 2 * t + 1, k))
        for k in range(0 if q8 else 4):
            lo = 20 + (k & 1)
            hi = 16 + k
            g("VAND V22.B16, V%d.B16, V%d.B16" % (hi, lo))
            g("VUSHR $4, V%d.B16, V%d.B16" % (hi, hi))
            g("VTBL V%d.B16, [V23.B16], V%d.B16" % (lo, lo))
            g("VTBL V%d.B16, [V23.B16], V%d.B16" % (hi, hi))
            # low nibbles: elements 0..15, or NF4/FP4's odd elements (V2t+1)
            for t in range(4):
                w("sdot v%d.4s, v%d.16b, v%d.4b[%d]" % (12 + t, lo, 2 * t + (1 if bnb else 0), k))
            for t in range(4):
                w("sdot v%d.4s, v%d.16b, v%d.4b[%d]" % (12 + t, hi, 2 * t + (0 if bnb else 1), k))
        for t in range(4):
            w("scvtf v%d.4s, v%d.4s" % (12 + t, 12 + t))
        for t in range(4):
            w("fmul v%d.4s, v%d.4s, v9.s[%d]" % (16 + t, 10 + h, t))
        for t in range(4):
            g("VFMLA V%d.S4, V%d.S4, V%d.S4" % (12 + t, 16 + t, 24 + 2 * t + h))

def rows4x4neon(name, bnb=False, q8=False, small=False, b64=False):
    # 4 rows × 4 tokens without the dot product: each 4-row group's weights are decoded
    # once per block for the 4 tokens of a pack4 group; per token and row the integer sum
    # and the float steps are those of rows8(neon=True) for one lane, so the results agree
    # bit for bit with it.
    # q8: Q8_0 (no decoding; row r's 32 weights in V16+2r, V17+2r).
    # b64 (with bnb): NF4_64/FP4_64: the 4 absmax (V10) once per 64-element block, then
    # the bnb block column for each 32-element half.
    if bnb:
        raw("// func %s(w *byte, rowBytes, groups int, xg *byte, nb int, y *float32, ystride int, tab *int8, post float32)" % name)
        raw("TEXT ·%s(SB), NOSPLIT, $0-68" % name)
    elif q8:
        raw("// func %s(w *byte, rowBytes, groups int, xg *byte, nb int, y *float32, ystride int)" % name)
        raw("TEXT ·%s(SB), NOSPLIT, $0-56" % name)
    else:
        raw("// func %s(w *byte, rowBytes, groups int, xg *byte, nb int, y *float32, ystride int, tab *int8)" % name)
        raw("TEXT ·%s(SB), NOSPLIT, $0-64" % name)
    g("MOVD w+0(FP), R0"); g("MOVD rowBytes+8(FP), R1"); g("MOVD groups+16(FP), R2")
    g("MOVD xg+24(FP), R3"); g("MOVD nb+32(FP), R4"); g("MOVD y+40(FP), R5")
    g("MOVD ystride+48(FP), R6")
    if not q8:
        g("MOVD tab+56(FP), R7")
        g("VLD1 (R7), [V31.B16]")
        g("VMOVI $15, V30.B16")
    g("MOVD $32, R19")
    raw("")
    raw("%s_group:" % name)
    g("MOVD R0, R8")
    for r in range(1, 4):
        g("ADD R1, R%d, R%d" % (7 + r, 8 + r))
    g("MOVD R3, R16"); g("MOVD R4, R17")
    if b64:
        g("LSR $1, R17, R17")
    for a in range(24, 28):
        g("VEOR V%d.B16, V%d.B16, V%d.B16" % (a, a, a))
    raw("")
    raw("%s_block:" % name)
    for half in range(2 if b64 else 1):
        rows4x4body(bnb, q8, small, b64, half)
    g("SUBS $1, R17, R17")
    g("BNE %s_block" % name)
    raw("")
    if bnb:
        g("FMOVS post+64(FP), F8")
        for a in range(24, 28):
            w("fmul v%d.4s, v%d.4s, v8.s[0]" % (a, a))
    g("MOVD R5, R20")
    for t in range(4):
        g("VST1 [V%d.S4], (R20)" % (24 + t))
        if t < 3:
            g("ADD R6, R20, R20")
    g("ADD $16, R5, R5")
    g("ADD R1<<2, R0, R0")
    g("SUBS $1, R2, R2")
    g("BNE %s_group" % name)
    g("RET")
    raw("")

def rows4x4body(bnb, q8, small, b64, half):
    # one 32-element block column of rows4x4neon (for b64, half 0 or 1 of a 64-element block)
    if b64:
        raw("\t// 32-element half %d" % half)
    g("VLD1.P 64(R16), [V0.B16, V1.B16, V2.B16, V3.B16]")
    g("VLD1.P 64(R16), [V4.B16, V5.B16, V6.B16, V7.B16]")
    g("ADD $128, R16")
    for t in range(4):
        w("ld1 {v9.s}[%d], [x16], x19" % t)
    if bnb:
        for r in range(4 if half == 0 else 0):
            w("ld1 {v10.s}[%d], [x%d], #4" % (r, 8 + r))
    else:
        for r in range(4):
            w("ld1 {v10.h}[%d], [x%d], #2" % (r, 8 + r))
    if q8:
        for r in range(4):
            g("VLD1.P 32(R%d), [V%d.B16, V%d.B16]" % (8 + r, 16 + 2 * r, 17 + 2 * r))
    else:
        for r in range(4):
            g("VLD1.P 16(R%d), [V%d.B16]" % (8 + r, 16 + r))
    if bnb:
        for t in range(4):
            w("uzp1 v8.16b, v%d.16b, v%d.16b" % (2 * t, 2 * t + 1))
            w("uzp2 v%d.16b, v%d.16b, v%d.16b" % (2 * t + 1, 2 * t, 2 * t + 1))
            g("VORR V8.B16, V8.B16, V%d.B16" % (2 * t))
    else:
        w("fcvtl v10.4s, v10.4h")
    for r in range(0 if q8 else 4):
        g("VAND V30.B16, V%d.B16, V%d.B16" % (16 + r, 20 + r))
        g("VUSHR $4, V%d.B16, V%d.B16" % (16 + r, 16 + r))
    for r in range(0 if q8 else 4):
        g("VTBL V%d.B16, [V31.B16], V%d.B16" % (20 + r, 20 + r))
        g("VTBL V%d.B16, [V31.B16], V%d.B16" % (16 + r, 16 + r))
    for t in range(4):
        # low nibbles meet elements 0..15 (V2t), or NF4/FP4's odd elements (V2t+1)
        xlo, xhi = (2 * t + 1, 2 * t) if bnb else (2 * t, 2 * t + 1)
        if q8:
            widen(lambda j: 16 + 2 * j, lambda j: 17 + 2 * j, xlo, xhi, lambda j: 12 + j, [(28, 29), (8, 11)])
        else:
            if small:
                # table values of magnitude ≤ 8 (Q4_0): 4 products a lane and the pairwise
                # sums of the 4 rows (16 terms ≤ 16384) fit int16; widen once
                for j in range(4):
                    w("smull v%d.8h, v%d.8b, v%d.8b" % (12 + j, 20 + j, xlo)); w("smlal2 v%d.8h, v%d.16b, v%d.16b" % (12 + j, 20 + j, xlo))
                    w("smlal v%d.8h, v%d.8b, v%d.8b" % (12 + j, 16 + j, xhi)); w("smlal2 v%d.8h, v%d.16b, v%d.16b" % (12 + j, 16 + j, xhi))
                w("addp v12.8h, v12.8h, v13.8h"); w("addp v14.8h, v14.8h, v15.8h")
                w("addp v12.8h, v12.8h, v14.8h"); w("saddlp v12.4s, v12.8h")
            else:
                widen(lambda j: 20 + j, lambda j: 16 + j, xlo, xhi, lambda j: 12 + j, [(28, 29), (8, 11)])
        if not small:
            w("addp v12.4s, v12.4s, v13.4s")
            w("addp v14.4s, v14.4s, v15.4s")
            w("addp v12.4s, v12.4s, v14.4s")
        w("scvtf v12.4s, v12.4s")
        w("fmul v11.4s, v10.4s, v9.s[%d]" % t)
        g("VFMLA V12.S4, V11.S4, V%d.S4" % (24 + t))

def q8quant(name):
    # q8QuantGeneric for nb ≥ 1 blocks, bit for bit (see q8quant_arm64.go).
    raw("// func %s(x *float32, q *int8, d *float32, c *int32, nb int)" % name)
    raw("TEXT ·%s(SB), NOSPLIT, $0-40" % name)
    g("MOVD x+0(FP), R0"); g("MOVD q+8(FP), R1"); g("MOVD d+16(FP), R2")
    g("MOVD c+24(FP), R3"); g("MOVD nb+32(FP), R4")
    w("movi v24.4s, #0x80, lsl #24")   # sign bit
    w("fmov v25.4s, #0.5")
    g("MOVW $0x42fe0000, R5"); g("FMOVS R5, F26")  # 127
    w("fmov s27, #1.0")
    g("MOVW $0x7f7fffff, R5"); g("FMOVS R5, F28")  # math.MaxFloat32
    g("FMOVS ZR, F29")
    raw("")
    raw("%s_block:" % name)
    g("VLD1.P 64(R0), [V0.S4, V1.S4, V2.S4, V3.S4]")
    g("VLD1.P 64(R0), [V4.S4, V5.S4, V6.S4, V7.S4]")
    for i in range(8):
        w("fabs v%d.4s, v%d.4s" % (16 + i, i))
    for a, b in ((16, 17), (18, 19), (20, 21), (22, 23), (16, 18), (20, 22), (16, 20)):
        w("fmax v%d.4s, v%d.4s, v%d.4s" % (a, a, b))
    w("fmaxv s16, v16.4s")
    w("fdiv s17, s16, s26")           # d = amax/127
    g("FMOVS.P F17, 4(R2)")
    w("fdiv s18, s27, s17")           # id = 1/d
    w("fcmp s18, s28")
    w("fcsel s18, s18, s29, ls")      # id <= MaxFloat32 (false for +Inf, NaN): id, else 0
    for i in range(8):
        w("fmul v%d.4s, v%d.4s, v18.s[0]" % (i, i))
    for i in range(8):
        g("VAND V24.B16, V%d.B16, V%d.B16" % (i, 16 + i))
        g("VORR V25.B16, V%d.B16, V%d.B16" % (16 + i, 16 + i))   # ±0.5 by the sign of t
    for i in range(8):
        w("fadd v%d.4s, v%d.4s, v%d.4s" % (i, i, 16 + i))
    for i in range(8):
        w("fcvtzs v%d.4s, v%d.4s" % (i, i))
    # lane sums times 8: lane l of the block = elements 4l..4l+3 = vector l
    w("addp v16.4s, v0.4s, v1.4s"); w("addp v17.4s, v2.4s, v3.4s"); w("addp v16.4s, v16.4s, v17.4s")
    w("addp v18.4s, v4.4s, v5.4s"); w("addp v19.4s, v6.4s, v7.4s"); w("addp v17.4s, v18.4s, v19.4s")
    w("shl v16.4s, v16.4s, #3"); w("shl v17.4s, v17.4s, #3")
    g("VST1.P [V16.S4, V17.S4], 32(R3)")
    for i in (0, 2, 4, 6):
        w("xtn v%d.4h, v%d.4s" % (i, i)); w("xtn2 v%d.8h, v%d.4s" % (i, i + 1))
    w("xtn v0.8b, v0.8h"); w("xtn2 v0.16b, v2.8h")
    w("xtn v1.8b, v4.8h"); w("xtn2 v1.16b, v6.8h")
    g("VST1.P [V0.B16, V1.B16], 32(R1)")
    g("SUBS $1, R4, R4")
    g("BNE %s_block" % name)
    g("RET")
    raw("")

def kq8rows8(name, q6, neon):
    # K-quant decode, 8 rows × 1 token (super-blocks of 256 elements = 8 activation
    # blocks), rows in vector lanes as in rows8: each row's integer block sums are reduced
    # across rows with pairwise adds so the per-block scale and float work is done for 4
    # rows per instruction. neon: widening multiplies (SMULL/SMLAL into int16), else SDOT.
    # Row r's block sums are computed in lane r%4 of rowgroup r/4 only, so a row run alone
    # (zero row stride) gets the result it gets in a full group.
    #
    # Q4_K (q6 False), per sub-block j = activation block b and row r:
    #   S = Σ n_e·q_e (exact), acc_r = fma(acc_r, d_r·xd_b, float(sc_rj·S))
    #                          acc_r = fma(acc_r, -(dmin_r·float(m_rj)), u_b)
    #   with u_b = float(Σ q_e)·xd_b (Σq = Σxc/8, exact).
    # Q6_K (q6 True), per block b and row r (q_e the unsigned 6-bit values):
    #   s = sc_{2b}·(S0 - 32·X0) + sc_{2b+1}·(S1 - 32·X1) exactly (S_g = Σ_g q_e·x_e,
    #   X_g = Σ_g x_e over the block's halves), acc_r = fma(acc_r, d_r·xd_b, float(s)).
    raw("// func %s(w *byte, rowBytes, groups int, xq *int8, xd *float32, xc *int32, nb int, y *float32)" % name)
    raw("TEXT ·%s(SB), NOSPLIT, $0-64" % name)
    g("MOVD w+0(FP), R0"); g("MOVD rowBytes+8(FP), R1"); g("MOVD groups+16(FP), R2")
    g("MOVD xq+24(FP), R3"); g("MOVD xd+32(FP), R4"); g("MOVD xc+40(FP), R5")
    g("MOVD nb+48(FP), R6"); g("MOVD y+56(FP), R7")
    g("LSR $3, R6, R6                  // super-blocks")
    g("VMOVI $15, V30.B16")
    if q6:
        g("VMOVI $63, V31.B16")
        g("VMOVI $48, V21.B16")
    else:
        # V11: TBL indices gathering byte j of each 32-bit lane (zero-extended) for j = 0;
        # V15: 1 per 32-bit lane (the index of j+1 is the index of j plus 1)
        g("MOVD $0x8080800480808000, R21")
        g("VMOV R21, V11.D[0]")
        g("MOVD $0x8080800c80808008, R21")
        g("VMOV R21, V11.D[1]")
        w("movi v15.4s, #1")
    raw("")
    raw("%s_group:" % name)
    g("MOVD R0, R8")
    for r in range(1, 8):
        g("ADD R1, R%d, R%d" % (7 + r, 8 + r))
    g("MOVD R3, R16"); g("MOVD R4, R17"); g("MOVD R5, R19"); g("MOVD R6, R20")
    g("VEOR V16.B16, V16.B16, V16.B16"); g("VEOR V17.B16, V17.B16, V17.B16")
    raw("")
    raw("%s_super:" % name)
    if q6:
        # raw scale bytes: V22+k (rows 0..3), V26+k (rows 4..7), lane r = sc[4k..4k+3] of
        # row r; d of the 8 rows (fp16) into V12.
        for r in range(8):
            g("ADD $192, R%d, R21" % (8 + r))
            base = 22 if r < 4 else 26
            w("ld4 {v%d.s, v%d.s, v%d.s, v%d.s}[%d], [x21], #16" % (base, base + 1, base + 2, base + 3, r % 4))
            w("ld1 {v12.h}[%d], [x21]" % r)
        w("fcvtl v18.4s, v12.4h"); w("fcvtl2 v19.4s, v12.8h")
    else:
        # lane r of V4..V7: bytes 0..3 (d, dmin), 4..7, 8..11, 12..15 of row r's super-block
        for grp in range(2):
            for r in range(4):
                w("ld4 {v4.s, v5.s, v6.s, v7.s}[%d], [x%d]" % (r, 8 + 4 * grp + r))
            if grp == 0:
                w("mov v8.16b, v4.16b")
                w("movi v9.16b, #63")
            sc03, sc47, m03, m47 = (22, 23, 24, 25) if grp == 0 else (26, 27, 28, 29)
            w("ushr v10.16b, v5.16b, #6")
            w("and v%d.16b, v7.16b, v30.16b" % sc47)
            w("sli v%d.16b, v10.16b, #4" % sc47)       # sc 4..7
            w("ushr v10.16b, v6.16b, #6")
            w("ushr v%d.16b, v7.16b, #4" % m47)
            w("sli v%d.16b, v10.16b, #4" % m47)        # m 4..7
            w("and v%d.16b, v5.16b, v9.16b" % sc03)    # sc 0..3
            w("and v%d.16b, v6.16b, v9.16b" % m03)     # m 0..3
        w("uzp1 v12.8h, v8.8h, v4.8h"); w("uzp2 v13.8h, v8.8h, v4.8h")
        w("fcvtl v18.4s, v12.4h"); w("fcvtl2 v19.4s, v12.8h")   # d
        w("fcvtl v20.4s, v13.4h"); w("fcvtl2 v21.4s, v13.8h")   # dmin
        w("mov v31.16b, v11.16b")
    for b in range(8):
        raw("\t// block %d" % b)
        g("VLD1.P 32(R16), [V0.B16, V1.B16]")
        g("FMOVS.P 4(R17), F2")
        g("VLD1.P 32(R19), [V4.S4, V5.S4]")
        if q6:
            w("addp v4.4s, v4.4s, v5.4s"); w("addp v3.4s, v4.4s, v4.4s")
            w("shl v3.4s, v3.4s, #2")                  # 32·X0, 32·X1
        else:
            w("add v4.4s, v4.4s, v5.4s"); w("addv s3, v4.4s")
            w("scvtf s3, s3, #3")                       # Σq (exact)
            w("fmul s3, s3, s2")                        # u = Σq·xd
        if not q6 and b == 4:
            w("mov v31.16b, v11.16b")
        for grp in range(2):
            acc, rD = 16 + grp, 18 + grp
            if q6:
                raw_ = (22 if grp == 0 else 26) + b // 2
                c0 = 2 * (b % 2)
                # sign-extended scales 2b, 2b+1 of the 4 rows into V14, V15
                w("shl v14.4s, v%d.4s, #%d" % (raw_, 24 - 8 * c0)); w("sshr v14.4s, v14.4s, #24")
                if c0 + 1 == 3:
                    w("sshr v15.4s, v%d.4s, #24" % raw_)
                else:
                    w("shl v15.4s, v%d.4s, #%d" % (raw_, 24 - 8 * (c0 + 1))); w("sshr v15.4s, v15.4s, #24")
            # per row: block sums into P registers, reduced in pairs
            # q4k: one accumulator per row (V8, V9, V10 rotating); q6k: two (groups 0, 1)
            for r in range(4):
                x = 8 + 4 * grp + r
                if q6:
                    h, k = b // 4, b % 4
                    w("ldp q6, q7, [x%d, #%d]" % (x, 64 * h + 32 * (k & 1)))
                    w("ldp q4, q5, [x%d, #%d]" % (x, 128 + 32 * h))
                    for v, l in ((4, 6), (5, 7)):
                        if k == 0:
                            w("shl v%d.16b, v%d.16b, #4" % (v, v)); w("bit v%d.16b, v%d.16b, v30.16b" % (v, l)); w("and v%d.16b, v%d.16b, v31.16b" % (v, v))
                        elif k == 1:
                            w("shl v%d.16b, v%d.16b, #2" % (v, v)); w("bit v%d.16b, v%d.16b, v30.16b" % (v, l)); w("and v%d.16b, v%d.16b, v31.16b" % (v, v))
                        elif k == 2:
                            w("and v%d.16b, v%d.16b, v21.16b" % (v, v)); w("sri v%d.16b, v%d.16b, #4" % (v, l))
                        else:
                            w("ushr v%d.16b, v%d.16b, #2" % (v, v)); w("sri v%d.16b, v%d.16b, #4" % (v, l))
                    # G0 of row r in V8+2(r%2), G1 in V9+2(r%2); pairs reduced into V12/V13 (rows 0,1)
                    p0, p1 = 8 + 2 * (r % 2), 9 + 2 * (r % 2)
                    if neon:
                        w("smull v%d.8h, v4.8b, v0.8b" % p0); w("smlal2 v%d.8h, v4.16b, v0.16b" % p0)
                        w("smull v%d.8h, v5.8b, v1.8b" % p1); w("smlal2 v%d.8h, v5.16b, v1.16b" % p1)
                    else:
                        w("movi v%d.4s, #0" % p0); w("movi v%d.4s, #0" % p1)
                        w("sdot v%d.4s, v4.16b, v0.16b" % p0); w("sdot v%d.4s, v5.16b, v1.16b" % p1)
                    if r % 2 == 1:
                        d0, d1 = (12, 13) if r == 1 else (8, 9)
                        if neon:
                            w("addp v8.8h, v8.8h, v10.8h"); w("addp v9.8h, v9.8h, v11.8h")
                            w("saddlp v%d.4s, v8.8h" % d0); w("saddlp v%d.4s, v9.8h" % d1)
                        else:
                            w("addp v%d.4s, v8.4s, v10.4s" % d0); w("addp v%d.4s, v9.4s, v11.4s" % d1)
                    if r == 3:
                        w("addp v12.4s, v12.4s, v8.4s"); w("addp v13.4s, v13.4s, v9.4s")
                else:
                    j = b
                    w("ldp q6, q7, [x%d, #%d]" % (x, 16 + 32 * (j // 2)))
                    if j % 2 == 0:
                        w("and v6.16b, v6.16b, v30.16b"); w("and v7.16b, v7.16b, v30.16b")
                    else:
                        w("ushr v6.16b, v6.16b, #4"); w("ushr v7.16b, v7.16b, #4")
                    p = [8, 9, 9, 10][r]
                    if neon:
                        w("smull v%d.8h, v6.8b, v0.8b" % p); w("smlal2 v%d.8h, v6.16b, v0.16b" % p)
                        w("smlal v%d.8h, v7.8b, v1.8b" % p); w("smlal2 v%d.8h, v7.16b, v1.16b" % p)
                        if r == 1:
                            w("addp v8.8h, v8.8h, v9.8h")
                        if r == 3:
                            w("addp v9.8h, v9.8h, v10.8h"); w("addp v8.8h, v8.8h, v9.8h")
                            w("saddlp v8.4s, v8.8h")
                    else:
                        w("movi v%d.4s, #0" % p)
                        w("sdot v%d.4s, v6.16b, v0.16b" % p); w("sdot v%d.4s, v7.16b, v1.16b" % p)
                        if r == 1:
                            w("addp v8.4s, v8.4s, v9.4s")
                        if r == 3:
                            w("addp v9.4s, v9.4s, v10.4s"); w("addp v8.4s, v8.4s, v9.4s")
            if q6:
                w("mul v12.4s, v12.4s, v14.4s"); w("mla v12.4s, v13.4s, v15.4s")
                w("mls v12.4s, v14.4s, v3.s[0]"); w("mls v12.4s, v15.4s, v3.s[1]")
                w("scvtf v12.4s, v12.4s")
                w("fmul v20.4s, v%d.4s, v2.s[0]" % rD)
                w("fmla v%d.4s, v20.4s, v12.4s" % acc)
            else:
                sc = (22 if grp == 0 else 26) + (0 if j < 4 else 1)
                m = sc + 2
                w("tbl v12.16b, {v%d.16b}, v31.16b" % sc)
                w("mul v8.4s, v8.4s, v12.4s")            # sc·S, exact in int32 and float
                w("scvtf v8.4s, v8.4s")
                w("fmul v13.4s, v%d.4s, v2.s[0]" % rD)
                w("fmla v%d.4s, v13.4s, v8.4s" % acc)
                w("tbl v12.16b, {v%d.16b}, v31.16b" % m)
                w("ucvtf v12.4s, v12.4s")
                w("fmul v12.4s, v12.4s, v%d.4s" % (20 + grp))  # dmin·m
                w("fmls v%d.4s, v12.4s, v3.s[0]" % acc)
        if not q6:
            w("add v31.4s, v31.4s, v15.4s")
    for r in range(8):
        g("ADD $%d, R%d, R%d" % (210 if q6 else 144, 8 + r, 8 + r))
    g("SUBS $1, R20, R20")
    g("BNE %s_super" % name)
    raw("")
    g("VST1.P [V16.S4, V17.S4], 32(R7)")
    g("ADD R1<<3, R0, R0")
    g("SUBS $1, R2, R2")
    g("BNE %s_group" % name)
    g("RET")
    raw("")

def kq8rows8x4(name, q6, neon):
    # K-quant prefill, 8 rows × the 4 tokens of a q8Act.pack4 group, bit for bit with
    # kq8rows8 per token: per super-block the rows' scales are unpacked once into the
    # scratch buffer (per block: the 4 scale vectors the decode kernel forms), per block the
    # 8 rows' weights are decoded once into it (8 × 32 bytes), and per token the decode
    # kernel's integer and float steps run on them, in the same order.
    # scratch: 512 bytes of scales (64 a block), then 256 of decoded weights.
    raw("// func %s(w *byte, rowBytes, groups int, xg *byte, nb int, y *float32, ystride int, scratch *byte)" % name)
    raw("TEXT ·%s(SB), NOSPLIT, $0-64" % name)
    g("MOVD w+0(FP), R0"); g("MOVD rowBytes+8(FP), R1"); g("MOVD groups+16(FP), R2")
    g("MOVD xg+24(FP), R3"); g("MOVD nb+32(FP), R4"); g("MOVD y+40(FP), R5")
    g("MOVD ystride+48(FP), R6"); g("MOVD scratch+56(FP), R7")
    g("LSR $3, R4, R4                  // super-blocks")
    g("VMOVI $15, V30.B16")
    if q6:
        g("VMOVI $63, V31.B16")
        g("VMOVI $48, V15.B16")
    else:
        g("MOVD $0x8080800480808000, R21")
        g("VMOV R21, V11.D[0]")
        g("MOVD $0x8080800c80808008, R21")
        g("VMOV R21, V11.D[1]")
    raw("")
    raw("%s_group:" % name)
    g("MOVD R0, R8")
    for r in range(1, 8):
        g("ADD R1, R%d, R%d" % (7 + r, 8 + r))
    g("MOVD R3, R16"); g("MOVD R4, R20")
    for a in range(16, 24):
        g("VEOR V%d.B16, V%d.B16, V%d.B16" % (a, a, a))
    raw("")
    raw("%s_super:" % name)
    if q6:
        for grp in range(2):
            for r in range(4):
                x = 8 + 4 * grp + r
                g("ADD $192, R%d, R21" % x)
                w("ld4 {v4.s, v5.s, v6.s, v7.s}[%d], [x21], #16" % r)
                w("ld1 {v12.h}[%d], [x21]" % (4 * grp + r))
            for i in range(16):  # scale i of the 4 rows, sign-extended, to block i/2's slot
                k, c = i // 4, i % 4
                if c == 3:
                    w("sshr v13.4s, v%d.4s, #24" % (4 + k))
                else:
                    w("shl v13.4s, v%d.4s, #%d" % (4 + k, 24 - 8 * c)); w("sshr v13.4s, v13.4s, #24")
                w("str q13, [x7, #%d]" % (64 * (i // 2) + 16 * (2 * grp + i % 2)))
        w("fcvtl v24.4s, v12.4h"); w("fcvtl2 v25.4s, v12.8h")
    else:
        for grp in range(2):
            for r in range(4):
                w("ld4 {v4.s, v5.s, v6.s, v7.s}[%d], [x%d]" % (r, 8 + 4 * grp + r))
            if grp == 0:
                w("mov v8.16b, v4.16b")
                w("movi v9.16b, #63")
            sc03, sc47, m03, m47 = (26, 27, 28, 29) if grp == 0 else (0, 1, 2, 3)
            w("ushr v10.16b, v5.16b, #6")
            w("and v%d.16b, v7.16b, v30.16b" % sc47)
            w("sli v%d.16b, v10.16b, #4" % sc47)
            w("ushr v10.16b, v6.16b, #6")
            w("ushr v%d.16b, v7.16b, #4" % m47)
            w("sli v%d.16b, v10.16b, #4" % m47)
            w("and v%d.16b, v5.16b, v9.16b" % sc03)
            w("and v%d.16b, v6.16b, v9.16b" % m03)
        w("uzp1 v12.8h, v8.8h, v4.8h"); w("uzp2 v13.8h, v8.8h, v4.8h")
        w("fcvtl v24.4s, v12.4h"); w("fcvtl2 v25.4s, v12.8h")   # d
        w("fcvtl v14.4s, v13.4h"); w("fcvtl2 v15.4s, v13.8h")   # dmin
        w("movi v9.4s, #1")
        w("mov v31.16b, v11.16b")
        for j in range(8):
            if j == 4:
                w("mov v31.16b, v11.16b")
            o = 0 if j < 4 else 1
            w("tbl v4.16b, {v%d.16b}, v31.16b" % (26 + o))
            w("tbl v5.16b, {v%d.16b}, v31.16b" % (0 + o))
            w("tbl v6.16b, {v%d.16b}, v31.16b" % (28 + o))
            w("tbl v7.16b, {v%d.16b}, v31.16b" % (2 + o))
            w("ucvtf v6.4s, v6.4s"); w("ucvtf v7.4s, v7.4s")
            w("fmul v6.4s, v6.4s, v14.4s"); w("fmul v7.4s, v7.4s, v15.4s")   # dmin·m
            w("stp q4, q5, [x7, #%d]" % (64 * j)); w("stp q6, q7, [x7, #%d]" % (64 * j + 32))
            w("add v31.4s, v31.4s, v9.4s")
    for b in range(8):
        raw("\t// block %d: decode the 8 rows' weights into the scratch buffer" % b)
        for r in range(8):
            x = 8 + r
            if q6:
                h, k = b // 4, b % 4
                w("ldp q6, q7, [x%d, #%d]" % (x, 64 * h + 32 * (k & 1)))
                w("ldp q4, q5, [x%d, #%d]" % (x, 128 + 32 * h))
                for v, l in ((4, 6), (5, 7)):
                    if k == 0:
                        w("shl v%d.16b, v%d.16b, #4" % (v, v)); w("bit v%d.16b, v%d.16b, v30.16b" % (v, l)); w("and v%d.16b, v%d.16b, v31.16b" % (v, v))
                    elif k == 1:
                        w("shl v%d.16b, v%d.16b, #2" % (v, v)); w("bit v%d.16b, v%d.16b, v30.16b" % (v, l)); w("and v%d.16b, v%d.16b, v31.16b" % (v, v))
                    elif k == 2:
                        w("and v%d.16b, v%d.16b, v15.16b" % (v, v)); w("sri v%d.16b, v%d.16b, #4" % (v, l))
                    else:
                        w("ushr v%d.16b, v%d.16b, #2" % (v, v)); w("sri v%d.16b, v%d.16b, #4" % (v, l))
            else:
                w("ldp q4, q5, [x%d, #%d]" % (x, 16 + 32 * (b // 2)))
                if b % 2 == 0:
                    w("and v4.16b, v4.16b, v30.16b"); w("and v5.16b, v5.16b, v30.16b")
                else:
                    w("ushr v4.16b, v4.16b, #4"); w("ushr v5.16b, v5.16b, #4")
            w("stp q4, q5, [x7, #%d]" % (512 + 32 * r))
        w("ldp q26, q27, [x7, #%d]" % (64 * b)); w("ldp q28, q29, [x7, #%d]" % (64 * b + 32))
        for t in range(4):
            raw("\t// token %d" % t)
            w("ldp q0, q1, [x16, #%d]" % (32 * t))
            w("ldr s2, [x16, #%d]" % (256 + 32 * t))
            w("ldp q4, q5, [x16, #%d]" % (128 + 32 * t))
            if q6:
                w("addp v4.4s, v4.4s, v5.4s"); w("addp v3.4s, v4.4s, v4.4s")
                w("shl v3.4s, v3.4s, #2")
            else:
                w("add v4.4s, v4.4s, v5.4s"); w("addv s3, v4.4s")
                w("scvtf s3, s3, #3")
                w("fmul s3, s3, s2")
            for grp in range(2):
                acc, rD = 16 + 2 * t + grp, 24 + grp
                for r in range(4):
                    w("ldp q6, q7, [x7, #%d]" % (512 + 32 * (4 * grp + r)))
                    if q6:
                        p0, p1 = 8 + 2 * (r % 2), 9 + 2 * (r % 2)
                        if neon:
                            w("smull v%d.8h, v6.8b, v0.8b" % p0); w("smlal2 v%d.8h, v6.16b, v0.16b" % p0)
                            w("smull v%d.8h, v7.8b, v1.8b" % p1); w("smlal2 v%d.8h, v7.16b, v1.16b" % p1)
                        else:
                            w("movi v%d.4s, #0" % p0); w("movi v%d.4s, #0" % p1)
                            w("sdot v%d.4s, v6.16b, v0.16b" % p0); w("sdot v%d.4s, v7.16b, v1.16b" % p1)
                        if r % 2 == 1:
                            d0, d1 = (12, 13) if r == 1 else (8, 9)
                            if neon:
                                w("addp v8.8h, v8.8h, v10.8h"); w("addp v9.8h, v9.8h, v11.8h")
                                w("saddlp v%d.4s, v8.8h" % d0); w("saddlp v%d.4s, v9.8h" % d1)
                            else:
                                w("addp v%d.4s, v8.4s, v10.4s" % d0); w("addp v%d.4s, v9.4s, v11.4s" % d1)
                        if r == 3:
                            w("addp v12.4s, v12.4s, v8.4s"); w("addp v13.4s, v13.4s, v9.4s")
                    else:
                        p = [8, 9, 9, 10][r]
                        if neon:
                            w("smull v%d.8h, v6.8b, v0.8b" % p); w("smlal2 v%d.8h, v6.16b, v0.16b" % p)
                            w("smlal v%d.8h, v7.8b, v1.8b" % p); w("smlal2 v%d.8h, v7.16b, v1.16b" % p)
                            if r == 1:
                                w("addp v8.8h, v8.8h, v9.8h")
                            if r == 3:
                                w("addp v9.8h, v9.8h, v10.8h"); w("addp v8.8h, v8.8h, v9.8h")
                                w("saddlp v8.4s, v8.8h")
                        else:
                            w("movi v%d.4s, #0" % p)
                            w("sdot v%d.4s, v6.16b, v0.16b" % p); w("sdot v%d.4s, v7.16b, v1.16b" % p)
                            if r == 1:
                                w("addp v8.4s, v8.4s, v9.4s")
                            if r == 3:
                                w("addp v9.4s, v9.4s, v10.4s"); w("addp v8.4s, v8.4s, v9.4s")
                if q6:
                    sc0, sc1 = 26 + 2 * grp, 27 + 2 * grp
                    w("mul v12.4s, v12.4s, v%d.4s" % sc0); w("mla v12.4s, v13.4s, v%d.4s" % sc1)
                    w("mls v12.4s, v%d.4s, v3.s[0]" % sc0); w("mls v12.4s, v%d.4s, v3.s[1]" % sc1)
                    w("scvtf v12.4s, v12.4s")
                    w("fmul v14.4s, v%d.4s, v2.s[0]" % rD)
                    w("fmla v%d.4s, v14.4s, v12.4s" % acc)
                else:
                    w("mul v8.4s, v8.4s, v%d.4s" % (26 + grp))
                    w("scvtf v8.4s, v8.4s")
                    w("fmul v13.4s, v%d.4s, v2.s[0]" % rD)
                    w("fmla v%d.4s, v13.4s, v8.4s" % acc)
                    w("fmls v%d.4s, v%d.4s, v3.s[0]" % (acc, 28 + grp))
        g("ADD $384, R16")
    for r in range(8):
        g("ADD $%d, R%d, R%d" % (210 if q6 else 144, 8 + r, 8 + r))
    g("SUBS $1, R20, R20")
    g("BNE %s_super" % name)
    raw("")
    g("MOVD R5, R21")
    for t in range(4):
        g("VST1 [V%d.S4, V%d.S4], (R21)" % (16 + 2 * t, 17 + 2 * t))
        if t < 3:
            g("ADD R6, R21, R21")
    g("ADD $32, R5, R5")
    g("ADD R1<<3, R0, R0")
    g("SUBS $1, R2, R2")
    g("BNE %s_group" % name)
    g("RET")
    raw("")

raw("// Generated by gen_rows8_arm64.py (python3 gen_rows8_arm64.py > rows8_arm64.s; needs llvm-mc):")
raw("// edit the generator. Each WORD is the instruction in its comment as llvm-mc encodes it")
raw("// (the Go assembler lacks SDOT, lane loads, FCVTL and by-element FMUL).")
raw("")
raw("//go:build !purego")
raw("")
raw('#include "textflag.h"')
raw("")
rows8("q4_0Rows8SDOT", True)
rows8("nibRows8SDOT", False)
rows8x4("nibRows8x4SDOT")
rows8("q4_0Rows8NEON", True, neon=True)
rows8("nibRows8NEON", False, neon=True)
rows8("bnbRows8SDOT", False, bnb=True)
rows8x4("bnbRows8x4SDOT", bnb=True)
rows8("bnbRows8NEON", False, neon=True, bnb=True)
rows8("q8_0Rows8SDOT", False, q8=True)
rows8x4("q8_0Rows8x4SDOT", q8=True)
q8quant("q8QuantNEON")
rows4x4neon("nibRows4x4NEON")
rows4x4neon("q4_0Rows4x4NEON", small=True)
rows4x4neon("bnbRows4x4NEON", bnb=True)
rows8("bnb64Rows8SDOT", False, bnb=True, b64=True)
rows8x4("bnb64Rows8x4SDOT", bnb=True, b64=True)
rows8("bnb64Rows8NEON", False, neon=True, bnb=True, b64=True)
rows4x4neon("bnb64Rows4x4NEON", bnb=True, b64=True)
rows8("q8_0Rows8NEON", False, neon=True, q8=True)
rows4x4neon("q8_0Rows4x4NEON", q8=True)
kq8rows8("q4kRows8NEON", False, True)
kq8rows8("q4kRows8SDOT", False, False)
kq8rows8("q6kRows8NEON", True, True)
kq8rows8("q6kRows8SDOT", True, False)
kq8rows8x4("q4kRows8x4NEON", False, True)
kq8rows8x4("q4kRows8x4SDOT", False, False)
kq8rows8x4("q6kRows8x4NEON", True, True)
kq8rows8x4("q6kRows8x4SDOT", True, False)
encode()
sys.stdout.write("\n".join(out) + "\n")
