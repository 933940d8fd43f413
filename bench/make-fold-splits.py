#!/usr/bin/env python3
"""Writes the 2-fold cross-fitting copies of a BEIR data set that cross-fitted rankers use
(`"fold_models"`, README "Ranking and reranking"): OUT/cf, whose qrels hold fold0.tsv and fold1.tsv (the
train queries by MD5("fold:" + key) % 2) beside the source's other splits, and each other split cut the
same way (e.g. heldout-fold0.tsv: scored by f0's model, it is clean even when the split's queries were
train queries of the source data set), and OUT/f0 and OUT/f1, whose
train split is the *other* fold, to train the model that serves that fold's lists (f0 never sees fold0).

The key is the query id; with --source-query, the part after the id's last '-', so the generated user
log (ids USER-QUERYID) folds by the homedepot query its target came from and the homedepot fold models
(trained on OUT/f0 and OUT/f1 of homedepot) stay unseen by their fold's lists:

    bench/make-fold-splits.py ../shared/data/homedepot /tmp/hd-folds                  # then towers on /tmp/hd-folds/f0, /tmp/hd-folds/f1
    bench/make-fold-splits.py /tmp/userlog /tmp/ul-folds --source-query                # lists in /tmp/ul-folds/cf, served by the same towers
"""
import os, sys
from beircopy import md5, start, write_manifest

args = [a for a in sys.argv[1:] if not a.startswith("--")]
flags = [a for a in sys.argv[1:] if a.startswith("--")]
unknown = [f for f in flags if f != "--source-query"]
if unknown or len(args) != 2:
    sys.exit(f"usage: make-fold-splits.py SRC OUT [--source-query]" + (f" (unknown: {' '.join(unknown)})" if unknown else ""))
by_source = "--source-query" in flags
src, out = args[0], args[1]
key = (lambda q: q.rsplit("-", 1)[-1]) if by_source else (lambda q: q)
fold = lambda row: md5("fold:" + key(row.split("\t")[0])) % 2
lines = open(os.path.join(src, "qrels", "train.tsv")).read().splitlines()
header, rows = lines[0], lines[1:]
what = f"MD5(\"fold:\" + {'source query id' if by_source else 'query id'}) % 2 of {os.path.abspath(src)}'s train split"

cf = os.path.join(out, "cf")
start(src, cf)
write_manifest(src, cf, f"2-fold cross-fitting: fold0.tsv and fold1.tsv are {what}")
for name in os.listdir(os.path.join(src, "qrels")):
    link = os.path.join(cf, "qrels", name)
    if name == "train.tsv" or not name.endswith(".tsv"): continue
    if not os.path.lexists(link): os.symlink(os.path.abspath(os.path.join(src, "qrels", name)), link)
    # Each other split by fold too (SPLIT-fold0.tsv ...): scored with the fold model that never saw its queries.
    other = open(os.path.join(src, "qrels", name)).read().splitlines()
    for f in (0, 1):
        with open(os.path.join(cf, "qrels", f"{name[:-4]}-fold{f}.tsv"), "w") as part:
            part.write(other[0] + "\n")
            part.writelines(row + "\n" for row in other[1:] if fold(row) == f)
for f in (0, 1):
    with open(os.path.join(cf, "qrels", f"fold{f}.tsv"), "w") as part:
        part.write(header + "\n")
        part.writelines(row + "\n" for row in rows if fold(row) == f)
    model_data = os.path.join(out, f"f{f}")
    start(src, model_data)
    write_manifest(src, model_data, f"train = fold{1 - f} ({what}): the model serving fold{f}'s lists never sees them")
    with open(os.path.join(model_data, "qrels", "train.tsv"), "w") as train:
        train.write(header + "\n")
        train.writelines(row + "\n" for row in rows if fold(row) != f)
print(f"{cf} (fold0.tsv, fold1.tsv), {out}/f0 and {out}/f1 (train = the other fold) written")
