#!/usr/bin/env python3
"""Holds a tenth of a BEIR catalog out of training entirely, for the "new items without retraining" test:
items whose id's MD5 is 0 mod 10 leave corpus.jsonl and go to held-out-items.jsonl; the train split loses
every judgment of them (so no judged or indexing pair reaches them); dev keeps all its judgments.

    bench/make-cold-items.py ../shared/data/homedepot /tmp/hd-cold
    ./gensearch train --data /tmp/hd-cold --model unified --out runs/unified-cold
    ./gensearch eval --data /tmp/hd-cold --split dev --model runs/unified-cold --add-items /tmp/hd-cold/held-out-items.jsonl
"""
import json, os, sys
from beircopy import md5, start, write_manifest

src, out = sys.argv[1], sys.argv[2]
start(src, out, links=("queries.jsonl",))
held = lambda i: md5(i) % 10 == 0
out_ids = set()
with open(os.path.join(src, "corpus.jsonl")) as corpus, open(os.path.join(out, "corpus.jsonl"), "w") as kept, \
        open(os.path.join(out, "held-out-items.jsonl"), "w") as cold:
    for line in corpus:
        if not line.strip():
            continue
        item = json.loads(line)["_id"]
        if held(item):
            out_ids.add(item); cold.write(line)
        else:
            kept.write(line)
write_manifest(src, out, f"{os.path.abspath(src)} with a tenth of its items (MD5(id) % 10 == 0) held out of the corpus and of train judgments")
for split in os.listdir(os.path.join(src, "qrels")):
    lines = open(os.path.join(src, "qrels", split)).read().splitlines()
    with open(os.path.join(out, "qrels", split), "w") as f:
        f.write(lines[0] + "\n")
        for row in lines[1:]:
            if split.startswith("train") and row.split("\t")[1] in out_ids:
                continue
            f.write(row + "\n")
print(f"{out}: {len(out_ids)} items held out (held-out-items.jsonl)")
