#!/usr/bin/env python3
"""Writes two copies of a BEIR data set for SPO on new traffic: OUT/A, whose train split is the train
queries with MD5(id) % 10 not in {0, 1} (the generator's), and OUT/B, whose train split is the tenth with
MD5(id) % 10 == 1 (queries the generator never saw, whose judgments are SPO's feedback). Both keep the
held-out tenth (MD5 % 10 == 0) as "dev", as bench/make-holdout.py does, so the two models are scored on
queries neither saw. corpus.jsonl and queries.jsonl are symlinked.

    bench/make-feedback-splits.py ../shared/data/homedepot /tmp/spo      # then --data /tmp/spo/A and /tmp/spo/B

--feedback-tenths K (default 1) gives SPO K tenths of the traffic (MD5 % 10 in 1..K) and the generator
the rest but the held-out tenth (MD5 % 10 > K):

    bench/make-feedback-splits.py ../shared/data/homedepot /tmp/spo4 --feedback-tenths 4
"""
import os, sys
from beircopy import md5, start, write_manifest

args = sys.argv[1:]
tenths = 1
if "--feedback-tenths" in args:
    i = args.index("--feedback-tenths")
    tenths = int(args[i + 1])
    del args[i:i + 2]
if len(args) != 2 or not 1 <= tenths <= 8:
    sys.exit("usage: make-feedback-splits.py SRC OUT [--feedback-tenths K, 1..8]")
src, out = args
lines = open(os.path.join(src, "qrels", "train.tsv")).read().splitlines()
header, rows = lines[0], lines[1:]
bucket = lambda row: md5(row.split("\t")[0]) % 10
parts = {
    "A": (f"the generator's queries: train with MD5(query id) % 10 > {tenths}", lambda b: b > tenths),
    "B": (f"new traffic: train with MD5(query id) % 10 in 1..{tenths}, SPO's feedback", lambda b: 1 <= b <= tenths),
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
