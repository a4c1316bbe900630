"""Median onnxruntime f32 inference time (ms) of a model on its input.json; prints one number."""
import json, sys, time
import numpy as np
import onnxruntime as ort

model, input_json, reps = sys.argv[1], sys.argv[2], int(sys.argv[3])
so = ort.SessionOptions()
so.intra_op_num_threads = 2
sess = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
inp = sess.get_inputs()[0]
shape = [d if isinstance(d, int) else 1 for d in inp.shape]
x = np.asarray(json.load(open(input_json))["input_data"][0], dtype=np.float32).reshape(shape)
sess.run(None, {inp.name: x})
ts = []
for _ in range(reps):
    t = time.perf_counter()
    sess.run(None, {inp.name: x})
    ts.append(time.perf_counter() - t)
print(f"{sorted(ts)[len(ts) // 2] * 1e3:.3f}")
