"""`course worker --gpu`: the GPU found in the driver's /proc by minor or UUID (CUDA's own
order is fastest-first, so a CUDA index and /dev/nvidiaN may differ), the sandbox given the UUID
for CUDA and the minor for the device node, and the start refused unless TensorFlow sees exactly
that GPU. CI has no GPU: a made-up /proc tree stands in for the driver, and the real TensorFlow
check runs against it (it sees no GPU, so the worker must refuse)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from fake_nvidia import fake_nvidia_proc

from autograder.sandbox import SandboxLimits, _bwrap_command, _environment
from course.errors import UserError
from course.fleet.gpus import (
    Gpu,
    bus_id,
    find_gpu,
    read_gpus,
    require_tensorflow_sees,
    tensorflow_bus_ids,
)

UUID_A = "GPU-11111111-2222-3333-4444-555555555555"
UUID_B = "GPU-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"


@pytest.fixture
def proc(tmp_path):
    # minors in an order other than the buses': a CUDA index is neither
    return fake_nvidia_proc(tmp_path / "proc", [(1, UUID_A, "0000:18:00.0"),
                                                (0, UUID_B, "0000:3B:00.0")])


def test_gpus_are_found_by_minor_or_uuid(proc):
    assert read_gpus(proc) == [Gpu(0, UUID_B, "0000:3b:00.0"), Gpu(1, UUID_A, "0000:18:00.0")]
    assert find_gpu("1", proc).uuid == UUID_A
    assert find_gpu("0", proc).bus == "0000:3b:00.0"
    assert find_gpu(UUID_A.lower().replace("gpu-", "GPU-"), proc).minor == 1
    with pytest.raises(UserError, match=r"--gpu 7: no such GPU .*lists: 0 \(GPU-aaaa"):
        find_gpu("7", proc)
    with pytest.raises(UserError, match="no such GPU"):
        find_gpu("GPU-00000000-0000-0000-0000-000000000000", proc)
    with pytest.raises(UserError, match="device minor number"):
        find_gpu("../0", proc)
    with pytest.raises(UserError, match="2 GPUs listed"):
        find_gpu("visible", proc)  # a container given one GPU sees one
    assert read_gpus(proc / "nowhere") == []  # no driver: no GPU, and --gpu says so
    with pytest.raises(UserError, match="lists: none"):
        find_gpu("0", proc / "nowhere")


def test_the_one_gpu_of_a_container_and_a_garbled_information_file(tmp_path):
    one = fake_nvidia_proc(tmp_path / "one", [(5, UUID_A, "0000:9a:00.0")])
    assert find_gpu("visible", one) == Gpu(5, UUID_A, "0000:9a:00.0")
    (one / "driver/nvidia/gpus/0000:9a:00.0/information").write_text("Device Minor: 5\n")
    with pytest.raises(UserError, match="not the NVIDIA driver's GPU information"):
        read_gpus(one)


def test_bus_ids_compare_whatever_the_domain_width_or_case():
    assert bus_id("00000000:3B:00.0") == bus_id("0000:3b:00.0") == "0000:3b:00.0"
    with pytest.raises(ValueError, match="not a PCI bus id"):
        bus_id("3b:00")


def test_the_worker_refuses_unless_tensorflow_sees_exactly_its_gpu():
    gpu = Gpu(1, UUID_A, "0000:18:00.0")
    require_tensorflow_sees(gpu, ["0000:18:00.0"])  # passes: nothing raised
    for seen in ([], ["0000:3b:00.0"], ["0000:18:00.0", "0000:3b:00.0"]):
        with pytest.raises(UserError, match=r"--gpu 1: TensorFlow.*not that GPU alone"):
            require_tensorflow_sees(gpu, seen)


def test_tensorflow_s_device_descriptions_are_read_for_their_bus(tmp_path):
    """What device_lib prints is parsed: a stand-in for Python prints it, with the env the
    probe is given (so its CUDA sees the GPU's UUID, in PCI order)."""
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\n"
                    "echo \"$CUDA_DEVICE_ORDER $CUDA_VISIBLE_DEVICES\" >&2\n"
                    "echo '[\"device: 0, name: NVIDIA H100 80GB HBM3, pci bus id: "
                    "00000000:18:00.0, compute capability: 9.0\"]'\n")
    fake.chmod(0o755)
    assert tensorflow_bus_ids(Gpu(1, UUID_A, "0000:18:00.0"), python=str(fake)) \
        == ["0000:18:00.0"]
    failing = tmp_path / "failing"
    failing.write_text("#!/bin/sh\necho 'ImportError: no tensorflow' >&2\nexit 1\n")
    failing.chmod(0o755)
    with pytest.raises(UserError, match="could not list its GPUs: ImportError: no tensorflow"):
        tensorflow_bus_ids(Gpu(1, UUID_A, "0000:18:00.0"), python=str(failing))
    silent = tmp_path / "silent"
    silent.write_text("#!/bin/sh\nexit 0\n")
    silent.chmod(0o755)
    with pytest.raises(UserError, match="device list was unreadable"):
        tensorflow_bus_ids(Gpu(1, UUID_A, "0000:18:00.0"), python=str(silent))


