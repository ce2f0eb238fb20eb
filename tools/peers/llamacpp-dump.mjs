// llamacpp-dump.mjs — run a GGUF through llama.cpp (node-llama-cpp's prebuilt CPU
// libraries) from given prompt token ids, decode greedily, and print one JSON object:
//   {"release": "...", "tokens": [...generated ids...],
//    "top": [[[id, logit], ...top-K at the last prompt position], [...after gen token 1], ...],
//    "prompt_tokens_per_s": N, "decode_tokens_per_s": N}
// so edgerun's tests compare token ids and logits without going through llama.cpp's
// tokenizer.
//
// usage: node llamacpp-dump.mjs MODEL.gguf THREADS N_GEN TOPK ID[,ID...]
// Run it with NODE_PATH pointing at a node_modules that has node-llama-cpp
// (see ../../Makefile target peers).
import {getLlama} from "node-llama-cpp";

const [modelPath, threadsArg, nGenArg, topKArg, idsArg] = process.argv.slice(2);
if (!idsArg) {
    console.error("usage: node llamacpp-dump.mjs MODEL.gguf THREADS N_GEN TOPK ID[,ID...]");
    process.exit(2);
}
const threads = Number(threadsArg), nGen = Number(nGenArg), topK = Number(topKArg);
const prompt = idsArg.split(",").map(Number);

const llama = await getLlama({gpu: false, build: "never", maxThreads: threads, logLevel: "error", progressLogs: false});
const model = await llama.loadModel({modelPath, gpuLayers: 0, useMmap: true});
const context = await model.createContext({
    contextSize: Math.max(256, prompt.length + nGen + 8), batchSize: 512, sequences: 1,
    threads: {ideal: threads, min: threads}
});
const seq = context.getSequence();
const step = (tok) => [tok, {generateNext: {token: true, options: {temperature: 0}, logits: {filter: {tokens: [], includeTop: topK}}}}];
const topOf = (r) => [...r.next.logits.entries()].slice(0, topK).map(([t, l]) => [t, l]);

let t0 = performance.now();
let res = await seq.controlledEvaluate([...prompt.slice(0, -1), step(prompt.at(-1))]);
const ppMs = performance.now() - t0;
let last = res.at(-1);
const tokens = [last.next.token];
const top = [topOf(last)];
t0 = performance.now();
while (tokens.length < nGen) {
    res = await seq.controlledEvaluate([step(tokens.at(-1))]);
    last = res.at(-1);
    tokens.push(last.next.token);
    top.push(topOf(last));
}
const tgMs = performance.now() - t0;
console.log(JSON.stringify({
    release: llama.llamaCppRelease.release,
    tokens, top,
    prompt_tokens_per_s: prompt.length / ppMs * 1000,
    decode_tokens_per_s: (tokens.length - 1) / tgMs * 1000,
}));
await context.dispose();
await model.dispose();
await llama.dispose();
