"""blip.ray.capfilt on a local two-node Ray cluster (head + 1 worker, 1 CPU each, everything on
127.0.0.1 and never another address): the same shards as the CLI test, byte-identical outputs.
Skipped only when `ray` cannot be imported (.ci/run installs it).

The cluster is started with ray.cluster_utils.Cluster (the helper Ray's own tests use for
multi-node clusters on one machine) rather than `ray start`: its shutdown() ends exactly the
processes it started, where `ray stop` would end every Ray process on the machine."""
import os
import signal
import socket

import pytest

ray = pytest.importorskip("ray")
from ray.cluster_utils import Cluster  # noqa: E402

import blip  # noqa: E402
import blip.ray  # noqa: E402
from test_capfilt import CAPTIONER, FILTER, capfilt as cli_capfilt, folder_bytes, make_shards  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def local_cluster(monkeypatch):
    # Ray's processes inherit the environment: workers import this blip and load the same libblip.
    binding = os.path.dirname(HERE)
    monkeypatch.setenv("PYTHONPATH", binding + os.pathsep + os.environ.get("PYTHONPATH", ""))
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    # Ray resolves 127.0.0.1 in addresses to the machine's outward IP unless told it is a
    # single-machine cluster: this keeps the driver, the nodes and their addresses on loopback.
    # (The variable is read when ray is imported: set for the cluster's processes, patched here.)
    monkeypatch.setenv("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    monkeypatch.setattr(ray._private.ray_constants, "ENABLE_RAY_CLUSTER", False)
    node = dict(num_cpus=1, node_ip_address="127.0.0.1", object_store_memory=80 * 1024 * 1024)
    cluster = Cluster(initialize_head=True, shutdown_at_exit=True,
                      head_node_args=dict(node, gcs_server_port=free_port(), include_dashboard=False))
    # A hung cluster must fail the test, not the CI job.
    previous = signal.signal(signal.SIGALRM, lambda *_: (_ for _ in ()).throw(TimeoutError("Ray test over 180 s")))
    signal.alarm(180)
    try:
        cluster.add_node(**node)
        yield cluster
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
        if ray.is_initialized():
            ray.shutdown()
        cluster.shutdown()


def test_ray_capfilt_equals_the_cli(tmp_path, local_cluster):
    assert local_cluster.address.startswith("127.0.0.1:"), local_cluster.address
    make_shards(tmp_path / "in", 4, 3)
    args = dict(captions_per_image=2, seed=7, prompt="a picture of")
    cli_capfilt(tmp_path / "in", tmp_path / "cli", "--captions-per-image", "2", "--seed", "7", "--prompt", "a picture of")
    seen = []
    out = blip.ray.capfilt(CAPTIONER, FILTER, tmp_path / "in", tmp_path / "ray", address=local_cluster.address,
                           concurrency=2, threads_per_actor=1, on_progress=lambda *a: seen.append(a), **args)
    assert out == str(tmp_path / "ray")
    assert folder_bytes(tmp_path / "ray") == folder_bytes(tmp_path / "cli")
    assert sorted(s[0] for s in seen) == ["00000.tar", "00001.tar", "00002.tar", "00003.tar"]
    assert [s[3] for s in seen] == [1, 2, 3, 4] and all(s[1] == 3 and s[2] == 0 for s in seen)
    assert not ray.is_initialized()  # it connected, so it disconnected

    # resume: a removed shard is redone, the others are kept; without resume existing outputs are refused
    os.remove(tmp_path / "ray" / "00002.tar")
    with pytest.raises(blip.BlipError, match="resume"):
        blip.ray.capfilt(CAPTIONER, FILTER, tmp_path / "in", tmp_path / "ray", address=local_cluster.address, **args)
    blip.ray.capfilt(CAPTIONER, FILTER, tmp_path / "in", tmp_path / "ray", address=local_cluster.address,
                     resume=True, **args)
    assert folder_bytes(tmp_path / "ray") == folder_bytes(tmp_path / "cli")
