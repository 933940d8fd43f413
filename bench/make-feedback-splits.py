#!/usr/bin/env python3
"""Writes two copies of a BEIR data set for SPO on new traffic: OUT/A, whose train split is the train
queries with MD5(id) % 10 not in {0, 1} (the generator's), and OUT/B, whose train split is the tenth with
MD5(id) % 10 == 1 (queries the generator never saw, whose judgments are SPO's feedback). Both keep the
held-out tenth (MD5 % 10 == 0) as "dev", as bench/make-holdout.py does, so the two models are scored on
queries neither saw. corpus.jsonl and queries.jsonl are symlinked.

    bench/make-feedback-splits.py ../shared/data/homedepot /tmp/spo      # then --data /tmp/spo/A and /tmp/spo/B
"""
import os, sys
from beircopy import md5, start, write_manifest

src, out = sys.argv[1], sys.argv[2]
lines = open(os.path.join(src, "qrels", "train.tsv")).read().splitlines()
header, rows = lines[0], lines[1:]
bucket = lambda row: md5(row.split("\t")[0]) % 10
parts = {
    "A": ("the generator's queries: train with MD5(query id) % 10 not 0 or 1", lambda b: b not in (0, 1)),
    "B": ("new traffic: train with MD5(query id) % 10 == 1, SPO's feedback", lambda b: b == 1),
}
for name, (what, keep) in parts.items():
    dir = os.path.join(out, name)
    start(src, dir)
    write_manifest(src, dir, f"{what}, of {os.path.abspath(src)}; dev = its held-out tenth (MD5 % 10 == 0)")
    with open(os.path.join(dir, "qrels", "train.tsv"), "w") as train, open(os.path.join(dir, "qrels", "dev.tsv"), "w") as dev:
        train.write(header + "\n"); dev.write(header + "\n")
        for row in rows:
            b = bucket(row)
            if b == 0: dev.write(row + "\n")
            elif keep(b): train.write(row + "\n")
print(f"{out}/A and {out}/B written")
