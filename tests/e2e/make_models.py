#!/usr/bin/env python3
"""Generate the e2e test's tiny random-weight Llama checkpoints (runs inside the vLLM image).

  make_models.py OUT_DIR

For each repository and each of its commits it writes a complete Hugging Face model folder
OUT_DIR/<org>/<name>/<label>/ as `save_pretrained` makes it: config.json,
generation_config.json, model.safetensors (bf16), tokenizer.json, tokenizer_config.json.
tests/e2e/mock_hub.py publishes these folders as Hub repositories (and adds decoys).

Sizes are the smallest vLLM's CPU backend serves: hidden 64, 2 layers, 2 heads (head size
32; CPU attention needs 32..512). The tokenizer is a byte-level BPE trained here, offline,
on a fixed text. Everything is seeded, single-threaded and written without timestamps, so
two runs (with the same image) produce the same bytes -- and so the same commit shas.
"""

import hashlib
import json
import os
import sys

os.environ.setdefault("RAYON_NUM_THREADS", "1")  # tokenizer training: no thread races on ties
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers  # noqa: E402
from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast  # noqa: E402

VOCAB = 384
CORPUS = [
    "The shared model cache is filled once by the prefetch job and read by every server.",
    "A fleet of language model servers answers completions from one cache.",
    "Hello world. The quick brown fox jumps over the lazy dog.",
    "aimgen renders a compose file, a dockerfile and env files from a fleet spec.",
    "vLLM and SGLang load weights offline from the Hugging Face cache by revision.",
] * 8

# repo id -> commits in order (label, seed, note). The first commit is where `main` starts;
# the test moves `main` to the last one after `aimgen lock` pinned the first.
REPOS = {
    "tiny-org/tiny-model": [("v1", 1234, "first upload"), ("v2", 5678, "retrained")],
    "tiny-org/other-model": [("v1", 4321, "first upload")],
}


def tokenizer():
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB,
        special_tokens=["<unk>", "<s>", "</s>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(CORPUS, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>", model_max_length=256
    )


def model(seed, tok):
    torch.manual_seed(seed)
    cfg = LlamaConfig(
        vocab_size=VOCAB,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=256,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        tie_word_embeddings=False,
    )
    m = LlamaForCausalLM(cfg).to(torch.bfloat16)
    m.generation_config = GenerationConfig(bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id)
    return m


def main():
    out = sys.argv[1]
    torch.set_num_threads(1)
    tok = tokenizer()
    for repo, commits in REPOS.items():
        for label, seed, note in commits:
            d = os.path.join(out, repo, label)
            os.makedirs(d, exist_ok=True)
            model(seed, tok).save_pretrained(d)
            tok.save_pretrained(d)
            with open(os.path.join(d, "README.md"), "w") as f:
                f.write(f"# {repo}\n\nA tiny random-weight Llama for aimgen's e2e test ({note}, seed {seed}).\n")
        with open(os.path.join(out, repo, "commits.json"), "w") as f:
            json.dump([c[0] for c in commits], f)
    for root, _, files in sorted(os.walk(out)):
        for n in sorted(files):
            p = os.path.join(root, n)
            with open(p, "rb") as f:
                h = hashlib.sha256(f.read()).hexdigest()[:12]
            print(f"make_models: {os.path.relpath(p, out)} {os.path.getsize(p)} bytes sha256:{h}")


if __name__ == "__main__":
    main()
