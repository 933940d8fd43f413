#!/usr/bin/env python3
"""Writes homedepot-sample/: a small, deterministic slice of the homedepot BEIR data set for the fuzz
tests. The first dev queries (in qrels order) until their judged products reach 200; those products;
their qrels rows; then dev queries without judgments here up to 100 queries in all. interactions.jsonl
and run.trec are synthetic (the data set has neither): one click event per relevant judgment plus a
search without a click per query, and a run of up to 10 results per judged query mixing its judged
products with others of the sample. Usage: make-sample.py /path/to/homedepot
"""
import json, os, random, sys

src = sys.argv[1]
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "homedepot-sample")
rows = [l.rstrip("\n").split("\t") for l in open(os.path.join(src, "qrels", "dev.tsv"), encoding="utf-8")][1:]
by_query = {}
for q, d, g in rows:
    by_query.setdefault(q, []).append((d, int(g)))
judged_queries, docs = [], []
for q, judged in by_query.items():
    new = [d for d, _ in judged if d not in docs]
    if len(docs) + len(new) > 200:
        break
    judged_queries.append(q)
    docs.extend(new)
doc_set = set(docs)
queries = {}
for line in open(os.path.join(src, "queries.jsonl"), encoding="utf-8"):
    rec = json.loads(line)
    queries[rec["_id"]] = rec["text"]
extra = [q for q in by_query if q not in judged_queries][: 100 - len(judged_queries)]
query_ids = judged_queries + extra

# The data set's terms allow use for testing this project but not redistribution, so the sample keeps
# its structure (ids, judgments, word counts, numbers, units, punctuation and markup such as &amp;)
# and replaces every run of letters by a made-up word: the same run always by the same word, so
# queries still share words with the titles they judged.
import hashlib, re
SYLLABLES = ["ka", "lo", "mi", "ne", "ru", "ta", "vo", "ze", "pa", "si", "du", "ge", "bo", "fi", "ha", "ju"]
def made_up(match):
    h = hashlib.sha1(match.group(0).lower().encode("utf-8")).digest()
    word = "".join(SYLLABLES[b % len(SYLLABLES)] for b in h[: 1 + h[-1] % 3])
    return word.capitalize() if match.group(0)[0].isupper() else word
def synthetic(text):
    return re.sub(r"[A-Za-z]+", made_up, text)
queries = {q: synthetic(t) for q, t in queries.items()}

corpus = {}
for line in open(os.path.join(src, "corpus.jsonl"), encoding="utf-8"):
    rec = json.loads(line)
    if rec["_id"] in doc_set:
        rec["title"], rec["text"] = synthetic(rec["title"]), synthetic(rec["text"])
        corpus[rec["_id"]] = json.dumps(rec, ensure_ascii=False)

os.makedirs(os.path.join(out, "qrels"), exist_ok=True)
with open(os.path.join(out, "corpus.jsonl"), "w", encoding="utf-8", newline="\n") as f:
    for d in docs:
        f.write(corpus[d] + "\n")
with open(os.path.join(out, "queries.jsonl"), "w", encoding="utf-8", newline="\n") as f:
    for q in query_ids:
        f.write(json.dumps({"_id": q, "text": queries[q]}, ensure_ascii=False) + "\n")
with open(os.path.join(out, "qrels", "dev.tsv"), "w", encoding="utf-8", newline="\n") as f:
    f.write("query-id\tcorpus-id\tscore\n")
    for q in judged_queries:
        for d, g in by_query[q]:
            f.write(f"{q}\t{d}\t{g}\n")
with open(os.path.join(out, "dataset.json"), "w", encoding="utf-8", newline="\n") as f:
    f.write('{"relevance_threshold": 3, "grades": [0, 4], "description": "homedepot-shaped synthetic sample for the fuzz tests"}\n')
rng = random.Random(7)
with open(os.path.join(out, "interactions.jsonl"), "w", encoding="utf-8", newline="\n") as f:
    ts = 1700000000
    for i, q in enumerate(judged_queries):
        user = f"u{i % 17}"
        f.write(json.dumps({"user": user, "query": queries[q], "item": None, "ts": ts}) + "\n")
        ts += 7
        for d, g in by_query[q]:
            if g >= 3:
                f.write(json.dumps({"user": user, "query": queries[q], "item": d, "ts": ts, "signals": {"click": 1, "dwell_s": round(rng.uniform(1, 60), 1)}}) + "\n")
                ts += 13
with open(os.path.join(out, "run.trec"), "w", encoding="utf-8", newline="\n") as f:
    for q in judged_queries:
        pool = [d for d, _ in by_query[q]] + rng.sample(docs, 6)
        ranked = list(dict.fromkeys(rng.sample(pool, len(pool))))[:10]
        for rank, d in enumerate(ranked, 1):
            f.write(f"{q} Q0 {d} {rank} {round(10 - rank * 0.75 + rng.random() * 0.1, 4)} sample\n")
print(f"{len(docs)} products, {len(query_ids)} queries ({len(judged_queries)} judged)")
