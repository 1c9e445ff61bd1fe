"""Memory a device has free, for guards that refuse work that would not fit.

On a GPU: the driver's free memory plus what torch's allocator holds unused. On a Linux CPU:
``MemAvailable`` from ``/proc/meminfo``, lowered to what the process's control group still
allows (cgroup v2 ``memory.max - memory.current``, or v1's ``memory.limit_in_bytes -
memory.usage_in_bytes``: a container sees the host's ``MemAvailable``). Elsewhere: unknown
(``None``), and no guard applies.
"""

from __future__ import annotations

from pathlib import Path

CGROUP_FILES = (
    ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
    ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes"),
)


def available_bytes(device: str = "cpu") -> int | None:
    """Bytes the ``device`` ("cpu", "cuda", "cuda:N") can still allocate, or None if unknown."""
    if device.startswith("cuda"):
        import torch

        index = torch.device(device).index or 0
        free, _ = torch.cuda.mem_get_info(index)
        return int(free + torch.cuda.memory_reserved(index) - torch.cuda.memory_allocated(index))
    return cpu_available_bytes()


def cpu_available_bytes(meminfo: str = "/proc/meminfo", cgroups: tuple[tuple[str, str], ...] = CGROUP_FILES) -> int | None:
    """``MemAvailable`` in bytes, bounded by the control group's remaining limit; None off Linux."""
    found = None
    try:
        for line in Path(meminfo).read_text().splitlines():
            if line.startswith("MemAvailable:"):
                found = int(line.split()[1]) * 1024
                break
    except (OSError, ValueError, IndexError):
        return None
    if found is None:
        return None
    for limit_file, usage_file in cgroups:
        try:
            limit, usage = Path(limit_file).read_text().strip(), Path(usage_file).read_text().strip()
        except OSError:
            continue
        if limit.isdigit() and usage.isdigit() and int(limit) < 1 << 60:  # "max" or a huge number: no limit
            found = min(found, max(0, int(limit) - int(usage)))
    return found
