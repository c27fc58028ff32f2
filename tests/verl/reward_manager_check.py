"""Run inside the verl venv (verl from PyPI): score an `ontask export verl` folder's rows with
verl's own reward manager, as verl's trainer builds it from the exported config.

    python reward_manager_check.py EXPORT_DIR TOKENIZER_DIR ANSWERS_JSON

ANSWERS_JSON maps row id -> the sampled answer text. Prints {"id": score, ...} and the
rm_scores tensor's row sums as JSON on the last line.
"""

import json
import sys

import numpy as np
import pyarrow.parquet as pq
import torch
from hydra import compose, initialize_config_dir
from transformers import AutoTokenizer
from verl import DataProto
from verl.trainer.ppo.reward import load_reward_manager


def main(export: str, tokenizer_dir: str, answers_path: str) -> None:
    with initialize_config_dir(config_dir=f"{export}/config", version_base=None):
        cfg = compose(config_name="ontask_grpo")  # verl's ppo_trainer with the export's settings
    rows = pq.read_table(cfg.data.train_files).to_pylist() + pq.read_table(cfg.data.val_files).to_pylist()
    answers = json.loads(open(answers_path).read())
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    manager = load_reward_manager(cfg, tokenizer)

    encoded = [tokenizer(answers[r["extra_info"]["id"]], add_special_tokens=False)["input_ids"] for r in rows]
    width = max(len(e) for e in encoded) + 2
    responses = torch.full((len(rows), width), tokenizer.pad_token_id or 0, dtype=torch.long)
    mask = torch.zeros((len(rows), 2 + width), dtype=torch.long)
    mask[:, :2] = 1  # a two-token prompt: the reward manager reads only the responses
    for i, ids in enumerate(encoded):
        responses[i, : len(ids)] = torch.tensor(ids)
        mask[i, 2 : 2 + len(ids)] = 1
    batch = DataProto.from_dict(
        tensors={
            "prompts": torch.ones((len(rows), 2), dtype=torch.long),
            "responses": responses,
            "attention_mask": mask,
        },
        non_tensors={
            "data_source": np.array([r["data_source"] for r in rows], dtype=object),
            "reward_model": np.array([r["reward_model"] for r in rows], dtype=object),
            "extra_info": np.array([r["extra_info"] for r in rows], dtype=object),
        },
    )

    async def score_all():
        return [await manager.run_single(batch[i : i + 1]) for i in range(len(batch))]

    results = manager.loop.run_until_complete(score_all())  # the loop the manager was made on
    scores = [float(r["reward_score"]) for r in results]
    rm = manager.assemble_rm_scores(batch, scores)
    print(
        json.dumps(
            {
                "scores": {r["extra_info"]["id"]: s for r, s in zip(rows, scores)},
                "rm_scores_sum": rm.sum(dim=1).tolist(),
                "manager": type(manager).__name__,
            }
        )
    )


if __name__ == "__main__":
    main(*sys.argv[1:4])
