#!/usr/bin/env python3
"""Writes a copy of a BEIR data set whose train split is split in two by query: every train query whose
id's MD5 is 0 mod 10 moves to the "dev" split (the held-out tenth no choice is made on), the rest stay
in "train". corpus.jsonl, queries.jsonl (and interactions.jsonl) are symlinked, not copied.

    bench/make-holdout.py ../shared/data/homedepot /tmp/hd-holdout
"""
import hashlib, json, os, sys

src, out = sys.argv[1], sys.argv[2]
os.makedirs(os.path.join(out, "qrels"), exist_ok=True)
for name in ("corpus.jsonl", "queries.jsonl", "interactions.jsonl"):
    target = os.path.join(out, name)
    if os.path.exists(os.path.join(src, name)) and not os.path.lexists(target):
        os.symlink(os.path.abspath(os.path.join(src, name)), target)
manifest = {}
if os.path.exists(os.path.join(src, "dataset.json")):
    manifest = json.load(open(os.path.join(src, "dataset.json")))
elif os.path.basename(os.path.normpath(src)) == "homedepot":
    # The built-in entry of DatasetManifest.Known, which a renamed copy would lose.
    manifest = {"relevance_threshold": 3, "grades": [0, 4], "bm25": {"k1": 0.3, "b": 0.85}}
manifest["description"] = f"held-out tenth of {os.path.abspath(src)}'s train split as dev (MD5(query id) % 10 == 0)"
json.dump(manifest, open(os.path.join(out, "dataset.json"), "w"), indent=1)
lines = open(os.path.join(src, "qrels", "train.tsv")).read().splitlines()
header, rows = lines[0], lines[1:]
held = lambda q: int(hashlib.md5(q.encode()).hexdigest(), 16) % 10 == 0
with open(os.path.join(out, "qrels", "train.tsv"), "w") as train, open(os.path.join(out, "qrels", "dev.tsv"), "w") as dev:
    train.write(header + "\n"); dev.write(header + "\n")
    for row in rows:
        (dev if held(row.split("\t")[0]) else train).write(row + "\n")
print(f"{out}: train and dev (held out) written")
