#!/usr/bin/python3
"""Reference point for the bm25 benchmark: Xapian's BM25 on a BEIR directory, run by Debian's python.
usage: xapian_bm25.py DATA_DIR SPLIT RUN_OUT
Indexes titles and texts in memory (English stemming, STEM_SOME), searches the split's judged queries
(OR of terms, top 100) and writes a TREC run. Prints 'name: seconds' lines: index build (median of 3)
and search time of one pass (one thread)."""
import json, statistics, sys, time
import xapian

data, split, run_out = sys.argv[1], sys.argv[2], sys.argv[3]
docs = [json.loads(l) for l in open(f"{data}/corpus.jsonl", encoding="utf-8")]
queries = {q["_id"]: q["text"] for q in map(json.loads, open(f"{data}/queries.jsonl", encoding="utf-8"))}
rows = [l.split("\t")[0] for l in open(f"{data}/qrels/{split}.tsv", encoding="utf-8")][1:]
qids = [q for q in dict.fromkeys(rows) if q in queries]
stemmer = xapian.Stem("english")

def build():
    db = xapian.WritableDatabase("", xapian.DB_BACKEND_INMEMORY)
    tg = xapian.TermGenerator()
    tg.set_stemmer(stemmer)
    tg.set_stemming_strategy(xapian.TermGenerator.STEM_SOME)
    for d in docs:
        doc = xapian.Document()
        tg.set_document(doc)
        tg.index_text(d.get("title", ""))
        tg.increase_termpos()
        tg.index_text(d.get("text", ""))
        doc.set_data(d["_id"])
        db.add_document(doc)
    return db

times = []
for _ in range(3):
    t = time.perf_counter(); db = build(); times.append(time.perf_counter() - t)
print(f"xapian_index_build_s: {statistics.median(times)}")

enquire = xapian.Enquire(db)
enquire.set_weighting_scheme(xapian.BM25Weight())
qp = xapian.QueryParser()
qp.set_stemmer(stemmer)
qp.set_stemming_strategy(xapian.QueryParser.STEM_SOME)
qp.set_default_op(xapian.Query.OP_OR)
t = time.perf_counter()
lines = []
for qid in qids:
    enquire.set_query(qp.parse_query(queries[qid]))
    for rank, m in enumerate(enquire.get_mset(0, 100), 1):
        lines.append(f"{qid} Q0 {m.document.get_data().decode()} {rank} {m.weight:.6f} xapian\n")
elapsed = time.perf_counter() - t
print(f"xapian_search_s: {elapsed}")
print(f"xapian_queries: {len(qids)}")
open(run_out, "w", encoding="utf-8").writelines(lines)
