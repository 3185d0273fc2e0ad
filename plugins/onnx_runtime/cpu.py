"""What this CPU offers ONNX Runtime's int8 kernels, read from ``/proc/cpuinfo``.

MLAS (ONNX Runtime's CPU kernels) picks its integer GEMM by instruction set: AMX, then
AVX-512 VNNI or AVX-VNNI (one instruction per u8 x s8 dot product), then plain AVX-512 or AVX2
(``vpmaddubsw`` + ``vpmaddwd``, whose 16-bit intermediate can saturate for u8 x s8). The same
int8 graph therefore computes slightly different numbers, at different speeds, on different
CPUs: the parity gate and the benches record which family they ran on.
"""

from __future__ import annotations

import os
import platform
from functools import lru_cache

FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_bf16", "amx_int8")


@lru_cache(maxsize=1)
def cpu_info() -> dict:
    """``{"model", "family", "cores", "flags", "int8_kernels"}``; flags are the subset of :data:`FLAGS`
    present. ``family`` is ``cpu family``/``model`` from /proc/cpuinfo ("25/17"): virtual machines
    often name only "AMD EPYC", and a Zen 3 (25/1, AVX2) and a Zen 4 (25/17, AVX-512 VNNI) then
    look alike by name."""
    model, flags = platform.processor() or platform.machine(), set()
    family = number = "?"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "model name":
                    model = value.strip()
                elif key == "cpu family":
                    family = value.strip()
                elif key == "model":
                    number = value.strip()
                elif key == "flags":
                    flags = set(value.split())
                    break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"model": model, "family": f"{family}/{number}", "cores": cores, "flags": [f for f in FLAGS if f in flags],
            "int8_kernels": int8_family(flags)}


def int8_family(flags: set[str] | frozenset[str]) -> str:
    """The integer GEMM family MLAS uses on a CPU with these ``/proc/cpuinfo`` flags."""
    if "amx_int8" in flags:
        return "amx"
    if "avx512_vnni" in flags:
        return "avx512-vnni"
    if "avx_vnni" in flags:
        return "avx-vnni"
    if "avx512f" in flags:
        return "avx512 (no VNNI)"
    if "avx2" in flags:
        return "avx2 (no VNNI)"
    return "other"


def native_bf16() -> bool:
    """Whether this CPU computes bf16 natively (AVX512-BF16 or AMX-BF16): where OpenVINO's CPU
    plugin runs bf16 on its own unless told otherwise, and where a ``bf16`` variant pays."""
    return bool({"avx512_bf16", "amx_bf16"} & set(cpu_info()["flags"]))


def amx_bf16() -> bool:
    """Whether this CPU has AMX tiles for bf16 (and the hypervisor shows them): where torch's bf16
    autocast trains faster than fp32. With AVX512-BF16 alone it trains slower (measured twice on
    Intel Xeons without AMX: docs/mvp-results.md), so ``viewrank train --bf16`` asks for AMX."""
    return "amx_bf16" in set(cpu_info()["flags"])


def describe() -> str:
    """One line for bench tables: ``AMD EPYC (family/model 25/17), 2 cores, int8 kernels: avx512-vnni``."""
    info = cpu_info()
    return (f"{info['model']} (family/model {info['family']}), {info['cores']} cores, "
            f"int8 kernels: {info['int8_kernels']}")
