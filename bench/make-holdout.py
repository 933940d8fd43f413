#!/usr/bin/env python3
"""Writes a copy of a BEIR data set whose train split is split in two by query: every train query whose
id's MD5 is 0 mod 10 moves to the "dev" split (the held-out tenth no choice is made on), the rest stay
in "train". corpus.jsonl, queries.jsonl (and interactions.jsonl) are symlinked, not copied.

    bench/make-holdout.py ../shared/data/homedepot /tmp/hd-holdout
"""
import os, sys
from beircopy import md5, start, write_manifest

src, out = sys.argv[1], sys.argv[2]
start(src, out)
write_manifest(src, out, f"held-out tenth of {os.path.abspath(src)}'s train split as dev (MD5(query id) % 10 == 0)")
lines = open(os.path.join(src, "qrels", "train.tsv")).read().splitlines()
header, rows = lines[0], lines[1:]
held = lambda q: md5(q) % 10 == 0
with open(os.path.join(out, "qrels", "train.tsv"), "w") as train, open(os.path.join(out, "qrels", "dev.tsv"), "w") as dev:
    train.write(header + "\n"); dev.write(header + "\n")
    for row in rows:
        (dev if held(row.split("\t")[0]) else train).write(row + "\n")
print(f"{out}: train and dev (held out) written")
