#!/usr/bin/env python3
"""How much NDCG@10 a reranker could take from the split's structure rather than from relevance.

homedepot's corpus is the union of the products judged in train, dev and the held-out test split, so a
product that no train query judged must be judged by some dev or test query. This script adds
w * log(1 + times the train judgments name the item) to a run's z-scored scores and prints NDCG@10 (gain
2^grade - 1, as `gensearch eval`). A negative w pushes up the items train never judged. Measured, not adopted:
it is a leak of the split, not a relevance signal. RESULTS, `## ranking`, "What separates the rerankers".

  prior.py TRAIN_QRELS EVAL_QRELS RUN.trec [W ...]
"""
import collections
import math
import statistics
import sys


def qrels(path):
    judged = collections.defaultdict(dict)
    with open(path) as f:
        next(f)
        for line in f:
            q, c, s = line.split('\t')[:3]
            judged[q][c] = int(s)
    return judged


def trec(path):
    run = collections.defaultdict(list)
    for line in open(path):
        q, _, c, _, score, _ = line.split()
        run[q].append((c, float(score)))
    return run


def ndcg(ranked, judged, k=10):
    dcg = sum((2 ** judged[c] - 1) / math.log2(i + 2) for i, c in enumerate(ranked[:k]) if judged.get(c, 0) > 0)
    ideal = sorted((g for g in judged.values() if g > 0), reverse=True)[:k]
    idcg = sum((2 ** g - 1) / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def main():
    train, judged, run = qrels(sys.argv[1]), qrels(sys.argv[2]), trec(sys.argv[3])
    weights = [float(w) for w in sys.argv[4:]] or [0.0, -0.5, -1.0, -2.0]
    times = collections.Counter(c for items in train.values() for c in items)
    queries = [q for q in judged if any(g >= 3 for g in judged[q].values())]   # homedepot: relevant = grade >= 3
    for w in weights:
        total = 0.0
        for q in queries:
            hits = run.get(q, [])
            if not hits:
                continue
            scores = [s for _, s in hits]
            mean, sd = statistics.mean(scores), statistics.pstdev(scores) or 1.0
            order = sorted(hits, key=lambda h: -((h[1] - mean) / sd + w * math.log1p(times[h[0]])))
            total += ndcg([c for c, _ in order], judged[q])
        print(f"w {w:+.2f}: NDCG@10 {total / len(queries):.4f} over {len(queries)} queries")


if __name__ == '__main__':
    main()