@pytest.mark.slow
def test_the_real_check_refuses_a_device_tensorflow_does_not_see(proc):
    """The real TensorFlow (this machine has no GPU, and CI neither): given the made-up GPU's
    UUID it sees none, so the worker must not start."""
    gpu = find_gpu("1", proc)
    seen = tensorflow_bus_ids(gpu)
    assert seen == []
    with pytest.raises(UserError, match="sees 0 GPU"):
        require_tensorflow_sees(gpu, seen)


@pytest.mark.slow
def test_course_worker_refuses_to_start_on_a_gpu_tensorflow_does_not_see(make_course, proc):
    course = make_course()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTEST_", "COURSE_", "CUDA_"))}
    done = subprocess.run(
        [sys.executable, "-m", "commands.main", "worker", "--course", str(course), "--gpu", "1"],
        env={**env, "COURSE_WORKER_PROC_ROOT": str(proc),
             "COURSE_BROKER_URL": "amqp://nobody:x@127.0.0.1:1//"},
        capture_output=True, text=True, timeout=300, check=False, cwd=course)
    assert done.returncode != 0
    assert "TensorFlow, given CUDA_VISIBLE_DEVICES=" + UUID_A in done.stderr + done.stdout
    missing = subprocess.run(
        [sys.executable, "-m", "commands.main", "worker", "--course", str(course), "--gpu", "3"],
        env={**env, "COURSE_WORKER_PROC_ROOT": str(proc), "COURSE_WORKER_GPU_CHECK": "off",
             "COURSE_BROKER_URL": "amqp://nobody:x@127.0.0.1:1//"},
        capture_output=True, text=True, timeout=120, check=False, cwd=course)
    assert missing.returncode != 0  # skipping TensorFlow's check still needs the device
    assert "--gpu 3: no such GPU" in missing.stderr + missing.stdout


def test_the_sandbox_gets_the_uuid_for_cuda_and_the_minor_for_the_device_node(tmp_path):
    limits = SandboxLimits(gpu_devices=(UUID_A,), gpu_nodes=("1",))
    command = _bwrap_command(sys.executable, tmp_path, None, limits)
    binds = {command[i + 1] for i, arg in enumerate(command) if arg == "--dev-bind-try"}
    assert "/dev/nvidia1" in binds and "/dev/nvidiactl" in binds
    assert not any("GPU-" in bind or bind == "/dev/nvidia0" for bind in binds)
    env = _environment(limits)
    assert env["CUDA_VISIBLE_DEVICES"] == UUID_A
    assert env["CUDA_DEVICE_ORDER"] == "PCI_BUS_ID"
    local = _bwrap_command(sys.executable, tmp_path, None, SandboxLimits(gpu_devices=("2",)))
    assert "/dev/nvidia2" in local  # the local backend's CUDA index stands for its node
    none = _bwrap_command(sys.executable, tmp_path, None, SandboxLimits())
    assert "--dev-bind-try" not in none  # a CPU job sees no GPU node
    assert _environment(SandboxLimits())["CUDA_VISIBLE_DEVICES"] == ""
    with pytest.raises(ValueError, match="minors are numbers"):
        _bwrap_command(sys.executable, tmp_path, None,
                       SandboxLimits(gpu_devices=(UUID_A,), gpu_nodes=("../sda",)))
