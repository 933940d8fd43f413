#!/usr/bin/python3
"""Writes stems.tsv: words of the homedepot corpus and queries (a-z only) with their stems from
Xapian's Snowball English stemmer, the reference GenSearch's EnglishStemmer is tested against."""
import json, re, xapian
words = set()
for name in ("corpus.jsonl", "queries.jsonl"):
    for line in open(f"/work/shared/data/homedepot/{name}", encoding="utf-8"):
        d = json.loads(line)
        words.update(re.findall(r"[a-z]+", (d.get("title", "") + " " + d.get("text", "")).lower()))
words |= {"consign", "consigned", "consigning", "consignment", "generously", "knightly", "cries", "ties",
          "gaps", "gas", "kiwis", "hopping", "hoping", "filing", "falling", "generate", "communism", "arsenal",
          "succeeded", "proceeding", "skies", "dying", "news", "herrings", "innings", "agreed", "luxuriating",
          "happy", "say", "cry", "by", "controlling", "exceedingly", "feed", "bleed", "ringing", "hoped"}
stem = xapian.Stem("english")
chosen = sorted(words)
chosen = [w for i, w in enumerate(chosen) if i % 3 == 0 or len(w) > 9 or w.endswith(("ing", "ed", "ly", "ies"))]
with open("stems.tsv", "w", encoding="ascii", newline="\n") as out:
    for w in chosen:
        out.write(f"{w}\t{stem(w).decode()}\n")
print(len(chosen))
