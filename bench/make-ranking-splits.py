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
import os, sys
from beircopy import md5, start, write_manifest

src, out = sys.argv[1], sys.argv[2]
start(src, out)
write_manifest(src, out, f"{os.path.abspath(src)}: train = 9/10 of train (retrieval models), heldout = the other tenth "
               "(rankers), heldout-a/-b its halves (MD5(id) % 20 == 0 / 10), dev = the data set's dev")
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
