"""A made-up NVIDIA driver /proc tree for the GPU worker's tests (CI has no GPU):
``<root>/driver/nvidia/gpus/<bus>/information`` as the driver writes it."""

from __future__ import annotations

from pathlib import Path

INFORMATION = """Model: \t\t NVIDIA H100 80GB HBM3
IRQ:   \t\t 16
GPU UUID: \t {uuid}
Video BIOS: \t 96.00.99.00.01
Bus Type: \t PCIe
DMA Size: \t 52 bits
DMA Mask: \t 0xfffffffffffff
Bus Location: \t {bus}
Device Minor: \t {minor}
GPU Firmware: \t 550.90.07
GPU Excluded:\t No
"""


def fake_nvidia_proc(root: Path, gpus: list[tuple[int, str, str]]) -> Path:
    """``root`` as a /proc listing ``gpus``: (minor, UUID, bus location) each."""
    for minor, uuid, bus in gpus:
        folder = root / "driver" / "nvidia" / "gpus" / bus
        folder.mkdir(parents=True)
        (folder / "information").write_text(INFORMATION.format(uuid=uuid, bus=bus, minor=minor))
    return root
