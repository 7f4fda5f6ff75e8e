#!/usr/bin/python3
"""Baseline ANN indexes for omnirank's index benchmark (ranker/index.RunBench).

Reads the vectors RunBench exported (raw little-endian float32 base and
query matrices, int32 exact top-10 ground truth), builds hnswlib and faiss
HNSW indexes with the same M and efConstruction, finds the smallest ef in
the sweep that reaches the target recall@10, measures single-thread queries
per second at that ef, and prints one JSON object per index on stdout with
the fields of BenchResult. A missing module gives a row with a "note".

Run it with Debian's /usr/bin/python3 (python3-hnswlib, python3-faiss).
"""
import argparse
import json
import os
import sys
import tempfile
import time


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def recall_at_10(labels, gt):
    import numpy as np
    found = 0
    for row, want in zip(labels, gt):
        found += len(set(int(x) for x in row[:10]) & set(int(x) for x in want if x >= 0))
    total = int((gt >= 0).sum())
    return found / max(total, 1)


def sweep(name, search, set_ef, queries, gt, efs, target, min_time):
    chosen, rec = efs[-1], 0.0
    for ef in efs:
        set_ef(ef)
        rec = recall_at_10(search(queries), gt)
        log(f"{name}: ef={ef} recall@10={rec:.4f}")
        if rec >= target:
            chosen = ef
            break
    set_ef(chosen)
    # Queries per second of this thread's CPU time (robust on a shared
    # machine), and per wall second.
    n, c0, t0 = 0, time.thread_time(), time.perf_counter()
    while n == 0 or time.thread_time() - c0 < min_time:
        search(queries)
        n += len(queries)
    return chosen, rec, n / (time.thread_time() - c0), n / (time.perf_counter() - t0)


def run_hnswlib(a, base, queries, gt):
    import hnswlib
    import numpy as np
    index = hnswlib.Index(space="ip", dim=a.dim)
    index.init_index(max_elements=a.n, ef_construction=a.ef_construction, M=a.m, random_seed=1)
    index.set_num_threads(a.threads)
    t0 = time.perf_counter()
    index.add_items(base, np.arange(a.n))
    build = time.perf_counter() - t0
    log(f"hnswlib: built in {build:.1f}s")
    index.set_num_threads(1)

    def search(q):
        labels, _ = index.knn_query(q, k=10, num_threads=1)
        return labels

    ef, rec, qps, wall = sweep("hnswlib", search, index.set_ef, queries, gt, a.ef_sweep, a.target, a.min_query_time)
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "hnswlib.bin")
        index.save_index(p)
        size = os.path.getsize(p)
    return dict(index="hnswlib", ef=ef, recall_at_10=rec, qps_one_core=qps, qps_wall=wall, build_s=build,
                bytes_per_vector=size / a.n, note="bytes_per_vector from the saved index file")


def run_faiss(a, base, queries, gt):
    import faiss
    index = faiss.IndexHNSWFlat(a.dim, a.m, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = a.ef_construction
    faiss.omp_set_num_threads(a.threads)
    t0 = time.perf_counter()
    index.add(base)
    build = time.perf_counter() - t0
    log(f"faiss: built in {build:.1f}s")
    faiss.omp_set_num_threads(1)

    def set_ef(ef):
        index.hnsw.efSearch = ef

    def search(q):
        _, labels = index.search(q, 10)
        return labels

    ef, rec, qps, wall = sweep("faiss", search, set_ef, queries, gt, a.ef_sweep, a.target, a.min_query_time)
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "faiss.index")
        faiss.write_index(index, p)
        size = os.path.getsize(p)
    return dict(index="faiss-hnsw", ef=ef, recall_at_10=rec, qps_one_core=qps, qps_wall=wall, build_s=build,
                bytes_per_vector=size / a.n, note="bytes_per_vector from the saved index file")


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--dir", required=True)
    p.add_argument("--n", type=int, required=True)
    p.add_argument("--dim", type=int, required=True)
    p.add_argument("--queries", type=int, required=True)
    p.add_argument("--m", type=int, default=16)
    p.add_argument("--ef-construction", type=int, default=200)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--target", type=float, default=0.95)
    p.add_argument("--ef-sweep", default="10,16,24,32,48,64,80,100,128,150,200,256,300,400,512,800")
    p.add_argument("--min-query-time", type=float, default=1.0)
    p.add_argument("--dataset", default="")
    p.add_argument("--only", default="hnswlib,faiss")
    a = p.parse_args()
    a.ef_sweep = [int(x) for x in a.ef_sweep.split(",") if x]

    common = dict(dataset=a.dataset, n=a.n, dim=a.dim)

    def label(name):
        return "faiss-hnsw" if name == "faiss" else name

    try:
        import numpy as np
    except ImportError as e:
        for name in a.only.split(","):
            print(json.dumps(dict(index=label(name), note=f"skipped: numpy missing ({e})", **common)))
        return
    base = np.fromfile(os.path.join(a.dir, "base.f32"), dtype="<f4").reshape(a.n, a.dim)
    queries = np.fromfile(os.path.join(a.dir, "queries.f32"), dtype="<f4").reshape(a.queries, a.dim)
    gt = np.fromfile(os.path.join(a.dir, "gt.i32"), dtype="<i4").reshape(a.queries, 10)

    runners = {"hnswlib": run_hnswlib, "faiss": run_faiss}
    for name in a.only.split(","):
        try:
            __import__(name)
        except ImportError as e:
            print(json.dumps(dict(index=label(name), note=f"skipped: python module {name} not installed ({e})", **common)), flush=True)
            continue
        row = runners[name](a, base, queries, gt)
        row.update(common)
        log(f"{label(name)}: {json.dumps(row)}")
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
