"""Median onnxruntime f32 inference time (ms) of a model on its input.json; prints one number."""
import json, sys, time
import numpy as np
import onnxruntime as ort

model, input_json, reps = sys.argv[1], sys.argv[2], int(sys.argv[3])
so = ort.SessionOptions()
so.intra_op_num_threads = 2
sess = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
# input.json's input_data holds one flat list per graph input, in the graph's order
data = json.load(open(input_json))["input_data"]
feed = {}
for inp, values in zip(sess.get_inputs(), data):
    shape = [d if isinstance(d, int) else 1 for d in inp.shape]
    dtype = {"tensor(int64)": np.int64, "tensor(int32)": np.int32, "tensor(bool)": np.bool_}.get(inp.type, np.float32)
    feed[inp.name] = np.asarray(values, dtype=dtype).reshape(shape)
sess.run(None, feed)
ts = []
for _ in range(reps):
    t = time.perf_counter()
    sess.run(None, feed)
    ts.append(time.perf_counter() - t)
print(f"{sorted(ts)[len(ts) // 2] * 1e3:.3f}")
