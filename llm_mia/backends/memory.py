"""Memory a device has free, for guards that refuse work that would not fit.

On a GPU: the driver's free memory plus what torch's allocator holds unused, on the current
device unless one is named. On a Linux CPU: ``MemAvailable`` from ``/proc/meminfo``, lowered to
what the process's control groups still allow (a container or a service sees the host's
``MemAvailable``): for cgroup v2, its own group (``/proc/self/cgroup``) and each ancestor with a
``memory.max``; for v1, ``memory.limit_in_bytes``. A group's use counts its page cache, which
the kernel reclaims, so its inactive file pages (``memory.stat``) are not counted as used.
Elsewhere: unknown (``None``), and no guard applies.
"""

from __future__ import annotations

from pathlib import Path

CgroupFiles = tuple[str, str, str, str]
"""(limit file, usage file, memory.stat file, the stat's inactive file-cache key) of one group."""


def available_bytes(device: str = "cpu") -> int | None:
    """Bytes the ``device`` ("cpu", "cuda", "cuda:N") can still allocate, or None if unknown."""
    if device.startswith("cuda"):
        import torch

        named = torch.device(device).index
        index = torch.cuda.current_device() if named is None else named
        free, _ = torch.cuda.mem_get_info(index)
        return int(free + torch.cuda.memory_reserved(index) - torch.cuda.memory_allocated(index))
    return cpu_available_bytes()


def cgroup_files(proc_cgroup: str = "/proc/self/cgroup", root: str = "/sys/fs/cgroup") -> list[CgroupFiles]:
    """The memory files of this process's control groups: v2, its group and every ancestor up
    to the root; v1, the memory controller's group."""
    out: list[CgroupFiles] = []
    try:
        lines = Path(proc_cgroup).read_text().splitlines()
    except OSError:
        lines = []
    for line in lines:
        if line.startswith("0::"):
            folder = Path(root + "/" + line[3:].strip().lstrip("/")).resolve()
            while True:
                out.append((str(folder / "memory.max"), str(folder / "memory.current"), str(folder / "memory.stat"), "inactive_file"))
                if folder == Path(root) or folder.parent == folder:
                    break
                folder = folder.parent
    v1 = Path(root) / "memory"
    out.append((str(v1 / "memory.limit_in_bytes"), str(v1 / "memory.usage_in_bytes"), str(v1 / "memory.stat"), "total_inactive_file"))
    return out


def cpu_available_bytes(meminfo: str = "/proc/meminfo", cgroups: list[CgroupFiles] | None = None) -> int | None:
    """``MemAvailable`` in bytes, bounded by each control group's limit less its use (its
    inactive page cache not counted); None off Linux."""
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
    for limit_file, usage_file, stat_file, inactive_key in cgroup_files() if cgroups is None else cgroups:
        try:
            limit, usage = Path(limit_file).read_text().strip(), Path(usage_file).read_text().strip()
        except OSError:
            continue
        if not (limit.isdigit() and usage.isdigit()) or int(limit) >= 1 << 60:  # "max" or a huge number: no limit
            continue
        found = min(found, max(0, int(limit) - int(usage) + _stat(stat_file, inactive_key)))
    return found


def _stat(stat_file: str, key: str) -> int:
    """One value of a ``memory.stat`` file (0 when absent)."""
    try:
        for line in Path(stat_file).read_text().splitlines():
            name, _, value = line.partition(" ")
            if name == key and value.strip().isdigit():
                return int(value)
    except OSError:
        pass
    return 0
