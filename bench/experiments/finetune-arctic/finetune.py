#!/usr/bin/env python3
# Fine-tunes arctic-embed-xs (bert.py) on (query, title) pairs judged >= --min-grade, in-batch InfoNCE both ways
# (other positives of the same query masked), AdamW with warm-up and linear decay; then writes the top-100 TREC
# runs of the held-out tenth (hold.trec) and of dev (dev.trec) by cosine, and the vectors, under --out.
# --epochs 0: zero-shot. RESULTS.md, "## unified", has the command and the figures.
import os, sys, json, time, random, collections, torch, torch.nn.functional as F, numpy as np, argparse
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__))); from bert import Tok, load, batch
ap = argparse.ArgumentParser()
ap.add_argument('--train', default='/tmp/hd-holdout', help='BEIR dir whose train split is trained on and whose dev split is the held-out tenth (bench/make-holdout.py)'); ap.add_argument('--data', default='../shared/data/homedepot', help='the full data set, for its dev split'); ap.add_argument('--epochs', type=float, default=0)
ap.add_argument('--lr', type=float, default=3e-5); ap.add_argument('--bs', type=int, default=96)
ap.add_argument('--tau', type=float, default=0.05); ap.add_argument('--min-grade', type=int, default=3)
ap.add_argument('--out', default='/tmp/arc/zs'); ap.add_argument('--threads', type=int, default=2)
ap.add_argument('--prefix', default='Represent this sentence for searching relevant passages: ')
a = ap.parse_args(); torch.set_num_threads(a.threads); torch.manual_seed(0); random.seed(0)
H = a.data
corpus = [json.loads(l) for l in open(H + '/corpus.jsonl')]
dids = [c['_id'] for c in corpus]; titles = [c['title'] for c in corpus]; didx = {d: i for i, d in enumerate(dids)}
qtext = {json.loads(l)['_id']: json.loads(l)['text'] for l in open(H + '/queries.jsonl')}
def qrels(f):
    d = collections.defaultdict(dict)
    for l in list(open(f))[1:]:
        q, c, g = l.rstrip('\n').split('\t'); d[q][c] = int(g)
    return d
tok = Tok(); model = load()
def encode(texts, bs=256):
    model.eval(); out = torch.zeros(len(texts), 384)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    with torch.no_grad():
        for s in range(0, len(order), bs):
            idx = order[s:s + bs]; ids, m = batch(tok, [texts[i] for i in idx]); out[idx] = model(ids, m)
    return out
if a.epochs > 0:
    tr = qrels(a.train + '/qrels/train.tsv')
    pairs = [(q, didx[c]) for q, d in tr.items() for c, g in d.items() if g >= a.min_grade]
    pos = {q: set(didx[c] for c, g in d.items() if g >= a.min_grade) for q, d in tr.items()}
    steps = int(len(pairs) * a.epochs / a.bs); print(f'{len(pairs)} pairs, {steps} steps', flush=True)
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1, (s + 1) / (0.1 * steps)) * max(0.0, (steps - s) / steps))
    t0 = time.time(); step = 0
    while step < steps:
        random.shuffle(pairs)
        for s in range(0, len(pairs) - a.bs + 1, a.bs):
            if step >= steps: break
            b = pairs[s:s + a.bs]; model.train()
            qi, qm = batch(tok, [a.prefix + qtext[q] for q, _ in b]); di, dm = batch(tok, [titles[d] for _, d in b])
            qv = model(qi, qm); dv = model(di, dm)
            logits = qv @ dv.T / a.tau
            mask = torch.tensor([[j != i and b[j][1] in pos[b[i][0]] for j in range(len(b))] for i in range(len(b))])
            logits = logits.masked_fill(mask, -1e4)
            lab = torch.arange(len(b))
            loss = (F.cross_entropy(logits, lab) + F.cross_entropy(logits.T.masked_fill(mask.T, -1e4), lab)) / 2
            opt.zero_grad(); loss.backward(); torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0); opt.step(); sched.step(); step += 1
            if step % 20 == 0: print(f'step {step}/{steps} loss {loss.item():.3f} {time.time() - t0:.0f}s', flush=True)
    print(f'trained in {time.time() - t0:.0f}s', flush=True)
t0 = time.time(); D = encode(titles); print(f'corpus encoded {time.time() - t0:.0f}s', flush=True)
os.makedirs(a.out, exist_ok=True); np.save(a.out + '/d.npy', D.numpy())
for name, f in (('hold', a.train + '/qrels/dev.tsv'), ('dev', H + '/qrels/dev.tsv')):
    qs = sorted(qrels(f)); Q = encode([a.prefix + qtext[q] for q in qs]); np.save(f'{a.out}/{name}-q.npy', Q.numpy())
    S = Q @ D.T; top = S.topk(100, dim=1)
    with open(f'{a.out}/{name}.trec', 'w') as w:
        for i, q in enumerate(qs):
            for r in range(100): w.write(f'{q} Q0 {dids[top.indices[i, r]]} {r + 1} {top.values[i, r]:.6f} arctic\n')
print('done', flush=True)
