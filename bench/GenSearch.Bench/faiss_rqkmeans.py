"""RQ-KMeans with faiss, the reference point for bench `quant`: the same algorithm as GenSearch's
ResidualKMeans (per level: k-means on a sample of at most 256 points per centroid, 25 iterations;
greedy encoding by exact nearest centroid). Usage: faiss_rqkmeans.py VECTORS.npy LEVELS CODES SEED.
Prints `name: value` lines."""
import sys, time
import numpy as np
import faiss

path, levels, codes, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
x = np.load(path)
n, d = x.shape
faiss.omp_set_num_threads(2)

t0 = time.perf_counter()
rng = np.random.default_rng(seed)
sample = x[np.sort(rng.choice(n, size=min(n, codes * 256), replace=False))].copy()
centroids = []
for level in range(levels):
    km = faiss.Kmeans(d, codes, niter=25, seed=seed + level, max_points_per_centroid=256)
    km.train(sample)
    centroids.append(km.centroids.copy())
    _, a = km.index.search(sample, 1)
    sample -= km.centroids[a[:, 0]]
train_s = time.perf_counter() - t0

def encode(v):
    r = v.copy()
    out = np.empty((len(v), levels), dtype=np.int64)
    for level, c in enumerate(centroids):
        index = faiss.IndexFlatL2(d)
        index.add(c)
        _, a = index.search(r, 1)
        out[:, level] = a[:, 0]
        r -= c[a[:, 0]]
    return out, r

encode(x[:10000])  # warm-up
t1, c1 = time.perf_counter(), time.process_time()
codes_out, residual = encode(x)
encode_s, encode_cpu = time.perf_counter() - t1, time.process_time() - c1
err = float((residual.astype(np.float64) ** 2).sum() / (x.astype(np.float64) ** 2).sum())
print(f"faiss_rqkmeans_train_s: {train_s:.3f}")
print(f"faiss_rqkmeans_total_s: {train_s + encode_s:.3f}")
print(f"faiss_rq_encode_items_per_s: {n / encode_s:.1f}")
print(f"faiss_rq_encode_items_per_cpu_s: {n / encode_cpu:.1f}")
print(f"faiss_rq_relative_error: {err:.6f}")
