"""The GPU placement policy: pure, no Docker, Kubernetes or GPUs needed."""

import pytest

from hub_config.gpu_placement import GpuPool, NoGpuFree, Placement

NODES = {"gpu01": ["0", "1", "2", "3"], "gpu02": ["0", "1", "2", "3"]}


def test_users_spread_over_nodes_and_devices():
    pool = GpuPool(NODES)
    first, second = pool.place("ada"), pool.place("ben")
    assert first.node != second.node  # the emptier node first
    third = pool.place("cleo")
    same_node = first if third.node == first.node else second
    assert third.device_ids != same_node.device_ids
    assert sum(pool.free().values()) == 5


def test_placing_twice_returns_what_the_user_holds():
    pool = GpuPool(NODES)
    assert pool.place("ada") == pool.place("ada")
    assert sum(pool.free().values()) == 7


def test_several_gpus_come_from_one_node():
    pool = GpuPool(NODES)
    placement = pool.place("ada", 3)
    assert len(placement.device_ids) == 3 and len(set(placement.device_ids)) == 3
    # 1 left on that node, 4 on the other: a 2-GPU request goes to the other node
    assert pool.place("ben", 2).node != placement.node


def test_a_clean_refusal_when_none_is_free_and_nothing_is_held():
    pool = GpuPool({"gpu01": ["0", "1"]})
    pool.place("ada")
    pool.place("ben")
    with pytest.raises(NoGpuFree, match=r"no GPU free for cleo: 1 requested, 0 of 2 slots free"):
        pool.place("cleo")
    assert pool.holding("cleo") is None
    with pytest.raises(NoGpuFree):
        pool.place("dan", 3)  # more than a node has
    pool.release("ada")
    assert pool.place("cleo").device_ids == ("0",)


def test_a_returning_user_gets_the_same_devices_back_when_free():
    pool = GpuPool({"gpu01": ["0", "1", "2", "3"]})
    pool.place("ada")
    pool.place("ben")
    pool.place("cleo")
    pool.release("ben")
    pool.release("ada")
    assert pool.place("ben").device_ids == ("1",)  # not the first free one: hers
    pool.place("dan")  # takes "0", ada's
    assert pool.place("ada").device_ids == ("3",)


def test_shared_gpus_hold_several_users_each():
    pool = GpuPool({"gpu01": ["0", "1"]}, users_per_gpu=3)
    placed = [pool.place(f"s{i}") for i in range(6)]
    assert sorted(p.device_ids[0] for p in placed) == ["0"] * 3 + ["1"] * 3
    with pytest.raises(NoGpuFree, match="0 of 6 slots free"):
        pool.place("s7")


def test_restore_after_a_hub_restart_and_bad_input():
    pool = GpuPool(NODES)
    pool.restore("ada", Placement("gpu02", ("3",)))
    assert pool.holding("ada") == Placement("gpu02", ("3",))
    with pytest.raises(ValueError):
        pool.restore("ben", Placement("gpu09", ("0",)))
    with pytest.raises(ValueError):
        GpuPool(NODES, users_per_gpu=0)
    assert GpuPool({}).capacity == 0
    with pytest.raises(NoGpuFree, match="no GPU nodes"):
        GpuPool({}).place("ada")
