#!/usr/bin/env python3
"""onnxruntime reference timings for the yolo-detect benchmark (benches/detect.rs calls this).

usage: ort_reference.py MODEL.onnx INPUT.f32 H W [RUNS | --serve]

INPUT.f32 is the 1x3xHxW float32 input (little-endian, raw) that tract ran on. Sessions use
the CPU provider, full graph optimisation, sequential execution, 1 or 2 intra-op threads.

One-shot (default): prints one JSON line with the median inference ms of RUNS runs for 1 and
2 threads, and the output sum (to check the input matches).
--serve: prints {"ready": version} once warmed up, then for each stdin line "THREADS N" runs N
timed inferences and prints them as a JSON list of ms; so the benchmark can interleave tract
and onnxruntime blocks and both see the same machine load.
Needs `pip install onnxruntime numpy`.
"""
import json
import sys
import time

import numpy as np
import onnxruntime as ort


def make_session(model, threads):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])


def timed(session, feed, runs):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        session.run(None, feed)
        times.append((time.perf_counter() - start) * 1000.0)
    return times


def main():
    model, path, h, w = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    mode = sys.argv[5] if len(sys.argv) > 5 else "30"
    x = np.fromfile(path, dtype="<f4").reshape(1, 3, h, w)
    sessions = {t: make_session(model, t) for t in (1, 2)}
    feeds = {t: {s.get_inputs()[0].name: x} for t, s in sessions.items()}
    for t, s in sessions.items():
        timed(s, feeds[t], 5)
    if mode == "--serve":
        print(json.dumps({"ready": ort.__version__}), flush=True)
        for line in sys.stdin:
            parts = line.split()
            if len(parts) != 2:
                break
            t, n = int(parts[0]), int(parts[1])
            print(json.dumps(timed(sessions[t], feeds[t], n)), flush=True)
        return
    runs = int(mode)
    result = {"onnxruntime": ort.__version__}
    for t, s in sessions.items():
        result[f"threads_{t}_ms"] = round(float(np.median(timed(s, feeds[t], runs))), 3)
        result["output_sum"] = float(np.sum(s.run(None, feeds[t])[0], dtype=np.float64))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
