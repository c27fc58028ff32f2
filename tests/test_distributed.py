"""Data-parallel training under torchrun with the environment a PyTorchJob sets (gloo on CPU):
two processes end with the weights one process reaches with the same global batch, and only
rank 0 writes a checkpoint. The two processes are launched as a worker with two GPUs is
(`torchrun --module ontask.cli ...`, nprocPerNode 2): torchrun takes its layout from the PET_
variables the training operator sets, not from flags."""

import os
import subprocess
import sys

import torch
from safetensors.torch import load_file

from ontask.data import generate, write_version
from ontask.operator.local import free_port
from ontask.store import LocalStore
from tests.conftest import REPO

CONFIG = (
    "apiVersion: ontask.dev/v1alpha1\nkind: TaskClassifier\nmetadata: {name: ddp}\nspec:\n"
    "  data: {source: synthetic, trainBatchSize: 4, maxResponseLength: 4}\n"
    "  judge: {enabled: false}\n"
    "  training: {epochs: 1, groupSize: 2, learningRate: 0.001, evalEvery: 1000,\n"
    "             rewardWeights: {binary: 0.8, judge: 0.0, verifier: 0.2}, syncSteps: 1}\n"
)


def _train(tmp_path, name, launcher, env=None):
    store_dir = tmp_path / name
    write_version(LocalStore(store_dir), "screens", list(generate(10, seed=6)), "ontask/synthetic", {})
    cmd = [
        *launcher,
        "-m",
        "ontask.cli",
        "train",
        "--config",
        str(tmp_path / "tc.yaml"),
        "--store",
        str(store_dir),
        "--classifier",
        "ddp",
        "--dataset",
        "screens",
        "--base-model",
        str(tmp_path / "base"),
        "--warm-start-steps",
        "3",
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO), "GLOO_SOCKET_IFNAME": "lo", "OMP_NUM_THREADS": "1", **(env or {})}
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=900, env=env)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-4000:]
    return store_dir / "classifiers" / "ddp" / "models"


def test_two_processes_match_one_with_the_same_global_batch(tmp_path, tiny_vlm):
    tiny_vlm(2, copy_to=tmp_path / "base")
    (tmp_path / "tc.yaml").write_text(CONFIG)
    single = _train(tmp_path, "single", [sys.executable])
    # The training operator's environment for one pod of a job with nprocPerNode "2".
    operator_env = {
        "PET_NPROC_PER_NODE": "2",
        "PET_NNODES": "1",
        "PET_NODE_RANK": "0",
        "PET_MASTER_ADDR": "127.0.0.1",
        "PET_MASTER_PORT": str(free_port()),
    }
    double = _train(tmp_path, "double", [sys.executable, "-m", "torch.distributed.run"], operator_env)
    assert sorted(p.name for p in double.iterdir()) == ["v1"]  # one checkpoint, written by rank 0
    a = load_file(str(single / "v1" / "model.safetensors"))
    b = load_file(str(double / "v1" / "model.safetensors"))
    base = load_file(str(tmp_path / "base" / "model.safetensors"))
    assert a.keys() == b.keys()
    moved = max(float((a[k] - base[k]).abs().max()) for k in a)
    assert moved > 1e-3  # training changed the weights...
    # ...the same way in both layouts. Compared as whole updates (L2), not weight by weight: AdamW
    # turns float noise in a near-zero gradient (all-reduce order) into a full lr-sized step of
    # either sign, so single weights can differ by ~lr while the update is the same (measured:
    # max 1.0e-4 apart, L2 9e-5 of the update).
    update = sum(float((a[k] - base[k]).double().pow(2).sum()) for k in a) ** 0.5
    apart = sum(float((a[k] - b[k]).double().pow(2).sum()) for k in a) ** 0.5
    assert apart < 1e-3 * update
    assert all(torch.isfinite(t).all() for t in b.values())
