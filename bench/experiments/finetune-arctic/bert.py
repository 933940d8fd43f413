# Minimal BERT (arctic-embed-xs) in PyTorch with weights read from the ONNX file (fetch.sh), and its WordPiece tokenizer.
import os, torch, torch.nn as nn, torch.nn.functional as F, unicodedata
ONNX = os.path.join(os.environ.get('ARCTIC_DIR', '/tmp/arc'), 'model.onnx')
VOCAB = os.path.join(os.environ.get('ARCTIC_DIR', '/tmp/arc'), 'vocab.txt')

class Tok:
    def __init__(s):
        s.vocab = {w.rstrip('\n'): i for i, w in enumerate(open(VOCAB, encoding='utf-8'))}
        s.cls, s.sep, s.unk = s.vocab["[CLS]"], s.vocab["[SEP]"], s.vocab["[UNK]"]
        s.cache = {}
    def basic(s, text):
        text = unicodedata.normalize('NFD', text.lower())
        text = ''.join(c for c in text if unicodedata.category(c) != 'Mn')
        out, cur = [], []
        for c in text:
            if c.isspace():
                if cur: out.append(''.join(cur)); cur = []
            elif (33 <= ord(c) <= 47 or 58 <= ord(c) <= 64 or 91 <= ord(c) <= 96 or 123 <= ord(c) <= 126 or unicodedata.category(c).startswith('P')):
                if cur: out.append(''.join(cur)); cur = []
                out.append(c)
            else: cur.append(c)
        if cur: out.append(''.join(cur))
        return out
    def wp(s, w):
        if w in s.cache: return s.cache[w]
        if len(w) > 100: return [s.unk]
        ids, i = [], 0
        while i < len(w):
            j = len(w); hit = None
            while j > i:
                sub = w[i:j] if i == 0 else '##' + w[i:j]
                if sub in s.vocab: hit = s.vocab[sub]; break
                j -= 1
            if hit is None: ids = [s.unk]; break
            ids.append(hit); i = j
        s.cache[w] = ids; return ids
    def encode(s, text, maxlen=48):
        ids = [t for w in s.basic(text) for t in s.wp(w)][:maxlen - 2]
        return [s.cls] + ids + [s.sep]

def batch(tok, texts, maxlen=48):
    enc = [tok.encode(t, maxlen) for t in texts]
    L = max(len(e) for e in enc)
    ids = torch.zeros(len(enc), L, dtype=torch.long); mask = torch.zeros(len(enc), L)
    for i, e in enumerate(enc): ids[i, :len(e)] = torch.tensor(e); mask[i, :len(e)] = 1
    return ids, mask

class Layer(nn.Module):
    def __init__(s, h=384, f=1536, heads=12):
        super().__init__(); s.heads = heads
        s.q, s.k, s.v, s.o = (nn.Linear(h, h) for _ in range(4))
        s.ln1 = nn.LayerNorm(h, eps=1e-12); s.i = nn.Linear(h, f); s.out = nn.Linear(f, h); s.ln2 = nn.LayerNorm(h, eps=1e-12)
    def forward(s, x, bias):
        B, L, H = x.shape; d = H // s.heads
        sp = lambda t: t.view(B, L, s.heads, d).transpose(1, 2)
        a = torch.softmax(sp(s.q(x)) @ sp(s.k(x)).transpose(-1, -2) / d ** 0.5 + bias, -1) @ sp(s.v(x))
        x = s.ln1(x + s.o(a.transpose(1, 2).reshape(B, L, H)))
        return s.ln2(x + s.out(F.gelu(s.i(x))))

class Bert(nn.Module):
    def __init__(s):
        super().__init__()
        s.word = nn.Embedding(30522, 384); s.pos = nn.Embedding(512, 384); s.tt = nn.Embedding(2, 384)
        s.ln = nn.LayerNorm(384, eps=1e-12); s.layers = nn.ModuleList(Layer() for _ in range(6))
    def forward(s, ids, mask):
        L = ids.shape[1]
        x = s.ln(s.word(ids) + s.pos(torch.arange(L))[None] + s.tt.weight[0])
        bias = (1 - mask)[:, None, None, :] * -1e4
        for l in s.layers: x = l(x, bias)
        return F.normalize(x[:, 0], dim=-1)   # CLS pooling, unit length (arctic-embed)

def load():
    import onnx
    from onnx import numpy_helper
    m = onnx.load(ONNX)
    w = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy()) for t in m.graph.initializer}
    # MatMul weights in graph order: q, k, v, attention out, intermediate, output per layer
    mm = [n.input[1] for n in m.graph.node if n.op_type == 'MatMul' and n.input[1] in w]
    b = Bert()
    with torch.no_grad():
        b.word.weight.copy_(w['embeddings.word_embeddings.weight']); b.pos.weight.copy_(w['embeddings.position_embeddings.weight'])
        b.tt.weight.copy_(w['embeddings.token_type_embeddings.weight'])
        b.ln.weight.copy_(w['embeddings.LayerNorm.weight']); b.ln.bias.copy_(w['embeddings.LayerNorm.bias'])
        for i, l in enumerate(b.layers):
            p = f'encoder.layer.{i}.'
            for lin, name, k in ((l.q, 'attention.self.query', 0), (l.k, 'attention.self.key', 1), (l.v, 'attention.self.value', 2),
                                 (l.o, 'attention.output.dense', 3), (l.i, 'intermediate.dense', 4), (l.out, 'output.dense', 5)):
                lin.weight.copy_(w[mm[6 * i + k]].T); lin.bias.copy_(w[p + name + '.bias'])
            l.ln1.weight.copy_(w[p + 'attention.output.LayerNorm.weight']); l.ln1.bias.copy_(w[p + 'attention.output.LayerNorm.bias'])
            l.ln2.weight.copy_(w[p + 'output.LayerNorm.weight']); l.ln2.bias.copy_(w[p + 'output.LayerNorm.bias'])
    return b
