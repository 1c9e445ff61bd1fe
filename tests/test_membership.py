"""A tiny model trained on member strings: the detectors must tell members from held-out strings."""

from __future__ import annotations

import numpy as np
import torch
from conftest import random_sentences

from llm_mia import auroc, load_model, score_documents


def test_trained_model_separates_members(tiny_model_dir):
    lm = load_model(str(tiny_model_dir), device="cpu")
    members = random_sentences(12, seed=100)
    held_out = random_sentences(12, seed=200)
    torch.manual_seed(0)
    model, tok = lm.model, lm.tokenizer
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    batch = tok(members, return_tensors="pt", padding=True)
    labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
    for _ in range(150):
        loss = model(**batch, labels=labels).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    records = score_documents(members + held_out, model=lm, detectors=["loss", "min_k", "min_k_pp"], use_cache=False)
    y = np.r_[np.ones(len(members)), np.zeros(len(held_out))].astype(int)
    for name in ("loss", "min_k", "min_k_pp"):
        s = np.array([r.scores[name] for r in records])
        assert auroc(y, s) >= 0.9, name
