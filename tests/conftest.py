"""Shared fixtures: tiny GPT-2-style models built from a config (nothing downloaded)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

WORDS = (
    "river stone light house garden winter summer paper window mountain quiet green silver "
    "morning evening song forest bridge letter road cloud story market city ocean field "
    "horse candle mirror school friend storm harbor village orchard lantern valley"
).split()


def random_sentences(n: int, seed: int, length: tuple[int, int] = (8, 14)) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        words = [rng.choice(WORDS) for _ in range(rng.randint(*length))]
        out.append(" ".join(words).capitalize() + ".")
    return out


def build_tokenizer(corpus: list[str], *, bos: bool):
    """A byte-level BPE tokenizer trained on ``corpus``; with ``bos`` it prepends <s>."""
    from tokenizers import ByteLevelBPETokenizer
    from tokenizers.processors import TemplateProcessing
    from transformers import PreTrainedTokenizerFast

    tok = ByteLevelBPETokenizer()
    tok.train_from_iterator(corpus, vocab_size=400, min_frequency=1, special_tokens=["<s>", "</s>", "<pad>"])
    if bos:
        tok.post_processor = TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 0)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>")


def build_model_dir(path: Path, *, bos: bool, seed: int = 0, n_layer: int = 2, n_embd: int = 32) -> Path:
    """Save a randomly initialised tiny GPT-2 and its tokenizer as a model folder."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    tokenizer = build_tokenizer(random_sentences(200, seed=99) + ["Hello, world! 123 ÄÖÜ ß é"], bos=bos)
    torch.manual_seed(seed)
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=256,
        n_embd=n_embd,
        n_layer=n_layer,
        n_head=2,
        bos_token_id=0,
        eos_token_id=1,
        pad_token_id=2,
    )
    model = GPT2LMHeadModel(config)
    with torch.no_grad():  # larger logits than the default init, so distributions are not near uniform
        model.lm_head.weight.mul_(20.0)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def package_with_detector(tmp_path: Path, module: str, source: str) -> Path:
    """A copy of the llm_mia package under ``tmp_path`` with one more file,
    ``detectors/<module>.py`` holding ``source`` (dedented): what a contributor adds."""
    import shutil
    import textwrap

    import llm_mia

    pkg = tmp_path / "llm_mia"
    shutil.copytree(Path(llm_mia.__file__).parent, pkg, ignore=shutil.ignore_patterns("__pycache__"))
    (pkg / "detectors" / f"{module}.py").write_text(textwrap.dedent(source))
    return tmp_path


def build_epub(path: Path, bodies: list[str], order: list[int] | None = None) -> Path:
    """Write an EPUB whose chapters hold the (X)HTML ``bodies``, read in ``order`` (the spine)."""
    from ebooklib import epub

    book = epub.EpubBook()
    book.set_identifier("x")
    book.set_title("A Test")
    chapters = []
    for i, body in enumerate(bodies):
        c = epub.EpubHtml(title=f"c{i}", file_name=f"c{i}.xhtml", content=f"<html><body>{body}</body></html>")
        book.add_item(c)
        chapters.append(c)
    book.spine = [chapters[i] for i in (order if order is not None else range(len(chapters)))]
    book.add_item(epub.EpubNav())
    epub.write_epub(str(path), book)
    return path


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    return build_model_dir(tmp_path_factory.mktemp("tiny_gpt2"), bos=False)


@pytest.fixture(scope="session")
def tiny_bos_model_dir(tmp_path_factory) -> Path:
    return build_model_dir(tmp_path_factory.mktemp("tiny_gpt2_bos"), bos=True, seed=1)


@pytest.fixture(scope="session")
def tiny_lm(tiny_model_dir):
    from llm_mia import load_model

    return load_model(str(tiny_model_dir), device="cpu")


@pytest.fixture(scope="session")
def tiny_bos_lm(tiny_bos_model_dir):
    from llm_mia import load_model

    return load_model(str(tiny_bos_model_dir), device="cpu")


def train_on(lm, texts: list[str], steps: int = 150, lr: float = 3e-3, seed: int = 0) -> None:
    """Fit ``lm``'s model in place on ``texts`` (full batch), so that they become members."""
    import torch

    torch.manual_seed(seed)
    model, tok = lm.model, lm.tokenizer
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    batch = tok(texts, return_tensors="pt", padding=True)
    labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
    for _ in range(steps):
        loss = model(**batch, labels=labels).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()


@pytest.fixture(scope="session")
def tiny_trained(tiny_model_dir):
    """(model fitted on 20 'member' sentences, the members, 40 held-out sentences never seen)."""
    from llm_mia import load_model

    lm = load_model(str(tiny_model_dir), device="cpu")
    members = random_sentences(20, seed=300)
    train_on(lm, members)
    return lm, members, random_sentences(40, seed=400)
