#!/usr/bin/python3
"""Reference point for the dense benchmark: faiss IndexFlatIP and IndexHNSWFlat (inner product),
run by Debian's python on the vectors the C# side wrote.
usage: dense_faiss.py VECTORS_F32 DIM COUNT QUERIES K THREADS M EF_CONSTRUCTION EF_SEARCH
VECTORS_F32 holds COUNT item rows then QUERIES query rows, raw little-endian float32, DIM wide.
Prints 'name: value' lines: exact search seconds for the batch (median of 3, k=K, THREADS threads),
HNSW build seconds on 1 and on THREADS threads, HNSW batch search seconds (k=10, median of 5; on THREADS threads and on 1) and
recall@10 of HNSW against faiss's own exact search."""
import statistics, sys, time
import numpy as np
import faiss

path = sys.argv[1]
dim, count, nq, k, threads, m, ef_c, ef_s = map(int, sys.argv[2:10])
data = np.fromfile(path, dtype="<f4").reshape(-1, dim)
items, queries = np.ascontiguousarray(data[:count]), np.ascontiguousarray(data[count:count + nq])
faiss.omp_set_num_threads(threads)

def median_seconds(fn, runs):
    fn()  # warm-up
    times = []
    for _ in range(runs):
        t = time.perf_counter(); fn(); times.append(time.perf_counter() - t)
    return statistics.median(times)

flat = faiss.IndexFlatIP(dim)
flat.add(items)
print(f"faiss_flat_search_s: {median_seconds(lambda: flat.search(queries, k), 3)}")
_, truth = flat.search(queries, 10)

def build(n_threads):
    faiss.omp_set_num_threads(n_threads)
    index = faiss.IndexHNSWFlat(dim, m, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = ef_c
    t = time.perf_counter(); index.add(items); elapsed = time.perf_counter() - t
    faiss.omp_set_num_threads(threads)
    return index, elapsed

_, build_1 = build(1)
print(f"faiss_hnsw_build_s_1thread: {build_1}")
hnsw, build_n = build(threads)
print(f"faiss_hnsw_build_s: {build_n}")
hnsw.hnsw.efSearch = ef_s
print(f"faiss_hnsw_search_s: {median_seconds(lambda: hnsw.search(queries, 10), 5)}")
faiss.omp_set_num_threads(1)
print(f"faiss_hnsw_search_s_1thread: {median_seconds(lambda: hnsw.search(queries, 10), 3)}")
faiss.omp_set_num_threads(threads)
_, found = hnsw.search(queries, 10)
recall = np.mean([len(set(found[i]) & set(truth[i])) / 10 for i in range(nq)])
print(f"faiss_hnsw_recall10: {recall}")
