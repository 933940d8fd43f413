#!/usr/bin/env python3
# A cross-encoder reranker: arctic-embed-xs (../finetune-arctic/bert.py) reading "[CLS] query [SEP] title [SEP]"
# with a linear head on [CLS], fine-tuned listwise on the train split's judged items plus BM25's unjudged ones
# (softmax cross-entropy against gains 2^grade - 1), then scoring every candidate of the given TREC runs.
# RESULTS.md, "## ranking", has the command and the figures.
import os, sys, json, time, random, collections, argparse, torch, torch.nn as nn, torch.nn.functional as F
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'finetune-arctic')); from bert import Tok, load
ap = argparse.ArgumentParser()
ap.add_argument('--data', default='../shared/data/homedepot', help='the full data set (corpus, queries)')
ap.add_argument('--train', default='/tmp/hd-holdout/qrels/train.tsv', help='judgments to train on')
ap.add_argument('--negatives', default='/tmp/ce/bm25-train.trec', help='a run over the training queries; its unjudged top items are negatives')
ap.add_argument('--score', nargs='*', default=[], help='IN.trec:OUT.trec pairs: every candidate of IN scored, OUT ordered by the score')
ap.add_argument('--epochs', type=float, default=1); ap.add_argument('--group', type=int, default=8); ap.add_argument('--judged', type=int, default=4)
ap.add_argument('--queries-per-step', type=int, default=8); ap.add_argument('--lr', type=float, default=3e-5)
ap.add_argument('--neg-depth', type=int, default=50); ap.add_argument('--threads', type=int, default=2)
ap.add_argument('--save', default=None, help='save the fine-tuned weights here (torch state dict)'); ap.add_argument('--load', default=None)
ap.add_argument('--limit', type=int, default=0, help='score only the first N queries of each run (timing)')
a = ap.parse_args(); torch.set_num_threads(a.threads); torch.manual_seed(0); random.seed(0)
corpus = {}
for l in open(a.data + '/corpus.jsonl'):
    c = json.loads(l); corpus[c['_id']] = c['title']
qtext = {}
for l in open(a.data + '/queries.jsonl'):
    q = json.loads(l); qtext[q['_id']] = q['text']
tok = Tok()

class Cross(nn.Module):
    def __init__(s):
        super().__init__(); s.bert = load(); s.head = nn.Linear(384, 1)
    def forward(s, ids, types, mask):
        b = s.bert; L = ids.shape[1]
        x = b.ln(b.word(ids) + b.pos(torch.arange(L))[None] + b.tt(types))
        bias = (1 - mask)[:, None, None, :] * -1e4
        for layer in b.layers: x = layer(x, bias)
        return s.head(x[:, 0]).squeeze(-1)

def pairs(qs, ds):
    enc = []
    for q, d in zip(qs, ds):
        qi = [t for w in tok.basic(qtext[q]) for t in tok.wp(w)][:16]
        di = [t for w in tok.basic(corpus[d]) for t in tok.wp(w)][:48]
        enc.append(([tok.cls] + qi + [tok.sep] + di + [tok.sep], len(qi) + 2))
    L = max(len(e) for e, _ in enc)
    ids = torch.zeros(len(enc), L, dtype=torch.long); types = torch.zeros_like(ids); mask = torch.zeros(len(enc), L)
    for i, (e, n) in enumerate(enc): ids[i, :len(e)] = torch.tensor(e); types[i, n:len(e)] = 1; mask[i, :len(e)] = 1
    return ids, types, mask

def read_run(f):
    r = collections.defaultdict(list)
    for l in open(f):
        q, _, d, rank, s, _ = l.split(); r[q].append((d, float(s)))
    return r

model = Cross()
if a.load: model.load_state_dict(torch.load(a.load))
if a.epochs > 0 and not a.load:
    judged = collections.defaultdict(dict)
    for l in list(open(a.train))[1:]:
        q, d, g = l.rstrip('\n').split('\t'); judged[q][d] = int(g)
    neg = read_run(a.negatives)
    qs = [q for q, d in judged.items() if max(d.values()) > 0]
    steps = int(len(qs) * a.epochs / a.queries_per_step); print(f'{len(qs)} queries, {steps} steps', flush=True)
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1, (s + 1) / (0.1 * steps)) * max(0.0, (steps - s) / steps))
    t0 = time.time(); step = 0; run_loss = 0
    while step < steps:
        random.shuffle(qs)
        for s in range(0, len(qs) - a.queries_per_step + 1, a.queries_per_step):
            if step >= steps: break
            bq, bd, gains = [], [], []
            for q in qs[s:s + a.queries_per_step]:
                j = list(judged[q].items()); random.shuffle(j); j.sort(key=lambda x: -x[1]); j = j[:1] + random.sample(j[1:], min(len(j) - 1, a.judged - 1))
                pool = [d for d, _ in neg.get(q, [])[:a.neg_depth] if d not in judged[q] and d in corpus]
                n = random.sample(pool, min(len(pool), a.group - len(j)))
                items = [(d, g) for d, g in j if d in corpus] + [(d, 0) for d in n]
                items += [items[-1]] * (a.group - len(items))    # pad a short group with a repeat (its gain counted twice)
                bq += [q] * a.group; bd += [d for d, _ in items]; gains.append([2.0 ** g - 1 for _, g in items])
            model.train(); ids, types, mask = pairs(bq, bd)
            logits = model(ids, types, mask).view(-1, a.group)
            target = torch.tensor(gains); target = target / target.sum(1, keepdim=True)
            loss = -(target * F.log_softmax(logits, 1)).sum(1).mean()
            opt.zero_grad(); loss.backward(); torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0); opt.step(); sched.step(); step += 1
            run_loss = 0.98 * run_loss + 0.02 * loss.item() if step > 1 else loss.item()
            if step % 25 == 0: print(f'step {step}/{steps} loss {run_loss:.3f} {time.time() - t0:.0f}s', flush=True)
    print(f'trained in {time.time() - t0:.0f}s', flush=True)
    if a.save: torch.save(model.state_dict(), a.save)
model.eval()
for spec in a.score:
    src, dst = spec.split(':'); run = read_run(src); t0 = time.time()
    qs = sorted(run)[:a.limit] if a.limit else sorted(run)
    with open(dst, 'w') as w, torch.no_grad():
        for q in qs:
            ds = [d for d, _ in run[q] if d in corpus]
            sc = torch.cat([model(*pairs([q] * len(ds[i:i + 100]), ds[i:i + 100])) for i in range(0, len(ds), 100)])
            for r, i in enumerate(sorted(range(len(ds)), key=lambda i: -sc[i].item())):
                w.write(f'{q} Q0 {ds[i]} {r + 1} {sc[i].item():.6f} cross\n')
    print(f'{src}: {len(qs)} queries scored in {time.time() - t0:.0f}s', flush=True)
