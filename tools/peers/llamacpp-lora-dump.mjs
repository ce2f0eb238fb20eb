// llamacpp-lora-dump.mjs — like llamacpp-dump.mjs, with LoRA adapters applied through
// llama.cpp's own loader (node-llama-cpp createContext({lora})): run a GGUF base with
// GGUF LoRA files from given prompt token ids, decode greedily, print one JSON object
//   {"release": "...", "tokens": [...], "top": [[[id, logit], ...], ...]}.
//
// usage: node llamacpp-lora-dump.mjs MODEL.gguf THREADS N_GEN TOPK ID[,ID...] LORA.gguf:SCALE[,LORA.gguf:SCALE...]
import {getLlama} from "node-llama-cpp";

const [modelPath, threadsArg, nGenArg, topKArg, idsArg, loraArg] = process.argv.slice(2);
if (!loraArg) {
    console.error("usage: node llamacpp-lora-dump.mjs MODEL.gguf THREADS N_GEN TOPK ID[,ID...] LORA.gguf:SCALE[,...]");
    process.exit(2);
}
const threads = Number(threadsArg), nGen = Number(nGenArg), topK = Number(topKArg);
const prompt = idsArg.split(",").map(Number);
const adapters = loraArg.split(",").map((s) => {
    const i = s.lastIndexOf(":");
    return {filePath: s.slice(0, i), scale: Number(s.slice(i + 1))};
});

const llama = await getLlama({gpu: false, build: "never", maxThreads: threads, logLevel: "error", progressLogs: false});
const model = await llama.loadModel({modelPath, gpuLayers: 0, useMmap: true});
const context = await model.createContext({
    contextSize: Math.max(256, prompt.length + nGen + 8), batchSize: 512, sequences: 1,
    threads: {ideal: threads, min: threads},
    lora: {adapters},
});
const seq = context.getSequence();
const step = (tok) => [tok, {generateNext: {token: true, options: {temperature: 0}, logits: {filter: {tokens: [], includeTop: topK}}}}];
const topOf = (r) => [...r.next.logits.entries()].slice(0, topK).map(([t, l]) => [t, l]);

let res = await seq.controlledEvaluate([...prompt.slice(0, -1), step(prompt.at(-1))]);
let last = res.at(-1);
const tokens = [last.next.token];
const top = [topOf(last)];
while (tokens.length < nGen) {
    res = await seq.controlledEvaluate([step(tokens.at(-1))]);
    last = res.at(-1);
    tokens.push(last.next.token);
    top.push(topOf(last));
}
console.log(JSON.stringify({release: llama.llamaCppRelease.release, tokens, top}));
await context.dispose();
await model.dispose();
await llama.dispose();
