#!/usr/bin/env python3
"""Writes the data set the rankers are measured on: a copy of a BEIR data set (corpus and queries symlinked)
whose qrels are
  train.tsv      the train queries whose id's MD5 is not 0 mod 10 (what the retrieval models train on),
  heldout.tsv    the other tenth (what the rankers train on: queries the retrieval models never saw),
  heldout-a.tsv  half of that tenth (MD5 % 20 == 0), for a ranker scored on
  heldout-b.tsv  the other half (MD5 % 20 == 10): the held-out figures,
  dev.tsv        the data set's own dev split.
The same tenth as bench/make-holdout.py, so a model trained on its output's train split serves here.

    bench/make-ranking-splits.py ../shared/data/homedepot /tmp/hd-rank
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
manifest["description"] = (f"{os.path.abspath(src)}: train = 9/10 of train (retrieval models), heldout = the other tenth "
                           "(rankers), heldout-a/-b its halves (MD5(id) % 20 == 0 / 10), dev = the data set's dev")
json.dump(manifest, open(os.path.join(out, "dataset.json"), "w"), indent=1)
md5 = lambda q: int(hashlib.md5(q.encode()).hexdigest(), 16)
lines = open(os.path.join(src, "qrels", "train.tsv")).read().splitlines()
header, rows = lines[0], lines[1:]
files = {n: open(os.path.join(out, "qrels", n + ".tsv"), "w") for n in ("train", "heldout", "heldout-a", "heldout-b")}
for f in files.values():
    f.write(header + "\n")
for row in rows:
    q = md5(row.split("\t")[0])
    if q % 10 != 0:
        files["train"].write(row + "\n")
    else:
        files["heldout"].write(row + "\n")
        files["heldout-a" if q % 20 == 0 else "heldout-b"].write(row + "\n")
dev = os.path.join(src, "qrels", "dev.tsv")
if os.path.exists(dev):
    open(os.path.join(out, "qrels", "dev.tsv"), "w").write(open(dev).read())
