"""What the bench/make-*.py scripts share: a copy of a BEIR data set whose big files are symlinked, its
dataset.json carried over with a new description, and the MD5 bucket of an id that splits it."""
import hashlib, json, os


def md5(key):
    """The id's MD5 as an integer: `md5(id) % 10 == 0` is the held-out tenth in every script."""
    return int(hashlib.md5(key.encode()).hexdigest(), 16)


def start(src, out, links=("corpus.jsonl", "queries.jsonl", "interactions.jsonl")):
    """Makes out/qrels and symlinks the named files of src that exist (and are not there yet)."""
    os.makedirs(os.path.join(out, "qrels"), exist_ok=True)
    for name in links:
        target = os.path.join(out, name)
        if os.path.exists(os.path.join(src, name)) and not os.path.lexists(target):
            os.symlink(os.path.abspath(os.path.join(src, name)), target)


def write_manifest(src, out, description):
    """out/dataset.json: src's manifest (or homedepot's built-in one) with `description`."""
    manifest = {}
    if os.path.exists(os.path.join(src, "dataset.json")):
        manifest = json.load(open(os.path.join(src, "dataset.json")))
    elif os.path.basename(os.path.normpath(src)) == "homedepot":
        # The built-in entry of DatasetManifest.Known, which a renamed copy would lose.
        manifest = {"relevance_threshold": 3, "grades": [0, 4], "bm25": {"k1": 0.3, "b": 0.85}}
    manifest["description"] = description
    json.dump(manifest, open(os.path.join(out, "dataset.json"), "w"), indent=1)
