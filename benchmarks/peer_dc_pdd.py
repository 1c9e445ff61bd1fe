"""Run mimir's own DC-PDD through the peer harness on an llm-mia frequency table (issue 11).

mimir's DC-PDD builds its token frequencies from C4 files it downloads from the Hugging Face
hub, which cannot be reached here; it first looks for them in its cache. This script writes
the counts of an llm-mia table (``llm-mia freq build``) there, as the tensor mimir itself
saves, and then runs the harness's mimir wrapper (``../shared/tools/peers/run_mimir.py``)
with a ``dc_pdd`` group added. No mimir code is copied; its output file goes to
``benchmarks/peer_agreement.py`` with ``DC_PDD_TABLE`` set to the same table.

Usage (the peer harness set up as its README says, llm-mia importable):
    python benchmarks/peer_dc_pdd.py --table T.json --data $LLM_MIA_DATA/wikimia/32.jsonl --out $PEERS_ROOT/out/mimir_dc_pdd.jsonl
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--table", required=True, help="an llm-mia frequency table built with the harness's model (smollm2-135m)")
    ap.add_argument("--harness", default=str(HERE.parent.parent / "shared" / "tools" / "peers"))
    ap.add_argument("--n", default="200")
    ap.add_argument("--data", default=None, help="WikiMIA-32 JSONL (default: the harness's own default path)")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    import torch

    from llm_mia.io import load_table

    sys.path.insert(0, args.harness)
    import peer_common
    import run_mimir

    cache = os.path.join(peer_common.OUT_DIR, "mimir_cache")
    os.environ.setdefault("MIMIR_CACHE_PATH", cache)
    target = Path(cache) / "DC_PDD_freq_dis" / "C4" / f"{run_mimir.MODEL_NAME}.pt"
    target.parent.mkdir(parents=True, exist_ok=True)
    torch.save(torch.tensor(load_table(args.table).counts, dtype=torch.float32), target)
    run_mimir.GROUPS["dc_pdd"] = ["dc_pdd"]
    sys.argv = ["run_mimir.py", "--groups", "dc_pdd", "--n", args.n, "--out", args.out] + (["--data", args.data] if args.data else [])
    run_mimir.main()


if __name__ == "__main__":
    main()
